import type { Hop, Routes } from '../api-types.js';
import { h } from '../dom.js';
import { ago, dateTime, ms, pct } from '../format.js';
import { describeHopChange, diffPaths, parseRouteDiff } from './route-diff.js';

/** The current route hop by hop, the earlier routes and the changes between them. */

const short = (hash: string | null) => (hash ? hash.slice(0, 8) : '–');

function location(hop: Hop): string {
  const parts = [hop.city, hop.country].filter(Boolean).join(', ');
  const asn = hop.asn !== null && hop.asn !== undefined && hop.asn !== '' ? `AS${String(hop.asn).replace(/^AS/i, '')}` : '';
  return [parts, asn].filter(Boolean).join(' · ') || '–';
}

export function currentRoute(r: Routes): HTMLElement {
  const cur = r.current;
  if (!cur) return h('p', { class: 'muted', id: 'route-current' }, 'No route recorded in this range (the target needs the trace probe).');
  return h(
    'div',
    { id: 'route-current', 'data-hash': cur.hash, 'data-hops': cur.hops.length },
    h(
      'p',
      {},
      `Route ${short(cur.hash)}: ${cur.hop_count} hops, `,
      cur.reached ? 'reaches the destination' : h('strong', { class: 'bad' }, 'does not reach the destination'),
      `; first seen ${dateTime(cur.first_seen)}, last seen ${ago(cur.last_seen)}.`,
    ),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'hops' },
        h('caption', { class: 'visually-hidden' }, 'Current route, hop by hop'),
        h('thead', {}, h('tr', {}, ...['TTL', 'Address', 'Name (PTR)', 'Loss', 'RTT avg', 'Location'].map((c, i) => h('th', { scope: 'col', class: i === 0 || i === 3 || i === 4 ? 'num' : null }, c)))),
        h(
          'tbody',
          {},
          ...cur.hops.map((hop) =>
            h(
              'tr',
              { 'data-ttl': hop.ttl },
              h('td', { class: 'num' }, hop.ttl),
              h('td', { class: 'mono' }, hop.ip === '*' ? h('span', { class: 'muted' }, '* (no answer)') : hop.ip),
              h('td', {}, hop.hostname ?? h('span', { class: 'muted' }, '–')),
              h('td', { class: 'num' }, pct(hop.loss_pct)),
              h('td', { class: 'num' }, ms(hop.rtt_avg_ms)),
              h('td', {}, location(hop)),
            ),
          ),
        ),
      ),
    ),
  );
}

/** What a change changed, hop by hop: its stored diff (route_diff), else the two routes' paths. */
function changeDiff(r: Routes, c: Routes['changes'][number]): string[] {
  const paths = new Map<string, string>();
  for (const e of r.earlier) paths.set(e.hash, e.path);
  if (r.current?.path) paths.set(r.current.hash, r.current.path);
  const hops = c.diff ? parseRouteDiff(c.diff) : diffPaths(c.from_hash ? paths.get(c.from_hash) : null, paths.get(c.to_hash));
  return hops.map(describeHopChange);
}

export function routeHistory(r: Routes): HTMLElement {
  const changes = [...r.changes].sort((a, b) => timeOf(b.time) - timeOf(a.time));
  return h(
    'div',
    { class: 'route-history' },
    h('h3', {}, 'Route changes'),
    changes.length
      ? h(
          'ol',
          { id: 'route-changes', reversed: true },
          ...changes.map((c) => {
            const diff = changeDiff(r, c);
            return h(
              'li',
              { 'data-time': String(c.time), 'data-diff': diff.join('; ') },
              h('time', { datetime: String(c.time) }, dateTime(c.time)),
              ' ',
              diff.length ? h('strong', { class: 'route-diff' }, diff.join('; ')) : h('span', { class: 'muted' }, 'hops not comparable (a route is no longer kept)'),
              h('span', { class: 'muted small' }, ` (route ${short(c.from_hash)} → ${short(c.to_hash)})`),
            );
          }),
        )
      : h('p', { id: 'route-changes', class: 'muted' }, 'No route change in this range.'),
    h('h3', {}, 'Earlier routes'),
    r.earlier.length
      ? h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { id: 'routes-earlier' },
            h('caption', { class: 'visually-hidden' }, 'Earlier routes and when each was seen'),
            h('thead', {}, h('tr', {}, ...['Route', 'First seen', 'Last seen', 'Hops', 'Reached', 'Path'].map((c) => h('th', { scope: 'col' }, c)))),
            h(
              'tbody',
              {},
              ...r.earlier.map((e) =>
                h(
                  'tr',
                  { 'data-hash': e.hash },
                  h('td', { class: 'mono' }, short(e.hash)),
                  h('td', {}, dateTime(e.first_seen)),
                  h('td', {}, dateTime(e.last_seen)),
                  h('td', { class: 'num' }, e.hop_count),
                  h('td', {}, e.reached ? 'yes' : 'no'),
                  h('td', { class: 'mono path' }, e.path),
                ),
              ),
            ),
          ),
        )
      : h('p', { id: 'routes-earlier', class: 'muted' }, 'No earlier route in this range.'),
  );
}

function timeOf(v: number | string): number {
  return typeof v === 'number' ? v : Date.parse(v) / 1000;
}
