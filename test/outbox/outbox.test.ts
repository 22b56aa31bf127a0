import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../../src/outbox/outbox.js';
import { salvageInto } from '../../src/outbox/salvage.js';
import { decodePoint, encodePoint, toStoredPoint, type StoredPoint } from '../../src/outbox/stored-point.js';
import { influxEndpoint, toLine } from '../../src/outbox/transports/influx.js';
import { parseRetryAfter } from '../../src/outbox/transports/transport.js';
import { toLineProtocol } from '../../src/outbox/transports/line-protocol.js';
import type { AnySample } from '../../src/samples/sample.js';
import { closeDb, openDb } from '../../src/sqlite/sqlite-db.js';

function withDir(fn: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'nt-outbox-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const point = (v: number): StoredPoint => ({ m: 'm', t: { t: 'x' }, f: { f: v + 0.5 }, i: { v }, ts: v * 1000 });
const bodies = (from: number, n: number) => Array.from({ length: n }, (_, i) => encodePoint(point(from + i)));
const open = (dir: string, maxBytes = 1e9) => new Outbox(openDb(dir, 'o.db'), { maxBytes }).open();
const values = (o: Outbox, ep: string) => o.next(ep, 1e6).map((r) => decodePoint(r.enc, r.body).i!.v);

test('each endpoint has its own cursor; a row leaves when every endpoint is past it', () =>
  withDir((dir) => {
    const o = open(dir);
    o.register('a');
    o.register('b');
    o.append(bodies(0, 10));
    assert.equal(o.points, 10);
    assert.equal(o.pending('a'), 10);
    const batch = o.next('a', 4);
    assert.deepEqual(batch.map((r) => decodePoint(r.enc, r.body)), [0, 1, 2, 3].map(point));
    o.ack('a', batch[3]!.seq);
    assert.equal(o.pending('a'), 6);
    assert.equal(o.points, 10, 'b still needs them');
    o.ack('b', batch[1]!.seq);
    assert.equal(o.points, 8);
    o.ack('b', o.lastSeq);
    o.ack('a', o.lastSeq);
    assert.equal(o.points, 0);
    assert.equal(o.bodyBytes, 0);
  }));

test('survives a reopen: rows, cursors, in-flight ranges and byte count come back', () =>
  withDir((dir) => {
    let o = open(dir);
    o.register('a');
    o.append(bodies(0, 5));
    o.ack('a', o.next('a', 2)[1]!.seq);
    o.setInflight('a', { lo: 3, hi: 4 });
    const bytes = o.bodyBytes;
    o = open(dir);
    assert.equal(o.points, 3);
    assert.equal(o.pending('a'), 3);
    assert.equal(o.bodyBytes, bytes);
    assert.deepEqual(o.inflight('a'), { lo: 3, hi: 4 });
    assert.deepEqual(values(o, 'a'), [2, 3, 4]);
    o.ack('a', o.lastSeq);
    assert.equal(o.inflight('a'), undefined, 'an ack settles the in-flight range');
    o = open(dir);
    assert.equal(o.points, 0);
    o.append(bodies(5, 1));
    assert.equal(o.next('a', 10).length, 1, 'sequence numbers keep increasing after the table emptied');
  }));

test('past OUTBOX_MAX_BYTES the oldest points go, counted; the survivors are the newest; the files stay under the bound', () =>
  withDir((dir) => {
    const max = 256 * 1024;
    const db = openDb(dir, 'o.db', { journalSizeLimit: max / 8 });
    const o = new Outbox(db, { maxBytes: max }).open();
    o.register('a');
    const big = (v: number) => encodePoint({ ...point(v), f: { pad: 'x'.repeat(300) } });
    let dropped = 0;
    for (let i = 0; i < 3000; i++) {
      dropped += o.append([big(i)]).points;
      if (i % 100 === 0) {
        o.maintain();
        assert.ok(statSync(db.name).size + (statSync(`${db.name}-wal`, { throwIfNoEntry: false })?.size ?? 0) <= max, 'files within the bound');
      }
    }
    assert.ok(dropped > 2000, `dropped ${dropped}`);
    assert.equal(dropped + o.points, 3000, 'every point is held or counted as dropped');
    const held = values(o, 'a');
    assert.equal(held.at(-1), 2999, 'the newest is held');
    for (let k = 1; k < held.length; k++) assert.equal(held[k]! - held[k - 1]!, 1, 'held points are contiguous');
    const pages = Number(db.pragma('page_count', { simple: true })) * Number(db.pragma('page_size', { simple: true }));
    assert.ok(pages <= max - o.walReserveBytes, `main file ${pages} within its share`);
    closeDb(db);
  }));

test('freed pages go back to the file system once the outbox drains', () =>
  withDir((dir) => {
    const db = openDb(dir, 'o.db');
    const o = new Outbox(db, { maxBytes: 1e9 }).open();
    o.register('a');
    for (let i = 0; i < 20; i++) o.append(bodies(i * 1000, 1000));
    const full = Number(db.pragma('page_count', { simple: true }));
    o.ack('a', o.lastSeq);
    for (let i = 0; i < 50; i++) o.maintain();
    const after = Number(db.pragma('page_count', { simple: true }));
    assert.ok(after < full / 4, `pages ${full} -> ${after}`);
    closeDb(db);
  }));

test('an endpoint no longer configured stops pinning rows', () =>
  withDir((dir) => {
    const o = open(dir);
    o.register('a');
    o.register('gone');
    o.append(bodies(0, 3));
    o.ack('a', o.lastSeq);
    assert.equal(o.points, 3);
    o.retain(['a']);
    assert.equal(o.points, 0);
  }));

const samples: AnySample[] = [
  {
    measurement: 'http',
    tags: { target: 'https://a b,c=d/"x"', source: 's p', method: 'GET' },
    fields: { status_code: 200, success: true, total_ms: 12.5, dns_ms: 3, ip: 'say "hi"\\ there\nnow', bytes: 1024, reused: false },
    timeMs: 1_700_000_000_000,
  },
  { measurement: 'ping', tags: { target: 't', source: 's', family: 'ipv4' }, fields: { sent: 5, received: 0, loss_pct: 100, success: false }, timeMs: 1_700_000_060_000 },
];

test('the InfluxDB transport writes a stored point as the line of the sample it was made from', () => {
  for (const s of samples) assert.equal(toLine(toStoredPoint(s)!), toLineProtocol(s));
});

test('an outbox.db of another schema version is refused with what to do, and left as it was', () =>
  withDir((dir) => {
    const layouts = {
      // A development build's layout (rows of line protocol, user_version 0).
      'old.db': 'CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL, bytes INTEGER NOT NULL, ts_ms INTEGER NOT NULL);',
      'newer.db': 'CREATE TABLE outbox (seq INTEGER PRIMARY KEY, body TEXT); PRAGMA user_version = 9;',
    };
    for (const [file, sql] of Object.entries(layouts)) {
      const old = new Database(join(dir, file));
      old.exec(sql);
      old.close();
      const db = openDb(dir, file);
      try {
        assert.throws(() => new Outbox(db, { maxBytes: 1e9 }).open(), new RegExp(`${file} has schema version \\d+, not this daemon's 2: run the version that wrote it, or move the file away`));
      } finally {
        closeDb(db);
      }
      const after = new Database(join(dir, file), { readonly: true });
      assert.deepEqual(
        (after.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]).map((r) => r.name),
        ['outbox'],
        `${file}: nothing created or changed`,
      );
      after.close();
    }
  }));

