import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSites } from '../../src/config/site-list.js';
import type { SourceState } from '../../src/sites/fault-domain.js';
import { buildMatrix, type MatrixQuery, type MatrixSource } from '../../src/sites/matrix.js';
import type { SiteRow } from '../../src/sites/site-view.js';

const row = (name: string, state: SourceState, rtt: number | null = 1, loss: number | null = 0): SiteRow => ({
  name,
  state,
  why: state === 'ok' ? null : 'icmp: timeout',
  last: { time: '2026-12-07T00:00:00.000Z', rtt_ms: rtt, loss_pct: loss, http_total_ms: null },
});
const src = (name: string, rows: SiteRow[], o: Partial<MatrixSource> = {}): MatrixSource => ({ name, self: name === 'a', available: true, rows: new Map(rows.map((r) => [r.name, r])), ...o });
const Q: MatrixQuery = { offset: 0, limit: 100, sort: 'worst', order: 'asc' };
type Out = { total: number; counts: Record<string, number>; targets: { name: string; worst: string; cells: { state: string; why: string | null }[] }[] };
const names = (m: Record<string, unknown>) => (m as unknown as Out).targets.map((t) => t.name);

const sources = [
  src('a', [row('t1', 'ok', 5), row('t2', 'ok', 2), row('t3', 'failing', null, 100), row('t4', 'ok', 9)]),
  src('b', [row('t1', 'degraded', 7, 20), row('t2', 'ok', 3), row('t3', 'failing', null, 100)]),
  src('c', [], { available: false, reason: 'timeout: deadline passed' }),
];
const targets = ['t1', 't2', 't3', 't4'];

test('matrix: a cell per target and source, unavailable sites unknown with the reason, counts per state', () => {
  const m = buildMatrix(targets, sources, () => undefined, Q) as unknown as Out;
  assert.equal(m.total, 4);
  assert.deepEqual(m.counts, { ok: 4, degraded: 1, failing: 2, unknown: 5 });
  const t4 = m.targets.find((t) => t.name === 't4')!;
  assert.deepEqual(
    t4.cells.map((c) => c.state),
    ['ok', 'unknown', 'unknown'],
    'b does not measure t4; c did not answer',
  );
  assert.match(t4.cells[2]!.why!, /site unavailable: timeout/);
});

test('matrix: worst first by default (failing, then degraded, then ok), rows without a value last either way', () => {
  assert.deepEqual(names(buildMatrix(targets, sources, () => undefined, Q)), ['t3', 't1', 't2', 't4']);
  assert.deepEqual(names(buildMatrix(targets, sources, () => undefined, { ...Q, sort: 'rtt', source: 'b' })), ['t2', 't1', 't3', 't4']);
  assert.deepEqual(names(buildMatrix(targets, sources, () => undefined, { ...Q, sort: 'rtt', source: 'b', order: 'desc' })), ['t1', 't2', 't3', 't4'], 'no RTT (t3 failing, t4 not measured by b) stays last');
  assert.deepEqual(names(buildMatrix(targets, sources, () => undefined, { ...Q, sort: 'name', order: 'desc' })), ['t4', 't3', 't2', 't1']);
  assert.deepEqual(names(buildMatrix(targets, sources, () => undefined, { ...Q, sort: 'loss' })), ['t1', 't2', 't4', 't3'], "this site's column when no source is named");
});

test('matrix: filter by name and by state (any source, or one source), page on the server', () => {
  assert.deepEqual(names(buildMatrix(targets, sources, () => undefined, { ...Q, state: 'degraded' })), ['t1']);
  assert.deepEqual(names(buildMatrix(targets, sources, () => undefined, { ...Q, state: 'ok', source: 'b' })), ['t2']);
  assert.deepEqual(names(buildMatrix(targets, sources, () => undefined, { ...Q, q: 'T3' })), ['t3']);
  const page = buildMatrix(targets, sources, () => undefined, { ...Q, sort: 'name', offset: 1, limit: 2 }) as unknown as Out;
  assert.deepEqual([page.total, names(page as never)], [4, ['t2', 't3']]);
  assert.throws(() => buildMatrix(targets, sources, () => undefined, { ...Q, source: 'zz' }), /source: "zz" is not one of a, b, c/);
});

test('SITES: name=URL entries, credentials as basic auth and never in the URL, one line per mistake', () => {
  const ok = parseSites('fra=https://reader:p%40ss@fra.example:8443/, nyc=http://10.0.0.7:8080', 'lon');
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.sites, [
    { name: 'fra', url: 'https://fra.example:8443', headers: { authorization: `Basic ${Buffer.from('reader:p@ss').toString('base64')}` } },
    { name: 'nyc', url: 'http://10.0.0.7:8080', headers: {} },
  ]);
  const bad = parseSites('https://x.example,lon=http://a,b=ftp://b,c=http://c/?x=1,d e=http://d,f=http://f,f=http://g', 'lon');
  assert.deepEqual(bad.problems, [
    'SITES: "<name>=<redacted URL>" is not name=URL (e.g. SITES=fra=https://fra.example:8080,nyc=https://nyc.example:8080)',
    'SITES: "lon" is this site\'s own SOURCE_NAME: list only the other sites',
    'SITES: the URL of site b must be http:// or https:// (it is ftp://...)',
    'SITES: the URL of site c must be the root of its API, without ?query or #fragment',
    'SITES: site name "d e" must be the site\'s SOURCE_NAME: letters, digits and _ . : - (at most 100)',
    'SITES: site f is listed twice',
  ]);
  assert.deepEqual(parseSites(undefined, 'x'), { sites: [], problems: [] });
});
