import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import type { Logger } from 'pino';
import { BaseComponent, type ComponentHealth, type Deadline } from '../lifecycle/component.js';
import type { ErrorReporter } from '../lifecycle/error-reporter.js';
import { SupervisedLoop } from '../lifecycle/supervised-loop.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { eachInSteps, turnOfTheLoop } from '../util/turn.js';
import { loadConfigInBackground } from './config-loader.js';
import { ConfigError, type AppConfig, type LoadOptions } from './load-config.js';

export type ReloadTrigger = 'SIGHUP' | 'POST /-/reload' | 'TARGETS_FILE changed';

export type ReloadOutcome =
  | { ok: true; trigger: ReloadTrigger; added: string[]; removed: string[]; changed: string[]; targets: number }
  | { ok: false; trigger: ReloadTrigger; problems: string[] };

/** Applies a new configuration; returns what changed. */
export type ApplyConfig = (cfg: AppConfig) => ConfigDiff | Promise<ConfigDiff>;
export type ConfigDiff = { added: string[]; removed: string[]; changed: string[] };

/** How often the targets file is looked at (stat; read and hashed only when it changed). */
const WATCH_EVERY_MS = 1000;
/** A change is applied once the file has stopped changing for this long (editors write in steps). */
const SETTLE_MS = 500;

/**
 * Reload without restart: SIGHUP, POST /-/reload and a change of TARGETS_FILE
 * load the configuration again. The environment of a running process cannot
 * change, so what a reload brings is the targets (the file, re-read): added
 * targets are probed from their next slot, removed ones stop, unchanged ones
 * keep their slot offset, route memory and breaker state. An invalid file is
 * rejected with its errors logged and the running configuration kept.
 *
 * The file is watched by polling its stat (and hashing it when that changes)
 * rather than fs.watch: a Kubernetes ConfigMap update swaps a symlink, which
 * inotify on the file itself does not see, and polling works on every file
 * system. Reloads never overlap: one that arrives during another waits.
 */
export class ConfigReloader extends BaseComponent {
  readonly name = 'config';
  private readonly watcher?: SupervisedLoop;
  private chain: Promise<unknown> = Promise.resolve();
  private fileHash?: string;
  private fileStat?: string;
  private pendingSince?: number;
  private last?: { at: number; outcome: ReloadOutcome };

  constructor(
    private current: AppConfig,
    private readonly apply: ApplyConfig,
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
    reporter: ErrorReporter,
    private readonly loadOptions: LoadOptions = {},
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    super();
    const file = current.env.TARGETS_FILE;
    if (file) {
      this.watcher = new SupervisedLoop({ name: 'config-watch', periodMs: WATCH_EVERY_MS, tick: () => this.watch(file) }, reporter);
    }
  }

  get config(): AppConfig {
    return this.current;
  }

  protected async onStart(): Promise<void> {
    this.metrics.configLastReloadSuccess.set(Date.now() / 1000);
    const file = this.current.env.TARGETS_FILE;
    if (file) {
      this.fileStat = statKey(file);
      this.fileHash = await hashOf(file);
      this.watcher?.start();
    }
  }

  /** Load the configuration again and apply it (reloads run one at a time). */
  reload(trigger: ReloadTrigger, o: { force?: boolean } = {}): Promise<ReloadOutcome> {
    const next = this.chain.then(() => this.reloadNow(trigger, o.force === true));
    this.chain = next.catch(() => {});
    return next;
  }

  private async reloadNow(trigger: ReloadTrigger, force: boolean): Promise<ReloadOutcome> {
    let outcome: ReloadOutcome;
    // What is read now is what is judged: the watcher must not load this version again.
    const file = this.current.env.TARGETS_FILE;
    if (file) {
      this.fileStat = statKey(file);
      this.pendingSince = undefined;
      this.fileHash = await hashOf(file);
    }
    try {
      // A large file is read in a worker thread: probes, the API and /metrics go on meanwhile.
      const cfg = await loadConfigInBackground(this.env, { ...this.loadOptions, log: this.log });
      await turnOfTheLoop();
      if (!force) await refuseMassRemoval(this.current, cfg);
      await turnOfTheLoop();
      const diff = await this.apply(cfg);
      this.current = cfg;
      outcome = { ok: true, trigger, ...diff, targets: cfg.targets.length };
      this.metrics.configReloads.inc({ result: 'success' });
      this.metrics.configLastReloadSuccess.set(Date.now() / 1000);
      this.log.info(
        { trigger, targets: cfg.targets.length, added: diff.added.length, removed: diff.removed.length, changed: diff.changed.length, ...sample(diff) },
        diff.added.length + diff.removed.length + diff.changed.length ? 'configuration reloaded' : 'configuration reloaded: no change',
      );
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [`${(err as Error).message}`];
      outcome = { ok: false, trigger, problems };
      this.metrics.configReloads.inc({ result: 'failure' });
      for (const p of problems) this.log.error({ trigger }, `config error: ${p}`);
      this.log.error({ trigger, problems: problems.length }, 'reload rejected: the running configuration is kept');
    }
    this.last = { at: Date.now(), outcome };
    return outcome;
  }

