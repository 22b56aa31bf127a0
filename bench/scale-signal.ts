/**
 * npm run scale-signal [-- --targets=120] [-- --delay-ms=200] [-- --slots=10] [-- --interval=10] [-- --rounds=6] [-- --no-build] [-- --render]
 *
 * Is the HPA metric proportional to the load per replica? The same targets
 * on 1, 2 and 4 replicas (real daemons, node dist/cli.js, sharing a real
 * Redis), one cluster after the other: each replica's
 * telemetry_collection_duration_seconds is read from its /metrics once per
 * interval for --rounds intervals after the membership settled, and its
 * median kept. With the targets shared out evenly the per-replica figure
 * should be the 1-replica figure divided by the replicas (docs/sizing.md,
 * "The scaling signal"); the table gives each replica's figure, their mean
 * times the replicas against the 1-replica figure, and the old wall-clock
 * figure (telemetry_round_longest_target_seconds) beside it, which does not
 * scale.
 *
 * The load: http targets whose server answers after --delay-ms, so each run
 * holds a MAX_CONCURRENT_TARGETS slot for that long. Writes
 * bench/results/scale-signal.json and prints the docs/benchmarks.md section.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, Redis, until } from '../scripts/lib/services.js';
import { StatefulSet } from './scale-sim/statefulset.js';

export interface SignalRow {
  replicas: number;
  /** Median per replica, seconds, by ordinal. */
  perReplica: number[];
  /** Mean per replica x replicas: the cluster's load, comparable with the 1-replica figure. */
  clusterLoadS: number;
  /** Mean per replica divided by (1-replica figure / replicas): 1 is exact proportion. */
  ratioToProportional: number;
  /** The wall-clock figure (slowest target of the round), median per replica. */
  longestTarget: number[];
  /** Targets each replica ran in its last round (the share). */
  targetsRun: number[];
}

export interface SignalResult {
  date: string;
  targets: number;
  delayMs: number;
  slots: number;
  intervalS: number;
  rounds: number;
  loadAverage: [number, number];
  rows: SignalRow[];
}

