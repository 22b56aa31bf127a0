import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Point } from '@influxdata/influxdb-client';
import type { StoredPoint } from '../../src/outbox/point-shape.js';
import { toStoredPoint } from '../../src/outbox/stored-point.js';
import { encodeLine, toLineProtocol } from '../../src/outbox/transports/line-protocol.js';
import { seriesKey, type AnySample } from '../../src/samples/sample.js';
import { SCHEMA_TABLE } from '../../src/probes/schema.js';

test('integers get the i suffix from the schema, floats stay floats, strings are quoted, booleans bare', () => {
  const s: AnySample = {
    measurement: 'ping',
    tags: { target: 'a', source: 'b', family: 'ipv4' },
    fields: { sent: 5, received: 4, loss_pct: 20, rtt_avg_ms: 1.5, ip: '10.0.0.1', success: true },
    timeMs: 1_700_000_000_000,
  };
  assert.equal(toLineProtocol(s), 'ping,family=ipv4,source=b,target=a ip="10.0.0.1",loss_pct=20,received=4i,rtt_avg_ms=1.5,sent=5i,success=T 1700000000000000000');
});

test('special characters are escaped in tags and strings; empty tags and undefined/NaN fields are left out', () => {
  const s: AnySample = {
    measurement: 'probe',
    tags: { target: 'https://x.example/a b,c=d', source: 'h', probe: 'http', mode: '' },
    fields: { success: false, reason: 'bad_status', detail: 'said "no" \\ twice', duration_ms: Number.NaN },
    timeMs: 1000,
  };
  assert.equal(
    toLineProtocol(s),
    'probe,probe=http,source=h,target=https://x.example/a\\ b\\,c\\=d detail="said \\"no\\" \\\\ twice",reason="bad_status",success=F 1000000000',
  );
});

test('a point without fields is not a line', () => {
  assert.equal(toLineProtocol({ measurement: 'tcp', tags: { target: 'a', source: 'b' }, fields: {}, timeMs: 1 }), null);
});

test('series key is the measurement plus sorted tags (InfluxDB point identity without time)', () => {
  const a = seriesKey({ measurement: 'tcp', tags: { target: 'a', source: 'b', port: '1' }, fields: {}, timeMs: 1 });
  const b = seriesKey({ measurement: 'tcp', tags: { port: '1', source: 'b', target: 'a' }, fields: {}, timeMs: 2 });
  assert.equal(a, b);
});

/** The reference: the official client's Point, as the encoder was written before (skips what Point would throw on). */
function viaPoint(p: StoredPoint): string {
  const point = new Point(p.m);
  for (const [k, v] of Object.entries(p.t)) point.tag(k, v);
  for (const [k, v] of Object.entries(p.f)) {
    if (typeof v === 'boolean') point.booleanField(k, v);
    else if (typeof v === 'string') point.stringField(k, v);
    else if (Number.isFinite(v)) point.floatField(k, v);
  }
  if (p.i) for (const [k, v] of Object.entries(p.i)) if (v > -9223372036854776e3 && v < 9223372036854776e3) point.intField(k, v);
  point.timestamp(`${p.ts}000000`);
  return point.toLineProtocol() ?? '';
}

const HOSTILE = ['plain', 'a b', 'a,b', 'a=b', 'say "hi"', 'back\\slash', 'trailing\\', 'line\nbreak', 'cr\rtab\t', 'ünïcödé 東京', '', ' ', '=,= ,', '"', 'https://u.example/p?q=1&r=a b#f'];
const NUMBERS = [0, -0, 1, -1, 0.1, 1.5, 123456.789, 1e21, 1.7976931348623157e308, 5e-324, 1e-7, -2.5e-10, 2 ** 53, 1 / 3];

test('the hand-written encoder writes the same bytes as the client library\'s Point, for every measurement and hostile strings', () => {
  let lines = 0;
  let n = 0;
  const pick = <T>(xs: readonly T[]) => xs[n++ % xs.length]!;
  for (const [m, schema] of Object.entries(SCHEMA_TABLE)) {
    for (let round = 0; round < 40; round++) {
      const t: Record<string, string> = { target: pick(HOSTILE), source: pick(HOSTILE) };
      for (const tag of schema.tags) t[tag] = pick(HOSTILE);
      const f: StoredPoint['f'] = {};
      const i: Record<string, number> = {};
      for (const [field, type] of Object.entries(schema.fields)) {
        if (round % 3 === 1 && n % 2) continue; // some fields absent
        if (type === 'integer') i[field] = Math.trunc(pick(NUMBERS) * (n % 2 ? 1 : 1000));
        else if (type === 'float') f[field] = pick(NUMBERS);
        else if (type === 'string') f[field] = pick(HOSTILE);
        else f[field] = n % 2 === 0;
      }
      const p: StoredPoint = { m: round % 7 === 0 ? `${m} with,space` : m, t, f, ts: 1_700_000_000_000 + round };
      if (Object.keys(i).length) p.i = i;
      assert.equal(encodeLine(p), viaPoint(p), JSON.stringify(p));
      lines++;
    }
  }
  assert.ok(lines >= 8 * 40, `covered ${lines} lines`);
});

test('non-finite floats and integers past int64 are left out (Point would throw on them); a point with no field left is no line', () => {
  const p: StoredPoint = { m: 'ping', t: { target: 'a' }, f: { rtt_avg_ms: Number.NaN, loss_pct: Number.POSITIVE_INFINITY, success: true }, i: { sent: 1e19 }, ts: 1 };
  assert.equal(encodeLine(p), 'ping,target=a success=T 1000000');
  assert.equal(encodeLine({ m: 'ping', t: { target: 'a' }, f: { rtt_avg_ms: Number.NaN }, ts: 1 }), '');
});

test('samples through the outbox shape and straight to a line agree', () => {
  const s: AnySample = { measurement: 'http', tags: { target: 'x', source: 's', method: 'GET' }, fields: { status_code: 200.0, total_ms: 3, success: true, http_version: '1.1' }, timeMs: 5 };
  assert.equal(toLineProtocol(s), encodeLine(toStoredPoint(s)!));
  assert.match(toLineProtocol(s)!, /status_code=200i/);
});
