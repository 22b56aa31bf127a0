/**
 * The HA topology of docker-compose.ha.yml on loopback, without Docker, from
 * the project's own config files: HAProxy with haproxy/haproxy.cfg (addresses
 * through its environment), two VictoriaMetrics standing in for InfluxDB 2,
 * Redis, three daemons in cluster mode writing through HAProxy's per-replica
 * write frontends, Prometheus with prometheus/rules/*.yml, Alertmanager with
 * prometheus/alertmanager.yml delivering to a webhook receiver. Used by `npm run stack:ha` and by its test.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlertReceiver, renderAlertmanagerConfig } from './alert-receiver.js';
import { spawnDaemon, type Daemon } from './daemon-process.js';
import { freePort, Haproxy, Proc, REPO, Redis, until, Victoria } from './services.js';

export interface Stack {
  vm: [Victoria, Victoria];
  redis: Redis;
  haproxy: Haproxy;
  daemons: Daemon[];
  prometheus: Proc;
  alertmanager: Proc;
  /** Where Alertmanager delivers (its ops and watchdog receivers). */
  receiver: AlertReceiver;
  urls: {
    influxRead: string;
    influxWrite: [string, string];
    haproxyStats: string;
    prometheus: string;
    alertmanager: string;
  };
  statsAuth: string;
  stop(): Promise<void>;
}

const STATS_USER = 'admin';
const STATS_PASSWORD = 'stack-password';

export async function startStack(opts: { daemons?: number; log?: (m: string) => void } = {}): Promise<Stack> {
  const log = opts.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'nt-stack-'));
  const started: { stop(): Promise<unknown> }[] = [];
  try {
    const vm: [Victoria, Victoria] = [await Victoria.start(), await Victoria.start()];
    started.push({ stop: () => vm[0].cleanup() }, { stop: () => vm[1].cleanup() });
    const redis = await Redis.start();
    started.push({ stop: () => redis.cleanup() });
    const [prom, am] = await Promise.all([freePort(), freePort()]);
    const lb = await Haproxy.startLoopback({ influx: [vm[0].port, vm[1].port], password: STATS_PASSWORD });
    const haproxy = lb.haproxy;
    started.push({ stop: () => haproxy.cleanup() });
    const write = lb.influxWrite;
    for (const u of [...write, lb.influxRead]) await until(async () => (await fetch(`${u}/health`)).ok, `haproxy ${u}`);
    log(`victoria-metrics ${vm[0].url} ${vm[1].url}; redis ${redis.url}; haproxy ${lb.influxRead} (reads) ${write.join(' ')} (writes) ${lb.stats} (stats)`);

    const env = {
      TARGET_FQDNS: `localhost,127.0.0.1:${redis.port},${lb.influxRead}/health`,
      COLLECTION_INTERVAL: '5',
      SOURCE_NAME: 'staging-loopback',
      REDIS_URL: redis.url,
      CLUSTER_SECRET: 'cluster-test-secret-0123',
      REDIS_KEY_PREFIX: 'stack:',
      COLLECT_TOKEN: 'stack-collect-token',
      INFLUXDB_URLS: write.join(','),
      INFLUXDB_TOKEN: 'stack-token',
      INFLUXDB_ORG: 'telemetry',
      INFLUXDB_BUCKET: 'telemetry',
      INFLUX_FLUSH_INTERVAL: '0.5',
      TRACE_PACKET_INTERVAL: '0.2',
      TRACE_GRACE: '0.3',
      LOG_LEVEL: 'warn',
    };
    const daemons: Daemon[] = [];
    for (let i = 0; i < (opts.daemons ?? 3); i++) {
      const d = await spawnDaemon(env);
      daemons.push(d);
      started.push({ stop: () => d.cleanup() });
    }
    log(`daemons ${daemons.map((d) => d.url).join(' ')}`);

    // Alertmanager with the project's config, its receivers pointed at a webhook receiver of the stack's own.
    const receiver = await AlertReceiver.start();
    started.push({ stop: () => receiver.close() });
    const amConfig = await renderAlertmanagerConfig(REPO, join(dir, 'alertmanager-runtime'), receiver);
    const alertmanager = new Proc('prometheus-alertmanager', [
      `--config.file=${amConfig}`,
      `--storage.path=${join(dir, 'alertmanager')}`,
      `--web.listen-address=127.0.0.1:${am}`,
      '--cluster.listen-address=',
    ]).start();
    started.push({ stop: () => alertmanager.stop('SIGKILL') });

    // Prometheus: loopback scrape targets, the project's rules, fast intervals.
    writeFileSync(join(dir, 'haproxy-stats-password'), STATS_PASSWORD);
    writeFileSync(
      join(dir, 'prometheus.yml'),
      JSON.stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [join(REPO, 'prometheus/rules/*.yml')],
        alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${am}`] }] }] },
        scrape_configs: [
          // The label every rule selects on (compose and Kubernetes scrapes carry it too).
          { job_name: 'network-telemetry', static_configs: [{ targets: daemons.map((d) => `127.0.0.1:${d.port}`), labels: { app_kubernetes_io_name: 'network-telemetry' } }] },
          {
            job_name: 'haproxy',
            basic_auth: { username: STATS_USER, password_file: join(dir, 'haproxy-stats-password') },
            static_configs: [{ targets: [new URL(lb.stats).host] }],
          },
          { job_name: 'influxdb', static_configs: [{ targets: vm.map((v) => `127.0.0.1:${v.port}`) }] },
        ],
      }),
    );
    const prometheus = new Proc('prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'prometheus')}`,
      `--web.listen-address=127.0.0.1:${prom}`,
      '--web.enable-lifecycle',
      '--rules.alert.resend-delay=1s',
    ]).start();
    started.push({ stop: () => prometheus.stop('SIGKILL') });
    await until(async () => (await fetch(`http://127.0.0.1:${prom}/-/ready`)).ok, `prometheus: ${prometheus.output}`);
    await until(async () => (await fetch(`http://127.0.0.1:${am}/-/ready`)).ok, `alertmanager: ${alertmanager.output}`);
    log(`prometheus http://127.0.0.1:${prom}  alertmanager http://127.0.0.1:${am}`);

    return {
      vm,
      redis,
      haproxy,
      daemons,
      prometheus,
      alertmanager,
      receiver,
      urls: {
        influxRead: lb.influxRead,
        influxWrite: write,
        haproxyStats: lb.stats,
        prometheus: `http://127.0.0.1:${prom}`,
        alertmanager: `http://127.0.0.1:${am}`,
      },
      statsAuth: lb.auth,
      stop: async () => {
        for (const s of started.reverse()) await s.stop().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    for (const s of started.reverse()) await s.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** An instant PromQL query; returns the result vector. */
export async function promQuery(prometheusUrl: string, q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const r = await fetch(`${prometheusUrl}/api/v1/query?${new URLSearchParams({ query: q })}`);
  const body = (await r.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== 'success') throw new Error(`PromQL ${q}: ${JSON.stringify(body)}`);
  return body.data.result;
}
