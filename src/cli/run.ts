import { fstatSync } from 'node:fs';
import { resolve } from 'node:path';
import { App } from '../app.js';
import type { AppConfig } from '../config/load-config.js';
import { Deadline } from '../lifecycle/component.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { favourMemoryOverSpeed } from '../util/heap.js';
import { VERSION } from '../version.js';
import { configOrExitCode, reportOperatorError } from './errors.js';
import { loadConfigInBackground, loadsInBackground } from '../config/config-loader.js';
import { LoadingServer } from '../server/loading-server.js';

/** A shutdown that overruns SHUTDOWN_TIMEOUT by this much is cut short (exit 1). */
const STOP_WATCHDOG_GRACE_MS = 3000;

/**
 * `network-telemetry run`: the daemon until a signal.
 *
 * SIGINT and SIGTERM — to the daemon alone or to its whole process group, as
 * Ctrl-C in a terminal sends it — stop it cleanly: stop scheduling, let the
 * probes in flight finish or abort them within SHUTDOWN_TIMEOUT (nothing is
 * stored for what was cut short), hand the targets back to the cluster,
 * flush, exit 0. A second signal while stopping exits at once (1). SIGHUP
 * reloads the targets.
 */
export async function runCommand(): Promise<number> {
  favourMemoryOverSpeed();
  // A large TARGETS_FILE: everything else is checked now, the file is loaded while a listener answers the health checks.
  const large = loadsInBackground(process.env);
  const first = configOrExitCode(large ? { skipTargetsFile: true } : {});
  if (typeof first === 'number') return first;
  const log = createLogger(first.env.LOG_LEVEL, { format: first.env.LOG_FORMAT });
  let cfg = first;
  let loading: LoadingServer | undefined;
  if (large) {
    const loaded = await loadWhileListening(first, log);
    if (typeof loaded === 'number') return loaded;
    ({ cfg, loading } = loaded);
  }
  for (const w of cfg.warnings) log.warn(w);
  for (const n of cfg.notes) log.info(`adapted to fit: ${n}`);
  let app: App;
  try {
    app = new App(cfg, log, { beforeListen: loading ? () => loading.close() : undefined });
  } catch (err) {
    await loading?.close();
    const code = reportOperatorError(err);
    if (code !== undefined) return code;
    throw err;
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal while stopping: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'signal received: stopping');
    const deadline = Deadline.in(cfg.env.SHUTDOWN_TIMEOUT * 1000);
    setTimeout(() => {
      log.error({ timeout_s: cfg.env.SHUTDOWN_TIMEOUT }, 'shutdown overran SHUTDOWN_TIMEOUT: exiting');
      process.exit(1);
    }, deadline.remaining() + STOP_WATCHDOG_GRACE_MS).unref();
    app.stop(deadline).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (!stopping) void app.reload('SIGHUP');
  });
  // Counted and logged; the daemon keeps running (every loop has its own supervision).
  process.on('unhandledRejection', (err) => {
    app.metrics.errors.inc({ component: 'unhandled_rejection' });
    log.error({ err }, 'unhandled promise rejection (bug): counted, the daemon keeps running');
  });
  process.on('uncaughtException', (err) => {
    app.metrics.errors.inc({ component: 'uncaught_exception' });
    log.error({ err }, 'uncaught exception (bug): counted, the daemon keeps running');
  });

  try {
    await app.start();
  } catch (err) {
    if (stopping) return new Promise<number>(() => {}); // a signal during start: stop() exits
    await app.stop(Deadline.in(2000)).catch(() => {});
    await loading?.close();
    // The log has the line (log shippers see it); a person reading stderr
    // gets it plain too, unless stderr is where the log goes already.
    const code = reportOperatorError(err, (line) => {
      if (!logReachesStderr(log)) console.error(line);
      log.fatal(line);
    });
    if (code !== undefined) return code;
    log.fatal({ err }, 'start failed');
    return 1;
  }
  if (!stopping) logStarted(app, cfg, log);
  return new Promise<number>(() => {}); // runs until a signal
}