  /** One look at the targets file: reload when its content changed and then stayed put. */
  private async watch(file: string): Promise<void> {
    const stat = statKey(file);
    if (stat !== this.fileStat) {
      this.fileStat = stat;
      this.pendingSince = Date.now();
      return;
    }
    if (this.pendingSince === undefined || Date.now() - this.pendingSince < SETTLE_MS) return;
    this.pendingSince = undefined;
    const hash = await hashOf(file);
    if (hash === this.fileHash) return;
    this.fileHash = hash;
    await this.reload('TARGETS_FILE changed');
  }

  health(): ComponentHealth {
    const last = this.last;
    const failed = last && !last.outcome.ok;
    return {
      status: failed ? 'degraded' : 'ok',
      targets: this.current.targets.length,
      ...(this.current.env.TARGETS_FILE ? { targets_file: this.current.env.TARGETS_FILE, watch: this.watcher?.health() } : {}),
      ...(last ? { last_reload: new Date(last.at).toISOString(), last_reload_ok: last.outcome.ok } : {}),
      ...(failed ? { problem: `the last reload (${last.outcome.trigger}) was rejected: ${(last.outcome as { problems: string[] }).problems.slice(0, 3).join('; ')}` } : {}),
    };
  }

  protected async onStop(deadline: Deadline): Promise<void> {
    await this.watcher?.stop(deadline);
  }
}

/**
 * A reload that would remove more than RELOAD_MAX_REMOVAL of the running
 * targets is refused: an emptied or truncated file is far more often a
 * mistake than a decision, and applying it silently stops the measurements.
 * Removing a single target is always allowed (a list of two may lose one).
 * Counted in steps: it reads both lists whole.
 */
async function refuseMassRemoval(current: AppConfig, next: AppConfig): Promise<void> {
  const keep = new Set<string>();
  await eachInSteps(next.targets, (t) => keep.add(t.name));
  let removed = 0;
  await eachInSteps(current.targets, (t) => {
    if (!keep.has(t.name)) removed++;
  });
  const share = current.env.RELOAD_MAX_REMOVAL;
  if (removed <= Math.max(1, share * current.targets.length)) return;
  throw new ConfigError([
    `the new configuration would remove ${removed} of the ${current.targets.length} running targets (${Math.round((100 * removed) / current.targets.length)} %), more than RELOAD_MAX_REMOVAL (${Math.round(share * 100)} %): if that is meant, send POST /-/reload?force=1; otherwise fix ${current.env.TARGETS_FILE ?? 'the configuration'}`,
  ]);
}

/** Identity of the file's current version: follows symlinks (a ConfigMap swap changes the inode). */
function statKey(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch (err) {
    return `missing:${(err as NodeJS.ErrnoException).code}`;
  }
}

/** The file's content hash, read in pieces (a large targets file hashed in one go held the event loop for tens of ms). */
async function hashOf(file: string): Promise<string> {
  try {
    const h = createHash('sha256');
    for await (const piece of createReadStream(file, { highWaterMark: 256 * 1024 })) h.update(piece as Buffer);
    return h.digest('hex');
  } catch (err) {
    return `unreadable:${(err as NodeJS.ErrnoException).code}`;
  }
}

function sample(d: { added: string[]; removed: string[]; changed: string[] }): Record<string, string> {
  const few = (l: string[]) => l.slice(0, 5).join(', ') + (l.length > 5 ? `, +${l.length - 5} more` : '');
  const out: Record<string, string> = {};
  if (d.added.length) out.added_targets = few(d.added);
  if (d.removed.length) out.removed_targets = few(d.removed);
  if (d.changed.length) out.changed_targets = few(d.changed);
  return out;
}
