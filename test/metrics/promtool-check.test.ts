import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from '../../scripts/lib/services.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { freePort, makeCert, startHttpServer, startHttpsServer, waitFor } from '../helpers/net.js';
import { Namespaces } from '../helpers/netns.js';

/**
 * `/metrics` passes `promtool check metrics` (the checker Prometheus users
 * run: parse errors, and lint problems such as `_ms` names, counters without
 * `_total`, families without HELP) in the configurations that bring the most
 * series out, side by side:
 *
 * - a standalone daemon with every probe kind, each against a target that
 *   answers and one that fails (refused HTTP and TCP, NXDOMAIN, an address in
 *   a namespace of the test that drops every packet: 100 % ICMP loss and a
 *   trace that never arrives), HTTPS with its TLS phase, an InfluxDB
 *   endpoint that is down (write errors, pending points), the circuit
 *   breaker of the dead web server open, and geolocation over HTTP;
 * - a cluster replica (Redis) with the same targets, remote write to a dead
 *   endpoint and geolocation (slot claims, Redis and geo series).
 *
 * Broken once to see it fail: a per-target gauge renamed back to
 * `telemetry_rtt_avg_ms` -> "metric names should not contain abbreviated
 * units"; a HELP text emptied -> "no help text".
 */

const INTERVAL_S = 3;
const TOKEN = 'promtool-check-token-0123456789';

