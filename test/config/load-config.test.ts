import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, redactedConfig } from '../../src/config/load-config.js';
import { envSchema } from '../../src/config/env-schema.js';
import { runCli, ROOT } from '../helpers/daemon.js';

const base = { TARGET_FQDNS: 'example.com' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

test('the documented variables keep their names, defaults and units', () => {
  const { env } = loadConfig(base);
  assert.equal(env.MAX_CONNECTIONS, 100);
  assert.equal(env.MAX_CONNECTIONS_PER_HOST, 30);
  assert.equal(env.KEEPALIVE_TIMEOUT, 30);
  assert.equal(env.CONNECTION_TIMEOUT, 10);
  assert.equal(env.READ_TIMEOUT, 30);
  assert.equal(env.MAX_CONCURRENT_TARGETS, 50);
  assert.equal(env.MAX_CONCURRENT_OPERATIONS, 100);
  assert.equal(env.BATCH_SIZE, 10);
  assert.equal(env.WORKER_POOL_SIZE, 20);
  assert.equal(env.CIRCUIT_FAILURE_THRESHOLD, 5);
  assert.equal(env.CIRCUIT_RECOVERY_TIMEOUT, 60);
  assert.equal(env.CIRCUIT_SUCCESS_THRESHOLD, 3);
  assert.equal(env.COLLECTION_INTERVAL, 60);
  assert.equal(env.PORT, 8080);
});

test('TARGET_FQDNS entries: host runs the default set, host:port tcp, URL http; name is the entry', () => {
  const { targets } = loadConfig({ TARGET_FQDNS: 'example.com, 10.0.0.1 ,db.local:5432,https://example.com/a,https://example.com/b,[::1]:443' });
  const byName = Object.fromEntries(targets.map((t) => [t.name, t]));
  assert.deepEqual(byName['example.com']!.probes, ['icmp', 'trace', 'http', 'dns']);
  assert.equal((byName['example.com']!.specs.http as { url: string }).url, 'https://example.com/');
  assert.deepEqual(byName['10.0.0.1']!.probes, ['icmp', 'trace']);
  assert.deepEqual(byName['db.local:5432']!.probes, ['tcp']);
  assert.equal((byName['db.local:5432']!.specs.tcp as { port: number }).port, 5432);
  assert.deepEqual(byName['https://example.com/a']!.probes, ['http']);
  assert.equal(byName['https://example.com/b']!.host, 'example.com');
  assert.equal(byName['[::1]:443']!.host, '::1');
  assert.equal(targets.length, 6);
});

test('TARGET_FQDN and TARGET_FQDNS combine; a duplicate name is an error', () => {
  assert.equal(loadConfig({ TARGET_FQDN: 'a.example', TARGET_FQDNS: 'b.example' }).targets.length, 2);
  assert.match(problems({ TARGET_FQDN: 'a.example', TARGET_FQDNS: 'a.example' }).join('\n'), /"a.example" is used twice/);
});

test('bad values name the variable and what is wrong', () => {
  const p = problems({ ...base, PORT: 'eighty', MAX_CONNECTIONS: '0', LOG_LEVEL: 'loud', INFLUXDB_URL: 'not a url', TRACE_REVERSE_DNS: 'maybe' });
  const text = p.join('\n');
  for (const v of ['PORT', 'MAX_CONNECTIONS', 'LOG_LEVEL', 'INFLUXDB_URL', 'TRACE_REVERSE_DNS']) assert.match(text, new RegExp(`^${v}: `, 'm'), text);
  assert.match(text, /PORT: .*\(got "eighty"\)/);
});

test('booleans parse "false" as false and empty strings fall back to defaults', () => {
  assert.equal(loadConfig({ ...base, TRACE_REVERSE_DNS: 'false' }).env.TRACE_REVERSE_DNS, false);
  assert.equal(loadConfig({ ...base, TRACE_REVERSE_DNS: 'true' }).env.TRACE_REVERSE_DNS, true);
  assert.equal(loadConfig({ ...base, PORT: '' }).env.PORT, 8080);
});

test('bad TARGET_FQDNS entries are named', () => {
  const text = problems({ TARGET_FQDNS: 'ftp://x.example/,bad host,ok.example:99999' }).join('\n');
  assert.match(text, /TARGET_FQDNS: "ftp:\/\/x.example\/": only http/);
  assert.match(text, /TARGET_FQDNS: "bad host" is not/);
  assert.match(text, /TARGET_FQDNS: "ok.example:99999": port/);
});

test('secrets are validated without echoing them and redacted in check-config output', () => {
  const p = problems({ ...base, INFLUXDB_URL: 'http://db:8086', INFLUXDB_ORG: 'o', INFLUXDB_BUCKET: 'b' });
  assert.match(p.join('\n'), /INFLUXDB_TOKEN: required/);
  const cfg = loadConfig({ ...base, INFLUXDB_URL: 'http://db:8086', INFLUXDB_TOKEN: 's3cret', INFLUXDB_ORG: 'o', INFLUXDB_BUCKET: 'b', REDIS_URL: 'redis://:pw@r:6379', CLUSTER_SECRET: 'cluster-s3cret-0123456789', COLLECT_TOKEN: 'ct' });
  const shown = JSON.stringify(redactedConfig(cfg));
  assert.ok(!shown.includes('s3cret') && !shown.includes(':pw@'), shown);
});

test('the default target list works offline: loopback path and the daemon itself', () => {
  const { targets } = loadConfig({ PORT: '9999' });
  assert.deepEqual(targets.map((t) => t.name), ['localhost', 'http://127.0.0.1:9999/health/live']);
});

test('PROBE_TIMEOUT follows short intervals unless set; a timeout past the interval is an error', () => {
  const { targets } = loadConfig({ TARGET_FQDNS: 'a.example:80', COLLECTION_INTERVAL: '5' });
  assert.equal(targets[0]!.timeoutS, 4);
  assert.match(problems({ TARGET_FQDNS: 'a.example:80', COLLECTION_INTERVAL: '5', PROBE_TIMEOUT: '5' }).join('\n'), /must be shorter than the 5 s interval/);
});

// Every targets file a test writes is removed at the end (a run left 40-odd nt-cfg-* folders in /tmp).
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function file(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'nt-cfg-'));
  dirs.push(dir);
  const p = join(dir, 'targets.yaml');
  writeFileSync(p, text);
  return p;
}

