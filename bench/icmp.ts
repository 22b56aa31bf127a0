import { spawn } from 'node:child_process';
import { freePort, Proc, until } from '../scripts/lib/services.js';
import { benchDaemon } from './lib/daemon.js';
import { cpu, mb, paced, peakRss, r3, rss, sleep, treeCpu } from './lib/proc.js';

export interface IcmpRow {
  tool: string;
  echoes: number;
  cpuPer1000: number;
  driverCpuPer1000: number | null;
  rssMb: number | null;
  rttAvgMs: number | null;
}

const addr = (i: number) => `127.4.${Math.floor(i / 250)}.${(i % 250) + 1}`;

/** A peer that fails to start costs its own row only (the message says why), not ours. */
async function peer(name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    console.error(`[bench] icmp: ${name} left out: ${(err as Error).message}`);
  }
}

/** smokeping_prober's reply-time histogram, summed over hosts: sum in SECONDS, count of replies. */
async function smokeRtt(port: number): Promise<{ sum: number; count: number }> {
  const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  let count = 0;
  for (const m of t.matchAll(/^smokeping_response_duration_seconds_sum\{[^}]*\} (\S+)$/gm)) sum += Number(m[1]);
  for (const m of t.matchAll(/^smokeping_response_duration_seconds_count\{[^}]*\} (\S+)$/gm)) count += Number(m[1]);
  return { sum, count };
}

/**
 * fping alone: the floor. Its CPU comes from the shell's `times` (children's
 * user and system time), so nothing else this process reaps is counted.
 */
