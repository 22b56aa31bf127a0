import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { redisOptions } from '../cluster/redis-coordinator.js';
import { BaseComponent, type ComponentHealth, type Deadline } from '../lifecycle/component.js';
import type { ErrorReporter } from '../lifecycle/error-reporter.js';
import { SupervisedLoop } from '../lifecycle/supervised-loop.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { decodePoint } from './stored-point.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** One outbox row as it travels: its encoding, its body, when it was first stored. */
export interface HandoffRow {
  enc: number;
  body: string;
  ts_ms: number;
}

/** The side of the outbox the hand-off drains into (OutboxSink). */
export interface HandoffReceiver {
  /** False while stopping or before start: entries wait in the stream for another replica. */
  readonly accepting: boolean;
  /** Commit rows to this replica's outbox; settles once they are on disk. */
  adopt(rows: readonly HandoffRow[]): Promise<void>;
}

export interface HandoffOptions {
  redisUrl: string;
  /** REDIS_KEY_PREFIX: the stream is `<prefix>outbox-handoff`. */
  prefix: string;
  /** Consumer name in the stream's group: unique per process (the cluster member id). */
  consumer: string;
  /** OUTBOX_HANDOFF_MAX_BYTES: compressed bytes all replicas together may leave in the stream. */
  maxBytes: number;
  /** An entry a replica took and did not finish for this long is taken over by another. */
  claimIdleMs: number;
  /** How often an idle replica looks at the stream. */
  pollMs?: number;
  /** Rows per stream entry. */
  chunkRows?: number;
}

/**
 * Bytes counter and stream entry in one step, refused past the bound (so two
 * leaving replicas cannot both squeeze under it).
 * KEYS: stream, bytes counter. ARGV: max bytes, size, rows, from, data.
 */
const PUSH_LUA = `
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
if used + tonumber(ARGV[2]) > tonumber(ARGV[1]) then return 0 end
redis.call('XADD', KEYS[1], '*', 'rows', ARGV[3], 'from', ARGV[4], 'size', ARGV[2], 'data', ARGV[5])
redis.call('INCRBY', KEYS[2], ARGV[2])
return 1`;

/**
 * Acknowledge and delete an entry; the counter goes down once, by whoever
 * deletes it (an entry taken over by a second replica is acknowledged twice).
 * KEYS: stream, bytes counter. ARGV: group, id, size.
 */
const DONE_LUA = `
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if redis.call('XDEL', KEYS[1], ARGV[2]) == 1 then
  if tonumber(redis.call('DECRBY', KEYS[2], ARGV[3])) < 0 then redis.call('SET', KEYS[2], '0') end
end
return 1`;

const GROUP = 'drainers';
const DEFAULT_CHUNK_ROWS = 2000;

interface HandoffRedis extends Redis {
  handoffPush(stream: string, counter: string, max: number, size: number, rows: number, from: string, data: Buffer): Promise<number>;
  handoffDone(stream: string, counter: string, group: string, id: string, size: number): Promise<number>;
}

type Entry = [id: Buffer, fields: Buffer[]];

/**
 * The scale-down hand-off: a replica leaving the cluster for good (the
 * departure check says so: src/cluster/departure.ts) puts what its outbox
 * could not deliver within its grace period into a Redis stream, in gzipped
 * chunks of rows; every replica drains that stream into its own outbox (on
 * its own disk: synchronous=FULL) and delivers the points with its own.
 * Nothing waits on the volume of an ordinal that may never run again.
 *
 * Exactly-once bookkeeping: an entry is acknowledged and deleted only after
 * the taking replica committed its rows. A replica that dies in between
 * leaves the entry pending in the stream's consumer group; another one
 * takes it over after `claimIdleMs` (XAUTOCLAIM). Rows committed twice that
 * way are delivered twice, and a database overwrites a point with the same
 * series and time: a duplicate, never a loss.
 *
 * Bounded: the chunks of all replicas together stay under
 * OUTBOX_HANDOFF_MAX_BYTES (a counter beside the stream, checked and raised
 * in one script); what does not fit stays in the leaving replica's outbox
 * on its volume, and the log says how many points and where. The stream
 * is data, not authority: every row is decoded before it is adopted, and a
 * row no version of us wrote is dropped and counted.
 *
 * Its own Redis connection: it must outlive the cluster membership (which
 * ends first at stop) while the outbox hands over, so it is added to the
 * lifecycle before the sinks and stops after them.
 */
