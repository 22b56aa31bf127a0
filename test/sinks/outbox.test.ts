import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../../src/sinks/outbox.js';
import { openDb } from '../../src/sqlite/sqlite-db.js';
import { parseRetryAfter } from '../../src/sinks/influx-writer.js';
import { writeEndpoint } from '../../src/sinks/influx-sink.js';

function withDir(fn: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'nt-outbox-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `m,t=x v=${from + i}i ${from + i}000000`);

test('each endpoint has its own cursor; a row leaves when every endpoint is past it', () =>
  withDir((dir) => {
    const o = new Outbox(openDb(dir, 'o.db'), 1e9);
    o.register('a');
    o.register('b');
    o.append(lines(0, 10));
    assert.equal(o.points, 10);
    assert.equal(o.pending('a'), 10);
    const batch = o.next('a', 4);
    assert.deepEqual(batch.map((r) => r.line), lines(0, 4));
    o.ack('a', batch[3]!.seq);
    assert.equal(o.pending('a'), 6);
    assert.equal(o.points, 10, 'b still needs them');
    o.ack('b', batch[1]!.seq);
    assert.equal(o.points, 8);
    o.ack('b', o.lastSeq);
    o.ack('a', o.lastSeq);
    assert.equal(o.points, 0);
    assert.equal(o.sizeBytes, 0);
  }));

test('survives a reopen: rows, cursors and byte count come back', () =>
  withDir((dir) => {
    let o = new Outbox(openDb(dir, 'o.db'), 1e9);
    o.register('a');
    o.append(lines(0, 5));
    o.ack('a', o.next('a', 2)[1]!.seq);
    const bytes = o.sizeBytes;
    o = new Outbox(openDb(dir, 'o.db'), 1e9);
    assert.equal(o.points, 3);
    assert.equal(o.pending('a'), 3);
    assert.equal(o.sizeBytes, bytes);
    assert.deepEqual(o.next('a', 10).map((r) => r.line), lines(2, 3));
    o.ack('a', o.lastSeq);
    o = new Outbox(openDb(dir, 'o.db'), 1e9);
    assert.equal(o.points, 0);
    o.append(lines(5, 1));
    assert.equal(o.next('a', 10).length, 1, 'sequence numbers keep increasing after the table emptied');
  }));

test('past the byte bound the oldest points go, counted; the survivors are the newest', () =>
  withDir((dir) => {
    const one = Buffer.byteLength(lines(100, 1)[0]!);
    const o = new Outbox(openDb(dir, 'o.db'), one * 10);
    o.register('a');
    let dropped = 0;
    for (let i = 0; i < 25; i++) dropped += o.append(lines(100 + i, 1)).points;
    assert.equal(dropped, 15);
    assert.equal(o.points, 10);
    assert.ok(o.sizeBytes <= one * 10);
    assert.deepEqual(o.next('a', 100).map((r) => r.line), lines(115, 10));
  }));

test('an endpoint no longer configured stops pinning rows', () =>
  withDir((dir) => {
    const o = new Outbox(openDb(dir, 'o.db'), 1e9);
    o.register('a');
    o.register('gone');
    o.append(lines(0, 3));
    o.ack('a', o.lastSeq);
    assert.equal(o.points, 3);
    o.retain(['a']);
    assert.equal(o.points, 0);
  }));

test('write URLs and auth for v2 and v1', () => {
  const v2 = writeEndpoint('http://db:8086/', { api: 'v2', urls: [], token: 't0k', org: 'my org', bucket: 'b' });
  assert.equal(v2.writeUrl, 'http://db:8086/api/v2/write?org=my+org&bucket=b&precision=ns');
  assert.equal(v2.headers.authorization, 'Token t0k');
  assert.equal(v2.name, 'http://db:8086');
  const v1 = writeEndpoint('https://proxy/influx', { api: 'v1', urls: [], db: 'telemetry', rp: 'week', username: 'u', password: 'p' });
  assert.equal(v1.writeUrl, 'https://proxy/influx/write?db=telemetry&rp=week&precision=ns');
  assert.equal(v1.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
});

test('Retry-After: seconds or HTTP date, capped at 5 minutes', () => {
  assert.equal(parseRetryAfter('7'), 7000);
  assert.equal(parseRetryAfter(new Date(Date.now() + 3000).toUTCString()) ! > 1000, true);
  assert.equal(parseRetryAfter('99999'), 300_000);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseRetryAfter(undefined), undefined);
});