async function bareFping(hosts: string[], count: number): Promise<{ cpu: number; rss: number; rtt: number }> {
  let out = '';
  let err = '';
  const script = `fping -C ${count} -q -p 200 -i 1 -B 1 -r 0 "$@"; times`;
  await new Promise<void>((resolve) => {
    const p = spawn('bash', ['-c', script, 'fping', ...hosts], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', () => resolve());
  });
  // `times` prints the shell's own times, then its children's: "0m0.041s 0m0.016s".
  const child = out.trim().split('\n').at(-1) ?? '';
  const secs = [...child.matchAll(/(\d+)m([\d.]+)s/g)].reduce((a, m) => a + Number(m[1]) * 60 + Number(m[2]), 0);
  const rtts = err
    .split('\n')
    .flatMap((l) => (l.split(':')[1] ?? '').trim().split(/\s+/))
    .filter((v) => v && v !== '-')
    .map(Number);
  return { cpu: secs, rss: 0, rtt: rtts.reduce((a, b) => a + b, 0) / rtts.length };
}

/**
 * 1,000 loopback targets, 5 echo requests each per round: us, bare fping,
 * smokeping_prober (continuous, 1 s) and blackbox_exporter's icmp prober
 * (one echo per /probe call, driven from here).
 */
export async function benchIcmp(o: { targets: number; rounds: number }): Promise<IcmpRow[]> {
  const hosts = Array.from({ length: o.targets }, (_, i) => addr(i));
  const rows: IcmpRow[] = [];
  const count = 5;

  // Bare fping, one process for all: the floor.
  const rounds: { cpu: number; rss: number; rtt: number }[] = [];
  for (let i = 0; i < o.rounds; i++) rounds.push(await bareFping(hosts, count));
  const fpingRtt = rounds.reduce((a, r) => a + r.rtt, 0) / rounds.length;
  rows.push({
    tool: 'fping 5.1 (one process, all targets)',
    echoes: o.targets * count * o.rounds,
    cpuPer1000: r3((rounds.reduce((a, r) => a + r.cpu, 0) / (o.targets * count * o.rounds)) * 1000),
    driverCpuPer1000: null,
    rssMb: null,
    rttAvgMs: r3(fpingRtt),
  });

  // network-telemetry: icmp only, BATCH_SIZE 100, 10 s interval.
  const interval = 10;
  // Every target of a round may run at once (the defaults, 50 targets and 100 operations, cannot
  // fit 1,000 one-second probes in a 10 s slot): 10 fping processes per 1,000 targets.
  const d = await benchDaemon({ TARGET_FQDNS: hosts.join(','), DEFAULT_PROBES: 'icmp', COLLECTION_INTERVAL: String(interval), BATCH_SIZE: '100', MAX_CONCURRENT_TARGETS: String(Math.max(100, o.targets)), MAX_CONCURRENT_OPERATIONS: String(Math.max(100, o.targets)), ICMP_COUNT: String(count) });
  try {
    // Measure whole slots: from a slot boundary (plus the first slot, skipped) to o.rounds slots later.
    const slotMs = interval * 1000;
    await sleep(slotMs - (Date.now() % slotMs) + slotMs);
    const from = Date.now() - (Date.now() % slotMs);
    const c0 = treeCpu(d.proc.pid!);
    await sleep(interval * o.rounds * 1000);
    const c1 = treeCpu(d.proc.pid!);
    const pts = await d.json<{ points: { fields: { rtt_avg_ms?: number; sent?: number } }[] }>(`/api/points?measurement=ping&since=${new Date(from).toISOString()}&until=${new Date(from + o.rounds * slotMs).toISOString()}&limit=10000`);
    const rtts = pts.points.map((p) => p.fields.rtt_avg_ms).filter((x): x is number => x !== undefined);
    // Echo requests actually sent (from the points), not assumed: a skipped slot must not flatter us.
    const sent = pts.points.reduce((a, p) => a + (p.fields.sent ?? 0), 0);
    if (sent < o.targets * count * o.rounds) console.error(`[bench] icmp: only ${sent} of ${o.targets * count * o.rounds} echo requests were sent (skipped slots?)`);
    rows.push({
      tool: 'network-telemetry (BATCH_SIZE=100)',
      echoes: sent,
      cpuPer1000: r3(((c1.total - c0.total) / Math.max(1, sent)) * 1000),
      driverCpuPer1000: null,
      rssMb: mb(peakRss(d.proc.pid!)),
      rttAvgMs: r3(rtts.reduce((a, b) => a + b, 0) / rtts.length),
    });
  } finally {
    await d.cleanup();
  }

  // smokeping_prober: pings every host every second; count what it sent.
  await peer('smokeping_prober', async () => {
  const sp = await freePort();
  const smoke = new Proc('prometheus-smokeping-prober', ['--privileged', '-i', '1s', `--web.listen-address=127.0.0.1:${sp}`, '--log.level=warn', ...hosts]).start();
  try {
    const sent = async () => {
      const t = await (await fetch(`http://127.0.0.1:${sp}/metrics`)).text();
      let n = 0;
      for (const m of t.matchAll(/^smokeping_requests_total\{[^}]*\} ([\d.e+]+)$/gm)) n += Number(m[1]);
      return n;
    };
    // With 1,000 hosts it can take a while on a busy machine before its first echo.
    await until(async () => (await sent()) > 0, 'smokeping_prober sending', 90_000, 500);
    await sleep(3000);
    const pid = smoke.child!.pid!;
    const n0 = await sent();
    const h0 = await smokeRtt(sp);
    const c0 = cpu(pid);
    await sleep(o.rounds * 5000);
    const c1 = cpu(pid);
    const n1 = await sent();
    const h1 = await smokeRtt(sp);
    // Its histogram is in seconds; the mean over the measured window only, in ms.
    const rttMs = h1.count > h0.count ? ((h1.sum - h0.sum) / (h1.count - h0.count)) * 1000 : null;
    rows.push({
      tool: 'smokeping_prober (1 s interval)',
      echoes: n1 - n0,
      cpuPer1000: r3(((c1.total - c0.total) / (n1 - n0)) * 1000),
      driverCpuPer1000: null,
      rssMb: mb(rss(pid)),
      rttAvgMs: rttMs === null ? null : r3(rttMs),
    });
  } finally {
    await smoke.stop('SIGKILL');
  }
  });

  // blackbox_exporter icmp: one echo request per /probe.
  await peer('blackbox_exporter', async () => {
  const bp = await freePort();
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const cfg = join(mkdtempSync(join(tmpdir(), 'nt-bb-')), 'bb.yml');
  writeFileSync(cfg, 'modules:\n  icmp:\n    prober: icmp\n    timeout: 2s\n');
  const bb = new Proc('prometheus-blackbox-exporter', [`--config.file=${cfg}`, `--web.listen-address=127.0.0.1:${bp}`, '--log.level=warn']).start();
  try {
    await until(async () => (await fetch(`http://127.0.0.1:${bp}/-/healthy`)).ok, 'blackbox_exporter');
    const pid = bb.child!.pid!;
    const durations: number[] = [];
    const probe = async (i: number) => {
      const text = await (await fetch(`http://127.0.0.1:${bp}/probe?module=icmp&target=${hosts[i % hosts.length]}`)).text();
      const m = /^probe_icmp_duration_seconds\{phase="rtt"\} ([\d.e+-]+)/m.exec(text);
      if (m) durations.push(Number(m[1]) * 1000);
    };
    const total = o.targets * count * o.rounds;
    await paced(500, 500, 64, probe);
    durations.length = 0;
    const c0 = cpu(pid);
    const d0 = cpu('self');
    await paced(total, 500, 64, probe);
    const c1 = cpu(pid);
    const d1 = cpu('self');
    rows.push({
      tool: 'blackbox_exporter 0.23 (icmp, 1 echo per /probe)',
      echoes: total,
      cpuPer1000: r3(((c1.total - c0.total) / total) * 1000),
      driverCpuPer1000: r3(((d1.self - d0.self) / total) * 1000),
      rssMb: mb(rss(pid)),
      rttAvgMs: r3(durations.reduce((a, b) => a + b, 0) / Math.max(1, durations.length)),
    });
  } finally {
    await bb.stop('SIGKILL');
  }
  });
  return rows;
}
