import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promQuery, startStack, type Stack } from '../../scripts/lib/stack.js';
import { waitFor } from '../helpers/net.js';
import { successPoints } from '../helpers/write-stack.js';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

test('Prometheus scrapes all three daemons and HAProxy', async () => {
  await waitFor(async () => (await promQuery(stack.urls.prometheus, 'up{job="network-telemetry"} == 1')).length === 3, 'three daemons up in Prometheus', 40_000, 500);
  await waitFor(async () => (await promQuery(stack.urls.prometheus, 'up{job="haproxy"} == 1')).length === 1, 'haproxy up in Prometheus', 20_000, 500);
  const backends = await promQuery(stack.urls.prometheus, 'haproxy_server_status{proxy="influxdb",state="UP"}');
  assert.equal(backends.length, 2, 'both InfluxDB replicas known to HAProxy');
  const members = await promQuery(stack.urls.prometheus, 'telemetry_cluster_members');
  assert.ok(members.every((m) => m.value[1] === '3'), 'every replica sees 3 cluster members');
});

test('data written through HAProxy lands in both databases', async () => {
  for (const vm of stack.vm) {
    await waitFor(async () => (await successPoints(vm, ['tcp', 'probe'])).size > 0, `points in ${vm.url}`, 30_000, 500);
  }
  const [a, b] = [await successPoints(stack.vm[0], ['tcp']), await successPoints(stack.vm[1], ['tcp'])];
  const common = [...a].filter((k) => b.has(k));
  assert.ok(common.length > 0, 'the same points in both replicas (mirror writes)');
});

test('killing one daemon fires TelemetryInstanceDown in Alertmanager', async () => {
  const victim = stack.daemons[1]!;
  await victim.kill('SIGKILL');
  const alert = await waitFor(async () => {
    const r = await fetch(`${stack.urls.alertmanager}/api/v2/alerts?${new URLSearchParams({ filter: 'alertname="TelemetryInstanceDown"' })}`);
    const alerts = (await r.json()) as { labels: Record<string, string>; status: { state: string } }[];
    return alerts.find((a) => a.labels.instance === `127.0.0.1:${victim.port}` && a.status.state === 'active');
  }, 'TelemetryInstanceDown active in Alertmanager', 60_000, 500);
  assert.equal(alert.labels.severity, 'critical');
  // The survivors take its targets: the cluster shrinks to 2 in their view.
  await waitFor(async () => (await promQuery(stack.urls.prometheus, 'max(telemetry_cluster_members)'))[0]?.value[1] === '2', 'cluster view of 2', 20_000, 500);
});