function promtool(text: string): { rc: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { rc: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** Sample lines `name{labels} value` of one family (no HELP/TYPE). */
function series(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

test('/metrics is promtool-clean: every probe kind, failing targets, a dead database endpoint, and a cluster replica', { timeout: 300_000 }, async (t) => {
  const ns = new Namespaces();
  const cert = makeCert();
  const web = await startHttpServer((_req, res) => res.end('ok'));
  const tls = await startHttpsServer((_req, res) => res.end('ok'), cert);
  const dns = await startDnsmasq({ 'probe.test': '127.0.0.1' });
  const redis = await Redis.start();
  const dir = mkdtempSync(join(tmpdir(), 'nt-promtool-'));
  const daemons: Daemon[] = [];
  try {
    // 10.x.y.2 lives in a namespace that drops everything: echoes and traces go out and nothing comes back.
    // fping waits up to 2 s for the last reply: its target gets the longest timeout the interval allows,
    // and a count of its own, so it is not in loop's fping batch (a batch ends with its slowest address).
    const sink = ns.add('sink');
    const net = `10.${(process.pid % 200) + 20}.${Math.floor(Math.random() * 250)}`;
    ns.link(null, `${net}.1/30`, sink, `${net}.2/30`);
    ns.nft(sink, 'table inet drop_all {\n chain input { type filter hook input priority 0; policy drop; }\n}\n');
    const closed = await freePort();
    const file = join(dir, 'targets.yaml');
    writeFileSync(
      file,
      [
        `defaults: { interval: ${INTERVAL_S} }`,
        'targets:',
        `  - { name: web, http: { url: "${web.url}/" } }`,
        `  - { name: web-tls, http: { url: "${tls.url}/", insecure_tls: true, reuse_connection: false } }`,
        `  - { name: web-down, http: { url: "http://127.0.0.1:${closed}/" } }`,
        `  - { name: port, host: 127.0.0.1, probes: [tcp], tcp: { port: ${web.port} } }`,
        `  - { name: port-closed, host: 127.0.0.1, probes: [tcp], tcp: { port: ${closed} } }`,
        `  - { name: resolver, host: probe.test, probes: [dns], dns: { server: "${dns.server}", record: A } }`,
        `  - { name: nxdomain, host: absent.test, probes: [dns], dns: { server: "${dns.server}", record: A } }`,
        '  - { name: loop, host: 127.0.0.1, probes: [icmp, trace] }',
        `  - { name: black-hole, host: ${net}.2, probes: [icmp, trace], timeout: 2.9, icmp: { count: 2 }, trace: { max_hops: 3, cycles: 1 } }`,
        '',
      ].join('\n'),
    );
    const common = { TARGETS_FILE: file, COLLECTION_INTERVAL: String(INTERVAL_S), COLLECT_TOKEN: TOKEN, ICMP_COUNT: '3', CIRCUIT_FAILURE_THRESHOLD: '2' };
    // Each daemon goes into `daemons` as soon as it runs, so a failed start of the other still cleans it up.
    const started = (d: Daemon) => (daemons.push(d), d);
    const [standalone, replica] = await Promise.all([
      startDaemon({ ...common, INFLUXDB_URL: `http://127.0.0.1:${closed}`, INFLUXDB_TOKEN: 't', INFLUXDB_ORG: 'o', INFLUXDB_BUCKET: 'b', GEO: 'http', GEO_HTTP_URL: `http://127.0.0.1:${closed}/json/` }).then(started),
      startDaemon({
        ...common,
        REDIS_URL: redis.url,
        REDIS_KEY_PREFIX: `promtool-${process.pid}:`,
        CLUSTER_HEARTBEAT_INTERVAL: '0.5',
        REMOTE_WRITE_URL: `http://127.0.0.1:${closed}/api/v1/write`,
        GEO: 'http',
        GEO_HTTP_URL: `http://127.0.0.1:${closed}/json/`,
      }).then(started),
    ]);

    const startLine = standalone.logs.find((l) => String(l.msg).startsWith('network-telemetry started'));
    assert.match(String(startLine?.msg), /, 9 target\(s\) from TARGETS_FILE \(the default targets are off\), /, 'the start line says where the targets came from');

    const runs: [string, string][] = [
      ['web', 'http'], ['web-tls', 'http'], ['web-down', 'http'],
      ['port', 'tcp'], ['port-closed', 'tcp'],
      ['resolver', 'dns'], ['nxdomain', 'dns'],
      ['loop', 'icmp'], ['loop', 'trace'], ['black-hole', 'icmp'], ['black-hole', 'trace'],
    ];
    /** What is not on /metrics yet. */
    const missing = (text: string, extra: string[]) => [
      ...runs.filter(([target, probe]) => !text.includes(`telemetry_probe_success{target="${target}",probe="${probe}"}`)).map((r) => r.join(' ')),
      ...(text.includes('telemetry_circuit_breaker_state{host="http://127.0.0.1:') ? [] : ['a circuit breaker']),
      ...(text.includes('telemetry_icmp_loss_ratio{target="black-hole"}') ? [] : ['the loss of black-hole (its echoes went out, none came back)']),
      ...extra.filter((family) => series(text, family).length === 0),
    ];
    const texts = await Promise.all(
      [
        { d: standalone, extra: ['telemetry_write_errors_total', 'telemetry_outbox_pending_points'] },
        { d: replica, extra: ['telemetry_slot_claims_total', 'telemetry_write_errors_total', 'telemetry_geo_lookups_total'] },
      ].map(async ({ d, extra }) => {
        let text = '';
        let left: string[] = [];
        await waitFor(
          async () => {
            text = await (await d.get('/metrics')).text();
            left = missing(text, extra);
            return left.length === 0;
          },
          `every probe of every target, and ${extra.join(', ')}, on /metrics`,
          60_000,
          200,
        ).catch((err: Error) => {
          throw new Error(`${err.message}; missing: ${left.join(', ')}`);
        });
        return text;
      }),
    );

    for (const [i, text] of texts.entries()) {
      const which = i === 0 ? 'standalone daemon' : 'cluster replica';
      // The failures are there (a check of only happy series would prove little).
      assert.match(text, /^telemetry_probe_success\{target="web-down",probe="http"\} 0$/m, which);
      assert.match(text, /^telemetry_probe_success\{target="black-hole",probe="icmp"\} 0$/m, which);
      assert.match(text, /^telemetry_icmp_loss_ratio\{target="black-hole"\} 1$/m, `${which}: 100 % loss is ratio 1`);
      assert.deepEqual(series(text, 'telemetry_icmp_rtt_avg_seconds').filter((l) => l.includes('black-hole')), [], `${which}: no rtt without a reply`);
      const rtt = Number(/^telemetry_icmp_rtt_avg_seconds\{target="loop"\} (\S+)$/m.exec(text)?.[1]);
      assert.ok(rtt > 0 && rtt < 0.05, `${which}: loopback rtt in seconds (${rtt})`);
      assert.match(text, /^telemetry_http_phase_seconds\{target="web-tls",phase="tls"\} /m, `${which}: the TLS phase`);
      const verdict = promtool(text);
      t.diagnostic(`${which}: ${text.split('\n').filter((l) => l && !l.startsWith('#')).length} series, promtool rc ${verdict.rc}`);
      assert.deepEqual({ rc: verdict.rc, out: verdict.out }, { rc: 0, out: '' }, `promtool check metrics on the ${which}`);
    }
    assert.match(texts[1]!, /^telemetry_redis_connected 1$/m, 'the replica is in cluster mode');
    assert.match(texts[0]!, /^telemetry_geo_rate_limit_per_second\{scope="process"\} 0\.75$/m, 'GEO_HTTP_RATE_PER_MINUTE 45 is 0.75 per second');
  } finally {
    await Promise.all(daemons.map((d) => d.cleanup()));
    await web.close();
    await tls.close();
    await dns.stop();
    await redis.cleanup();
    cert.cleanup();
    ns.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
