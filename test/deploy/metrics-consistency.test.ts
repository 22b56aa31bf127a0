import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, Haproxy, Proc, REPO, until } from '../../scripts/lib/services.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';

/**
 * Every metric name an alert rule, the HPA, the prometheus-adapter rule or a
 * dashboard uses must be one the daemon, HAProxy's exporter, redis_exporter or
 * node_exporter (the real Debian binaries, started here) really serves.
 */
let daemon: Daemon;
let served: Set<string>;
let haproxyServed: Set<string>;
let exportersServed: Set<string>;

/**
 * Served by something that cannot run here: the kubelet's volume stats
 * (InfluxDBDiskSpaceLow on Kubernetes). Names as documented by Kubernetes
 * ("Kubernetes Metrics Reference", kubelet_volume_stats_*).
 */
const EXTERNAL = new Set(['kubelet_volume_stats_available_bytes', 'kubelet_volume_stats_capacity_bytes']);

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

/** Metric-looking identifiers in PromQL or config text (program names such as node_exporter aside). */
function referenced(text: string): string[] {
  const found = [...text.matchAll(/\b((?:telemetry|process|nodejs|haproxy|redis|node|kubelet)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
  return [...new Set(found.filter((n) => !n.endsWith('_exporter')))];
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
before(async () => {
  // redis_exporter against a closed port still serves redis_up (0); node_exporter
  // with the one collector the compose stack enables.
  const [re, ne] = [await freePort(), await freePort()];
  const procs = [
    new Proc('prometheus-redis-exporter', ['-web.listen-address', `127.0.0.1:${re}`, '-redis.addr', 'redis://127.0.0.1:1']).start(),
    new Proc('prometheus-node-exporter', [`--web.listen-address=127.0.0.1:${ne}`, '--collector.disable-defaults', '--collector.filesystem']).start(),
  ];
  try {
    exportersServed = new Set();
    for (const port of [re, ne]) {
      const text = await until(async () => {
        const r = await fetch(`http://127.0.0.1:${port}/metrics`);
        return r.ok ? r.text() : '';
      }, `exporter on ${port}`);
      for (const n of names(text)) exportersServed.add(n);
    }
  } finally {
    for (const p of procs) await p.stop('SIGKILL');
  }
});
after(async () => {
  await daemon?.cleanup();
});

const known = (n: string) => served.has(n) || haproxyServed.has(n) || exportersServed.has(n) || EXTERNAL.has(n);

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
    // DESIGN.md's telemetry_rtt_avg_ms and telemetry_packet_loss_percent, in base units (docs/schema.md, "Renamed").
    'telemetry_icmp_rtt_avg_seconds',
    'telemetry_icmp_loss_ratio',
  ];
  assert.deepEqual(design.filter((n) => !served.has(n)), []);
});

test('every metric in the alert rules exists (daemon, HAProxy, redis_exporter, node_exporter, kubelet)', () => {
  const used = files(join(REPO, 'prometheus/rules'), /\.ya?ml$/).flatMap((f) => referenced(readFileSync(f, 'utf8')));
  assert.ok(used.length >= 15, `found ${used.length} metric names in the rules`);
  for (const n of ['redis_up', 'node_filesystem_avail_bytes', 'telemetry_outbox_pending_points']) assert.ok(used.includes(n), `the rules use ${n}`);
  assert.deepEqual(used.filter((n) => !known(n)), []);
});

test('every metric in the Kubernetes manifests (HPA, prometheus-adapter) exists', () => {
  const text = files(join(REPO, 'k8s'), /\.ya?ml$/).map((f) => readFileSync(f, 'utf8')).join('\n');
  const used = referenced(text);
  assert.ok(used.includes('telemetry_collection_duration_seconds'), 'the HPA custom metric is referenced');
  assert.deepEqual(used.filter((n) => !known(n)), []);
});

test('every Prometheus metric a dashboard names exists', () => {
  const used = files(join(REPO, 'grafana'), /\.(json|ya?ml)$/).flatMap((f) => referenced(readFileSync(f, 'utf8')));
  assert.ok(used.includes('telemetry_outbox_pending_points'), 'the operations dashboard is checked');
  assert.deepEqual(used.filter((n) => !known(n)), []);
});

test('the check can fail: an unknown name is reported', () => {
  assert.deepEqual(referenced('rate(telemetry_made_up_total[5m]) + redis_made_up').filter((n) => !known(n)), ['telemetry_made_up_total', 'redis_made_up']);
});
