// npm test: alone (event-loop lag measured against the window it happened in)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { Deadline } from '../../src/lifecycle/component.js';
import { silentLogger } from '../../src/logging/logger.js';
import { dnsProbe } from '../../src/probes/dns/dns-probe.js';
import { tcpProbe } from '../../src/probes/tcp/tcp-probe.js';
import { LoopDelay } from '../../src/probes/timing/loop-delay.js';
import { withTimingSlack } from '../../src/probes/timing/timing-slack.js';
import { threadProbes } from '../../src/probes/timing/timed-probe.js';
import { TimingThread } from '../../src/probes/timing/timing-thread.js';
import type { ProbeModule } from '../../src/probes/module.js';
import { PROBE_MODULES } from '../../src/probes/registry.js';
import { TCP_TIMED } from '../../src/probes/tcp/measurements.js';
import type { Probe, ProbeContext } from '../../src/probes/types.js';
import type { Sample } from '../../src/samples/sample.js';
import { deadlineSignal } from '../../src/util/abort.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { target } from '../helpers/fixtures.js';
import { startSilentServer } from '../helpers/net.js';

/** Keep this thread's loop busy for `ms` (what a store write, a parse or a big API answer does to the daemon). */
function block(ms: number): void {
  const t = performance.now();
  while (performance.now() - t < ms);
}

let server: Awaited<ReturnType<typeof startSilentServer>>;
let dns: Awaited<ReturnType<typeof startDnsmasq>>;
let thread: TimingThread;
/** This thread's loop monitor, as the app starts it for the main loop. */
const ld = new LoopDelay();
before(async () => {
  server = await startSilentServer();
  dns = await startDnsmasq({ 'svc.test': '127.0.0.42' });
  thread = new TimingThread(2, threadProbes(PROBE_MODULES as readonly ProbeModule[]), silentLogger());
  await thread.start();
  await thread.whenReady();
  await ld.start();
  await new Promise((r) => setTimeout(r, 20));
});
after(async () => {
  await thread.stop(Deadline.in(2000));
  await ld.stop(Deadline.in(100));
  await server.close();
  await dns.stop();
});

function context(kind: 'tcp' | 'dns', timeoutMs = 5000): ProbeContext & { dispose: () => void } {
  const t = kind === 'tcp' ? target(`127.0.0.1:${server.port}`) : target('svc.test', { probes: ['dns'] });
  if (kind === 'dns') t.specs = { dns: { server: dns.server, record: 'A', name: 'svc.test' } };
  const { signal, dispose } = deadlineSignal(timeoutMs);
  return { target: t, timeMs: Date.now(), tags: { target: t.name, source: 'test' }, signal, dispose };
}
const specOf = (c: ProbeContext, kind: string) => (c.target as unknown as { specs: Record<string, unknown> }).specs[kind];

/** Run `probe` while this loop is blocked for `blockMs` right after the probe starts. */
async function whileBusy<T>(blockMs: number, run: () => Promise<T>): Promise<T> {
  const p = run();
  block(blockMs);
  return p;
}

test('the loop monitor sees a blocked loop in the window it happened in, and not in a later one', async () => {
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 5));
  block(250);
  assert.ok((await ld.settle(t0)) >= 240, 'the 250 ms block is in its window');
  await new Promise((r) => setTimeout(r, 50));
  const t1 = performance.now();
  await new Promise((r) => setTimeout(r, 5));
  // Well below the block: on a loaded machine the later window has stalls of its own (the thread descheduled).
  assert.ok((await ld.settle(t1)) < 150, 'a window after it does not carry it');
});

