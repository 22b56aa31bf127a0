import { readdirSync, readFileSync } from 'node:fs';

const TICK = 100; // USER_HZ on Linux

/** CPU seconds of a process from /proc: its own, and that of its waited-for children (fping, mtr). */
export function cpu(pid: number | 'self'): { self: number; children: number; total: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": field 3 is state -> index 0; utime=14, stime=15, cutime=16, cstime=17 (1-based).
  const n = (i: number) => Number(f[i - 3]);
  const self = (n(14) + n(15)) / TICK;
  const children = (n(16) + n(17)) / TICK;
  return { self, children, total: self + children };
}

/**
 * CPU seconds of a process and of its live descendants (each with its own
 * reaped children). The daemon starts fping and mtr through its spawner
 * helper, so their CPU lands in the spawner's reaped-children counters, not
 * the daemon's: measuring the daemon alone would leave the tools out.
 */
export function treeCpu(pid: number): { total: number } {
  let total = cpu(pid).total;
  for (const child of descendants(pid)) {
    try {
      total += cpu(child).total;
    } catch {
      // exited between the listing and the read: its CPU moved to its parent's counters
    }
  }
  return { total };
}

function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parentOf.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [pid, ppid] of parentOf) if (ppid === p) (out.push(pid), walk(pid));
  };
  walk(root);
  return out;
}

/** Memory figures of /proc/<pid>/status, in bytes (the file gives kB; 0 when a line is missing). */
function statusBytes(pid: number | 'self', ...names: string[]): number[] {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  return names.map((name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024);
}

/** Resident set size in bytes (VmRSS). */
export function rss(pid: number | 'self'): number {
  return statusBytes(pid, 'VmRSS')[0]!;
}

/**
 * Resident memory by kind, in bytes: anonymous (heaps: V8's, malloc's,
 * SQLite's page cache) against file-backed and shared pages (mapped files,
 * SQLite's -shm wal-index), which the kernel can take back.
 */
export function rssParts(pid: number): { anon: number; fileAndShmem: number } {
  const [anon, file, shmem] = statusBytes(pid, 'RssAnon', 'RssFile', 'RssShmem') as [number, number, number];
  return { anon, fileAndShmem: file + shmem };
}

/** Peak resident set size in bytes (VmHWM). */
export function peakRss(pid: number | 'self'): number {
  return statusBytes(pid, 'VmHWM')[0]!;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const mb = (b: number) => Math.round((b / 1048576) * 10) / 10;
export const r3 = (n: number) => Math.round(n * 1000) / 1000;

/** Send `total` calls at `perSecond`, at most `concurrency` at once. */
export async function paced(total: number, perSecond: number, concurrency: number, call: (i: number) => Promise<void>): Promise<void> {
  const t0 = Date.now();
  let next = 0;
  let active = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * perSecond) + 1);
      while (next < due && active < concurrency) {
        const i = next++;
        active++;
        void call(i).finally(() => {
          active--;
          if (next >= total && active === 0) resolve();
        });
      }
      if (next < total) setTimeout(tick, 5);
    };
    tick();
  });
}
