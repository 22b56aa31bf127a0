import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseMtrRaw, type RawTrace } from '../../src/probes/trace/mtr-raw.js';
import { summarizeTrace, traceModel } from '../../src/probes/trace/route.js';
import { diffRoutes, ECMP_FORGET_TRACES, routePath, track, type RouteState, type Verdict } from '../../src/probes/trace/route-change.js';
import { RouteMemory } from '../../src/probes/trace/route-memory.js';
import { Deadline } from '../../src/lifecycle/component.js';

// Captured from real mtr 0.95 runs in client -> r1 -> r2 -> r3 -> server namespaces (addresses in chain-meta.json),
// with 55 % of echo requests dropped at the destination for the dest-loss ones.
const F = join(import.meta.dirname, '../fixtures');
const fx = (name: string) => parseMtrRaw(readFileSync(join(F, name), 'utf8'));
const meta = JSON.parse(readFileSync(join(F, 'chain-meta.json'), 'utf8')) as { hops: string[]; server: string; unowned: string };
const [A, B, C] = meta.hops as [string, string, string];
const D = meta.server;

/** A synthetic trace: `a>*>b|c>d`, 3 probes per TTL, every listed address answering. */
function raw(path: string): RawTrace {
  return {
    hops: path.split('>').map((s, i) => (s === '*' ? { ttl: i + 1, ips: [], sent: 3, rtts: [] } : { ttl: i + 1, ips: s.split('|'), sent: 3, rtts: [1, 1, 1] })),
    unparsed: [],
  };
}

/** Feed traces one slot (60 s) apart; every verdict and the final state. */
function run(traces: RawTrace[], dest = D, confirm = 2, state?: RouteState): { verdicts: Verdict[]; state: RouteState; t0: number } {
  const t0 = 1_800_000_000_000;
  const verdicts: Verdict[] = [];
  let s = state;
  traces.forEach((t, i) => {
    const r = track(s, traceModel(t, dest), dest, { timeMs: t0 + i * 60_000, confirm, staleMs: (confirm + 1) * 60_000 });
    s = r.state;
    verdicts.push(r.verdict);
  });
  return { verdicts, state: s!, t0 };
}
const changes = (vs: Verdict[]) => vs.filter((v) => v.changed).length;

test('the issue\'s loss shapes: `a>*>b` then `a>b` (destination at TTL 3 by loss) is no change, and the lossy trace reads as 2 hops', () => {
  const lossy = fx('mtr-raw-dest-loss-2hops.txt'); // destination 10.194.2.2 first heard at TTL 3
  const clean = fx('mtr-raw-2hops.txt');
  assert.equal(traceModel(lossy, B).destTtl, 3, 'the fixture has the shape');
  // Clean first: the lossy trace is read against the confirmed 2-hop route.
  const a = run([clean, lossy, lossy, clean, lossy], B);
  assert.equal(changes(a.verdicts), 0);
  const s = summarizeTrace(lossy, B, a.verdicts[1]!.ref);
  assert.equal(s.hopCount, 2);
  assert.equal(s.path, `${A}>${B}`);
  assert.equal(s.hops[1]!.ip, B);
  // every probe at TTL >= 2 reached the destination: 4 of 13 answered
  assert.equal(s.hops[1]!.sent, 13);
  assert.equal(s.hops[1]!.lossPct, 69.231);
  // Lossy first: the first trace cannot know better; the clean one lowers the destination's TTL without a change.
  const b = run([lossy, clean, lossy, lossy], B);
  assert.equal(changes(b.verdicts), 0);
  assert.equal(b.state.confirmed.destTtl, 2);
  assert.equal(routePath(b.state.confirmed), `${A}>${B}`);
  assert.equal(b.verdicts[3]!.id, b.verdicts[0]!.id, 'refining the route keeps its id');
});

test('the issue\'s loss shapes: the destination "moving" to TTL 5 because every TTL-4 echo was lost is no change', () => {
  const clean = fx('mtr-raw-4hops.txt');
  const lossy = fx('mtr-raw-dest-loss-4hops.txt');
  assert.equal(traceModel(lossy, D).destTtl, 5, 'the fixture has the shape');
  const r = run([clean, lossy, lossy, lossy, clean, lossy], D);
  assert.equal(changes(r.verdicts), 0);
  assert.ok(r.verdicts.every((v) => !v.pending));
  const s = summarizeTrace(lossy, D, r.verdicts[1]!.ref);
  assert.equal(s.hopCount, 4);
  assert.equal(s.path, [A, B, C, D].join('>'));
  assert.equal(s.hops[3]!.sent, 9);
  assert.equal(s.hops[3]!.lossPct, 66.667);
});

