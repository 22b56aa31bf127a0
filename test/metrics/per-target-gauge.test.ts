import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';

test('per-target gauges: set, overwrite, remove, escaped labels, promtool-clean exposition', async () => {
  const m = new TelemetryMetrics(false);
  m.rttAvg.set('plain', 1.5);
  m.rttAvg.set('quote"back\\slash\nline', 2);
  m.rttAvg.set('plain', 3.25);
  m.packetLoss.set('gone', 20);
  m.packetLoss.remove('gone');
  m.packetLoss.set('kept', 0);
  const text = await m.render();
  assert.match(text, /^telemetry_rtt_avg_ms\{target="plain"\} 3\.25$/m);
  assert.match(text, /^telemetry_rtt_avg_ms\{target="quote\\"back\\\\slash\\nline"\} 2$/m);
  assert.doesNotMatch(text, /target="gone"/);
  assert.match(text, /^telemetry_packet_loss_percent\{target="kept"\} 0$/m);
  assert.equal(text.match(/^# TYPE telemetry_rtt_avg_ms gauge$/gm)?.length, 1);
  // The checker Prometheus users run. Its only complaint may be the seed's
  // metric name (`_ms` is an "abbreviated unit"); a malformed line is a parse error.
  const out = execFileSync('sh', ['-c', 'promtool check metrics 2>&1; echo rc=$?'], { input: text }).toString();
  const problems = out.split('\n').filter((l) => l && !/^rc=/.test(l) && !/^telemetry_rtt_avg_ms metric names should not contain abbreviated units$/.test(l));
  assert.deepEqual(problems, [], out);
  assert.match(out, /rc=[03]/);
});
