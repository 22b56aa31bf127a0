import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDaemon } from './lib/daemon.js';
import { mb, peakRss, r3, rss, sleep } from './lib/proc.js';
import { startTargetServer } from './lib/target-server.js';

export interface ScaleRow {
  targets: number;
  intervalS: number;
  rounds: number;
  roundDurationMaxS: number;
  overruns: number;
  probesFailed: number;
  /** Resident memory at the end of the measured rounds. */
  rssMb: number;
  /** High-water mark (start-up included: parsing the targets file). */
  peakRssMb: number;
  rssPer1000Mb: number;
  eventLoopLagP99Ms: number;
}

/**
 * N targets at a 60 s interval, each with icmp + http (and a trace every
 * 10 minutes, spread over the slots): does a round finish within half the
 * interval? RSS and event-loop lag at that load.
 */
export async function benchScale(o: { sizes: number[]; rounds: number; intervalS?: number; dir: string }): Promise<ScaleRow[]> {
  const interval = o.intervalS ?? 60;
  const server = await startTargetServer(0);
  const rows: ScaleRow[] = [];
  try {
    for (const n of o.sizes) {
      const file = join(o.dir, `targets-${n}.yaml`);
      const lines = [`defaults: { interval: ${interval}, timeout: ${Math.min(10, interval * 0.8)} }`, 'targets:'];
      for (let i = 0; i < n; i++) {
        const host = `127.5.${Math.floor(i / 250)}.${(i % 250) + 1}`;
        lines.push(`  - { name: t${i}, host: "${host}", probes: [icmp, http, trace], http: { url: "${server.url}/t/${i}" }, trace: { interval: ${interval * 10} } }`);
      }
      writeFileSync(file, `${lines.join('\n')}\n`);
      const d = await benchDaemon({
        TARGETS_FILE: file,
        BATCH_SIZE: '100',
        MAX_CONCURRENT_TARGETS: '2000',
        MAX_CONCURRENT_OPERATIONS: '2000',
        WORKER_POOL_SIZE: '20',
        TRACE_PACKET_INTERVAL: '0.2',
        TRACE_GRACE: '0.3',
        LOG_LEVEL: 'info',
      });
      try {
        const rounds = () => d.logs.filter((l) => l.msg === 'round complete');
        let lagMax = 0;
        const lag = setInterval(() => {
          void d
            .get('/metrics')
            .then((r) => r.text())
            .then((t) => {
              const m = /^nodejs_eventloop_lag_p99_seconds ([\d.e+-]+)$/m.exec(t);
              if (m) lagMax = Math.max(lagMax, Number(m[1]));
            })
            .catch(() => {});
        }, 5000);
        // The first slot is partial (targets whose offset had passed start next slot): skip it.
        const skip = rounds().length + 1;
        while (rounds().length < skip + o.rounds) await sleep(1000);
        clearInterval(lag);
        const mine = rounds().slice(skip, skip + o.rounds);
        const now = rss(d.proc.pid!);
        const peak = peakRss(d.proc.pid!);
        rows.push({
          targets: n,
          intervalS: interval,
          rounds: mine.length,
          roundDurationMaxS: r3(Math.max(...mine.map((r) => r.duration_s as number))),
          overruns: mine.reduce((a, r) => a + (r.skipped_overrun as number), 0),
          probesFailed: mine.reduce((a, r) => a + (r.probes_failed as number), 0),
          rssMb: mb(now),
          peakRssMb: mb(peak),
          rssPer1000Mb: r3(mb(now) / (n / 1000)),
          eventLoopLagP99Ms: r3(lagMax * 1000),
        });
      } finally {
        await d.cleanup();
      }
    }
  } finally {
    await server.close();
  }
  return rows;
}