test('silence is a wildcard: a silent router, a destination that stops answering, no answer at all', () => {
  const clean = fx('mtr-raw-4hops.txt');
  const silent = fx('mtr-raw-silent-hop2.txt');
  const dark = raw('*>*>*>*>*>*');
  const r = run([clean, silent, silent, raw(`${A}>${B}>${C}>*>*>*`), raw(`${A}>${B}>${C}>*>*>*`), dark, dark, clean]);
  assert.equal(changes(r.verdicts), 0);
  assert.ok(r.verdicts.every((v) => !v.pending));
  // An unreachable destination: the trace ends at the last answer, and repeats of it are not changes.
  const unreached = fx('mtr-raw-unreached.txt');
  const u = run(Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? unreached : raw(`${A}>${B}>${C}>*>*`))), meta.unowned);
  assert.equal(changes(u.verdicts), 0);
  assert.equal(routePath(u.state.confirmed), `${A}>${B}>${C}`);
  // Once r3 gives up on the address it answers every probe beyond it (host unreachable): still r3 once, the route's end.
  const unreachables = raw(`${A}>${B}>${C}>${C}>${C}>*>${C}>*`);
  const v = run(Array.from({ length: 8 }, (_, i) => (i < 2 ? raw(`${A}>${B}>${C}>*>*`) : unreachables)), meta.unowned);
  assert.equal(changes(v.verdicts), 0);
  assert.ok(v.verdicts.every((x) => !x.pending));
  assert.equal(routePath(v.state.confirmed), `${A}>${B}>${C}`);
  const sum = summarizeTrace(unreachables, meta.unowned, v.state.confirmed);
  assert.deepEqual([sum.hopCount, sum.path, sum.reached], [3, `${A}>${B}>${C}`, false]);
});

test('a moved hop is a change confirmed by the second trace that sees it, dated by the first, with its diff', () => {
  const clean = fx('mtr-raw-4hops.txt');
  const moved = fx('mtr-raw-4hops-via-r4.txt'); // hop 2 is r4 (10.194.5.2)
  const r = run([clean, clean, moved, moved, moved, moved]);
  assert.deepEqual(
    r.verdicts.map((v) => [v.changed, v.pending]),
    [
      [false, false],
      [false, false],
      [false, true],
      [true, false],
      [false, false],
      [false, false],
    ],
  );
  const v = r.verdicts[3]!;
  assert.equal(v.diff, `2:${B}>10.194.5.2`);
  assert.equal(v.firstSeenMs, r.t0 + 2 * 60_000);
  assert.notEqual(v.id, r.verdicts[0]!.id);
  assert.equal(r.verdicts[4]!.id, v.id);
  // While pending, the confirmed route is still the old one.
  assert.equal(r.verdicts[2]!.id, r.verdicts[0]!.id);
  // ROUTE_CHANGE_CONFIRM=1 confirms on the first trace; 3 needs three.
  assert.equal(run([clean, moved], D, 1).verdicts[1]!.changed, true);
  const three = run([clean, moved, moved, moved], D, 3).verdicts;
  assert.deepEqual(three.map((x) => x.changed), [false, false, false, true]);
});

test('one trace of another path between the old one is no change; a trace silent where it matters neither counts nor resets', () => {
  const r = run([raw(`${A}>${B}>${C}>${D}`), raw(`${A}>10.9.9.9>${C}>${D}`), raw(`${A}>${B}>${C}>${D}`), raw(`${A}>${B}>${C}>${D}`)]);
  assert.equal(changes(r.verdicts), 0);
  const n = run([raw(`${A}>${B}>${C}>${D}`), raw(`${A}>10.9.9.9>${C}>${D}`), raw(`${A}>*>${C}>*>${D}`), raw(`${A}>10.9.9.9>${C}>${D}`)]);
  assert.deepEqual(n.verdicts.map((v) => v.changed), [false, false, false, true]);
  assert.equal(n.verdicts[3]!.firstSeenMs, n.t0 + 60_000);
});

test('length changes: shorter and longer paths with every TTL answered are changes; their diffs say which TTLs', () => {
  const four = raw(`${A}>${B}>${C}>${D}`);
  const three = raw(`${A}>${B}>${D}`);
  const five = raw(`${A}>${B}>${C}>10.9.9.1>${D}`);
  const s = run([four, three, three]);
  assert.equal(s.verdicts[2]!.diff, `3:${C}>${D};4:-${D}`);
  const l = run([four, five, five]);
  assert.equal(l.verdicts[2]!.diff, `4:${D}>10.9.9.1;5:+${D}`);
  assert.equal(diffRoutes({ hops: [[A], [B], [C]], destTtl: 3 }, { hops: [[A], ['10.77.5.2'], [C], ['10.77.9.1'], [D]], destTtl: 5 }), `2:${B}>10.77.5.2;4:+10.77.9.1;5:+${D}`);
  // A router answering past the destination's confirmed TTL is a longer path even when that TTL was silent.
  const longer = run([four, raw(`${A}>${B}>${C}>*>10.9.9.1>${D}`), raw(`${A}>${B}>${C}>*>10.9.9.1>${D}`)]);
  assert.equal(changes(longer.verdicts), 1);
});

