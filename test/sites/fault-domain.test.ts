import { test } from 'node:test';
import assert from 'node:assert/strict';
import { faultDomain, latencyOnset, lossOnset, type HopFigures, type SourceEvidence } from '../../src/sites/fault-domain.js';

/**
 * The verdict on recorded per-source states and hop lists: three sites a, b,
 * c with two routers of their own each, joining at the target's edge router
 * (10.9.100.1) in front of the target 10.9.100.2 — the three-site topology
 * of test/helpers/netns.ts, with figures as mtr reported them there.
 */

const T = '10.9.100.2';
const EDGE = '10.9.100.1';
const hop = (ttl: number, ip: string, loss_pct: number | null = 0, rtt_avg_ms: number | null = 0.2 * ttl): HopFigures => ({ ttl, ip, loss_pct, rtt_avg_ms });
const path = (site: string, o: { loss?: number[]; rtt?: number[]; reached?: boolean; second?: string } = {}): HopFigures[] => {
  const ips = [`10.9.${site}1.2`, o.second ?? `10.9.${site}2.2`, EDGE, T];
  const hops = ips.map((ip, i) => hop(i + 1, ip, o.loss?.[i] ?? 0, o.rtt?.[i] ?? 0.2 * (i + 1)));
  if (o.reached === false) return [...hops.slice(0, 3), hop(4, '*', null, null), hop(5, '*', null, null)];
  return hops;
};
const src = (source: string, state: SourceEvidence['state'], hops: HopFigures[] | null, why: string | null = null): SourceEvidence => ({ source, state, why, hops, destination: T });

test('every source ok: no fault', () => {
  const v = faultDomain([src('a', 'ok', path('1')), src('b', 'ok', path('2')), src('c', 'ok', path('3'))]);
  assert.equal(v.domain, 'none');
  assert.deepEqual(v.healthy, ['a', 'b', 'c']);
  assert.deepEqual(v.affected, []);
});

test('one source lossy from its second hop: its path, its second hop, where it joins the others', () => {
  const v = faultDomain([src('a', 'ok', path('1')), src('b', 'degraded', path('2', { loss: [0, 20, 23.3, 20] }), 'loss 20 % >= 5 %'), src('c', 'ok', path('3'))]);
  assert.equal(v.domain, 'path');
  assert.deepEqual(v.affected, ['b']);
  const b = v.paths![0]!;
  assert.equal(b.source, 'b');
  assert.deepEqual(b.loss_begins, { kind: 'loss', ttl: 2, ip: '10.9.22.2', value: 20, own: true });
  assert.equal(b.latency_begins, null);
  assert.deepEqual(b.own_hops, [
    { ttl: 1, ip: '10.9.21.2' },
    { ttl: 2, ip: '10.9.22.2' },
  ]);
  assert.deepEqual(b.joins_at, { ttl: 3, ip: EDGE });
  assert.match(v.summary, /^The path from b \(ok from a, c\)\. b \(degraded: loss 20 % >= 5 %\): loss begins at hop 2 \(10\.9\.22\.2\), 20 %, on the part of its path no healthy source uses \(its own hops 1, 2, joining the healthy paths at hop 3 \(10\.9\.100\.1\)\)\.$/);
});

test('one source rerouted through a slow hop: latency begins at the new hop, the route change is the path', () => {
  const c = path('3', { second: '10.9.34.2', rtt: [0.1, 40.3, 40.5, 40.6] });
  const v = faultDomain([src('a', 'ok', path('1')), src('b', 'ok', path('2')), src('c', 'degraded', c, 'rtt 40.6 ms >= 20 ms')]);
  assert.equal(v.domain, 'path');
  const p = v.paths![0]!;
  assert.equal(p.source, 'c');
  assert.equal(p.latency_begins?.ttl, 2);
  assert.equal(p.latency_begins?.ip, '10.9.34.2');
  assert.equal(p.latency_begins?.own, true);
  assert.ok(Math.abs(p.latency_begins!.value - 40.2) < 0.01, `step ${p.latency_begins?.value}`);
  assert.equal(p.loss_begins, null);
  assert.match(p.summary, /^c \(degraded: rtt 40\.6 ms >= 20 ms\): latency begins at hop 2 \(10\.9\.34\.2\), \+40 ms, on the part of its path no healthy source uses/);
});

test('failing from every source: the target, or the hops all paths share before it', () => {
  const down = (s: string) => src(s, 'failing', path(s === 'a' ? '1' : s === 'b' ? '2' : '3', { reached: false }), 'unreachable');
  const v = faultDomain([down('a'), down('b'), down('c')]);
  assert.equal(v.domain, 'target');
  assert.deepEqual(v.affected, ['a', 'b', 'c']);
  assert.deepEqual(v.common_hops, [{ ttl: 3, ip: EDGE }]);
  assert.equal(v.summary, 'Not ok from any source (a, b, c): the target, or the hops every path shares before it: 10.9.100.1.');
});

