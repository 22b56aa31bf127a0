import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterRounds, startDaemon, type Daemon } from '../helpers/daemon.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { startHttpServer, waitFor } from '../helpers/net.js';

/**
 * Blackbox-style per-target series on /metrics, from a
 * live daemon probing real things: an HTTP server and a TCP port on loopback,
 * dnsmasq, and 127.0.0.1 with fping and mtr. Each series is asserted with its
 * labels; the exposition goes through promtool; a target removed by a reload
 * (SIGHUP after editing TARGETS_FILE, then POST /-/reload) loses every series,
 * also when its probe was in flight during the reload; PER_TARGET_METRICS=false
 * leaves them out. The series count per target is printed for docs/schema.md.
 *
 * Broken once each to see it fail: TargetStatusBoard.setTargets without
 * forgetTarget -> "web's series after the reload"; record() of a result for a
 * target the reload removed -> "slow came back"; PER_TARGET_METRICS ignored ->
 * "with PER_TARGET_METRICS=false".
 */

const INTERVAL_S = 3;
const TOKEN = 'per-target-token-0123456789';
/** The per-target families: the blackbox-style ones and the rtt/loss gauges. */
const FAMILIES = ['telemetry_probe_success', 'telemetry_probe_last_duration_seconds', 'telemetry_http_phase_seconds', 'telemetry_dns_query_seconds', 'telemetry_tcp_connect_seconds', 'telemetry_route_hops', 'telemetry_icmp_rtt_avg_seconds', 'telemetry_icmp_loss_ratio'];
const PER_TARGET_LINE = new RegExp(`^(${FAMILIES.join('|')})\\{(.*)\\} (\\S+)$`);

interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function perTargetSeries(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    const m = PER_TARGET_LINE.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const of = (all: Series[], target: string) => all.filter((s) => s.labels.target === target);

/** promtool's verdict: parse errors and lint problems. */
function promtool(text: string): { rc: number; problems: string[] } {
  const out = execFileSync('sh', ['-c', 'promtool check metrics 2>&1; echo rc=$?'], { input: text }).toString();
  const lines = out.split('\n').filter(Boolean);
  const rc = Number(lines.pop()!.slice(3));
  return { rc, problems: lines };
}

function targetsYaml(o: { web: string; slow: string; tcpPort: number; dns: string }, names: string[]): string {
  const all: Record<string, string> = {
    web: `  - name: web\n    http: { url: "${o.web}" }\n`,
    slow: `  - name: slow\n    http: { url: "${o.slow}" }\n`,
    port: `  - name: port\n    host: 127.0.0.1\n    probes: [tcp]\n    tcp: { port: ${o.tcpPort} }\n`,
    resolver: `  - name: resolver\n    host: probe.test\n    probes: [dns]\n    dns: { server: "${o.dns}", record: A }\n`,
    loop: `  - name: loop\n    host: 127.0.0.1\n    probes: [icmp, trace]\n`,
  };
  return `defaults: { interval: ${INTERVAL_S} }\ntargets:\n${names.map((n) => all[n]).join('')}`;
}

test('per-target series from a live daemon: every family with its labels, promtool-clean, gone after a reload removes the target, off with PER_TARGET_METRICS=false', { timeout: 300_000 }, async (t) => {
  // The slow target's answers are held by the test: its probe is in flight when the test says so.
  let holdSlow = false;
  const held = new Set<ServerResponse>();
  const web = await startHttpServer((req, res) => {
    if (req.url === '/slow' && holdSlow) {
      held.add(res);
      return;
    }
    res.end('ok');
  });
  const dns = await startDnsmasq({ 'probe.test': '127.0.0.1' });
  const dir = mkdtempSync(join(tmpdir(), 'nt-per-target-'));
  const file = join(dir, 'targets.yaml');
  const o = { web: `${web.url}/web`, slow: `${web.url}/slow`, tcpPort: web.port, dns: dns.server };
  writeFileSync(file, targetsYaml(o, ['web', 'slow', 'port', 'resolver', 'loop']));
  const daemons: Daemon[] = [];
  const metrics = async (d: Daemon) => (await d.get('/metrics')).text();
  try {
    const d = await startDaemon({ TARGETS_FILE: file, COLLECTION_INTERVAL: String(INTERVAL_S), COLLECT_TOKEN: TOKEN });
    daemons.push(d);
    const want: [string, string][] = [
      ['web', 'http'],
      ['slow', 'http'],
      ['port', 'tcp'],
      ['resolver', 'dns'],
      ['loop', 'icmp'],
      ['loop', 'trace'],
    ];
    let all: Series[] = [];
    await waitFor(
      async () => {
        all = perTargetSeries(await metrics(d));
        // A success of each (a first run may time out while the machine is busy; a probe that never succeeds times this out).
        return want.every(([target, probe]) => all.some((s) => s.name === 'telemetry_probe_success' && s.labels.target === target && s.labels.probe === probe && s.value === 1)) && all.some((s) => s.name === 'telemetry_route_hops');
      },
      'a successful result of every probe of every target on /metrics',
      60_000,
      250,
    );
    const text = await metrics(d);
    all = perTargetSeries(text);

    for (const [target, probe] of want) {
      const success = all.find((s) => s.name === 'telemetry_probe_success' && s.labels.target === target && s.labels.probe === probe);
      assert.equal(success?.value, 1, `${target} ${probe}: telemetry_probe_success 1 (${JSON.stringify(success)})`);
      const duration = all.find((s) => s.name === 'telemetry_probe_last_duration_seconds' && s.labels.target === target && s.labels.probe === probe);
      assert.ok(duration && duration.value > 0 && duration.value < INTERVAL_S, `${target} ${probe}: last duration ${JSON.stringify(duration)}`);
    }
    const phases = of(all, 'web').filter((s) => s.name === 'telemetry_http_phase_seconds');
    assert.ok(phases.every((s) => ['dns', 'connect', 'tls', 'ttfb', 'transfer', 'total'].includes(s.labels.phase!)), JSON.stringify(phases));
    for (const p of ['ttfb', 'total']) assert.ok(phases.some((s) => s.labels.phase === p && s.value > 0), `web: phase ${p}`);
    assert.equal(phases.find((s) => s.labels.phase === 'tls'), undefined, 'no tls phase for plain http');
    const one = (name: string, target: string) => {
      const s = all.filter((x) => x.name === name && x.labels.target === target);
      assert.equal(s.length, 1, `${name}{target="${target}"}: ${JSON.stringify(s)}`);
      assert.deepEqual(Object.keys(s[0]!.labels), ['target'], `${name}: only the target label`);
      return s[0]!.value;
    };
    assert.ok(one('telemetry_dns_query_seconds', 'resolver') > 0);
    assert.ok(one('telemetry_tcp_connect_seconds', 'port') > 0);
    assert.equal(one('telemetry_route_hops', 'loop'), 1, '127.0.0.1 is one hop away');
    const rtt = one('telemetry_icmp_rtt_avg_seconds', 'loop');
    assert.ok(rtt > 0 && rtt < 0.05, `loopback rtt in seconds: ${rtt}`);
    assert.equal(one('telemetry_icmp_loss_ratio', 'loop'), 0);
    // A series belongs to the probes its target runs: no dns series for the tcp target, and so on.
    assert.deepEqual([...new Set(of(all, 'port').map((s) => s.name))].sort(), ['telemetry_probe_last_duration_seconds', 'telemetry_probe_success', 'telemetry_tcp_connect_seconds']);

    const verdict = promtool(text);
    assert.deepEqual(verdict.problems, [], `promtool check metrics (rc ${verdict.rc})`);

    const counts = ['web', 'port', 'resolver', 'loop'].map((x) => `${x} (${[...new Set(of(all, x).flatMap((s) => (s.labels.probe ? [s.labels.probe] : [])))].join('+')}): ${of(all, x).length}`);
    t.diagnostic(`series per target: ${counts.join('; ')}`);

    // 1. SIGHUP after editing the file: web goes, and slow goes while its probe is in flight.
    holdSlow = true;
    await waitFor(() => held.size > 0, "slow's probe in flight (the server holds its answer)", 30_000, 20);
    writeFileSync(file, targetsYaml(o, ['port', 'resolver', 'loop']));
    d.proc.kill('SIGHUP');
    await waitFor(() => d.logs.some((l) => l.msg === 'configuration reloaded' && l.trigger === 'SIGHUP'), 'the SIGHUP reload', 15_000, 50);
    const afterHup = perTargetSeries(await metrics(d));
    assert.deepEqual(of(afterHup, 'web'), [], "web's series after the reload");
    // Now let slow's probe finish: its result must not bring its series back.
    holdSlow = false;
    for (const r of held) r.end('late');
    held.clear();
    await afterRounds(d, 2, INTERVAL_S, "two rounds after slow's probe ended");
    const later = perTargetSeries(await metrics(d));
    assert.deepEqual(of(later, 'slow'), [], 'slow came back after its in-flight probe ended');
    assert.deepEqual(of(later, 'web'), []);
    assert.ok(of(later, 'loop').length > 0 && of(later, 'port').length > 0, 'the targets kept keep their series');

    // 2. POST /-/reload with the token: loop goes (icmp, trace, rtt, loss, hops).
    writeFileSync(file, targetsYaml(o, ['port', 'resolver']));
    const r = await d.get('/-/reload', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200, await r.clone().text());
    assert.deepEqual(((await r.json()) as { removed: string[] }).removed, ['loop']);
    await afterRounds(d, 2, INTERVAL_S, 'two rounds after POST /-/reload');
    const afterPost = perTargetSeries(await metrics(d));
    assert.deepEqual(of(afterPost, 'loop'), [], "loop's series after POST /-/reload");
    assert.deepEqual([...new Set(afterPost.map((s) => s.labels.target))].sort(), ['port', 'resolver']);

    // 3. PER_TARGET_METRICS=false: probes run, no per-target series.
    writeFileSync(file, targetsYaml(o, ['web', 'port', 'resolver', 'loop']));
    const off = await startDaemon({ TARGETS_FILE: file, COLLECTION_INTERVAL: String(INTERVAL_S), PER_TARGET_METRICS: 'false' });
    daemons.push(off);
    let offText = '';
    await waitFor(
      async () => {
        offText = await metrics(off);
        return ['http', 'tcp', 'dns', 'icmp', 'trace'].every((p) => new RegExp(`^telemetry_probes_total\\{probe="${p}",result="success"\\} [1-9]`, 'm').test(offText));
      },
      'every probe kind ran on the daemon with PER_TARGET_METRICS=false',
      60_000,
      250,
    );
    const offSeries = perTargetSeries(offText);
    const blackbox = offSeries.filter((s) => !['telemetry_icmp_rtt_avg_seconds', 'telemetry_icmp_loss_ratio'].includes(s.name));
    assert.deepEqual(blackbox, [], 'with PER_TARGET_METRICS=false');
    t.diagnostic(`PER_TARGET_METRICS=false: ${offSeries.length} per-target series left (rtt/loss: ${offSeries.map((s) => s.name).join(', ') || 'none'})`);
    assert.deepEqual(promtool(offText).problems, []);
  } finally {
    for (const r of held) r.destroy();
    await Promise.all(daemons.map((d) => d.cleanup()));
    await web.close();
    await dns.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

