import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EARTH_RADIUS_KM, haversineKm } from '../../src/geo/haversine.js';

/**
 * Independent reference: the central angle from 3-D unit vectors,
 * atan2(|a × b|, a · b) — a different formula from haversine, exact on the
 * sphere, so agreement checks the implementation rather than repeating it.
 */
function vectorKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const v = (p: { lat: number; lon: number }) => {
    const la = (p.lat * Math.PI) / 180;
    const lo = (p.lon * Math.PI) / 180;
    return [Math.cos(la) * Math.cos(lo), Math.cos(la) * Math.sin(lo), Math.sin(la)] as const;
  };
  const [x1, y1, z1] = v(a);
  const [x2, y2, z2] = v(b);
  const cross = Math.hypot(y1 * z2 - z1 * y2, z1 * x2 - x1 * z2, x1 * y2 - y1 * x2);
  const dot = x1 * x2 + y1 * y2 + z1 * z2;
  return Math.atan2(cross, dot) * 6371.0088;
}

const PARIS = { lat: 48.8566, lon: 2.3522 };
const NEW_YORK = { lat: 40.7128, lon: -74.006 };

test('Paris ↔ New York: haversine matches the vector reference (≈ 5837 km)', () => {
  const d = haversineKm(PARIS, NEW_YORK);
  assert.ok(Math.abs(d - vectorKm(PARIS, NEW_YORK)) < 1e-6, `${d} vs ${vectorKm(PARIS, NEW_YORK)}`);
  assert.ok(Math.abs(d - 5837.2) < 1, `expected about 5837 km, got ${d}`);
  assert.equal(haversineKm(NEW_YORK, PARIS), d);
});

test('the radius is the one docs/schema.md states', () => {
  assert.equal(EARTH_RADIUS_KM, 6371.0088);
});

test('edge cases: same point, antipodes, across the date line', () => {
  assert.equal(haversineKm(PARIS, PARIS), 0);
  const anti = haversineKm({ lat: 10, lon: 20 }, { lat: -10, lon: -160 });
  // asin is ill-conditioned at 1: antipodes are exact to ~0.1 m, not to the last bit.
  assert.ok(Math.abs(anti - Math.PI * EARTH_RADIUS_KM) < 1e-3, `${anti}`);
  const a = { lat: 0, lon: 179.5 };
  const b = { lat: 0, lon: -179.5 };
  assert.ok(Math.abs(haversineKm(a, b) - vectorKm(a, b)) < 1e-6);
  assert.ok(haversineKm(a, b) < 112);
});
