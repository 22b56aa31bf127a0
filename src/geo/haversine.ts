/** Mean Earth radius (IUGG R1 = (2a + b) / 3), as docs/schema.md states for `distance_km`. */
export const EARTH_RADIUS_KM = 6371.0088;

export interface LatLon {
  lat: number;
  lon: number;
}

/**
 * Great-circle distance on a sphere of radius R (haversine formula). The
 * sphere is off from the WGS 84 ellipsoid by up to ~0.5 %, far below the
 * uncertainty of IP geolocation itself (city level at best).
 */
export function haversineKm(a: LatLon, b: LatLon, radiusKm = EARTH_RADIUS_KM): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  // min() guards asin against h creeping past 1 by rounding for antipodal points.
  return 2 * radiusKm * Math.asin(Math.min(1, Math.sqrt(h)));
}
