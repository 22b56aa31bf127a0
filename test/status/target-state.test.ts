import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import pino from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import type { ProbeResult } from '../../src/probes/types.js';
import type { AnySample } from '../../src/samples/sample.js';
import { TargetStatusBoard } from '../../src/status/target-status.js';

/**
 * The state machine on its own (the live daemon test with real loss is
 * test/web/ui-diagnosis.test.ts): thresholds, failing over degraded,
 * hysteresis, one log line per change, the state gauge.
 */

function board() {
  const lines: { msg: string; state?: string; crossed?: string[] }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as (typeof lines)[number]) });
  const metrics = new TelemetryMetrics();
  return { b: new TargetStatusBoard(metrics, log, true), lines, metrics };
}

function ping(lossPct: number, extra: Partial<ProbeResult> = {}): ProbeResult {
  const received = Math.round(20 * (1 - lossPct / 100));
  const fields = { sent: 20, received, loss_pct: lossPct, success: received > 0, ...(received ? { rtt_median_ms: 10, jitter_ms: 1 } : {}) };
  return {
    target: 't',
    probe: 'icmp',
    durationMs: 950,
    success: received > 0,
    ...(received ? {} : { reason: 'unreachable' as const }),
    samples: [{ measurement: 'ping', tags: { target: 't' }, fields, timeMs: 0 } as unknown as AnySample],
    summary: {},
    ...extra,
  };
}

test('20 % loss is degraded, 100 % failing, 0 % ok; one log line per change; the gauge follows', async () => {
  const [t] = loadConfig({ TARGET_FQDNS: 't.example', DEFAULT_PROBES: 'icmp' }).targets;
  const { b, lines, metrics } = board();
  assert.equal(b.status('t.example'), 'unknown');
  let slot = 0;
  const run = (r: ProbeResult) => b.record(t!, r, { timeMs: (slot += 60_000) });
  run(ping(0));
  assert.equal(b.status('t.example'), 'ok');
  run(ping(20));
  assert.equal(b.status('t.example'), 'degraded');
  run(ping(25));
  run(ping(100));
  assert.equal(b.status('t.example'), 'failing');
  assert.match(await metrics.render(), /telemetry_target_state\{target="t.example"\} 2/);
  run(ping(0));
  assert.equal(b.status('t.example'), 'ok');
  assert.match(await metrics.render(), /telemetry_target_state\{target="t.example"\} 0/);
  const changes = lines.filter((l) => /^target /.test(l.msg)).map((l) => l.msg);
  assert.deepEqual(changes, ['target degraded', 'target failing', 'target ok again'], 'the 25 % slot is no change; the first ok is no news');
  assert.deepEqual(lines.find((l) => l.msg === 'target degraded')!.crossed, ['loss_pct 20 % >= 5 %']);
  const h = b.health() as unknown as { target_states: Record<string, number> };
  assert.deepEqual(h.target_states, { ok: 1, degraded: 0, failing: 0, unknown: 0 });
});

test('a per-target threshold in the targets file changes the state; null turns the default off', () => {
  const { b } = board();
  const file = `/tmp/nt-thresholds-${process.pid}.yaml`;
  writeFileSync(
    file,
    `targets:
  - { host: strict.example, probes: [icmp], thresholds: { loss_pct: 1 } }
  - { host: lax.example, probes: [icmp], thresholds: { loss_pct: 30 } }
  - { host: off.example, probes: [icmp], thresholds: { loss_pct: null, rtt_ms: 5 } }
`,
  );
  const targets = loadConfig({ TARGETS_FILE: file }).targets;
  for (const t of targets) b.record(t, ping(20), { timeMs: 60_000 });
  assert.equal(b.status('strict.example'), 'degraded');
  assert.equal(b.status('lax.example'), 'ok');
  assert.equal(b.status('off.example'), 'degraded', 'rtt 10 ms >= 5 ms, loss ignored');
  assert.deepEqual(
    b.get('off.example')!.probes.get('icmp')!.crossed.map((c) => c.threshold),
    ['rtt_ms'],
  );
});

test('hysteresis: the state changes once N consecutive slots agree; one bad slot does not flap it', () => {
  const [t] = loadConfig({ TARGET_FQDNS: 't.example', DEFAULT_PROBES: 'icmp', STATE_HYSTERESIS_SLOTS: '3' }).targets;
  const { b, lines } = board();
  let slot = 0;
  const run = (loss: number) => b.record(t!, ping(loss), { timeMs: (slot += 60_000) });
  run(0);
  assert.equal(b.status('t.example'), 'ok', 'the first state is taken at once');
  run(50);
  run(0);
  run(50);
  run(50);
  assert.equal(b.status('t.example'), 'ok', 'two bad slots of three');
  run(50);
  assert.equal(b.status('t.example'), 'degraded', 'the third consecutive one');
  // Two results in one slot count once.
  b.record(t!, ping(0), { timeMs: slot + 60_000 });
  b.record(t!, ping(0), { timeMs: slot + 60_000 });
  assert.equal(b.status('t.example'), 'degraded');
  assert.equal(lines.filter((l) => /^target /.test(l.msg)).length, 1);
});

test('/health names the five probes failing longest, oldest first, whatever the board\'s order', () => {
  const targets = loadConfig({ TARGET_FQDNS: Array.from({ length: 12 }, (_, i) => `t${i}.example`).join(','), DEFAULT_PROBES: 'icmp' }).targets;
  const { b } = board();
  // t0 is first on the board (ok at first) and fails last: the newest failure, not an example.
  b.record(targets[0]!, ping(0), { timeMs: 60_000 });
  for (const t of targets.slice(1)) b.record(t, ping(100), { timeMs: 60_000 });
  const before = Date.now();
  while (Date.now() === before) {
    // the next millisecond: t0's failure is strictly newer
  }
  b.record(targets[0]!, ping(100), { timeMs: 120_000 });
  const h = b.health() as unknown as { failing: number; examples: string[] };
  assert.equal(h.failing, 12);
  assert.deepEqual(
    h.examples.map((e) => e.split(' ')[0]),
    ['t1.example', 't2.example', 't3.example', 't4.example', 't5.example'],
  );
});