test('a damaged outbox: the rows still readable are salvaged with their cursors', () =>
  withDir((dir) => {
    const db = openDb(dir, 'bad.db');
    const o = new Outbox(db, { maxBytes: 1e9 }).open();
    o.register('a');
    for (let i = 0; i < 10; i++) o.append(bodies(i * 500, 500));
    o.ack('a', 100);
    o.register('b'); // at the tail: 100
    db.pragma('wal_checkpoint(TRUNCATE)');
    const pageSize = Number(db.pragma('page_size', { simple: true }));
    const pages = Number(db.pragma('page_count', { simple: true }));
    closeDb(db);
    // Scribble over a leaf page in the middle of the table.
    const fd = openSync(join(dir, 'bad.db'), 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, pageSize * Math.floor(pages / 2));
    closeSync(fd);
    const fresh = open(dir);
    const r = salvageInto(join(dir, 'bad.db'), fresh);
    assert.ok(r.rows > 4000 && r.rows < 4900, `salvaged ${r.rows} of 4900`);
    assert.ok(r.unreadableRanges >= 1);
    const held = values(fresh, 'a');
    assert.equal(held[0], 100, 'the cursor came along: the endpoint resumes after what it had');
    assert.equal(held.at(-1), 4999);
    assert.equal(fresh.points, r.rows, 'sequence numbers without holes: the counts are exact');
    assert.equal(fresh.pending('a'), r.rows);
  }));

test('write URLs and auth for v2 and v1', () => {
  const v2 = influxEndpoint('http://db:8086/', { api: 'v2', token: 't0k', org: 'my org', bucket: 'b' });
  assert.equal(v2.writeUrl, 'http://db:8086/api/v2/write?org=my+org&bucket=b&precision=ns');
  assert.equal(v2.headers.authorization, 'Token t0k');
  assert.equal(v2.name, 'http://db:8086');
  const v1 = influxEndpoint('https://proxy/influx', { api: 'v1', db: 'telemetry', rp: 'week', username: 'u', password: 'p' });
  assert.equal(v1.writeUrl, 'https://proxy/influx/write?db=telemetry&rp=week&precision=ns');
  assert.equal(v1.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
});

test('Retry-After: seconds or HTTP date, capped at 5 minutes', () => {
  assert.equal(parseRetryAfter('7'), 7000);
  assert.equal(parseRetryAfter(new Date(Date.now() + 3000).toUTCString())! > 1000, true);
  assert.equal(parseRetryAfter('99999'), 300_000);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseRetryAfter(undefined), undefined);
});