test('targets file: the documented example loads with every probe', () => {
  const p = file(`targets:
  - name: example            # tag value; defaults to host
    host: example.com        # FQDN or IP
    probes: [icmp, trace, http, tcp, dns]
    interval: 60             # seconds, optional override
    http: { url: "https://example.com/", method: GET, expect_status: 200 }
    tcp: { port: 443 }
    dns: { server: "1.1.1.1", record: A }
`);
  const { targets } = loadConfig({ TARGETS_FILE: p });
  assert.equal(targets.length, 1);
  const t = targets[0]!;
  assert.equal(t.name, 'example');
  assert.deepEqual(t.probes, ['icmp', 'trace', 'http', 'tcp', 'dns']);
  assert.deepEqual((t.specs.http as { expectStatus: number[] }).expectStatus, [200]);
  assert.equal((t.specs.dns as { server: string }).server, '1.1.1.1');
  assert.equal((t.specs.dns as { name: string }).name, 'example.com');
});

test('targets file: unknown keys, wrong types and YAML errors are reported with file:line', () => {
  const p = file(`targets:
  - name: a
    host: a.example
    probes: [icmp, ping]
  - host: b.example
    colour: blue
  - host: c.example
    tcp: { port: "http" }
`);
  const text = problems({ TARGETS_FILE: p }).join('\n');
  assert.match(text, new RegExp(`${p}:4: targets\\[0\\]\\.probes\\[1\\]: `), text);
  assert.match(text, new RegExp(`${p}:6: targets\\[1\\]\\.colour: `), text);
  assert.match(text, new RegExp(`${p}:8: targets\\[2\\]\\.tcp\\.port: `), text);

  const dup = file('targets:\n  - host: a.example\n    host: b.example\n');
  assert.match(problems({ TARGETS_FILE: dup }).join('\n'), new RegExp(`${dup}:3: the key "host" appears twice in the same mapping`));
  assert.match(problems({ TARGETS_FILE: '/nonexistent/t.yaml' }).join('\n'), /TARGETS_FILE: cannot read \/nonexistent\/t.yaml/);
});

