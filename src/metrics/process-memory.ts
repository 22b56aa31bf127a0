import { readFile } from 'node:fs/promises';

/**
 * Where the process's resident memory is, from /proc (Linux; undefined
 * elsewhere): resident pages by kind, and glibc's malloc arenas.
 *
 * Why arenas: glibc gives a thread that finds the main arena busy an arena
 * of its own (up to 8 per core), a 64 MiB reservation whose touched pages
 * stay resident after free() unless the top of the arena is free. The
 * daemon's threads (the store worker, the WAL checkpointer, libuv's pool,
 * V8's helpers) each malloc, so RSS can rise through arenas without any
 * heap growing; MALLOC_ARENA_MAX=2 (the image, the systemd unit) caps
 * their number. The count and their resident pages say whether that is
 * where RSS went.
 *
 * /proc/self/smaps costs the kernel a page-table walk (5-30 ms here): it
 * is read asynchronously (libuv's pool, off the event loop) at scrape time.
 */
export interface ProcessMemory {
  /** RssAnon, RssFile, RssShmem of /proc/self/status, bytes. */
  anon: number;
  file: number;
  shmem: number;
  /** Arenas: the main one ([heap]) and every other 64 MiB-aligned arena found. */
  arenas: number;
  /** Resident bytes of all arenas, the main one included. */
  arenaResident: number;
}

const ARENA_BYTES = 64n * 1024n * 1024n;

/**
 * Arenas in the text of /proc/<pid>/smaps. A non-main arena is an anonymous
 * read-write mapping starting on a 64 MiB boundary, followed (when not
 * fully used) by the rest of its 64 MiB reservation without access (---p);
 * glibc's HEAP_MAX_SIZE on 64-bit. The main arena is the [heap] mapping.
 * A lone aligned mapping that does not span exactly 64 MiB with its
 * reservation (a V8 page that happens to be aligned) is not counted.
 */
export function parseArenas(smaps: string): { arenas: number; resident: number } {
  interface Mapping {
    start: bigint;
    end: bigint;
    perms: string;
    anon: boolean;
    heap: boolean;
    rss: number;
  }
  const maps: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of smaps.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      cur = { start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), perms: head[3]!, anon: head[4] === '0' && (head[5] ?? '') === '', heap: head[5] === '[heap]', rss: 0 };
      maps.push(cur);
      continue;
    }
    if (cur && line.startsWith('Rss:')) cur.rss = Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
  }
  let arenas = 0;
  let resident = 0;
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i]!;
    if (m.heap) {
      arenas++;
      resident += m.rss;
      continue;
    }
    if (!m.anon || m.perms !== 'rw-p' || m.start % ARENA_BYTES !== 0n) continue;
    let end = m.end;
    for (let j = i + 1; j < maps.length && maps[j]!.start === end && maps[j]!.anon && maps[j]!.perms === '---p'; j++) end = maps[j]!.end;
    if (end - m.start !== ARENA_BYTES) continue;
    arenas++;
    resident += m.rss;
  }
  return { arenas, resident };
}

function statusField(text: string, name: string): number {
  return Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
}

export async function readProcessMemory(pid: number | 'self' = 'self'): Promise<ProcessMemory | undefined> {
  try {
    const [status, smaps] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readFile(`/proc/${pid}/smaps`, 'utf8')]);
    const { arenas, resident } = parseArenas(smaps);
    return { anon: statusField(status, 'RssAnon'), file: statusField(status, 'RssFile'), shmem: statusField(status, 'RssShmem'), arenas, arenaResident: resident };
  } catch {
    return undefined; // not Linux, or /proc not mounted
  }
}
