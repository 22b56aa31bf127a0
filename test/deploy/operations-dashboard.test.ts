/**
 * The Operations dashboard (grafana/dashboards/operations.json):
 * PromQL on the provisioned Prometheus datasource.
 *
 * Static: every panel uses datasource uid prometheus, every selector of a
 * daemon metric carries the label the alert rules select on, and the panels
 * cover what the issue asks for (rounds, skipped targets, breakers, outbox
 * backlog per endpoint, cluster members, reloads).
 *
 * Live: a real daemon with one live and one dead database endpoint (backlog on
 * one endpoint only) and an HTTP target that refuses (an open circuit), scraped
 * by a real Prometheus through the project's own `network-telemetry` scrape job
 * (prometheus/prometheus.yml, its relabelling included, DNS discovery swapped
 * for the daemon's loopback address); every panel's query must return data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { freePort, Proc, REPO, until, Victoria } from '../../scripts/lib/services.js';
import { promQuery } from '../../scripts/lib/stack.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';

type Json = Record<string, any>;
const DASH = join(REPO, 'grafana/dashboards/operations.json');
const DS = { type: 'prometheus', uid: 'prometheus' };
const SELECTOR = 'app_kubernetes_io_name="network-telemetry"';

const dashboard = () => JSON.parse(readFileSync(DASH, 'utf8')) as Json;
const panels = (d: Json): Json[] => (d.panels as Json[]).filter((p) => p.type !== 'row');
const exprs = (d: Json) => panels(d).flatMap((p) => (p.targets as Json[]).map((t) => ({ panel: p.title as string, refId: t.refId as string, expr: t.expr as string })));

/** Grafana's variables and macros as the live test fills them. */
function substitute(expr: string): string {
  return expr.replaceAll('$__rate_interval', '20s').replaceAll('$__range', '1m').replaceAll('$instance', '.*');
}

test('operations dashboard: Prometheus datasource everywhere, selectors carry the alerting label, required panels present', () => {
  const d = dashboard();
  const prov = YAML.parse(readFileSync(join(REPO, 'grafana/provisioning/datasources/prometheus.yaml'), 'utf8')) as Json;
  assert.deepEqual(prov.datasources.map((x: Json) => [x.uid, x.type, x.url]), [['prometheus', 'prometheus', '${PROMETHEUS_URL}']]);
  for (const p of panels(d)) {
    assert.deepEqual(p.datasource, DS, `panel "${p.title}"`);
    assert.ok(p.targets?.length, `panel "${p.title}" has no query`);
    for (const t of p.targets) assert.deepEqual(t.datasource, DS, `panel "${p.title}" ${t.refId}`);
  }
  for (const v of d.templating.list) assert.deepEqual(v.datasource, DS, `variable ${v.name}`);

  // Every selector of a daemon metric (or of `up`) names the label the rules use.
  const bad: string[] = [];
  for (const { panel, expr } of exprs(d)) {
    for (const m of expr.matchAll(/\b(telemetry_[a-z0-9_]+|up)\b(\{[^}]*\})?/g)) {
      if (!m[2]?.includes(SELECTOR)) bad.push(`${panel}: ${m[0]}`);
    }
  }
  assert.deepEqual(bad, []);
  const rules = readFileSync(join(REPO, 'prometheus/rules/scaling_alerts.yml'), 'utf8');
  assert.ok(rules.includes(`up{${SELECTOR}}`), 'the rules select daemons by the same label');

  const all = exprs(d).map((e) => e.expr).join('\n');
  for (const metric of [
    'telemetry_rounds_total',
    'telemetry_collection_duration_seconds',
    'telemetry_targets_skipped_total',
    'telemetry_circuit_breaker_state',
    'telemetry_outbox_pending_points',
    'telemetry_cluster_members',
    'telemetry_config_reloads_total',
    'telemetry_config_last_reload_success_timestamp_seconds',
  ]) {
    assert.ok(all.includes(metric), `no panel on ${metric}`);
  }
  assert.match(all, /sum by \(endpoint\) \(telemetry_outbox_pending_points/, 'outbox backlog per endpoint');
});

test('the selector check can fail: a panel without the label is reported', () => {
  const d = dashboard();
  const first = panels(d)[1]!;
  first.targets[0].expr = 'telemetry_cluster_members';
  const offenders = exprs(d).filter((e) => [...e.expr.matchAll(/\b(telemetry_[a-z0-9_]+|up)\b(\{[^}]*\})?/g)].some((m) => !m[2]?.includes(SELECTOR)));
  assert.equal(offenders.length, 1);
});