test('ECMP: addresses alternating at one TTL across traces are one hop with an address set', () => {
  const x = raw(`${A}>${B}>${C}>${D}`);
  const y = raw(`${A}>10.194.7.2>${C}>${D}`);
  const r = run([x, y, x, y, y, x, y, y, y, x]);
  assert.equal(changes(r.verdicts), 0);
  assert.equal(routePath(r.state.confirmed), `${A}>${B}|10.194.7.2>${C}>${D}`);
  // Both in one trace (UDP, per-probe hashing), then one, then the other: one hop.
  const both = raw(`${A}>${B}|10.194.7.2>${C}>${D}`);
  const b = run([x, both, both, y, y, x, y]);
  assert.equal(changes(b.verdicts), 0);
  const ecmp = fx('mtr-raw-ecmp-udp.txt');
  const e = run([ecmp, ecmp], '10.203.6.2');
  assert.equal(changes(e.verdicts), 0);
  assert.equal(routePath(e.state.confirmed), '10.203.1.2>10.203.2.2|10.203.3.2>10.203.4.2>10.203.6.2');
});

test('a change during a trace (old and new address in one trace, then only the new) is a change dated by that trace', () => {
  const r = run([raw(`${A}>${B}>${C}>${D}`), raw(`${A}>${B}|10.194.5.2>${C}>${D}`), raw(`${A}>10.194.5.2>${C}>${D}`), raw(`${A}>10.194.5.2>${C}>${D}`)]);
  assert.deepEqual(r.verdicts.map((v) => v.changed), [false, false, false, true]);
  assert.equal(r.verdicts[3]!.firstSeenMs, r.t0 + 60_000);
  assert.equal(r.verdicts[3]!.diff, `2:${B}>10.194.5.2`);
  assert.equal(routePath(r.state.confirmed), `${A}>10.194.5.2>${C}>${D}`);
});

test('a route coming back keeps its first id; an ECMP address unheard for long is forgotten', () => {
  const x = raw(`${A}>${B}>${C}>${D}`);
  const y = raw(`${A}>10.9.9.9>${C}>${D}`);
  // The first trace did not hear TTL 3: the route's id is from `A>B>*>D`, and the route coming back is the same route.
  const r = run([raw(`${A}>${B}>*>${D}`), y, y, y, x, x, x]);
  assert.equal(changes(r.verdicts), 2);
  assert.equal(r.verdicts[6]!.id, r.verdicts[0]!.id);
  assert.equal(r.state.known[0]!.id, r.verdicts[3]!.id);
  // Learned {B, 10.9.9.9} by alternation; 10.9.9.9 unheard for ECMP_FORGET_TRACES traces goes; a move to it is a change again.
  const learned = run([x, y, x]);
  assert.equal(routePath(learned.state.confirmed), `${A}>${B}|10.9.9.9>${C}>${D}`);
  const later = run([...Array.from({ length: ECMP_FORGET_TRACES + 1 }, () => x), y, y], D, 2, learned.state);
  assert.equal(changes(later.verdicts), 1);
});

test('a candidate older than its staleness bound is dropped: missed traces do not confirm', () => {
  const x = raw(`${A}>${B}>${C}>${D}`);
  const y = raw(`${A}>10.9.9.9>${C}>${D}`);
  const t0 = 1_800_000_000_000;
  const o = (t: number) => ({ timeMs: t, confirm: 2, staleMs: 180_000 });
  let s = track(undefined, traceModel(x, D), D, o(t0)).state;
  s = track(s, traceModel(y, D), D, o(t0 + 60_000)).state;
  const late = track(s, traceModel(y, D), D, o(t0 + 60_000 + 600_000));
  assert.equal(late.verdict.changed, false);
  assert.equal(late.state.pending?.firstMs, t0 + 660_000);
  assert.equal(track(late.state, traceModel(y, D), D, o(t0 + 720_000)).verdict.changed, true);
});

test('route memory: the state (candidate included) survives a restart; a row it cannot read is no state', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-route-mem-'));
  try {
    const x = raw(`${A}>${B}>${C}>${D}`);
    const y = raw(`${A}>10.9.9.9>${C}>${D}`);
    const half = run([x, y]);
    const m1 = new RouteMemory(dir);
    await m1.start();
    m1.save('t', half.state);
    await m1.stop(Deadline.in(1000));
    const m2 = new RouteMemory(dir);
    await m2.start();
    const back = m2.state('t');
    assert.deepEqual(back, half.state);
    const v = track(back, traceModel(y, D), D, { timeMs: half.t0 + 120_000, confirm: 2, staleMs: 180_000 }).verdict;
    assert.equal(v.changed, true, 'the candidate seen before the restart is confirmed after it');
    assert.equal(v.firstSeenMs, half.t0 + 60_000);
    await m2.stop(Deadline.in(1000));
    // A row of another layout (or not JSON): no state, the next trace starts afresh.
    const db = new Database(join(dir, 'state.db'));
    const put = db.prepare('INSERT OR REPLACE INTO route_state (target, route, updated_ms) VALUES (?, ?, ?)');
    put.run('other', JSON.stringify({ hopCount: 4, reached: true, hops: [] }), Date.now());
    put.run('garbled', '{"v": 2', Date.now());
    db.close();
    const m3 = new RouteMemory(dir);
    await m3.start();
    assert.deepEqual([m3.state('other'), m3.state('garbled')], [undefined, undefined]);
    await m3.stop(Deadline.in(1000));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
