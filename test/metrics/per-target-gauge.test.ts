import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';

/** Per-target gauges as the probes declare them (src/probes/<kind>/view.ts). */
function gauges(m: TelemetryMetrics) {
  return {
    rttAvg: m.perTargetGauge('telemetry_icmp_rtt_avg_seconds', 'Mean round-trip time of the last ICMP probe of the target'),
    loss: m.perTargetGauge('telemetry_icmp_loss_ratio', 'Share of echoes lost in the last ICMP probe of the target'),
    httpPhase: m.perTargetGauge('telemetry_http_phase_seconds', 'Last HTTP probe of the target, by phase', 'phase'),
  };
}

test('per-target gauges: set, overwrite, remove, escaped labels, promtool-clean exposition', async () => {
  const m = new TelemetryMetrics(false);
  const g = gauges(m);
  g.rttAvg.set('plain', 0.0015);
  g.rttAvg.set('quote"back\\slash\nline', 0.002);
  g.rttAvg.set('plain', 0.00325);
  g.loss.set('gone', 0.2);
  g.loss.remove('gone');
  g.loss.set('kept', 0);
  const text = await m.render();
  assert.match(text, /^telemetry_icmp_rtt_avg_seconds\{target="plain"\} 0\.00325$/m);
  assert.match(text, /^telemetry_icmp_rtt_avg_seconds\{target="quote\\"back\\\\slash\\nline"\} 0\.002$/m);
  assert.doesNotMatch(text, /target="gone"/);
  assert.match(text, /^telemetry_icmp_loss_ratio\{target="kept"\} 0$/m);
  assert.equal(text.match(/^# TYPE telemetry_icmp_rtt_avg_seconds gauge$/gm)?.length, 1);
  // The checker Prometheus users run: a malformed line is a parse error, a name against the conventions a lint problem.
  const out = execFileSync('sh', ['-c', 'promtool check metrics 2>&1; echo rc=$?'], { input: text }).toString();
  assert.equal(out, 'rc=0\n');
});

test('a forgotten target leaves every per-target gauge; its slot is reused by the next target without its old values', async () => {
  const m = new TelemetryMetrics(false);
  const g = gauges(m);
  g.rttAvg.set('a', 1);
  m.probeSuccess.set('a', 1, 'icmp');
  g.httpPhase.set('a', 0.2, 'ttfb');
  g.rttAvg.set('b', 2);
  m.forgetTarget('a');
  m.probeSuccess.set('c', 0, 'http'); // takes a's slot
  const text = await m.render();
  assert.doesNotMatch(text, /target="a"/);
  assert.match(text, /^telemetry_icmp_rtt_avg_seconds\{target="b"\} 2$/m);
  assert.match(text, /^telemetry_probe_success\{target="c",probe="http"\} 0$/m);
  assert.doesNotMatch(text, /target="c",probe="icmp"/, 'no value inherited from the slot');
  assert.doesNotMatch(text, /telemetry_http_phase_seconds\{target="c"/);
  assert.doesNotMatch(text, /telemetry_icmp_rtt_avg_seconds\{target="c"/);
});

test('many targets and label values: every series set is rendered once with its own value', async () => {
  const m = new TelemetryMetrics(false);
  const g = gauges(m);
  for (let i = 0; i < 5000; i++) for (const [j, phase] of ['dns', 'connect', 'ttfb'].entries()) g.httpPhase.set(`t${i}`, i + j / 10, phase);
  g.httpPhase.remove('t7', 'connect');
  const lines = (await m.render()).split('\n').filter((l) => l.startsWith('telemetry_http_phase_seconds{'));
  assert.equal(lines.length, 5000 * 3 - 1);
  assert.ok(lines.includes('telemetry_http_phase_seconds{target="t4321",phase="ttfb"} 4321.2'));
  assert.ok(!lines.some((l) => l.startsWith('telemetry_http_phase_seconds{target="t7",phase="connect"}')));
});
