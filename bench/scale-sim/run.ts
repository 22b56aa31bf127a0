/**
 * npm run scale-sim [-- --short] [-- --factor=F] [-- --no-outage] [-- --no-build]
 *
 * The full run starts the daemon as shipped (dist/, built first unless
 * --no-build); --short (the form CI runs: test/deploy/scale-sim.test.ts) from
 * the sources compiled once (compile.ts).
 *
 * The autoscaling loop end to end, on this machine: real daemon processes
 * (a StatefulSet of them, statefulset.ts) sharing a real Redis and writing
 * to a real VictoriaMetrics (standing in for InfluxDB), a real Prometheus
 * scraping them, and a controller that runs the Kubernetes HPA algorithm
 * (hpa.ts) on the HorizontalPodAutoscaler of k8s/telemetry-deployment.yaml,
 * reading the custom metric through the prometheus-adapter rule's PromQL
 * (manifest.ts).
 *
 * Time is compressed by --factor (default 10; --short: 20):
 * COLLECTION_INTERVAL, the metric's target, the HPA's sync period, policy
 * periods and stabilization windows, Prometheus' scrape interval, preStop,
 * SHUTDOWN_TIMEOUT and the grace period are all divided by it. The daemon's
 * own fixed costs are not (a Redis round trip, the 1 s heartbeat, a
 * process start), so SHUTDOWN_TIMEOUT keeps a floor of 8 s (the grace period
 * follows) and the scrape interval one of 2 s.
 *
 * The load (scenario()): http targets, each on a loopback address of its
 * own, answering after a sixth of the interval, so a target run holds one
 * of the 6 MAX_CONCURRENT_TARGETS slots that long and the per-replica metric
 * is (targets / replicas) x delay / slots, whatever the factor: 16 targets
 * put 3 replicas at 0.30 of the metric's target (3 held by minReplicas).
 * Quadrupled, they put 3 replicas at 1.19, outside the 10 % tolerance; the
 * HPA proposes ceil(3 x 1.19 x (1 + e)), where e is what the daemons add to
 * each run's nominal slot time (their own work; more on a busy machine):
 * 4 replicas (0.89 of the target) while e < 12 %, 5 (0.71-0.9) up to 39 %.
 * The busiest of 3 replicas (rendezvous hashing gives it up to a quarter
 * more than a third of the 64 targets) runs at 0.75 of the interval before
 * the scale-up: not saturated (no slot skipped) unless e passes a third;
 * with fewer targets the busiest replica's share varies more (15 of 32
 * happened) and it saturates. While new pods start they have no metric and
 * the HPA counts them as 0 (a scale-up's second pass), which gives the same
 * figure as the new count: the slow start of a pod on a loaded machine
 * does not make it add more.
 *
 * Scenario: 3 replicas, N targets; the targets file quadrupled (a reload);
 * the HPA scales up and holds; the database goes down, the targets go back
 * to N, the HPA scales down after its stabilization window (the replicas
 * that leave hand their undelivered points over: src/outbox/handoff.ts);
 * the database comes back. Then every replica stops, and the replicas'
 * stores (every point each collected, with its slot) are read:
 *
 * - missed_slots: (target, slot) pairs no replica collected, over the slots
 *   when the target was configured everywhere; of them, missed_overrun were
 *   skipped by a replica whose previous run of the target was still going
 *   (saturated), missed_unowned were nobody's (ownership moving);
 * - duplicate_slots: pairs collected more than once, and how many of them
 *   were near a membership change (a pod made, ready, deleted or gone
 *   within two intervals);
 * - points_lost: points any replica stored (probe and http) that the
 *   database does not have at the end (removed replicas' included).
 *
 * Writes bench/results/scale-sim.json (or scale-sim-short.json) and
 * docs/img/scale-sim.png (with --short: bench/results/scale-sim-short.png).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStoreFile } from '../../scripts/lib/store-file.js';
import { REPO, Redis, until, Victoria } from '../../scripts/lib/services.js';
import { HpaController, type Decision, type MetricReading } from './hpa.js';
import { compileDaemon } from './compile.js';
import { adapterQuery, readDeployment } from './manifest.js';
import { renderPlot } from './plot.js';
import { SimPrometheus } from './prometheus.js';
import { StatefulSet, type Pod } from './statefulset.js';

export interface SimOptions {
  /** Time compression: every duration of the loop divided by it. */
  factor: number;
  /** Targets before and after the load step. */
  targets: number;
  multiplier: number;
  /** Per-request delay of the target server, ms. */
  delayMs: number;
  /** MAX_CONCURRENT_TARGETS of each replica. */
  slots: number;
  /** Held after convergence, in intervals. */
  holdIntervals: number;
  /** Database down from before the scale-down until the replicas are back at the minimum. */
  outage: boolean;
  /** Run the daemon from dist/ (as shipped, `npm run build`) or compiled once by esbuild (the short form: compile.ts). */
  entry: 'dist' | 'compiled';
  /** Write each pod's JSON log lines there (<pod>.<incarnation>.jsonl), to see why a slot was missed. */
  logsDir?: string;
  log?: (m: string) => void;
}