test('degraded from every source is the target too; paths that share nothing name the target alone', () => {
  const own = (s: string): HopFigures[] => [hop(1, `10.${s}.0.1`), hop(2, T, 30)];
  const v = faultDomain([src('a', 'degraded', own('1')), src('b', 'failing', own('2'))]);
  assert.equal(v.domain, 'target');
  assert.deepEqual(v.common_hops, [], 'the destination is not a hop before the target');
  assert.match(v.summary, /the target \(the paths share no hop before it\)/);
});

test('sources without data are not counted, and one source alone cannot tell its path from the target', () => {
  const v = faultDomain([src('a', 'failing', path('1', { reached: false })), src('b', 'unknown', null), src('c', 'unknown', null)]);
  assert.equal(v.domain, 'undetermined');
  assert.deepEqual(v.no_data, ['b', 'c']);
  assert.match(v.summary, /Only a has data/);
  assert.equal(faultDomain([]).domain, 'undetermined');
  assert.equal(faultDomain([src('a', 'ok', path('1')), src('b', 'unknown', null)]).domain, 'none');
});

test('an affected source without a route measured is named, with no hop', () => {
  const v = faultDomain([src('a', 'ok', path('1')), src('b', 'failing', null, 'timeout')]);
  assert.equal(v.domain, 'path');
  assert.equal(v.paths![0]!.own_hops.length, 0);
  assert.match(v.paths![0]!.summary, /no route measured from it/);
});

test('a path that stops answering: loss begins at its first silent hop, on its own part before the join', () => {
  const b = [hop(1, '10.9.21.2'), hop(2, '*', null, null), hop(3, '*', null, null)];
  const v = faultDomain([src('a', 'ok', path('1')), src('b', 'failing', b, 'timeout')]);
  const p = v.paths![0]!;
  assert.deepEqual(p.loss_begins, { kind: 'loss', ttl: 2, ip: '*', value: 100, own: true });
  assert.match(p.summary, /loss begins at hop 2 \(no answer\), 100 %/);
});

test('an affected path on the same hops as a healthy one points at a shared hop and says what that can mean', () => {
  const v = faultDomain([src('a', 'ok', path('1')), src('a2', 'degraded', path('1', { loss: [0, 0, 20, 20] }))]);
  const p = v.paths![0]!;
  assert.deepEqual(p.own_hops, []);
  assert.equal(p.loss_begins?.ttl, 3);
  assert.equal(p.loss_begins?.own, false);
  assert.match(p.summary, /a hop healthy paths share \(the link into it, or a return path that differs\)/);
  assert.match(p.summary, /every hop it has is on a healthy path too/);
});

test('loss only at a middle hop is that router limiting its answers, not loss on the path', () => {
  assert.equal(lossOnset([hop(1, 'x', 0), hop(2, 'y', 60), hop(3, 'z', 0), hop(4, T, 0)], 5), null);
  // A silent middle hop says nothing; loss that carries on to the end begins where it starts.
  assert.equal(lossOnset([hop(1, 'x', 0), hop(2, '*', null, null), hop(3, 'z', 20), hop(4, T, 18)], 5)?.ttl, 3);
  // Later hops that lose at least half as much keep the onset early (mtr's few packets per hop are noisy).
  assert.equal(lossOnset([hop(1, 'x', 0), hop(2, 'y', 20), hop(3, 'z', 3), hop(4, T, 20)], 5)?.ttl, 2);
  assert.equal(lossOnset([hop(1, 'x', 0), hop(2, 'y', 20), hop(3, 'z', 1), hop(4, T, 20)], 5)?.ttl, 4);
});

test('latency: a router slow to answer for itself is no step; the largest persistent step is', () => {
  assert.equal(latencyOnset([hop(1, 'x', 0, 0.2), hop(2, 'y', 0, 80), hop(3, 'z', 0, 0.6), hop(4, T, 0, 0.7)], 5), null);
  const o = latencyOnset([hop(1, 'x', 0, 1), hop(2, 'y', 0, 8), hop(3, 'z', 0, 45), hop(4, T, 0, 44)], 5);
  assert.equal(o?.ttl, 3, 'the 36 ms step, not the 7 ms one');
  assert.equal(o?.value, 36);
});

test('a latency threshold names latency first when a path has both', () => {
  const c = path('3', { loss: [0, 10, 10, 10], rtt: [0.1, 30, 30, 30] });
  const byLatency = faultDomain([src('a', 'ok', path('1')), src('c', 'degraded', c, 'rtt 30 ms >= 20 ms')]).paths![0]!.summary;
  assert.ok(byLatency.indexOf('latency begins') < byLatency.indexOf('loss begins'), byLatency);
  const byLoss = faultDomain([src('a', 'ok', path('1')), src('c', 'degraded', c, 'loss 10 % >= 5 %')]).paths![0]!.summary;
  assert.ok(byLoss.indexOf('loss begins') < byLoss.indexOf('latency begins'), byLoss);
});