/**
 * A large TARGETS_FILE (config-loader.ts): a listener holds PORT and says
 * "loading" while a worker thread reads the file; a signal meanwhile stops
 * at once (nothing runs yet), SIGHUP is ignored (the file is being read).
 * The configuration, with the listener to hand over to the API server, or
 * the exit code after the file's problems were printed.
 */
async function loadWhileListening(pre: AppConfig, log: Logger): Promise<{ cfg: AppConfig; loading: LoadingServer } | number> {
  const loading = new LoadingServer(pre.env, log);
  const quit = (signal: string) => {
    log.info({ signal }, 'signal received while loading the targets: stopping');
    void loading.close().finally(() => process.exit(0));
  };
  const onTerm = () => quit('SIGTERM');
  const onInt = () => quit('SIGINT');
  const onHup = () => log.info('SIGHUP while the targets are being loaded: ignored (the file is being read now)');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', onHup);
  try {
    await loading.start();
    const cfg = await loadConfigInBackground(process.env, { log, onProgress: (p) => loading.update(p) });
    loading.starting();
    return { cfg, loading };
  } catch (err) {
    await loading.close();
    const code = reportOperatorError(err, (line) => {
      if (!logReachesStderr(log)) console.error(line);
      log.fatal(line);
    });
    if (code !== undefined) return code;
    throw err;
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('SIGHUP', onHup);
  }
}

/**
 * stdout (the log) and stderr are one file — a terminal, one pipe (`2>&1`),
 * the journal — and the logger prints fatal lines: saying a thing on both
 * would show it twice.
 */
function logReachesStderr(log: Logger): boolean {
  if (!log.isLevelEnabled('fatal')) return false;
  try {
    const out = fstatSync(1);
    const err = fstatSync(2);
    return out.dev === err.dev && out.ino === err.ino;
  } catch {
    return false;
  }
}

/** One line that tells a person where to look and when data will be there. */
function logStarted(app: App, cfg: AppConfig, log: Logger): void {
  const sinks: string[] = [];
  if (cfg.influxUrls.length) sinks.push(`InfluxDB ${cfg.influxUrls.length > 1 ? `x${cfg.influxUrls.length} (mirrored)` : ''}`.trim());
  if (app.store) sinks.push(`embedded store in ${resolve(cfg.env.DATA_DIR)}`);
  const first = app.scheduler.nextDueAt();
  const inS = first === undefined ? null : Math.max(0, Math.round((first - Date.now()) / 1000));
  const url = app.server?.url;
  log.info(
    {
      version: VERSION,
      url,
      targets: cfg.targets.length,
      sink: sinks.join(' + ') || app.sink.kind,
      source: cfg.sourceName,
      first_round: first === undefined ? null : new Date(first).toISOString(),
      ...(app.server?.generatedTokenFile ? { token_file: app.server.generatedTokenFile } : {}),
    },
    `network-telemetry started: UI and API at ${url}, ${targetsSaid(cfg)}, first probes in ${inS ?? '?'} s, a round every ${cfg.env.COLLECTION_INTERVAL} s`,
  );
}

/**
 * How many targets and where they came from. The default targets apply only
 * while none is configured: a TARGETS_FILE replaces them, which people who
 * expect the file to add to them would not guess.
 */
function targetsSaid(cfg: AppConfig): string {
  const from = [
    ...(cfg.explicit.has('TARGET_FQDN') ? ['TARGET_FQDN'] : []),
    ...(cfg.explicit.has('TARGET_FQDNS') ? ['TARGET_FQDNS'] : []),
    ...(cfg.env.TARGETS_FILE ? ['TARGETS_FILE'] : []),
  ];
  const n = cfg.targets.length;
  if (!from.length) return `${n} default target(s) (set TARGET_FQDNS or TARGETS_FILE for yours)`;
  return `${n} target(s) from ${from.join(' + ')} (the default targets are off)`;
}