test('on the busy loop a tcp connect reads long, and its point says so: slack covers the error, timing_uncertain', async () => {
  const c = context('tcp');
  try {
    const probe = withTimingSlack(tcpProbe, TCP_TIMED, 2, ld) as Probe;
    const out = await whileBusy(30, () => probe(c, specOf(c, 'tcp')));
    const f = (out.samples[0] as Sample<'tcp'>).fields;
    assert.equal(out.success, true, out.detail);
    assert.ok(f.connect_ms! >= 25, `a loopback connect stretched by the 30 ms block: ${f.connect_ms} ms`);
    assert.ok(f.timing_slack_ms! >= f.connect_ms! - 1, `slack ${f.timing_slack_ms} ms covers the stretch of ${f.connect_ms} ms`);
    assert.equal(f.timing_uncertain, true);
    assert.equal(out.summary.timing_slack_ms, f.timing_slack_ms);
  } finally {
    c.dispose();
  }
});

test('on the timing thread the same connect and a dns query are not stretched by the busy main loop', async () => {
  for (const kind of ['tcp', 'dns'] as const) {
    // The best of three: on a loaded machine the server (dnsmasq) itself can be slow to get a core.
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const c = context(kind);
      try {
        const out = await whileBusy(300, () => thread.run(kind, c, specOf(c, kind)));
        assert.equal(out.success, true, out.detail);
        const f = out.samples[0]!.fields as Record<string, number | boolean | undefined>;
        times.push((kind === 'tcp' ? f.connect_ms : f.query_ms) as number);
        assert.equal(typeof f.timing_slack_ms, 'number');
        assert.equal(f.timing_uncertain, (f.timing_slack_ms as number) > 2);
      } finally {
        c.dispose();
      }
    }
    // Far below the block: a loaded machine's own delays (tens of ms) must not make this fail, a stretch by the block must.
    assert.ok(Math.min(...times) < 150, `${kind} on its own loop: ${times.join(', ')} ms while the main loop was blocked 300 ms each time`);
  }
  assert.deepEqual(thread.health(), { status: 'ok', thread: true, in_flight: 0 });
});

test('the timing thread: a deadline is a timeout, a shutdown abort is aborted, a failure carries no slack', async () => {
  // A UDP port that takes the question and never answers.
  const mute = createSocket('udp4');
  await new Promise<void>((r) => mute.bind(0, '127.0.0.1', r));
  try {
    const c = context('dns', 300);
    (c.target as unknown as { specs: Record<string, unknown> }).specs.dns = { server: `127.0.0.1:${mute.address().port}`, record: 'A', name: 'svc.test' };
    const out = await thread.run('dns', c, specOf(c, 'dns'));
    c.dispose();
    assert.deepEqual([out.success, out.reason], [false, 'timeout']);
    assert.equal((out.samples[0]!.fields as Record<string, unknown>).timing_slack_ms, undefined, 'no timing, no slack');
    const ctl = new AbortController();
    const c2 = { ...context('dns'), signal: ctl.signal };
    (c2.target as unknown as { specs: Record<string, unknown> }).specs.dns = { server: `127.0.0.1:${mute.address().port}`, record: 'A', name: 'svc.test' };
    const p = thread.run('dns', c2, specOf(c2, 'dns'));
    setTimeout(() => ctl.abort(new Error('shutdown')), 50);
    const aborted = await p;
    c2.dispose();
    assert.deepEqual([aborted.success, aborted.reason], [false, 'aborted']);
    assert.equal(thread.inFlight, 0);
  } finally {
    mute.close();
  }
});

test('without tcp or dns targets at start the thread starts with the first run; stopped, it fails runs at once; stop is idempotent', async () => {
  const t = new TimingThread(2, threadProbes(PROBE_MODULES as readonly ProbeModule[]), silentLogger(), undefined, false);
  assert.deepEqual(t.health(), { status: 'ok', thread: false, in_flight: 0 });
  await t.start();
  assert.deepEqual(t.health(), { status: 'ok', thread: false, in_flight: 0 });
  const c = context('tcp', 60_000);
  assert.equal((await t.run('tcp', c, specOf(c, 'tcp'))).success, true);
  assert.deepEqual(t.health(), { status: 'ok', thread: true, in_flight: 0 });
  await t.stop(Deadline.in(1000));
  await t.stop(Deadline.in(1000));
  const after = await t.run('tcp', c, specOf(c, 'tcp'));
  c.dispose();
  assert.deepEqual([after.success, after.reason], [false, 'internal_error']);
});
