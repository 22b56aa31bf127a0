import { geoGraticule10, geoNaturalEarth1, geoPath } from 'd3-geo';
import type { Feature, FeatureCollection, Geometry, LineString, MultiPoint } from 'geojson';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import atlasUrl from 'world-atlas/countries-110m.json';
import { request } from '../api.js';
import type { Routes } from '../api-types.js';
import { errorBox, h } from '../dom.js';

/**
 * The path on a map, drawn offline: country outlines from world-atlas
 * (Natural Earth 1:110m, 105 kB, shipped with the UI and fetched only by
 * this page) projected with d3-geo into an SVG. Source, every located hop
 * and the destination, joined by great-circle segments in path order.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';
let countries: Promise<FeatureCollection<Geometry>> | undefined;

function loadCountries(): Promise<FeatureCollection<Geometry>> {
  countries ??= request<Topology<{ countries: GeometryCollection }>>(atlasUrl).then((topo) => feature(topo, topo.objects.countries) as FeatureCollection<Geometry>);
  countries.catch(() => (countries = undefined)); // a failed load is retried next time
  return countries;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, ...children: (Node | string)[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

interface Stop {
  kind: 'source' | 'hop' | 'destination';
  lon: number;
  lat: number;
  label: string;
  title: string;
}

function stopsOf(r: Routes): Stop[] {
  const stops: Stop[] = [];
  if (r.source) stops.push({ kind: 'source', lon: r.source.lon, lat: r.source.lat, label: 'S', title: 'source (this daemon)' });
  const destIp = r.destination?.ip;
  for (const hop of r.current?.hops ?? []) {
    if (hop.lat === null || hop.lon === null || hop.ip === destIp) continue;
    const where = [hop.city, hop.country].filter(Boolean).join(', ');
    stops.push({ kind: 'hop', lon: hop.lon, lat: hop.lat, label: String(hop.ttl), title: `hop ${hop.ttl}: ${hop.ip}${hop.hostname ? ` (${hop.hostname})` : ''}${where ? ` — ${where}` : ''}` });
  }
  const d = r.destination;
  if (d && d.lat !== null && d.lon !== null) stops.push({ kind: 'destination', lon: d.lon, lat: d.lat, label: 'D', title: `destination ${d.ip}` });
  return stops;
}

/** A frame around the stops, at least 40° × 24° so one city still shows its surroundings. */
function frame(stops: Stop[]): MultiPoint {
  let [w, e, s, n] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const p of stops) {
    w = Math.min(w, p.lon);
    e = Math.max(e, p.lon);
    s = Math.min(s, p.lat);
    n = Math.max(n, p.lat);
  }
  const cx = (w + e) / 2;
  const cy = (s + n) / 2;
  const hw = Math.max(20, (e - w) / 2 + 5);
  const hh = Math.max(12, (n - s) / 2 + 5);
  const clampLat = (v: number) => Math.max(-85, Math.min(85, v));
  const clampLon = (v: number) => Math.max(-180, Math.min(180, v));
  return {
    type: 'MultiPoint',
    coordinates: [
      [clampLon(cx - hw), clampLat(cy - hh)],
      [clampLon(cx + hw), clampLat(cy + hh)],
      [clampLon(cx - hw), clampLat(cy + hh)],
      [clampLon(cx + hw), clampLat(cy - hh)],
    ],
  };
}

export async function renderPathMap(parent: HTMLElement, routes: Routes): Promise<void> {
  const stops = stopsOf(routes);
  const width = Math.max(320, parent.clientWidth || 800);
  const height = Math.round(Math.min(420, width * 0.55));
  const holder = h('div', { class: 'map', id: 'path-map', 'data-source': 0, 'data-hops': 0, 'data-destination': 0 });
  parent.replaceChildren(holder);
  if (!stops.length) {
    holder.append(h('p', { class: 'muted' }, routes.current ? 'No hop of this route could be located (geolocation is off, or every address is private).' : 'No route recorded for this target yet (it needs the trace probe).'));
    return;
  }
  let world: FeatureCollection<Geometry>;
  try {
    world = await loadCountries();
  } catch (err) {
    holder.append(errorBox(`The world map could not be loaded: ${(err as Error).message}`));
    return;
  }
  const projection = geoNaturalEarth1().fitExtent(
    [
      [16, 16],
      [width - 16, height - 16],
    ],
    frame(stops),
  );
  const path = geoPath(projection);
  const line: Feature<LineString> = { type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: stops.map((p) => [p.lon, p.lat]) } };
  const map = svg(
    'svg',
    { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-labelledby': 'map-title' },
    svg('title', { id: 'map-title' }, `Map of the path: ${stops.map((s) => s.title).join('; ')}`),
    svg('rect', { class: 'map-sea', x: 0, y: 0, width, height }),
    svg('path', { class: 'map-graticule', d: path(geoGraticule10()) ?? '' }),
    svg('g', { class: 'map-land' }, ...world.features.map((f) => svg('path', { d: path(f) ?? '' }))),
    svg('path', { class: 'map-route', d: path(line) ?? '' }),
  );
  const counts = { source: 0, hop: 0, destination: 0 };
  // Several hops often share one location (one city, one data centre): stack their labels.
  const seen = new Map<string, number>();
  for (const p of stops) {
    const xy = projection([p.lon, p.lat]);
    if (!xy) continue;
    counts[p.kind]++;
    const key = `${Math.round(xy[0])},${Math.round(xy[1])}`;
    const nth = seen.get(key) ?? 0;
    seen.set(key, nth + 1);
    const [x, y] = xy;
    const mark =
      p.kind === 'hop'
        ? svg('circle', { cx: x, cy: y, r: 5 })
        : p.kind === 'source'
          ? svg('rect', { x: x - 6, y: y - 6, width: 12, height: 12 })
          : svg('path', { d: `M${x},${y - 8}L${x + 8},${y}L${x},${y + 8}L${x - 8},${y}Z` });
    map.append(svg('g', { class: `map-stop map-${p.kind}`, tabindex: 0, 'aria-label': p.title }, svg('title', {}, p.title), mark, svg('text', { x: x + 9, y: y - 6 + nth * 13 }, p.label)));
  }
  holder.dataset.source = String(counts.source);
  holder.dataset.hops = String(counts.hop);
  holder.dataset.destination = String(counts.destination);
  holder.append(
    map,
    h(
      'p',
      { class: 'map-legend muted' },
      h('span', { class: 'key key-source' }, '■'),
      ' source  ',
      h('span', { class: 'key key-hop' }, '●'),
      ` hop (${counts.hop} located)  `,
      h('span', { class: 'key key-destination' }, '◆'),
      ' destination',
      routes.destination && (routes.destination.lat === null || routes.destination.lon === null) ? ' (not located)' : '',
    ),
  );
}
