import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { FailureLog } from '../../src/logging/failure-log.js';

/** A real pino logger writing into an array, and a clock the test moves. */
function setup() {
  const lines: { level: number; msg: string; failures?: number; repeated?: number }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  let now = 1_000_000;
  const log = new FailureLog(pino({ level: 'info' }, sink), 60_000, () => now);
  const flush = () => new Promise((r) => setImmediate(r));
  return { lines, log, flush, at: (ms: number) => (now = 1_000_000 + ms) };
}

test('a flapping disk: two lines a minute at most, and the log ends on the recovery with every failure counted', async () => {
  const { lines, log, flush, at } = setup();
  const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
  // One commit in two fails for 50 s (a nearly full disk), then all succeed.
  for (let s = 0; s < 50; s++) {
    at(s * 1000);
    if (s % 2 === 0) log.failed('disk_full', full, 'points not stored');
    else log.resolved('disk_full', 'points stored again');
  }
  for (let s = 50; s < 130; s++) {
    at(s * 1000);
    log.resolved('disk_full', 'points stored again');
  }
  await flush();
  const said = lines.map((l) => l.msg);
  assert.deepEqual(said, ['points not stored', 'points stored again (after 1 failure)', 'points stored again (after 24 failures)'], said.join(' | '));
  // Every failure is in a count: 1 + 24 = the 25 refusals.
  assert.equal(lines.filter((l) => l.failures).reduce((a, l) => a + l.failures!, 0), 25);
  assert.equal(lines.at(-1)!.level, 30, 'the last line is the recovery (info)');
});

test('a failure that lasts: one error line a minute with the count between, then one recovery line', async () => {
  const { lines, log, flush, at } = setup();
  const err = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
  for (let s = 0; s < 125; s++) {
    at(s * 1000);
    log.failed('write', err, 'write failed');
  }
  at(126_000);
  log.resolved('write', 'written again');
  log.resolved('write', 'written again');
  await flush();
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['write failed', 'write failed (and 59 more like it in the last 60 s)', 'write failed (and 59 more like it in the last 60 s)', 'written again (after 125 failures)'],
  );
  assert.equal((lines[0] as { err?: unknown }).err, undefined, 'an I/O error is logged without its stack');
});
