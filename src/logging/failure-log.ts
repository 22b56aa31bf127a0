import type { Logger } from 'pino';

/** One line per kind of failure at most this often; the ones between are counted in the next line. */
export const FAILURE_LOG_EVERY_MS = 60_000;

/** Error codes of the disk and the database file: what the operator fixes (space, permissions), not a bug whose stack helps. */
const IO_CODE = /^(SQLITE_(FULL|IOERR.*|READONLY.*|CANTOPEN|BUSY|LOCKED|CORRUPT|NOTADB)|ENOSPC|EROFS|EIO|EACCES|EPERM|EDQUOT|disk_full|outbox_locked|disk_error)$/;

/**
 * The log of a failure that repeats for as long as its cause lasts (a full
 * disk fails every write, several a second): the first one is logged, the
 * next ones within FAILURE_LOG_EVERY_MS only counted, and the line after
 * that says how many there were (`repeated`). An I/O error is logged as its
 * message and code — its stack says nothing the message does not; any other
 * error keeps its stack (a bug). `resolved` logs once that it stopped,
 * with the count. Keyed by kind, so two different failures are both seen.
 */
export class FailureLog {
  private readonly kinds = new Map<string, { lastLogAt: number; since: number; total: number; saidResolved: boolean; resolvedAt: number }>();

  constructor(
    private readonly log: Logger,
    private readonly everyMs = FAILURE_LOG_EVERY_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A failure of `kind`: logged now, or counted for the next line. */
  failed(kind: string, err: unknown, message: string, fields: Record<string, unknown> = {}): void {
    const now = this.now();
    const k = this.kinds.get(kind);
    if (k && now - k.lastLogAt < this.everyMs) {
      k.since++;
      k.total++;
      return;
    }
    const repeated = k?.since ?? 0;
    const was = k?.lastLogAt;
    this.kinds.set(kind, { lastLogAt: now, since: 0, total: (k?.total ?? 0) + 1, saidResolved: false, resolvedAt: k?.resolvedAt ?? 0 });
    const code = (err as { code?: unknown } | undefined)?.code;
    const io = typeof code === 'string' && IO_CODE.test(code);
    const said = io ? { error: (err as Error).message, code } : { err };
    const suffix = repeated && was !== undefined ? ` (and ${repeated} more like it in the last ${Math.round((now - was) / 1000)} s)` : '';
    this.log.error({ ...fields, ...said, ...(repeated ? { repeated } : {}) }, `${message}${suffix}`);
  }

  /**
   * The failure of `kind` stopped (a write went through): one line with how
   * many there were. A disk that is nearly full fails and succeeds by turns:
   * the failures counted after a "resolved" line are said by the next one, a
   * window later at the earliest, so the log ends on the truth within
   * FAILURE_LOG_EVERY_MS and flapping costs two lines a window.
   */
  resolved(kind: string, message: string): void {
    const k = this.kinds.get(kind);
    if (!k || k.total === 0) return;
    const now = this.now();
    if (k.saidResolved && now - k.resolvedAt < this.everyMs) return;
    k.saidResolved = true;
    k.resolvedAt = now;
    this.log.info({ failures: k.total }, `${message} (after ${k.total} failure${k.total === 1 ? '' : 's'})`);
    k.total = 0;
  }
}