const gauge = (text: string, name: string): number | undefined => {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
const r3 = (x: number) => Math.round(x * 1000) / 1000;

export async function scaleSignal(o: { targets: number; delayMs: number; slots: number; intervalS: number; rounds: number; log?: (m: string) => void }): Promise<SignalResult> {
  const log = o.log ?? ((m: string) => console.error(`[scale-signal ${new Date().toISOString().slice(11, 19)}] ${m}`));
  const dir = mkdtempSync(join(tmpdir(), 'nt-scale-signal-'));
  const redis = await Redis.start();
  const web = createServer((_req, res) => void setTimeout(() => res.end('ok'), o.delayMs));
  web.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', 10_000, r));
  const webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
  const targetsFile = join(dir, 'targets.yaml');
  writeFileSync(targetsFile, `defaults: { interval: ${o.intervalS} }\ntargets:\n${Array.from({ length: o.targets }, (_, i) => `  - http: { url: "${webUrl}/t/${i}" }\n`).join('')}`);
  const load0 = loadavg()[0]!;
  const rows: SignalRow[] = [];
  try {
    for (const n of [1, 2, 4]) {
      const sts = new StatefulSet({
        name: 'network-telemetry',
        namespace: 'signal',
        dir: join(dir, `r${n}`),
        sdFile: join(dir, `r${n}.json`),
        preStopMs: 0,
        gracePeriodMs: 10_000,
        entry: ['dist/cli.js'],
        env: {
          TARGETS_FILE: targetsFile,
          COLLECTION_INTERVAL: String(o.intervalS),
          SOURCE_NAME: 'scale-signal',
          REDIS_URL: redis.url,
          COLLECT_TOKEN: `scale-signal-token-${process.pid}`,
          REDIS_KEY_PREFIX: `scale-signal-${process.pid}-${n}:`,
          CLUSTER_HEARTBEAT_INTERVAL: '0.5',
          CLUSTER_MEMBER_TTL: '2',
          MAX_CONCURRENT_TARGETS: String(o.slots),
          EMBEDDED_STORE: 'true',
          LOG_LEVEL: 'warn',
          LOG_FORMAT: 'json',
          MALLOC_ARENA_MAX: '2',
        },
      });
      await sts.start();
      try {
        await sts.scale(n);
        await until(() => sts.live().length === n && sts.live().every((p) => p.readyAt !== undefined), `${n} replicas ready`, 180_000, 200);
        // Membership settled: every replica sees n members; then two rounds for the shares to take effect.
        await until(
          async () => {
            const views = await Promise.all(sts.live().map(async (p) => ((await (await fetch(`${p.url}/api/cluster`)).json()) as { peers?: unknown[] }).peers?.length ?? 0));
            return views.every((v) => v === n);
          },
          `every replica sees ${n} members`,
          60_000,
          250,
        );
        await new Promise((r) => setTimeout(r, 2 * o.intervalS * 1000));
        log(`${n} replica(s): sampling ${o.rounds} intervals`);
        const load: number[][] = sts.live().map(() => []);
        const longest: number[][] = sts.live().map(() => []);
        const ran: number[] = sts.live().map(() => 0);
        for (let k = 0; k < o.rounds; k++) {
          await new Promise((r) => setTimeout(r, o.intervalS * 1000));
          await Promise.all(
            sts.live().map(async (p, i) => {
              const text = await (await fetch(`${p.url}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
              const v = gauge(text, 'telemetry_collection_duration_seconds');
              const w = gauge(text, 'telemetry_round_longest_target_seconds');
              if (v !== undefined) load[i]!.push(v);
              if (w !== undefined) longest[i]!.push(w);
              const c = (await (await fetch(`${p.url}/api/cluster`)).json()) as { owned_targets?: string[] };
              ran[i] = c.owned_targets?.length ?? ran[i]!;
            }),
          );
        }
        const per = load.map(median);
        const mean = per.reduce((a, x) => a + x, 0) / per.length;
        const one = rows[0]?.perReplica[0] ?? mean;
        rows.push({
          replicas: n,
          perReplica: per.map(r3),
          clusterLoadS: r3(mean * n),
          ratioToProportional: r3(mean / (one / n)),
          longestTarget: longest.map(median).map(r3),
          targetsRun: ran,
        });
        log(`${n} replica(s): ${JSON.stringify(rows.at(-1))}`);
      } finally {
        await sts.close();
      }
    }
  } finally {
    await redis.cleanup();
    await new Promise<void>((r) => web.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
  return { date: new Date().toISOString(), targets: o.targets, delayMs: o.delayMs, slots: o.slots, intervalS: o.intervalS, rounds: o.rounds, loadAverage: [r3(load0), r3(loadavg()[0]!)], rows };
}

export function renderSignal(s: SignalResult): string {
  const one = s.rows[0]!.perReplica[0]!;
  return `## Scaling signal

\`npm run scale-signal\` on ${s.date.slice(0, 10)} (machine load average ${s.loadAverage[0]} at the start, ${s.loadAverage[1]} at the end: the 2 cores are shared by other work):
the same ${s.targets} http targets (each answering after ${s.delayMs} ms, so a run holds a slot that long), ${s.intervalS} s interval,
MAX_CONCURRENT_TARGETS=${s.slots}, on 1, 2 and 4 real replicas sharing Redis; \`telemetry_collection_duration_seconds\` read from each
replica's /metrics once per interval for ${s.rounds} intervals, median per replica. Expected on one replica:
${s.targets} × ${s.delayMs / 1000} s / ${s.slots} = ${r3((s.targets * s.delayMs) / 1000 / s.slots)} s.

| replicas | per replica (s) | targets per replica | figure per target run (ms) | mean per replica ÷ (1-replica figure ÷ replicas) | cluster load (mean × replicas, s) | slowest target of the round (s, the old figure) |
|---|---|---|---|---|---|---|
${s.rows.map((r) => `| ${r.replicas} | ${r.perReplica.join(', ')} | ${r.targetsRun.join(', ')} | ${r.perReplica.map((v, i) => Math.round((v / r.targetsRun[i]!) * 1e4) / 10).join(', ')} | **${r.ratioToProportional}** | ${r.clusterLoadS} (1 replica: ${one}) | ${r.longestTarget.join(', ')} |`).join('\n')}

The shares are uneven (rendezvous hashing of ${s.targets} names): each replica's figure follows its own share, at the same
cost per target; the mean over the replicas follows the targets per replica. The figures are above the nominal
${r3((s.targets * s.delayMs) / 1000 / s.slots)} s because a run holds its slot for the delay plus the daemon's own time,
which a loaded machine stretches; the ratio is what the HPA acts on.
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // --render: the section again from bench/results/scale-signal.json.
  if (process.argv.includes('--render')) {
    console.log(renderSignal(JSON.parse(readFileSync(join(REPO, 'bench/results/scale-signal.json'), 'utf8')) as SignalResult));
    process.exit(0);
  }
  const arg = (n: string, d: number) => Number(process.argv.find((a) => a.startsWith(`--${n}=`))?.split('=')[1] ?? d);
  if (!process.argv.includes('--no-build')) execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'inherit' });
  const result = await scaleSignal({ targets: arg('targets', 120), delayMs: arg('delay-ms', 200), slots: arg('slots', 10), intervalS: arg('interval', 10), rounds: arg('rounds', 6) });
  mkdirSync(join(REPO, 'bench/results'), { recursive: true });
  writeFileSync(join(REPO, 'bench/results/scale-signal.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(renderSignal(result));
  const off = result.rows.filter((r) => Math.abs(r.ratioToProportional - 1) > 0.2);
  process.exit(off.length ? 1 : 0);
}