test('targets file: one strict YAML reader; an undefined alias, merge keys, a second document and alias bombs are errors with their line; an unclosed "[" points at the line that opened it; typos get a "did you mean"', () => {
  const one = (text: string) => problems({ TARGETS_FILE: file(text) }).join('\n');
  // The typo of an anchor that used to make the file valid and empty.
  assert.match(one('defaults: &d\n  interval: 30\ntargets:\n  - host: a.example\n    interval: *dd\n'), /:5: the alias \*dd refers to no anchor &dd/);
  assert.match(one('base: &b { interval: 30 }\ntargets:\n  - <<: *b\n    host: a.example\n'), /:3: merge keys \(<<\) are not supported/);
  assert.match(one('targets:\n  - host: a.example\n---\ntargets: []\n'), /more than one YAML document/);
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`), 'targets:\n  - host: a.example'].join('\n');
  assert.match(one(bomb), /aliases expand this file to \d+ values/);
  // A missing "]" on line 4 is reported on line 4 (the parser notices on line 5).
  const bracket = one('targets:\n  - host: a.example\n  - host: b.example\n    probes: [icmp, tcp\n  - host: c.example\n');
  assert.match(bracket, /:4: this "\[" is never closed \(a missing "\]"\?\)/);
  assert.equal(bracket.split('\n').length, 1, bracket);
  // Keys and values that are near a known one.
  assert.match(one('defaults:\n  intervall: 30\ntargets:\n  - host: a.example\n'), /:2: defaults\.intervall: unknown key "intervall": did you mean "interval"\?/);
  assert.match(one('targets:\n  - host: a.example\n    probes: [icmp, tpc]\n'), /"tpc" is not known: must be one of .*\(did you mean "tcp"\?\)/);
  // A URL without its scheme, and numbers said without validator jargon.
  assert.match(one('targets:\n  - name: api\n    http: { url: "api.example.com/health" }\n'), /:3: .*url: is not a URL: it needs a scheme, e.g. "http:\/\/api\.example\.com\/health"/);
  assert.match(problems({ TARGET_FQDNS: 'api.example.com/health' }).join('\n'), /looks like a URL without its scheme: write "https:\/\/api\.example\.com\/health"/);
  assert.match(one('targets:\n  - host: a.example\n    interval: "30s"\n'), /interval: must be a number, got string "30s"/);
  const env = problems({ ...base, COLLECTION_INTERVAL: 'abc', MAX_CONNECTIONS: '1.5', INFLUXDB_URL: 'influxdb:8086' }).join('\n');
  assert.match(env, /^COLLECTION_INTERVAL: must be a number of seconds, e\.g\. \d+ \(got "abc"\)$/m);
  assert.match(env, /^INFLUXDB_URL: is not a URL: it needs a scheme, e\.g\. "http:\/\/influxdb:8086"/m);
  assert.doesNotMatch(env, /expected number|NaN|Invalid input/);
});

test('every environment variable is documented in docs/configuration.md', () => {
  const doc = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
  const missing = Object.keys(envSchema.shape).filter((k) => !doc.includes(`\`${k}\``));
  assert.deepEqual(missing, []);
});

test('a broken configuration exits 2 before anything starts, one line per problem', async () => {
  const r = await runCli(['run'], { TARGET_FQDNS: 'x.example', PORT: 'nope', LOG_LEVEL: 'loud' });
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 2, r.stderr);
  assert.match(lines[0]!, /^config error: PORT: /);
  assert.match(lines[1]!, /^config error: LOG_LEVEL: /);
  const cross = await runCli(['run'], { TARGET_FQDNS: 'x.example', MAX_CONNECTIONS_PER_HOST: '500' });
  assert.equal(cross.code, 2);
  assert.match(cross.stderr, /^config error: MAX_CONNECTIONS_PER_HOST: 500 exceeds MAX_CONNECTIONS 100: lower it or raise MAX_CONNECTIONS$/m);
});

test('check-config prints the effective configuration with secrets redacted', async () => {
  const r = await runCli(['check-config', '--json'], { TARGET_FQDNS: 'x.example', COLLECT_TOKEN: 'hunter2hunter2' });
  assert.equal(r.code, 0, r.stderr);
  const cfg = JSON.parse(r.stdout);
  assert.equal(cfg.env.COLLECT_TOKEN, '<redacted>');
  assert.equal(cfg.targets[0].name, 'x.example');
  assert.ok(!r.stdout.includes('hunter2'));
});

