import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { addEcmpTwin, buildChain, dropEchoRequests, silenceRouter, type Chain } from '../helpers/netns.js';
import { traceSeries, type TracedSlot } from '../helpers/trace-series.js';
import { openTestStore } from '../store/fixtures.js';

/**
 * Route-change truth on real paths: client -> r1 -> r2 -> r3 -> server in
 * network namespaces, traced by the real trace probe (mtr) under each
 * condition, all conditions side by side in their own namespaces. Loss,
 * silence and ECMP must never make a change; a moved router must make
 * exactly one, confirmed by the second trace that sees it.
 */

const chains: Chain[] = [];
after(() => {
  for (const c of chains) c.cleanup();
});

type Trace = TracedSlot;

const changed = (ts: Trace[]) => ts.filter((t) => t.route.route_changed === true);
const pending = (ts: Trace[]) => ts.filter((t) => t.route.route_pending === true);
const describe = (ts: Trace[]) => ts.map((t) => `${t.route.path}${t.route.route_changed ? ' CHANGED' : ''}${t.route.route_pending ? ' pending' : ''}`).join('\n');

/**
 * Until the destination has answered at its own TTL once, a trace that lost
 * every echo there cannot know the TTL is not a silent router: the first
 * traces may say 5 or 6 hops. Once it has, no trace says more: the hop
 * count only ever comes down, to the true one.
 */
function settlesAt(ts: Trace[], hops: number): void {
  const counts = ts.map((t) => t.route.hop_count as number);
  assert.ok(
    counts.every((n, i) => i === 0 || n <= counts[i - 1]!),
    `hop counts only come down: ${counts.join(' ')}\n${describe(ts)}`,
  );
  assert.equal(counts.at(-1), hops, describe(ts));
}

/** The route history the store builds from these points. */
function history(ts: Trace[]) {
  const s = openTestStore({}, ts[0]!.timeMs);
  try {
    for (const t of ts) s.engine.write(t.samples);
    s.clock.now = ts.at(-1)!.timeMs + 1000;
    return s.engine.routes({ target: 't' });
  } finally {
    s.close();
  }
}

test('route changes under loss, silence, a reroute, an unreachable destination and ECMP (side by side)', async () => {
  const [lossy, silent, moved, unreachable, ecmp] = Array.from({ length: 5 }, () => {
    const c = buildChain();
    chains.push(c);
    return c;
  }) as [Chain, Chain, Chain, Chain, Chain];
  dropEchoRequests(lossy, lossy.server, 55);
  silenceRouter(silent, silent.r2);
  dropEchoRequests(silent, silent.server, 45);
  dropEchoRequests(moved, moved.server, 30);
  const twin = addEcmpTwin(ecmp);
  let r4 = '';

  const [a, b, c, d, e] = await Promise.all([
    traceSeries(lossy.client, lossy.serverIp, 20),
    traceSeries(silent.client, silent.serverIp, 20),
    traceSeries(moved.client, moved.serverIp, 8, { before: (i) => void (i === 4 && (r4 = moved.rerouteViaR4())) }),
    traceSeries(unreachable.client, unreachable.unownedIp, 20),
    traceSeries(ecmp.client, ecmp.serverIp, 20, { protocol: 'udp', cycles: 5 }),
  ]);

  // (a) 55 % of echo requests dropped at the destination: no change, not even a candidate.
  assert.equal(changed(a).length, 0, describe(a));
  assert.equal(pending(a).length, 0, describe(a));
  assert.ok(a.every((t) => t.route.route_hash === a[0]!.route.route_hash), describe(a));
  settlesAt(a, 4);
  assert.ok(a.some((t) => (t.hops[3]?.loss_pct ?? 0) > 0), 'the destination lost echoes');
  const ha = history(a);
  assert.deepEqual([ha.earlier.length, ha.changes.length], [0, 0]);
  assert.equal(ha.current!.path, [...lossy.hopIps, lossy.serverIp].join('>'));

  // (b) a silent r2 and 45 % loss at the destination: no change; hop 2 silent throughout.
  assert.equal(changed(b).length, 0, describe(b));
  assert.equal(pending(b).length, 0, describe(b));
  assert.ok(b.every((t) => t.hops[1]!.ip === '*' && t.route.route_hash === b[0]!.route.route_hash), describe(b));
  settlesAt(b, 4);

  // (c) r1 now sends through r4: exactly one change, confirmed by the second trace of the new path, dated by the first.
  assert.equal(changed(c).length, 1, describe(c));
  assert.equal(c[4]!.route.route_pending, true, describe(c));
  const change = c[5]!.route;
  assert.equal(change.route_changed, true, describe(c));
  assert.equal(change.route_diff, `2:${moved.hopIps[1]}>${r4}`);
  assert.equal(change.route_first_seen_ms, c[4]!.timeMs);
  assert.equal(change.route_path, [moved.hopIps[0], r4, moved.hopIps[2], moved.serverIp].join('>'));
  const hc = history(c);
  assert.equal(hc.current!.hash, change.route_hash);
  assert.equal(hc.current!.first_seen, new Date(c[4]!.timeMs).toISOString());
  assert.deepEqual(hc.earlier.map((r) => [r.hash, r.path, r.last_seen]), [[c[0]!.route.route_hash, [...moved.hopIps, moved.serverIp].join('>'), new Date(c[3]!.timeMs).toISOString()]]);
  assert.deepEqual(hc.changes, [{ time: new Date(c[4]!.timeMs).toISOString(), from_hash: c[0]!.route.route_hash, to_hash: change.route_hash, diff: change.route_diff }]);

  // (d) nobody owns the address: every trace ends at r3, not reached, and never a change.
  assert.equal(changed(d).length, 0, describe(d));
  assert.ok(d.every((t) => t.route.reached === false && t.route.route_hash === d[0]!.route.route_hash), describe(d));

  // (e) two equal-cost next hops at TTL 2 (UDP probes spread over both): one hop with two addresses, no change.
  assert.equal(changed(e).length, 0, describe(e));
  settlesAt(e, 4);
  const ttl2 = String(e.at(-1)!.route.route_path).split('>')[1]!.split('|').sort();
  assert.deepEqual(ttl2, [ecmp.hopIps[1], twin].sort(), describe(e));
  assert.ok(e.some((t) => t.hops[1]!.ecmp_ips !== undefined), 'a single trace saw both next hops');
});