export interface TimelineRow {
  t: number;
  replicas: number;
  live: number;
  ready: number;
  targets: number;
  metric: number | null;
  memoryUtilization: number | null;
  cpuUtilization: number | null;
  proposed: number;
  desired: number;
  limitedBy?: string;
}

export interface SimSummary {
  date: string;
  command: string;
  factor: number;
  intervalS: number;
  metricTargetS: number;
  targets: [number, number];
  delayMs: number;
  slots: number;
  loadAverage: [number, number];
  replicas_over_time: [number, number][];
  direction_changes: number;
  /** Times the count went above the count the scale-up converged to (and the most it went above). */
  overshoots: number;
  overshoot_peak: number;
  converged: { up?: { replicas: number; atS: number }; down?: { replicas: number; atS: number } };
  /** Scale changes while the load was steady after convergence (oscillation). */
  changes_after_convergence: number;
  missed_slots: number;
  /** Of the missed: skipped by a replica because the target's previous run was still going (a saturated replica), and collected by nobody at all (ownership). */
  missed_overrun: number;
  missed_unowned: number;
  missed_examples: string[];
  duplicate_slots: number;
  duplicate_slots_outside_membership_changes: number;
  expected_slots: number;
  points_stored: number;
  points_lost: number;
  points_handed_over: number;
  replicas_stopped: { pod: string; exitCode: number | null | undefined; graceful: boolean }[];
  timeline: TimelineRow[];
  events: { t: number; what: string }[];
  notes: string[];
}

const NAMESPACE = 'sim';
const STS = 'network-telemetry';

