import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { freePort, Haproxy, REPO, until } from '../../scripts/lib/services.js';
import { spawnDaemon } from '../../scripts/lib/daemon-process.js';
import { TEST_ENV } from '../helpers/daemon.js';

/** Run a validator; its output is the assertion message when it fails. */
function check(cmd: string, args: string[], env: Record<string, string> = {}): void {
  const r = spawnSync(cmd, args, { cwd: REPO, encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (['node_modules', '.git', 'dist', 'data', '.scratch', '.bench-tmp'].includes(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

const yamlFiles = () => walk(REPO).filter((p) => /\.ya?ml$/.test(p));
const compose = (f: string) => parse(readFileSync(join(REPO, f), 'utf8'), { merge: true }) as { services: Record<string, any>; [k: string]: unknown };

test('compose files are valid (docker-compose config -q)', () => {
  check('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q']);
  check('docker-compose', ['-f', 'docker-compose.ha.yml', 'config', '-q']);
});

test('haproxy.cfg is valid, and its stats page and exporter need a password', async () => {
  check('haproxy', ['-c', '-f', 'haproxy/haproxy.cfg']);
  const cfg = readFileSync(join(REPO, 'haproxy/haproxy.cfg'), 'utf8');
  assert.doesNotMatch(cfg, /stats admin/, 'no admin page');
  const lb = await Haproxy.startLoopback({ password: 'pw' });
  const h = lb.haproxy;
  const stats = new URL(lb.stats).port;
  try {
    await until(async () => (await fetch(`http://127.0.0.1:${stats}/stats`)).status === 401, 'stats answering 401 without credentials');
    assert.equal((await fetch(`http://127.0.0.1:${stats}/metrics`)).status, 401);
    const auth = { authorization: lb.auth };
    assert.equal((await fetch(`http://127.0.0.1:${stats}/stats`, { headers: auth })).status, 200);
    assert.match(await (await fetch(`http://127.0.0.1:${stats}/metrics`, { headers: auth })).text(), /^haproxy_server_status\{/m);
  } finally {
    await h.cleanup();
  }
});

test('Prometheus config, rules and rule unit tests; Alertmanager config', () => {
  check('promtool', ['check', 'config', 'prometheus/prometheus.yml']);
  check('promtool', ['check', 'rules', ...readdirSync(join(REPO, 'prometheus/rules')).map((f) => `prometheus/rules/${f}`)]);
  check('promtool', ['test', 'rules', ...readdirSync(join(REPO, 'prometheus/tests')).map((f) => `prometheus/tests/${f}`)]);
  check('amtool', ['check-config', 'prometheus/alertmanager.yml']);
});

test('every alert has a promtool unit test', () => {
  const alerts = new Set<string>();
  for (const f of readdirSync(join(REPO, 'prometheus/rules'))) {
    for (const g of (parse(readFileSync(join(REPO, 'prometheus/rules', f), 'utf8')) as { groups: { rules: { alert?: string }[] }[] }).groups) {
      for (const r of g.rules) if (r.alert) alerts.add(r.alert);
    }
  }
  const tested = new Set<string>();
  for (const f of readdirSync(join(REPO, 'prometheus/tests'))) {
    const t = parse(readFileSync(join(REPO, 'prometheus/tests', f), 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
    for (const c of t.tests) for (const a of c.alert_rule_test ?? []) if (a.exp_alerts.length) tested.add(a.alertname);
  }
  assert.deepEqual([...alerts].filter((a) => !tested.has(a)), []);
  const categories = (parse(readFileSync(join(REPO, 'prometheus/rules/scaling_alerts.yml'), 'utf8')) as { groups: { name: string }[] }).groups.map((g) => g.name);
  assert.deepEqual(categories, ['performance', 'scaling', 'high-availability', 'database'], "the seed guide's four alert categories");
});

test('yamllint passes on every YAML file', () => {
  const files = yamlFiles().map((f) => relative(REPO, f));
  assert.ok(files.length >= 7, files.join(' '));
  check('yamllint', ['-s', '-c', '.yamllint.yml', ...files]);
});

test('Dockerfile: Node 22 LTS, multi-stage, production deps, non-root, capabilities, tini, healthcheck, /data volume', () => {
  const df = readFileSync(join(REPO, 'docker/Dockerfile'), 'utf8');
  assert.equal(df.match(/^FROM node:22-/gm)?.length, 2, 'two stages on Node 22');
  assert.match(df, /npm prune --omit=dev/);
  assert.match(df, /^USER 1000:1000$/m);
  assert.match(df, /setcap cap_net_raw\+ep \/usr\/bin\/fping/);
  assert.match(df, /setcap cap_net_raw\+ep \/usr\/bin\/mtr-packet/);
  assert.match(df, /^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
  assert.match(df, /^HEALTHCHECK .*\n?.*\/health\/live/m);
  assert.match(df, /^VOLUME \["\/data"\]$/m);
  assert.match(df, /DATA_DIR=\/data/);
  assert.match(df, /^CMD \["node", "dist\/cli.js", "run"\]$/m);
  const ignore = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n');
  for (const x of ['node_modules', '.git', 'test']) assert.ok(ignore.includes(x), `.dockerignore lists ${x}`);
});

test('compose: every service has a healthcheck and resource limits; the HA daemons scale and mirror through HAProxy', () => {
  for (const f of ['docker-compose.yml', 'docker-compose.ha.yml']) {
    for (const [name, s] of Object.entries(compose(f).services)) {
      assert.ok(s.healthcheck?.test, `${f}: ${name} has a healthcheck`);
      assert.ok(s.deploy?.resources?.limits?.memory && s.deploy?.resources?.limits?.cpus, `${f}: ${name} has resource limits`);
      assert.equal(s.container_name, undefined, `${f}: ${name} has no fixed container_name`);
    }
  }
  const ha = compose('docker-compose.ha.yml').services;
  assert.equal(ha['network-telemetry'].deploy.replicas, 3);
  assert.deepEqual(Object.keys(ha).filter((k) => k.startsWith('influxdb')).sort(), ['influxdb-1', 'influxdb-2']);
  assert.deepEqual(Object.keys(ha).filter((k) => k.startsWith('grafana-') && k !== 'grafana-db').sort(), ['grafana-1', 'grafana-2']);
  assert.equal(ha['grafana-1'].environment.GF_DATABASE_HOST, 'grafana-db:5432', 'both Grafana share one database');
  const daemon = ha['network-telemetry'];
  assert.equal(daemon.environment.INFLUXDB_URLS, 'http://haproxy:8087,http://haproxy:8088');
  const cfg = readFileSync(join(REPO, 'haproxy/haproxy.cfg'), 'utf8');
  assert.match(cfg, /HAPROXY_INFLUXDB_1_WRITE_BIND-:8087/);
  assert.match(cfg, /HAPROXY_INFLUXDB_2_WRITE_BIND-:8088/);
  for (const f of ['docker-compose.yml', 'docker-compose.ha.yml']) {
    const svc = compose(f).services['network-telemetry'];
    assert.equal(svc.read_only, true);
    assert.deepEqual(svc.cap_drop, ['ALL']);
    assert.deepEqual(svc.cap_add, ['NET_RAW']);
  }
});

test('compose: one token shared by InfluxDB setup, the daemon and Grafana; every variable has a default and is in .env.example', () => {
  for (const f of ['docker-compose.yml', 'docker-compose.ha.yml']) {
    const text = readFileSync(join(REPO, f), 'utf8');
    const tokens = new Set(text.match(/\$\{INFLUXDB_TOKEN:-[^}]+\}/g));
    assert.equal(tokens.size, 1, `${f}: the token has one default`);
    assert.ok(text.split('${INFLUXDB_TOKEN:-').length - 1 >= 3, `${f}: InfluxDB, daemon and Grafana all take it`);
    const vars = [...text.matchAll(/\$\{([A-Z_]+)(:-[^}]*)?\}/g)];
    for (const v of vars) assert.ok(v[2], `${f}: \${${v[1]}} has a default`);
    const example = readFileSync(join(REPO, '.env.example'), 'utf8');
    for (const v of new Set(vars.map((x) => x[1]!))) assert.match(example, new RegExp(`^${v}=`, 'm'), `.env.example lists ${v}`);
  }
});

test('the image entrypoint (node dist/cli.js run) works unprivileged with DATA_DIR as the only writable place', async () => {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'pipe' });
  assert.ok(existsSync(join(REPO, 'dist/cli.js')));
  const data = mkdtempSync(join(tmpdir(), 'nt-image-'));
  chmodSync(data, 0o777);
  const d = await spawnDaemon(
    { TARGET_FQDNS: '127.0.0.1', PORT: String(await freePort()), TRACE_PACKET_INTERVAL: '1', PROBE_TIMEOUT: '8' },
    { dataDir: data, baseEnv: TEST_ENV, wrap: ['setpriv', '--reuid=1000', '--regid=1000', '--clear-groups'], entry: [process.execPath, join(REPO, 'dist/cli.js')] },
  ).catch((e: Error) => {
    rmSync(data, { recursive: true, force: true });
    throw e;
  });
  try {
    // The tool check runs in the background at start: wait for its verdict.
    const h = await until(async () => {
      const body = await d.json('/health');
      return body.components.icmp?.mode ? body : null;
    }, 'the icmp tool check', 15_000, 200);
    assert.equal(h.components.icmp.mode, 'cap_net_raw', 'fping/mtr work for uid 1000 through file capabilities');
    assert.ok(existsSync(join(data, 'store.db')));
  } finally {
    await d.cleanup();
    rmSync(data, { recursive: true, force: true });
  }
});
