import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { freePort, Haproxy, Proc, REPO, until } from '../../scripts/lib/services.js';
import { promQuery } from '../../scripts/lib/stack.js';
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
/** An env file as `sh scripts/generate-env.sh` writes it, with the alert receivers set: what compose needs to start. */
let secretsFile: string | undefined;
function secrets(): string {
  if (secretsFile) return secretsFile;
  const dir = mkdtempSync(join(tmpdir(), 'nt-secrets-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  check('sh', ['scripts/generate-env.sh', join(dir, 'generated')]);
  secretsFile = join(dir, '.env');
  writeFileSync(secretsFile, readFileSync(join(dir, 'generated'), 'utf8').replace(/^ALERT_WEBHOOK_URL=$/m, 'ALERT_WEBHOOK_URL=https://chat.example.com/hook').replace(/^WATCHDOG_WEBHOOK_URL=$/m, 'WATCHDOG_WEBHOOK_URL=https://hc-ping.example.com/x'));
  return secretsFile;
}

const compose = (f: string) => parse(readFileSync(join(REPO, f), 'utf8'), { merge: true }) as { services: Record<string, any>; [k: string]: unknown };

test('compose files are valid (docker-compose config -q)', () => {
  check('docker-compose', ['--env-file', secrets(), '-f', 'docker-compose.yml', 'config', '-q']);
  check('docker-compose', ['--env-file', secrets(), '-f', 'docker-compose.ha.yml', 'config', '-q']);
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

/** prometheus/entrypoint.sh --render-only into a temporary directory: the config Prometheus runs with. */
function renderPrometheus(user: string, password: string): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'nt-prom-render-'));
  check('sh', ['prometheus/entrypoint.sh', '--render-only'], {
    HAPROXY_STATS_USER: user,
    HAPROXY_STATS_PASSWORD: password,
    PROMETHEUS_CONFIG_TEMPLATE: join(REPO, 'prometheus/prometheus.yml'),
    PROMETHEUS_RUNTIME_DIR: dir,
  });
  return { dir, config: join(dir, 'prometheus.yml') };
}

test('Prometheus config (as entrypoint.sh renders it), rules and rule unit tests; Alertmanager config', () => {
  const { dir, config } = renderPrometheus('admin', 'pw');
  try {
    check('promtool', ['check', 'config', config]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  check('promtool', ['check', 'rules', ...readdirSync(join(REPO, 'prometheus/rules')).map((f) => `prometheus/rules/${f}`)]);
  check('promtool', ['test', 'rules', ...readdirSync(join(REPO, 'prometheus/tests')).map((f) => `prometheus/tests/${f}`)]);
  // Rendered as its entrypoint does at start, with the receivers' URLs.
  const amDir = mkdtempSync(join(tmpdir(), 'nt-am-'));
  try {
    check('sh', ['prometheus/alertmanager-entrypoint.sh', '--render-only'], { ALERTMANAGER_CONFIG_TEMPLATE: 'prometheus/alertmanager.yml', ALERTMANAGER_RUNTIME_DIR: amDir, ALERT_WEBHOOK_URL: 'https://chat.example.com/hooks/x', WATCHDOG_WEBHOOK_URL: 'https://hc-ping.example.com/uuid' });
    check('amtool', ['check-config', join(amDir, 'alertmanager.yml')]);
    assert.doesNotMatch(readFileSync(join(REPO, 'prometheus/alertmanager.yml'), 'utf8'), /\.invalid\b/, 'no placeholder receiver');
    const r = spawnSync('sh', ['prometheus/alertmanager-entrypoint.sh', '--render-only'], { cwd: REPO, encoding: 'utf8', env: { PATH: process.env.PATH, ALERTMANAGER_RUNTIME_DIR: amDir, ALERTMANAGER_CONFIG_TEMPLATE: 'prometheus/alertmanager.yml' } });
    assert.notEqual(r.status, 0, 'refuses without the receivers');
    assert.match(r.stderr, /ALERT_WEBHOOK_URL is not set/);
  } finally {
    rmSync(amDir, { recursive: true, force: true });
  }
});

test('the scrape job docs/operations.md gives for your own Prometheus is valid and carries the label the rules select by', () => {
  const md = readFileSync(join(REPO, 'docs/operations.md'), 'utf8');
  const m = /\*\*Loading the rules into your own Prometheus:\*\*[\s\S]*?```yaml\n([\s\S]*?)\n```/.exec(md);
  assert.ok(m, 'docs/operations.md shows the scrape job');
  const job = (parse(m[1]!) as { scrape_configs: { static_configs: { labels?: Record<string, string> }[] }[] }).scrape_configs[0]!;
  const rules = readFileSync(join(REPO, 'prometheus/rules/scaling_alerts.yml'), 'utf8');
  assert.match(rules, /absent\(up\{app_kubernetes_io_name="network-telemetry"\} == 1\)/, 'the label the rules select the daemons by');
  assert.equal(job.static_configs[0]!.labels?.app_kubernetes_io_name, 'network-telemetry');
  const dir = mkdtempSync(join(tmpdir(), 'nt-prom-own-'));
  try {
    writeFileSync(join(dir, 'prometheus.yml'), `rule_files: [${JSON.stringify(join(REPO, 'prometheus/rules/*.yml'))}]\n${m[1]}\n`);
    check('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one pair of variables sets the HAProxy stats credentials for HAProxy and for Prometheus', async () => {
  assert.ok(!existsSync(join(REPO, 'prometheus/haproxy-stats-password')), 'no committed password file');
  const ha = compose('docker-compose.ha.yml').services;
  for (const svc of ['haproxy', 'prometheus']) {
    assert.equal(ha[svc].environment.HAPROXY_STATS_USER, '${HAPROXY_STATS_USER:-admin}', svc);
    assert.equal(ha[svc].environment.HAPROXY_STATS_PASSWORD, '${HAPROXY_STATS_PASSWORD:?set HAPROXY_STATS_PASSWORD in .env (sh scripts/generate-env.sh writes one)}', svc);
  }
  assert.deepEqual(ha.prometheus.entrypoint, ['/bin/sh', '/etc/prometheus/entrypoint.sh']);

  // Odd characters survive: a quote, an ampersand and a backslash in the user name.
  const user = "o'brien&\\x";
  const password = 'p@ss "word"';
  const { dir, config } = renderPrometheus(user, password);
  const statsPort = await freePort();
  let haproxy: Haproxy | undefined;
  let prometheus: Proc | undefined;
  try {
    const rendered = parse(readFileSync(config, 'utf8')) as { scrape_configs: Record<string, any>[] };
    const job = rendered.scrape_configs.find((j) => j.job_name === 'haproxy')!;
    assert.equal(job.basic_auth.username, user);
    assert.equal(readFileSync(join(dir, job.basic_auth.password_file), 'utf8'), password);
    assert.equal(statSync(join(dir, job.basic_auth.password_file)).mode & 0o077, 0, 'the password file is private');

    // The rendered haproxy job against a real HAProxy given the same pair.
    haproxy = await statsOnlyHaproxy(statsPort, user, password);
    const port = await freePort();
    job.static_configs = [{ targets: [`127.0.0.1:${statsPort}`] }];
    const cfg = join(dir, 'scrape-haproxy.yml');
    writeFileSync(cfg, JSON.stringify({ global: { scrape_interval: '1s' }, scrape_configs: [job] }));
    prometheus = new Proc('prometheus', [`--config.file=${cfg}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`]).start();
    const up = async () => (await promQuery(`http://127.0.0.1:${port}`, 'up{job="haproxy"}'))[0]?.value[1];
    await until(async () => (await up()) === '1', `Prometheus scraping HAProxy with the shared pair: ${prometheus.output.slice(-500)}`, 30_000, 250);

    // Only one side changed: the scrape fails (401), which HAProxyScrapeDown reports.
    await haproxy.cleanup();
    haproxy = await statsOnlyHaproxy(statsPort, user, 'changed on one side only');
    await until(async () => (await up()) === '0', 'up == 0 with mismatched credentials', 30_000, 250);
  } finally {
    await prometheus?.stop('SIGKILL');
    await haproxy?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** haproxy/haproxy.cfg with its stats frontend on `statsPort` and every other frontend on a free loopback port. */
async function statsOnlyHaproxy(statsPort: number, user: string, password: string): Promise<Haproxy> {
  const binds = ['HAPROXY_INFLUXDB_BIND', 'HAPROXY_INFLUXDB_1_WRITE_BIND', 'HAPROXY_INFLUXDB_2_WRITE_BIND', 'HAPROXY_GRAFANA_BIND'];
  const env: Record<string, string> = { HAPROXY_STATS_BIND: `127.0.0.1:${statsPort}`, HAPROXY_STATS_USER: user, HAPROXY_STATS_PASSWORD: password };
  for (const b of binds) env[b] = `127.0.0.1:${await freePort()}`;
  for (const s of ['INFLUXDB_1_ADDR', 'INFLUXDB_2_ADDR', 'GRAFANA_1_ADDR', 'GRAFANA_2_ADDR']) env[s] = '127.0.0.1:1';
  return Haproxy.start(env, [`http://127.0.0.1:${statsPort}/stats`]);
}

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
  assert.deepEqual(categories, ['performance', 'scaling', 'high-availability', 'database'], 'the four alert categories');
});

test('yamllint passes on every YAML file', () => {
  const files = yamlFiles().map((f) => relative(REPO, f));
  assert.ok(files.length >= 7, files.join(' '));
  check('yamllint', ['-s', '-c', '.yamllint.yml', ...files]);
});

test('Dockerfile: Node 22 pinned, multi-stage, production deps, non-root, capabilities, tini, healthcheck, /data volume, geoip-lite only in a variant', () => {
  const df = readFileSync(join(REPO, 'docker/Dockerfile'), 'utf8');
  assert.match(df, /^ARG NODE_VERSION=22\.\d+\.\d+$/m, 'Node 22 pinned to an exact version');
  const froms = df.match(/^FROM .*/gm) ?? [];
  assert.equal(froms.length, 3, 'build, geo and runtime stages');
  for (const f of froms) assert.match(f, /^FROM docker\.io\/library\/node:\$\{NODE_VERSION\}-bookworm-slim\b/, 'every stage on the pinned, fully qualified base');
  assert.match(df, /npm prune --omit=dev/);
  assert.match(df, /^USER 1000:1000$/m);
  assert.match(df, /setcap cap_net_raw\+ep \/usr\/bin\/fping/);
  assert.match(df, /setcap cap_net_raw\+ep \/usr\/bin\/mtr-packet/);
  assert.doesNotMatch(df, /apt-get (purge|remove|autoremove)/, 'removing packages took fping with it once');
  assert.match(df, /^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
  assert.match(df, /^HEALTHCHECK .*\n?.*\/health\/live/m);
  assert.match(df, /^VOLUME \["\/data"\]$/m);
  assert.match(df, /DATA_DIR=\/data/);
  assert.match(df, /^CMD \["node", "dist\/cli.js", "run"\]$/m);
  // Only the base-image synthesis of the test machine knows about these (COOKBOOK).
  assert.doesNotMatch(df, /NODE_EXTRA_CA_CERTS|npm_config_nodedir/);
  // geoip-lite only with --build-arg GEO=offline; the default adds nothing.
  assert.match(df, /^ARG GEO=off$/m);
  assert.match(df, /npm install --prefix \/geo\/pkg --no-save [^\n]*geoip-lite@1\.4/);
  assert.match(df, /^COPY --from=geo \/geo\/node_modules \.\/node_modules$/m);
  assert.equal((JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies['geoip-lite'], undefined);
  // No source maps or declarations in the build output.
  const build = JSON.parse(readFileSync(join(REPO, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
  assert.equal(build.compilerOptions.sourceMap, false);
  assert.equal(build.compilerOptions.declaration, false);
  assert.match(df, /-name '\*\.map'/);
  const ignore = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n');
  for (const x of ['node_modules', '.git', 'test']) assert.ok(ignore.includes(x), `.dockerignore lists ${x}`);
});

test('compose: every service has a healthcheck, resource limits and a restart policy; the HA daemons scale and mirror straight to both databases', () => {
  for (const f of ['docker-compose.yml', 'docker-compose.ha.yml']) {
    for (const [name, s] of Object.entries(compose(f).services)) {
      assert.ok(s.healthcheck?.test, `${f}: ${name} has a healthcheck`);
      assert.ok(s.deploy?.resources?.limits?.memory && s.deploy?.resources?.limits?.cpus, `${f}: ${name} has resource limits`);
      assert.equal(s.container_name, undefined, `${f}: ${name} has no fixed container_name`);
      assert.equal(s.restart, 'unless-stopped', `${f}: ${name} comes back after a crash or a reboot`);
      assert.equal(s.init, undefined, `${f}: ${name}: no init on top of the image's tini`);
      assert.match(String(s.image), /^(docker\.io|quay\.io)\/|^network-telemetry:/, `${f}: ${name} image ${s.image} is fully qualified`);
    }
  }
  const ha = compose('docker-compose.ha.yml').services;
  assert.equal(ha['network-telemetry'].deploy.replicas, 3);
  assert.deepEqual(Object.keys(ha).filter((k) => k.startsWith('influxdb-') && !k.includes('exporter')).sort(), ['influxdb-1', 'influxdb-2']);
  assert.deepEqual(Object.keys(ha).filter((k) => k.startsWith('grafana-') && k !== 'grafana-db').sort(), ['grafana-1', 'grafana-2']);
  assert.equal(ha['grafana-1'].environment.GF_DATABASE_HOST, 'grafana-db:5432', 'both Grafana share one database');
  const daemon = ha['network-telemetry'];
  // HAProxy is not on the write path: a down HAProxy holds back no write.
  assert.equal(daemon.environment.INFLUXDB_URLS, 'http://influxdb-1:8086,http://influxdb-2:8086');
  assert.equal(daemon.depends_on.haproxy, undefined, 'the daemons do not wait for HAProxy');
  assert.equal(ha['grafana-1'].environment.INFLUXDB_URL, 'http://haproxy:8086', 'Grafana reads through HAProxy');
  assert.equal(ha['grafana-1'].environment.PROMETHEUS_URL, 'http://prometheus:9090');
  // Grafana's InfluxQL database follows the bucket the daemons write.
  for (const f of ['docker-compose.yml', 'docker-compose.ha.yml']) {
    const services = compose(f).services;
    const grafanas = Object.entries(services).filter(([n]) => /^grafana(-\d)?$/.test(n));
    assert.ok(grafanas.length > 0);
    for (const [n, g] of grafanas) assert.equal(g.environment.INFLUXDB_BUCKET, services['network-telemetry'].environment.INFLUXDB_BUCKET, `${f}: ${n}`);
  }
  // Exporters the alerts need, and the optional SSO profile.
  assert.equal(ha['redis-exporter'].environment.REDIS_ADDR, 'redis://redis:6379');
  assert.deepEqual(ha['influxdb-disk-exporter'].volumes.map((v: string) => v.split(':')[1]).sort(), ['/influxdb/influxdb-1', '/influxdb/influxdb-2']);
  assert.deepEqual(ha['oauth2-proxy'].profiles, ['sso']);
  assert.equal(ha['oauth2-proxy'].environment.OAUTH2_PROXY_UPSTREAMS, 'http://haproxy:8080/', 'the UI through HAProxy: ready replicas only');
  assert.equal(ha.haproxy.environment.HAPROXY_TELEMETRY_BIND, ':8080');
  check('docker-compose', ['--env-file', secrets(), '-f', 'docker-compose.ha.yml', '--profile', 'sso', 'config', '-q']);
  const cfg = readFileSync(join(REPO, 'haproxy/haproxy.cfg'), 'utf8');
  assert.match(cfg, /HAPROXY_INFLUXDB_1_WRITE_BIND-:8087/, 'per-replica frontends remain for the loopback stack');
  assert.match(cfg, /HAPROXY_INFLUXDB_2_WRITE_BIND-:8088/);
  for (const f of ['docker-compose.yml', 'docker-compose.ha.yml']) {
    const svc = compose(f).services['network-telemetry'];
    assert.equal(svc.read_only, true);
    assert.deepEqual(svc.cap_drop, ['ALL']);
    assert.deepEqual(svc.cap_add, ['NET_RAW']);
  }
});

test('compose: no secret has a default that works; .env.example lists every variable; generate-env.sh writes a random value for each secret', () => {
  const example = readFileSync(join(REPO, '.env.example'), 'utf8');
  const dir = mkdtempSync(join(tmpdir(), 'nt-env-'));
  try {
    const generated = join(dir, '.env');
    check('sh', ['scripts/generate-env.sh', generated]);
    assert.equal(statSync(generated).mode & 0o777, 0o600, 'the generated .env is readable by its owner only');
    const gen = Object.fromEntries(readFileSync(generated, 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const again = join(dir, '.env2');
    check('sh', ['scripts/generate-env.sh', again]);
    const second = readFileSync(again, 'utf8');
    for (const f of ['docker-compose.yml', 'docker-compose.ha.yml']) {
      const text = readFileSync(join(REPO, f), 'utf8');
      const vars = [...text.matchAll(/\$\{([A-Z0-9_]+)(:[-?][^}]*)?\}/g)];
      assert.ok(vars.length > 10, `${f}: ${vars.length} variables`);
      for (const [, name, rest] of vars) {
        assert.match(example, new RegExp(`^${name}=`, 'm'), `.env.example lists ${name}`);
        if (!/(TOKEN|PASSWORD|SECRET)$/.test(name!)) continue;
        // Required, or empty (which the service refuses): never a value that works.
        assert.ok(rest?.startsWith(':?') || rest === ':-', `${f}: \${${name}${rest ?? ''}} has no working default`);
        assert.match(example, new RegExp(`^${name}=$`, 'm'), `.env.example leaves ${name} empty`);
        if (rest?.startsWith(':?')) {
          assert.match(gen[name!] ?? '', /^[0-9a-f]{32,}$/, `generate-env.sh writes a random ${name}`);
          assert.ok(!second.includes(gen[name!]!), `${name} differs between two runs`);
        }
      }
      // Without a .env, compose refuses and names the variable.
      const empty = mkdtempSync(join(dir, 'empty-'));
      const bare = spawnSync('docker-compose', ['-f', join(REPO, f), '--project-directory', empty, 'config', '-q'], { cwd: REPO, encoding: 'utf8', env: { PATH: process.env.PATH } });
      assert.notEqual(bare.status, 0, `${f} starts without secrets`);
      assert.match(bare.stderr, /set [A-Z_]+ in \.env \(sh scripts\/generate-env\.sh writes one\)/);
      // With the generated .env (and the alert receivers the HA stack needs) it is valid.
      check('docker-compose', ['--env-file', secrets(), '-f', f, 'config', '-q']);
    }
    assert.notEqual(spawnSync('sh', ['scripts/generate-env.sh', generated], { cwd: REPO }).status, 0, 'never overwrites an existing .env');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('compose: ports on the loopback except the UI/API; no Prometheus lifecycle API; Alertmanager unpublished with its silences on a volume; Grafana reads with a read-only user', () => {
  for (const f of ['docker-compose.yml', 'docker-compose.ha.yml']) {
    for (const [name, s] of Object.entries(compose(f).services)) {
      for (const p of (s.ports ?? []) as string[]) {
        const open = /^(8080|4180):/.test(p) && (name === 'network-telemetry' || name === 'haproxy' || name === 'oauth2-proxy');
        if (!open) assert.match(p, /^127\.0\.0\.1:/, `${f}: ${name} publishes ${p} on every interface`);
      }
    }
    const services = compose(f).services;
    for (const [n, g] of Object.entries(services).filter(([k]) => /^grafana(-\d)?$/.test(k))) {
      assert.match(String(g.environment.INFLUXDB_TOKEN), /^grafana:\$\{GRAFANA_INFLUXDB_PASSWORD:\?/, `${f}: ${n} reads as the read-only v1 user`);
    }
    const influx = Object.entries(services).filter(([k]) => /^influxdb(-\d)?$/.test(k));
    for (const [n, i] of influx) assert.ok(i.environment.GRAFANA_INFLUXDB_PASSWORD, `${f}: ${n} creates the read-only user`);
  }
  assert.match(readFileSync(join(REPO, 'docker/influxdb-init/grafana-reader.sh'), 'utf8'), /influx v1 auth create [^]*--read-bucket/);
  const ha = compose('docker-compose.ha.yml').services;
  assert.ok(!JSON.stringify(ha.prometheus).includes('enable-lifecycle'), 'no /-/quit for whoever reaches Prometheus');
  assert.equal(ha.alertmanager.ports, undefined, 'Alertmanager is not published');
  assert.ok((ha.alertmanager.volumes as string[]).some((v) => /^alertmanager-data:\/alertmanager$/.test(v)), 'silences on a volume');
  assert.ok((ha.alertmanager.command as string[]).includes('--storage.path=/alertmanager'));
  // HAProxy waits longer than a POST /collect may run (COLLECT_TIMEOUT, 120 s by default).
  const cfg = readFileSync(join(REPO, 'haproxy/haproxy.cfg'), 'utf8');
  const telemetry = /frontend telemetry\n([\s\S]*?)\n\.endif/.exec(cfg)?.[1] ?? '';
  const secs = (re: RegExp) => Number(re.exec(telemetry)?.[1] ?? 0);
  const collectTimeout = Number(ha['network-telemetry'].environment.COLLECT_TIMEOUT ?? 120);
  assert.ok(secs(/timeout client (\d+)s/) > collectTimeout && secs(/timeout server (\d+)s/) > collectTimeout, `HAProxy's telemetry timeouts exceed COLLECT_TIMEOUT ${collectTimeout} s:\n${telemetry}`);
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
      return body.components['probe-tools']?.mode ? body : null;
    }, 'the icmp tool check', 15_000, 200);
    assert.equal(h.components['probe-tools'].mode, 'cap_net_raw', 'fping/mtr work for uid 1000 through file capabilities');
    assert.ok(existsSync(join(data, 'store.db')));
  } finally {
    await d.cleanup();
    rmSync(data, { recursive: true, force: true });
  }
});