export async function runScaleSim(o: SimOptions): Promise<SimSummary> {
  const log = o.log ?? ((m: string) => console.error(`[scale-sim ${new Date().toISOString().slice(11, 19)}] ${m}`));
  const dep = readDeployment();
  if (dep.statefulSetHasReplicas) throw new Error('the StatefulSet sets spec.replicas: every kubectl apply would reset the HPA\'s count');
  const F = o.factor;
  const intervalS = dep.collectionIntervalS / F;
  const I = intervalS * 1000;
  const targetValue = dep.podsMetric.targetValue / F;
  const syncMs = 15_000 / F;
  // Floor 8 s: a leaving replica hands its targets back within 0.18 of SHUTDOWN_TIMEOUT (the
  // scheduler's share, 0.6, of which 0.3) and needs a heartbeat and 250 ms for it (1.25 s): with
  // less, its targets' next slot falls between its last run and its peers taking them over.
  const shutdownS = Math.max(8, dep.shutdownTimeoutS / F);
  // The grace period: preStop, SHUTDOWN_TIMEOUT, and the manifest's spare time after them (at least 2 s:
  // a Node process exits in a fraction of a second on an idle machine, in more on this shared one).
  const spareS = Math.max(2, (dep.terminationGracePeriodS - dep.preStopSleepS - dep.shutdownTimeoutS) / F);
  const graceMs = (dep.preStopSleepS / F + shutdownS + spareS) * 1000;
  // Floor 3 s: a scrape of a replica on the shared 2 cores can take over a second (the timeout is 90 % of the interval).
  const scrapeS = Math.max(2, 30 / F);
  const hpa = new HpaController({
    ...dep.hpa,
    scaleUp: { ...dep.hpa.scaleUp, stabilizationWindowMs: dep.hpa.scaleUp.stabilizationWindowMs / F, policies: dep.hpa.scaleUp.policies.map((p) => ({ ...p, periodMs: p.periodMs / F })) },
    scaleDown: { ...dep.hpa.scaleDown, stabilizationWindowMs: dep.hpa.scaleDown.stabilizationWindowMs / F, policies: dep.hpa.scaleDown.policies.map((p) => ({ ...p, periodMs: p.periodMs / F })) },
  });
  const notes = [
    `time compressed ${F}x: interval ${intervalS} s, metric target ${targetValue} s, HPA sync ${syncMs / 1000} s, scale-up stabilization ${dep.hpa.scaleUp.stabilizationWindowMs / F / 1000} s, scale-down stabilization ${dep.hpa.scaleDown.stabilizationWindowMs / F / 1000} s, policy periods ${dep.hpa.scaleUp.policies[0]!.periodMs / F / 1000} s, scrape ${scrapeS} s (floor 2 s), preStop ${dep.preStopSleepS / F} s, SHUTDOWN_TIMEOUT ${shutdownS} s (floor 8 s), grace ${graceMs / 1000} s (spare time after SHUTDOWN_TIMEOUT at least 2 s); cluster heartbeat and member TTL at their defaults (1 s, 5 s)`,
    'metrics acted on: the custom metric (through the adapter rule) and memory (resident memory against the request); CPU is shown, not acted on: compressing time multiplies the CPU a replica uses per second by the factor',
  ];
  const dir = mkdtempSync(join(tmpdir(), 'nt-scale-sim-'));
  const t0 = Date.now();
  const events: { t: number; what: string }[] = [];
  const mark = (what: string) => {
    events.push({ t: (Date.now() - t0) / 1000, what });
    log(what);
  };
  const membership: number[] = [];
  // Everything started so far, stopped in reverse order in the end, or as soon as a later start fails.
  const started: (() => unknown)[] = [() => rmSync(dir, { recursive: true, force: true })];
  const stopStarted = async () => {
    for (const stop of started.reverse()) await Promise.resolve(stop()).catch(() => {});
  };
  const start = async <T>(make: () => Promise<T>, stop: (x: T) => unknown): Promise<T> => {
    try {
      const x = await make();
      started.push(() => stop(x));
      return x;
    } catch (err) {
      await stopStarted();
      throw err;
    }
  };
  const compiled = o.entry === 'compiled' ? await start(compileDaemon, (c) => c.cleanup()) : undefined;
  const redis = await start(() => Redis.start(), (r) => r.cleanup());
  const vm = await start(() => Victoria.start(), (v) => v.cleanup());
  const prom = await start(() => SimPrometheus.start(join(dir, 'prometheus'), scrapeS), (p) => p.stop());
  // The targets: each on an address of its own (127.0.1.<i+1>, loopback), as distinct hosts are in
  // production (the circuit breaker and connection reuse are per host), answering after delayMs (a
  // slot held that long).
  const servers = await start(
    () =>
      Promise.all(
        Array.from({ length: o.targets * o.multiplier }, async (_, i) => {
          const server = createServer((_req, res) => void setTimeout(() => res.end('ok'), o.delayMs));
          server.keepAliveTimeout = 60_000;
          await new Promise<void>((r, j) => server.once('error', j).listen(0, `127.0.1.${i + 1}`, 1000, r));
          return server;
        }),
      ),
    (all) =>
      Promise.all(
        all.map(
          (server) =>
            new Promise<void>((r) => {
              server.closeAllConnections();
              server.close(() => r());
            }),
        ),
      ),
  );
  const name = (i: number) => `http://127.0.1.${i + 1}:${(servers[i]!.address() as AddressInfo).port}/t/${i}`;
  const targetsFile = join(dir, 'targets.yaml');
  let configured = 0;
  const writeTargets = (n: number) => {
    configured = n;
    writeFileSync(targetsFile, `defaults: { interval: ${intervalS}, timeout: ${Math.round(intervalS * 900) / 1000} }\ntargets:\n${Array.from({ length: n }, (_, i) => `  - http: { url: "${name(i)}" }\n`).join('')}`);
  };
  writeTargets(o.targets);
  const entry = compiled ? [compiled.cli] : ['dist/cli.js'];
  const sts = new StatefulSet({
    name: STS,
    namespace: NAMESPACE,
    dir: join(dir, 'volumes'),
    sdFile: prom.sdFile,
    preStopMs: (dep.preStopSleepS / F) * 1000,
    gracePeriodMs: graceMs,
    entry,
    env: {
      TARGETS_FILE: targetsFile,
      COLLECTION_INTERVAL: String(intervalS),
      SOURCE_NAME: 'scale-sim',
      REDIS_URL: redis.url,
      COLLECT_TOKEN: `scale-sim-token-${process.pid}`,
      REDIS_KEY_PREFIX: `scale-sim-${process.pid}:`,
      // Membership at the daemon's defaults (heartbeat 1 s, TTL 5 s), not compressed: a replica
      // leaving on SIGTERM leaves the views at once, and on this shared machine a tighter TTL
      // drops replicas that are only slow from every view (targets moved back and forth).
      MAX_CONCURRENT_TARGETS: String(o.slots),
      SHUTDOWN_TIMEOUT: String(shutdownS),
      // A breaker opened by timeouts on a busy machine stays open for a compressed minute.
      CIRCUIT_RECOVERY_TIMEOUT: String(60 / F),
      // The scenario's second reload removes three quarters of the targets on purpose.
      RELOAD_MAX_REMOVAL: '1',
      INFLUXDB_URL: vm.url,
      INFLUXDB_TOKEN: 'sim',
      INFLUXDB_ORG: 'sim',
      INFLUXDB_BUCKET: 'sim',
      INFLUX_FLUSH_INTERVAL: '0.5',
      INFLUX_RETRY_MAX: '0.5',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      // The image's malloc setting.
      MALLOC_ARENA_MAX: '2',
    },
    onEvent: (e) => {
      membership.push(e.at);
      if (e.what !== 'sigterm') mark(`${e.pod} ${e.what}${e.code !== undefined ? ` (exit ${e.code})` : ''}`);
    },
  });
  await start(() => sts.start(), () => sts.close());
  const timeline: TimelineRow[] = [];
  const decisions: Decision[] = [];
  let hpaRunning = false;
  let hpaLoop: Promise<void> | undefined;
  const load0 = loadavg()[0]!;
  try {
    await sts.scale(3);
    mark('StatefulSet at 3 replicas');
    await until(() => sts.live().every((p) => p.readyAt !== undefined) && sts.live().length === 3, 'three replicas ready', 180_000, 200);
    await until(async () => (await prom.query(adapterQuery(dep, NAMESPACE, sts.live().map((p) => p.name)))).length === 3, 'the metric of all three in Prometheus', 120_000, 500);
    const startAt = Date.now();
    mark('HPA running');

    const readMetrics = async (pods: Pod[]): Promise<{ readings: MetricReading[]; cpu: number | null }> => {
      const names = pods.map((p) => p.name);
      const custom = new Map((await prom.query(adapterQuery(dep, NAMESPACE, names))).map((r) => [r.metric.pod!, r.value]));
      const readings: MetricReading[] = [{ name: dep.podsMetric.name, values: custom, target: targetValue }];
      const sel = `namespace="${NAMESPACE}",pod=~"${names.join('|')}"`;
      if (dep.resourceTargets.memory) {
        const mem = new Map((await prom.query(`max(process_resident_memory_bytes{${sel}}) by (pod)`)).map((r) => [r.metric.pod!, r.value]));
        readings.push({ name: 'memory', values: mem, target: dep.resourceTargets.memory, requests: new Map(names.map((n) => [n, dep.requests.memoryBytes])) });
      }
      const cpu = await prom.query(`avg(rate(process_cpu_seconds_total{${sel}}[${Math.max(4, 4 * scrapeS)}s]))`);
      return { readings, cpu: cpu[0] ? (cpu[0].value / dep.requests.cpuCores) * 100 : null };
    };
    let lastSeen = 0;
    const sync = async () => {
      const pods = sts.all();
      const { readings, cpu } = await readMetrics(pods.filter((p) => p.deletedAt === undefined));
      const d = hpa.reconcile(Date.now(), sts.replicas, pods.map((p) => ({ name: p.name, terminating: p.deletedAt !== undefined })), readings);
      decisions.push(d);
      const custom = d.metrics.find((m) => m.name === dep.podsMetric.name);
      const mem = d.metrics.find((m) => m.name === 'memory');
      timeline.push({
        t: Math.round((Date.now() - startAt) / 100) / 10,
        replicas: sts.replicas,
        live: sts.live().length,
        ready: sts.live().filter((p) => p.readyAt !== undefined).length,
        targets: configured,
        metric: custom?.usage ?? null,
        memoryUtilization: mem?.usage ?? null,
        cpuUtilization: cpu,
        proposed: d.proposed,
        desired: d.desired,
        ...(d.limitedBy ? { limitedBy: d.limitedBy } : {}),
      });
      // A line every 5 s of what the controller sees, so a run that does not converge says why.
      if (Date.now() - lastSeen >= 5000) {
        lastSeen = Date.now();
        log(`HPA sees: ${sts.replicas} replicas, ${configured} targets, metric ${custom?.usage?.toFixed(3) ?? '-'} s (proposes ${custom?.proposal ?? '-'}), memory ${mem?.usage?.toFixed(0) ?? '-'} % of requests (proposes ${mem?.proposal ?? '-'}), desired ${d.desired}`);
      }
      if (d.desired !== sts.replicas) {
        mark(`HPA: ${sts.replicas} -> ${d.desired} (metric ${custom?.usage?.toFixed(3)} s against ${targetValue} s, proposed ${d.proposed}${d.limitedBy ? `, limited by the ${d.limitedBy}` : ''})`);
        await sts.scale(d.desired);
      }
    };
    // --- the controller: one sync every 15 s / F
    hpaRunning = true;
    hpaLoop = (async () => {
      while (hpaRunning) {
        const next = Date.now() + syncMs;
        try {
          await sync();
        } catch (err) {
          log(`HPA sync failed: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      }
    })();
    const stable = async (what: string, holdMs: number, timeoutMs: number, want?: (n: number) => boolean) => {
      const until0 = Date.now() + timeoutMs;
      let since = Date.now();
      let last = sts.replicas;
      while (Date.now() < until0) {
        await new Promise((r) => setTimeout(r, 200));
        const allReady = sts.live().every((p) => p.readyAt !== undefined) && sts.all().length === sts.replicas;
        if (sts.replicas !== last || !allReady || (want && !want(sts.replicas))) {
          last = sts.replicas;
          since = Date.now();
        }
        if (Date.now() - since >= holdMs) return (Date.now() - startAt) / 1000 - holdMs / 1000;
      }
      throw new Error(`${what}: no stable count within ${timeoutMs / 1000} s (now ${sts.replicas})`);
    };
    const upWindow = Math.max(...dep.hpa.scaleUp.policies.map((p) => p.periodMs)) / F;
    const downWindow = dep.hpa.scaleDown.stabilizationWindowMs / F;

    // Converged: the count unchanged, every pod ready, for two scale-down
    // stabilization windows plus two intervals. A count above what the load
    // needs is taken back one window after the last proposal that asked for
    // it, and the proposals just after new pods start still carry their start
    // (a new replica's first rounds, the machine busy starting it).
    const phaseTimeoutMs = 60_000 + 40 * I;

    // --- baseline: N targets on 3 replicas ------------------------------------
    await new Promise((r) => setTimeout(r, 2 * I));
    const upAt = Date.now();
    writeTargets(o.targets * o.multiplier);
    mark(`targets x${o.multiplier}: ${configured} (reload)`);
    const upConverged = await stable('scale-up', 2 * downWindow + 2 * I, phaseTimeoutMs, (n) => n > dep.hpa.minReplicas);
    const upCount = sts.replicas;
    mark(`converged at ${upCount} replicas`);
    const holdUpFrom = Date.now();
    await new Promise((r) => setTimeout(r, o.holdIntervals * I));
    const holdUpTo = Date.now();

    // --- the database goes down, the targets go back: scale-down with hand-off -----
    if (o.outage) {
      await vm.down('SIGTERM');
      mark('database down');
      await new Promise((r) => setTimeout(r, I));
    }
    const downAt = Date.now();
    writeTargets(o.targets);
    mark(`targets back to ${configured} (reload)`);
    // At minReplicas the HPA cannot go lower: held for a policy period and two intervals (no way back up).
    const downConverged = await stable('scale-down', Math.max(upWindow, dep.hpa.scaleUp.stabilizationWindowMs / F) + 2 * I, phaseTimeoutMs, (n) => n === dep.hpa.minReplicas);
    mark(`back at ${sts.replicas} replicas`);
    const holdDownFrom = Date.now();
    if (o.outage) {
      await vm.up();
      mark('database back');
    }
    await new Promise((r) => setTimeout(r, o.holdIntervals * I));
    const holdDownTo = Date.now();
    // Every live replica's outbox and the hand-off stream empty: everything delivered.
    await until(
      async () => {
        const h = await Promise.all(sts.live().map(async (p) => (await (await fetch(`${p.url}/health`)).json()) as { components: { sink: { outbox_points: number; outbox_oldest_age_s: number }; handoff?: { stream_bytes: number } } }));
        return h.every((x) => x.components.sink.outbox_points === 0 || x.components.sink.outbox_oldest_age_s <= 1) && h.every((x) => !x.components.handoff?.stream_bytes);
      },
      'every outbox delivered',
      120_000,
      500,
    );
    hpaRunning = false;
    await hpaLoop;
    const endAt = Date.now();
    mark('stopping the replicas (scale unchanged: they keep what they did not deliver)');
    await sts.stopAll('SIGTERM');
    if (o.logsDir) {
      mkdirSync(o.logsDir, { recursive: true });
      sts.history.forEach((p, k) => writeFileSync(join(o.logsDir!, `${p.name}.${k}.jsonl`), p.logs.map((l) => JSON.stringify(l)).join('\n') + '\n'));
    }

    // --- accounting: the replicas' stores against the slots and the database -----
    const slotOf = (ms: number) => Math.floor(ms / I) * I;
    const baseFrom = slotOf(startAt) + 2 * I;
    const baseTo = slotOf(endAt) - 2 * I;
    const count = new Map<string, number>();
    const stored = new Set<string>();
    const dirs = [...new Set(sts.history.map((p) => p.dataDir))];
    for (const d of dirs) {
      for (const p of readStoreFile(d, ['http', 'probe'])) {
        stored.add(`${p.measurement}|${p.target}@${p.ts}`);
        if (p.measurement === 'http') count.set(`${p.target}@${p.ts}`, (count.get(`${p.target}@${p.ts}`) ?? 0) + 1);
      }
    }
    let expected = 0;
    const missed: string[] = [];
    let dups = 0;
    let dupsOutside = 0;
    // A replica that skipped a slot because the previous run was still going says so in its log.
    const overran = new Set<string>();
    for (const p of sts.history) for (const l of p.logs) if (l.msg === 'previous run still going: slot skipped') overran.add(`${String(l.target)}@${Date.parse(String(l.slot))}`);
    let missedOverrun = 0;
    const near = (slot: number) => membership.some((m) => m >= slot - 2 * I && m <= slot + 3 * I);
    const check = (i: number, from: number, to: number) => {
      for (let s = from; s + I <= to; s += I) {
        expected++;
        const n = count.get(`${name(i)}@${s}`) ?? 0;
        if (n === 0) {
          missed.push(`t/${i}@${new Date(s).toISOString().slice(11, 19)}`);
          if (overran.has(`${name(i)}@${s}`)) missedOverrun++;
        }
        if (n > 1) {
          dups += n - 1;
          if (!near(s)) dupsOutside += n - 1;
        }
      }
    };
    for (let i = 0; i < o.targets; i++) check(i, baseFrom, baseTo);
    for (let i = o.targets; i < o.targets * o.multiplier; i++) check(i, slotOf(upAt) + 2 * I, slotOf(downAt) - I);
    const inDb = new Set<string>();
    await until(
      async () => {
        inDb.clear();
        for (const r of await vm.export('{__name__=~"probe_success|http_success"}')) for (const ts of r.timestamps) inDb.add(`${r.metric.__name__!.replace(/_success$/, '')}|${r.metric.target}@${ts}`);
        return [...stored].every((k) => inDb.has(k));
      },
      'every stored point in the database',
      20_000,
      500,
    ).catch(() => {});
    const lost = [...stored].filter((k) => !inDb.has(k)).length;
    const handed = sts.history.reduce((a, p) => a + Number(p.logs.find((l) => l.msg === 'handed the points not yet delivered over to the cluster (another replica delivers them)')?.points ?? 0), 0);

    // --- the loop's shape ---------------------------------------------------------
    const series: [number, number][] = [];
    for (const r of timeline) if (!series.length || series[series.length - 1]![1] !== r.replicas) series.push([r.t, r.replicas]);
    let changes = 0;
    let dir = 0;
    for (let k = 1; k < series.length; k++) {
      const d = Math.sign(series[k]![1] - series[k - 1]![1]);
      if (dir !== 0 && d !== 0 && d !== dir) changes++;
      if (d !== 0) dir = d;
    }
    const inUp = timeline.filter((r) => r.t * 1000 + startAt >= upAt && r.t * 1000 + startAt < downAt);
    let overshoots = 0;
    for (let k = 0; k < inUp.length; k++) if (inUp[k]!.replicas > upCount && (k === 0 || inUp[k - 1]!.replicas <= upCount)) overshoots++;
    const overshootPeak = Math.max(0, ...inUp.map((r) => r.replicas - upCount));
    const heldChanges = (from: number, to: number) => {
      const rows = timeline.filter((r) => r.t * 1000 + startAt >= from && r.t * 1000 + startAt <= to);
      let n = 0;
      for (let k = 1; k < rows.length; k++) if (rows[k]!.replicas !== rows[k - 1]!.replicas) n++;
      return n;
    };
    return {
      date: new Date().toISOString(),
      command: '',
      factor: F,
      intervalS,
      metricTargetS: targetValue,
      targets: [o.targets, o.targets * o.multiplier],
      delayMs: o.delayMs,
      slots: o.slots,
      loadAverage: [Math.round(load0 * 100) / 100, Math.round(loadavg()[0]! * 100) / 100],
      replicas_over_time: series,
      direction_changes: changes,
      overshoots,
      overshoot_peak: overshootPeak,
      converged: { up: { replicas: upCount, atS: Math.round(upConverged * 10) / 10 }, down: { replicas: dep.hpa.minReplicas, atS: Math.round(downConverged * 10) / 10 } },
      changes_after_convergence: heldChanges(holdUpFrom, holdUpTo) + heldChanges(holdDownFrom, holdDownTo),
      missed_slots: missed.length,
      missed_overrun: missedOverrun,
      missed_unowned: missed.length - missedOverrun,
      missed_examples: missed.slice(0, 10),
      duplicate_slots: dups,
      duplicate_slots_outside_membership_changes: dupsOutside,
      expected_slots: expected,
      points_stored: stored.size,
      points_lost: lost,
      points_handed_over: handed,
      replicas_stopped: sts.history.filter((p) => p.deletedAt !== undefined).map((p) => ({ pod: p.name, exitCode: p.exitCode, graceful: p.exitCode === 0 })),
      timeline,
      events: events.map((e) => ({ t: Math.round((e.t - (startAt - t0) / 1000) * 10) / 10, what: e.what })),
      notes,
    };
  } finally {
    hpaRunning = false;
    await hpaLoop?.catch(() => {});
    await stopStarted();
  }
}

/**
 * The load of the scenario at a time compression (the header explains the
 * figures): 16 targets, then 64, answering after a sixth of the interval,
 * through 6 slots. The short form holds the converged counts for 2
 * intervals after they were stable for a scale-down window, the full one 8.
 */
export function scenario(factor: number, short: boolean): Omit<SimOptions, 'outage' | 'entry' | 'log'> {
  return { factor, targets: 16, multiplier: 4, delayMs: Math.round(10_000 / factor), slots: 6, holdIntervals: short ? 2 : 8 };
}

/** Markdown for docs/benchmarks.md (bench/run.ts --render puts it there). */
export function renderScaleSim(s: SimSummary, png: string): string {
  return `## Autoscaling in the loop (scale-sim)

\`${s.command}\` on ${s.date.slice(0, 10)} (machine load average ${s.loadAverage[0]} at the start, ${s.loadAverage[1]} at the end: the 2 cores are shared):
real daemons sharing Redis, a real Prometheus scraping them, the HPA algorithm on k8s/telemetry-deployment.yaml's
HorizontalPodAutoscaler reading the prometheus-adapter rule's PromQL, a StatefulSet of processes (bench/scale-sim/).
${s.notes.map((n) => `${n[0]!.toUpperCase()}${n.slice(1)}.`).join('\n')}
Load: http targets answering after ${s.delayMs} ms, MAX_CONCURRENT_TARGETS=${s.slots}; ${s.targets[0]} targets, then ${s.targets[1]}, then ${s.targets[0]} again;
the database (VictoriaMetrics as InfluxDB) down from before the scale-down until the count is back at the minimum.

![replicas, targets and the HPA metric over the run](${png})

| figure | value |
|---|---|
| replicas over time (s: count) | ${s.replicas_over_time.map(([t, n]) => `${t}: ${n}`).join(', ')} |
| converged (scale-up / scale-down) | ${s.converged.up?.replicas} replicas at ${s.converged.up?.atS} s / ${s.converged.down?.replicas} at ${s.converged.down?.atS} s |
| direction changes / overshoots / changes while the load was steady after convergence | ${s.direction_changes} / ${s.overshoots} / ${s.changes_after_convergence} |
| slots expected / missed (skipped by a saturated replica, collected by nobody) | ${s.expected_slots} / **${s.missed_slots}** (${s.missed_overrun}, ${s.missed_unowned}) |
| duplicate slots (all near a membership change?) | ${s.duplicate_slots} (${s.duplicate_slots_outside_membership_changes} outside) |
| points stored by the replicas / lost | ${s.points_stored} / **${s.points_lost}** (of which handed over by leaving replicas: ${s.points_handed_over}) |
| replicas removed (exit code) | ${s.replicas_stopped.map((r) => `${r.pod} (${r.exitCode})`).join(', ')} |
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const arg = (n: string) => args.find((a) => a.startsWith(`--${n}=`))?.split('=')[1];
  const short = args.includes('--short');
  if (!short && !args.includes('--no-build')) execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'inherit' });
  const factor = Number(arg('factor') ?? (short ? 20 : 10));
  const summary = await runScaleSim({ ...scenario(factor, short), outage: !args.includes('--no-outage'), entry: short ? 'compiled' : 'dist', ...(arg('logs') ? { logsDir: arg('logs') } : {}) });
  summary.command = `npm run scale-sim --${args.length ? ` ${args.filter((a) => a !== '--no-build').join(' ')}` : ''}`.replace(/ --$/, '');
  const name = short ? 'scale-sim-short' : 'scale-sim';
  mkdirSync(join(REPO, 'bench/results'), { recursive: true });
  writeFileSync(join(REPO, `bench/results/${name}.json`), `${JSON.stringify(summary, null, 2)}\n`);
  const png = short ? join(REPO, 'bench/results/scale-sim-short.png') : join(REPO, 'docs/img/scale-sim.png');
  await renderPlot(
    {
      title: `scale-sim: ${summary.targets[0]} -> ${summary.targets[1]} -> ${summary.targets[0]} targets, time compressed ${factor}x (interval ${summary.intervalS} s)`,
      rows: summary.timeline.map((r) => ({ t: r.t, replicas: r.replicas, ready: r.ready, targets: r.targets, metric: r.metric })),
      metricTarget: summary.metricTargetS,
      tolerance: 0.1,
      marks: summary.events.filter((e) => /reload|database/.test(e.what)).map((e) => ({ t: e.t, label: e.what.replace(/ \(reload\)/, '') })),
    },
    png,
  );
  console.log(JSON.stringify({ ...summary, timeline: `${summary.timeline.length} rows`, events: `${summary.events.length} events` }, null, 2));
  console.log(`plot: ${png}`);
  const ok = summary.missed_slots === 0 && summary.points_lost === 0 && summary.overshoots <= 1 && summary.changes_after_convergence === 0 && summary.duplicate_slots_outside_membership_changes === 0;
  // docs/benchmarks.md: this run's section replaced (or added after "Scaling signal"), the rest left as it is.
  if (!short) {
    const md = join(REPO, 'docs/benchmarks.md');
    const text = readFileSync(md, 'utf8');
    const section = renderScaleSim(summary, 'img/scale-sim.png');
    const at = (h: string) => {
      const i = text.indexOf(`\n${h}\n`);
      if (i < 0) return undefined;
      const next = text.indexOf('\n## ', i + h.length + 2);
      return [i + 1, next < 0 ? text.length : next + 1] as const;
    };
    const own = at('## Autoscaling in the loop (scale-sim)');
    const after = at('## Scaling signal');
    writeFileSync(md, own ? text.slice(0, own[0]) + section + '\n' + text.slice(own[1]) : after ? text.slice(0, after[1]) + section + '\n' + text.slice(after[1]) : `${text}\n${section}`);
  }
  process.exit(ok ? 0 : 1);
}