export class OutboxHandoff extends BaseComponent {
  readonly name = 'handoff';
  private redis?: HandoffRedis;
  private readonly loop: SupervisedLoop;
  private readonly stream: string;
  private readonly counter: string;
  private receiver?: HandoffReceiver;
  private groupReady = false;
  private streamBytes = 0;
  private received = 0;
  private sent = 0;
  private lastError?: string;

  constructor(
    private readonly o: HandoffOptions,
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
    reporter: ErrorReporter,
  ) {
    super();
    this.stream = `${o.prefix}outbox-handoff`;
    this.counter = `${o.prefix}outbox-handoff:bytes`;
    this.loop = new SupervisedLoop(
      {
        name: 'handoff',
        periodMs: o.pollMs ?? 1000,
        // Redis away is expected: the loop keeps trying (errors counted), and is only stalled if a tick hangs.
        stallAfterMs: Math.max(30_000, o.claimIdleMs * 2),
        tick: () => this.drainOne(),
      },
      reporter,
    );
    metrics.handoffMaxBytes.set(o.maxBytes);
    metrics.onCollect(() => metrics.handoffBytes.set(this.streamBytes));
  }

  /** Where drained rows go (the outbox sink; set by the wiring before start). */
  attach(receiver: HandoffReceiver): void {
    this.receiver = receiver;
  }

  protected async onStart(): Promise<void> {
    const redis = new Redis(this.o.redisUrl, redisOptions({ commandTimeout: 2000 })) as HandoffRedis;
    redis.defineCommand('handoffPush', { numberOfKeys: 2, lua: PUSH_LUA });
    redis.defineCommand('handoffDone', { numberOfKeys: 2, lua: DONE_LUA });
    redis.on('error', (err: Error) => (this.lastError = err.message));
    this.redis = redis;
    // Redis away at start is not fatal: the loop connects when it can.
    await redis.connect().catch(() => {});
    this.loop.start();
  }

  protected async onStop(deadline: Deadline): Promise<void> {
    await this.loop.stop(deadline);
    this.redis?.disconnect();
  }

  health(): ComponentHealth {
    const loop = this.loop.health();
    return {
      status: loop.status,
      stream_bytes: this.streamBytes,
      max_bytes: this.o.maxBytes,
      points_received: this.received,
      points_sent: this.sent,
      ...(this.lastError ? { last_error: this.lastError } : {}),
      loop,
    };
  }

