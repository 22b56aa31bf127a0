import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toLineProtocol } from '../../src/samples/line-protocol.js';
import { seriesKey, type AnySample } from '../../src/samples/sample.js';

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