test('live: every operations panel returns data from Prometheus scraping the real daemon', { timeout: 180_000 }, async () => {
  const cleanups: (() => unknown)[] = [];
  try {
    const dir = mkdtempSync(join(tmpdir(), 'nt-opsdash-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const vm = await Victoria.start();
    cleanups.push(() => vm.cleanup());
    const [dead, refused, promPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const token = 'ops-dashboard-token';
    const daemon: Daemon = await startDaemon({
      TARGET_FQDNS: `127.0.0.1:${vm.port},http://127.0.0.1:${refused}/`,
      COLLECTION_INTERVAL: '1',
      // One live endpoint, one dead: the backlog grows on one endpoint only.
      INFLUXDB_URLS: `${vm.url},http://127.0.0.1:${dead}`,
      INFLUXDB_TOKEN: 't',
      INFLUXDB_ORG: 'o',
      INFLUXDB_BUCKET: 'b',
      INFLUX_FLUSH_INTERVAL: '0.2',
      // The refusing HTTP target opens its circuit at once.
      CIRCUIT_FAILURE_THRESHOLD: '1',
      COLLECT_TOKEN: token,
    });
    cleanups.push(() => daemon.cleanup());

    // The project's scrape job for the daemons, with its relabelling.
    const project = YAML.parse(readFileSync(join(REPO, 'prometheus/prometheus.yml'), 'utf8')) as Json;
    const job = structuredClone(project.scrape_configs.find((j: Json) => j.job_name === 'network-telemetry'));
    delete job.dns_sd_configs;
    job.static_configs = [{ targets: [`127.0.0.1:${daemon.port}`] }];
    writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify({ global: { scrape_interval: '1s', evaluation_interval: '1s' }, scrape_configs: [job] }));
    const prometheus = new Proc('prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]).start();
    cleanups.push(() => prometheus.stop('SIGKILL'));
    const prom = `http://127.0.0.1:${promPort}`;
    await until(async () => (await fetch(`${prom}/-/ready`)).ok, `prometheus: ${prometheus.output}`, 30_000, 250);

    // A configuration reload: the "Configuration reloads" panel must have data too.
    const reload = await daemon.get('/-/reload', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    await reload.text();
    assert.equal(reload.status, 200, 'POST /-/reload');

    await until(async () => (await promQuery(prom, `increase(telemetry_rounds_total{${SELECTOR}}[20s])`)).some((r) => Number(r.value[1]) > 0), 'rounds in Prometheus', 60_000, 500);
    await until(async () => (await promQuery(prom, `telemetry_circuit_breaker_state{${SELECTOR}} == 2`)).length > 0, 'an open circuit in Prometheus', 30_000, 500);

    const empty: string[] = [];
    await until(
      async () => {
        empty.length = 0;
        for (const e of exprs(dashboard())) {
          const r = await promQuery(prom, substitute(e.expr));
          if (!r.length || r.every((s) => Number.isNaN(Number(s.value[1])))) empty.push(`${e.panel} ${e.refId}: ${e.expr}`);
        }
        return empty.length === 0;
      },
      'data in every panel',
      40_000,
      1000,
    ).catch((err: Error) => assert.fail(`${err.message}:\n  ${empty.join('\n  ')}`));

    // The numbers mean what the panels say.
    const one = async (q: string) => Number((await promQuery(prom, q))[0]?.value[1]);
    // up is one scrape's outcome: on a busy machine a single 1 s scrape can time out (up 0 for that
    // scrape), so the count is polled; a selector that misses the replica stays at no answer and fails.
    let up = NaN;
    await until(async () => (up = await one(`count(up{${SELECTOR}} == 1)`)) === 1, 'replicas up', 15_000, 500).catch(() => assert.equal(up, 1, 'replicas up'));
    const backlog = await promQuery(prom, `sum by (endpoint) (telemetry_outbox_pending_points{${SELECTOR}})`);
    const byEndpoint = Object.fromEntries(backlog.map((r) => [r.metric.endpoint, Number(r.value[1])]));
    assert.ok(byEndpoint[`http://127.0.0.1:${dead}`]! > 0, `backlog on the dead endpoint: ${JSON.stringify(byEndpoint)}`);
    assert.ok(byEndpoint[vm.url] !== undefined, `the live endpoint is listed: ${JSON.stringify(byEndpoint)}`);
    assert.ok(byEndpoint[vm.url]! < byEndpoint[`http://127.0.0.1:${dead}`]!, `the live endpoint drains: ${JSON.stringify(byEndpoint)}`);
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
});