  private async ensureGroup(r: HandoffRedis): Promise<void> {
    if (this.groupReady) return;
    try {
      await r.xgroup('CREATE', this.stream, GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
    this.groupReady = true;
  }

  private connected(): HandoffRedis | undefined {
    const r = this.redis;
    if (!r) return undefined;
    if (r.status === 'wait' || r.status === 'end' || r.status === 'close') r.connect().catch(() => {});
    return r.status === 'ready' ? r : undefined;
  }

  /**
   * Leaving for good: put `rows` into the stream, chunk by chunk, until the
   * deadline, the bound or a Redis failure; `handed(lastIndex)` is called
   * after each stored chunk (the caller forgets those rows). Returns how many
   * rows were handed over and, if not all, why not.
   */
  async handOver(rows: () => HandoffRow[] | undefined, handed: (n: number) => void, deadline: Deadline): Promise<{ rows: number; stoppedBy?: string }> {
    let total = 0;
    const r = this.connected();
    if (!r) return { rows: 0, stoppedBy: `redis not connected${this.lastError ? ` (${this.lastError})` : ''}` };
    try {
      await this.ensureGroup(r);
      for (let chunk = rows(); chunk && chunk.length; chunk = rows()) {
        if (deadline.passed) return { rows: total, stoppedBy: 'the shutdown deadline' };
        const data = await gzipAsync(JSON.stringify(chunk.map((x) => [x.enc, x.body, x.ts_ms])));
        const ok = await r.handoffPush(this.stream, this.counter, this.o.maxBytes, data.length, chunk.length, this.o.consumer, data);
        if (!ok) return { rows: total, stoppedBy: `OUTBOX_HANDOFF_MAX_BYTES (${this.o.maxBytes} bytes of chunks already in the stream)` };
        handed(chunk.length);
        total += chunk.length;
        this.sent += chunk.length;
        this.metrics.handoffPoints.inc({ direction: 'sent' }, chunk.length);
      }
      return { rows: total };
    } catch (err) {
      return { rows: total, stoppedBy: `redis: ${(err as Error).message}` };
    }
  }

  /** Rows per chunk (the outbox reads that many at a time). */
  get chunkRows(): number {
    return this.o.chunkRows ?? DEFAULT_CHUNK_ROWS;
  }

  /** One entry from the stream into our outbox; waits a poll period when there is none. */
  private async drainOne(): Promise<number | void> {
    const receiver = this.receiver;
    const r = this.connected();
    if (!receiver?.accepting || !r) return;
    await this.ensureGroup(r);
    this.streamBytes = Number((await r.get(this.counter)) ?? 0);
    let entry = await this.takeOver(r);
    if (!entry) {
      let read: [Buffer, Entry[]][] | null;
      try {
        read = (await r.callBuffer('XREADGROUP', 'GROUP', GROUP, this.o.consumer, 'COUNT', 1, 'STREAMS', this.stream, '>')) as [Buffer, Entry[]][] | null;
      } catch (err) {
        // The stream (and its group) went with a Redis restart: make them again.
        if (/NOGROUP/.test((err as Error).message)) this.groupReady = false;
        throw err;
      }
      entry = read?.[0]?.[1]?.[0];
    }
    if (!entry) return;
    const [idBuf, fieldList] = entry;
    const id = idBuf.toString();
    const fields = new Map<string, Buffer>();
    for (let i = 0; i + 1 < fieldList.length; i += 2) fields.set(fieldList[i]!.toString(), fieldList[i + 1]!);
    const size = Number(fields.get('size')?.toString() ?? 0);
    const from = fields.get('from')?.toString() ?? '?';
    const { rows, bad } = await this.decode(fields.get('data'));
    if (bad) {
      this.metrics.pointsDropped.inc({ reason: 'handoff_invalid' }, bad);
      this.log.error({ entry: id, from, bad }, 'hand-off entry with rows no version of us wrote: those rows dropped');
    }
    if (rows.length) await receiver.adopt(rows);
    await r.handoffDone(this.stream, this.counter, GROUP, id, size);
    this.received += rows.length;
    this.metrics.handoffPoints.inc({ direction: 'received' }, rows.length);
    this.log.info({ entry: id, from, points: rows.length }, 'took over points a replica handed off when it left');
    return 0;
  }

  /** An entry another consumer took and did not finish within claimIdleMs (it died): ours now. */
  private async takeOver(r: HandoffRedis): Promise<Entry | undefined> {
    const res = (await r.callBuffer('XAUTOCLAIM', this.stream, GROUP, this.o.consumer, this.o.claimIdleMs, '0-0', 'COUNT', 1)) as [Buffer, Entry[]] | null;
    const e = res?.[1]?.[0];
    // A deleted entry can still be listed with no fields (Redis 7 drops those from the list; older ones not).
    return e && e[1] ? e : undefined;
  }

  private async decode(data: Buffer | undefined): Promise<{ rows: HandoffRow[]; bad: number }> {
    if (!data) return { rows: [], bad: 1 };
    let list: unknown;
    try {
      list = JSON.parse((await gunzipAsync(data)).toString('utf8'));
    } catch {
      return { rows: [], bad: 1 };
    }
    if (!Array.isArray(list)) return { rows: [], bad: 1 };
    const rows: HandoffRow[] = [];
    let bad = 0;
    for (const x of list) {
      const [enc, body, ts] = Array.isArray(x) ? x : [];
      try {
        if (typeof enc !== 'number' || typeof body !== 'string' || typeof ts !== 'number') throw new Error('not a row');
        decodePoint(enc, body);
        rows.push({ enc, body, ts_ms: ts });
      } catch {
        bad++;
      }
    }
    return { rows, bad };
  }
}