test('Redis Sentinel settings: a name is required, not with REDIS_URL, each Sentinel host:port; the endpoint carries auth and TLS', async () => {
  const { redisEndpoint } = await import('../../src/cluster/redis-connection.js');
  assert.deepEqual(problems({ ...base, COLLECT_TOKEN: 'ct', REDIS_SENTINELS: 's1:26379' }), ['REDIS_SENTINEL_NAME: required with REDIS_SENTINELS: the name the Sentinels monitor the primary under (`sentinel monitor <name> ...`)']);
  assert.match(problems({ ...base, COLLECT_TOKEN: 'ct', REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'm', REDIS_URL: 'redis://r:6379' }).join('\n'), /^REDIS_SENTINELS: set either REDIS_URL .* not both$/m);
  assert.deepEqual(problems({ ...base, COLLECT_TOKEN: 'ct', REDIS_SENTINELS: 's1:26379,s2,[::1]:99999', REDIS_SENTINEL_NAME: 'm' }), [
    'REDIS_SENTINELS: "s2" is not host:port (e.g. sentinel-1:26379,sentinel-2:26379,sentinel-3:26379)',
    'REDIS_SENTINELS: "[::1]:99999" is not host:port (e.g. sentinel-1:26379,sentinel-2:26379,sentinel-3:26379)',
  ]);
  assert.match(problems({ ...base, COLLECT_TOKEN: 'ct', REDIS_URL: 'redis://r:6379', REDIS_PASSWORD: 'x' }).join('\n'), /put the credentials in the URL/);
  assert.deepEqual(problems({ ...base, REDIS_URL: 'redis://r:6379' }), [
    'COLLECT_TOKEN: required in cluster mode (REDIS_URL or REDIS_SENTINELS): one token for every replica, so POST /collect and /-/reload work through any of them; generate one with `openssl rand -hex 32`',
  ]);
  const cfg = loadConfig({ ...base, COLLECT_TOKEN: 'ct', REDIS_SENTINELS: 's1:26379, [fd00::2]:26380', REDIS_SENTINEL_NAME: 'telemetry', REDIS_PASSWORD: 'pw', REDIS_SENTINEL_PASSWORD: 'spw', REDIS_TLS: 'true' });
  assert.deepEqual(redisEndpoint(cfg.env), {
    kind: 'sentinel',
    sentinels: [{ host: 's1', port: 26379 }, { host: 'fd00::2', port: 26380 }],
    name: 'telemetry',
    username: undefined,
    password: 'pw',
    sentinelUsername: undefined,
    sentinelPassword: 'spw',
    tls: {},
  });
  // Secrets stay out of check-config.
  const shown = JSON.stringify(redactedConfig(cfg));
  assert.ok(!shown.includes('"pw"') && !shown.includes('spw'), shown);
});

test('thresholds: global defaults from THRESHOLD_*, the file defaults, then the target; null turns one off; bad values are named', () => {
  const p = file(`defaults:
  thresholds: { rtt_ms: 80, hysteresis_slots: 2 }
targets:
  - host: a.example
    probes: [icmp]
  - host: b.example
    probes: [icmp, http]
    thresholds: { loss_pct: 25, rtt_ms: null, cert_days: 30 }
`);
  const { targets } = loadConfig({ TARGETS_FILE: p, THRESHOLD_JITTER_MS: '4' });
  const [a, b] = targets;
  assert.deepEqual(a!.thresholds, { limits: { loss_pct: 5, rtt_ms: 80, jitter_ms: 4 }, hysteresisSlots: 2 }, 'probes it does not run have no threshold');
  assert.deepEqual(b!.thresholds.limits, { loss_pct: 25, rtt_ms: null, jitter_ms: 4, http_total_ms: null, cert_days: 30 });
  assert.equal(loadConfig({ TARGET_FQDNS: 'c.example', THRESHOLD_LOSS_PCT: 'off' }).targets[0]!.thresholds.limits.loss_pct, null);

  const bad = file(`targets:
  - host: a.example
    thresholds: { loss: 5, rtt_ms: -1 }
`);
  const text = problems({ TARGETS_FILE: bad }).join('\n');
  assert.match(text, new RegExp(`${bad}:3: targets\\[0\\]\\.thresholds\\.loss: `), text);
  assert.match(text, /targets\[0\]\.thresholds\.rtt_ms: must be at least 0/, text);
  assert.match(text, /thresholds\.loss: unknown key "loss": did you mean "loss_pct"\?/, text);
  assert.match(problems({ ...base, THRESHOLD_RTT_MS: 'fast' }).join('\n'), /THRESHOLD_RTT_MS/);
});
