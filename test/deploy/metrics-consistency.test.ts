import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Haproxy, REPO, until } from '../../scripts/lib/services.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';

/**
 * Every metric name an alert rule, the HPA, the prometheus-adapter rule or a
 * dashboard uses must be one the daemon (or HAProxy's exporter) really serves.
 */
let daemon: Daemon;
let served: Set<string>;
let haproxyServed: Set<string>;

/** Metric families of a Prometheus text exposition, expanded to sample names. */
function names(exposition: string): Set<string> {
  const out = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    out.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) out.add(name + s);
  }
  for (const m of exposition.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)) out.add(m[1]!);
  return out;
}

/** Metric-looking identifiers in PromQL or config text. */
function referenced(text: string): string[] {
  return [...new Set([...text.matchAll(/\b((?:telemetry|process|nodejs|haproxy)_[a-z0-9_]+)\b/g)].map((m) => m[1]!))];
}

function files(dir: string, re: RegExp): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...files(p, re));
    else if (re.test(n)) out.push(p);
  }
  return out;
}

before(async () => {
  daemon = await startDaemon({ TARGET_FQDNS: '127.0.0.1:1', COLLECTION_INTERVAL: '60' });
  served = names(await (await daemon.get('/metrics')).text());
  const lb = await Haproxy.startLoopback({ password: 'pw' });
  const h = lb.haproxy;
  try {
    haproxyServed = names(await until(async () => {
      const r = await fetch(`${lb.stats}/metrics`, { headers: { authorization: lb.auth } });
      return r.ok ? r.text() : '';
    }, 'haproxy exporter'));
  } finally {
    await h.cleanup();
  }
});
after(async () => {
  await daemon?.cleanup();
});

test('the self-metrics of DESIGN.md section 5 are served', () => {
  const design = [
    'telemetry_collection_duration_seconds',
    'telemetry_probe_duration_seconds_bucket',
    'telemetry_probes_total',
    'telemetry_queue_depth',
    'telemetry_errors_total',
    'telemetry_circuit_breaker_state',
    'telemetry_connection_pool_active',
    'telemetry_connection_pool_max',
    'telemetry_points_written_total',
    'telemetry_points_dropped_total',
    'telemetry_outbox_points',
    'telemetry_cluster_members',
    'telemetry_targets_owned',
    'telemetry_rtt_avg_ms',
    'telemetry_packet_loss_percent',
  ];
  assert.deepEqual(design.filter((n) => !served.has(n)), []);
});

test('every metric in the alert rules exists (daemon or HAProxy exporter)', () => {
  const used = files(join(REPO, 'prometheus/rules'), /\.ya?ml$/).flatMap((f) => referenced(readFileSync(f, 'utf8')));
  assert.ok(used.length >= 15, `found ${used.length} metric names in the rules`);
  assert.deepEqual(used.filter((n) => !served.has(n) && !haproxyServed.has(n)), []);
});

test('every metric in the Kubernetes manifests (HPA, prometheus-adapter) exists', () => {
  const text = files(join(REPO, 'k8s'), /\.ya?ml$/).map((f) => readFileSync(f, 'utf8')).join('\n');
  const used = referenced(text);
  assert.ok(used.includes('telemetry_collection_duration_seconds'), 'the HPA custom metric is referenced');
  assert.deepEqual(used.filter((n) => !served.has(n)), []);
});

test('every Prometheus metric a dashboard names exists', () => {
  const used = files(join(REPO, 'grafana'), /\.(json|ya?ml)$/).flatMap((f) => referenced(readFileSync(f, 'utf8')));
  assert.deepEqual(used.filter((n) => !served.has(n) && !haproxyServed.has(n)), []);
});

test('the check can fail: an unknown name is reported', () => {
  assert.deepEqual(referenced('rate(telemetry_made_up_total[5m])').filter((n) => !served.has(n)), ['telemetry_made_up_total']);
});
