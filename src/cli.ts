#!/usr/bin/env node
// getaddrinfo runs on libuv's thread pool (4 threads by default); name
// lookups of many targets must not starve file I/O. The pool starts on first
// use, which no import below triggers, so setting it here still counts.
process.env.UV_THREADPOOL_SIZE ??= '16';

import { parseArgs } from 'node:util';
import { App } from './app.js';
import { ConfigError, loadConfig, redactedConfig, type AppConfig } from './config/load-config.js';
import { PROBE_KINDS, type ProbeKind } from './config/targets.js';
import { createLogger, silentLogger } from './logging/logger.js';
import { checkPrivileges } from './probes/privileges.js';
import { ProcessRunner } from './probes/tools/process-runner.js';
import type { ProbeResult } from './probes/types.js';
import { DiscardSink } from './sinks/discard-sink.js';
import { geoCommand } from './geo/index.js';
import { VERSION } from './version.js';

const USAGE = `network-telemetry ${VERSION}

Usage:
  network-telemetry run                      start the daemon (what npm start runs)
  network-telemetry collect --once [--target NAME]... [--probe KIND]... [--json]
                                             probe now, print the results, exit 1 if any probe failed
  network-telemetry check-config [--json]    validate the configuration and print it, secrets redacted
  network-telemetry check-privileges         can fping and mtr send ICMP here? (exit 1 when not)
  network-telemetry geo IP... [--json]       what the configured geolocation backend (GEO) says
  network-telemetry --version | --help

Configuration comes from environment variables (see README).`;

/** Exit codes: 0 ok, 1 a probe failed (collect), 2 invalid configuration or usage. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v') {
    console.log(VERSION);
    return 0;
  }
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  switch (command) {
    case 'run':
      return run();
    case 'collect':
      return collect(rest);
    case 'check-config':
      return checkConfig(rest);
    case 'check-privileges':
      return checkTools();
    case 'geo':
      return geo(rest);
    default:
      console.error(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

function configOrExit(): AppConfig | number {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) console.error(`config error: ${p}`);
      return 2;
    }
    throw err;
  }
}

async function run(): Promise<number> {
  const cfg = configOrExit();
  if (typeof cfg === 'number') return cfg;
  const log = createLogger(cfg.env.LOG_LEVEL);
  const app = new App(cfg, log);
  let exitCode = 0;
  const shutdown = (sig: string) => {
    log.info({ signal: sig }, 'signal received');
    void app.stop().then(
      () => process.exit(exitCode),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', (err) => {
    log.error({ err }, 'unhandled rejection (bug)');
    app.metrics.errors.inc({ component: 'process' });
  });
  try {
    await app.start();
  } catch (err) {
    log.fatal({ err }, 'start failed');
    exitCode = 1;
    await app.stop(2000).catch(() => {});
    return 1;
  }
  return new Promise<number>(() => {}); // runs until a signal
}

async function collect(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        once: { type: 'boolean', default: false },
        target: { type: 'string', multiple: true },
        probe: { type: 'string', multiple: true },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (!values.once) {
    console.error('collect needs --once (the continuous mode is `network-telemetry run`)');
    return 2;
  }
  const badProbe = (values.probe ?? []).filter((p) => !(PROBE_KINDS as readonly string[]).includes(p));
  if (badProbe.length) {
    console.error(`unknown probe ${badProbe.join(', ')} (known: ${PROBE_KINDS.join(', ')})`);
    return 2;
  }
  const cfg = configOrExit();
  if (typeof cfg === 'number') return cfg;
  const names = values.target;
  const unknown = (names ?? []).filter((n) => !cfg.targets.some((t) => t.name === n));
  if (unknown.length) {
    console.error(`not a configured target: ${unknown.join(', ')} (configured: ${cfg.targets.map((t) => t.name).join(', ')})`);
    return 2;
  }
  const log = values.json ? silentLogger() : createLogger(cfg.env.LOG_LEVEL === 'info' ? 'warn' : cfg.env.LOG_LEVEL, { destination: process.stderr });
  const app = new App(cfg, log, { sink: new DiscardSink(), server: false, schedule: false });
  await app.start();
  const targets = names ? cfg.targets.filter((t) => names.includes(t.name)) : cfg.targets;
  const results = await app.collectNow(targets, values.probe as ProbeKind[] | undefined, cfg.env.COLLECT_TIMEOUT * 1000, false);
  await app.stop(2000);
  if (values.json) console.log(JSON.stringify(results.map(publicResult), null, 2));
  else console.log(table(results));
  return results.every((r) => r.success) ? 0 : 1;
}

/** JSON form of a result, with the points it would write (`time` as ISO). */
function publicResult(r: ProbeResult) {
  return {
    target: r.target,
    probe: r.probe,
    success: r.success,
    reason: r.reason ?? null,
    detail: r.detail ?? null,
    duration_ms: Math.round(r.durationMs),
    ...r.summary,
    points: r.samples.map((s) => ({ measurement: s.measurement, tags: s.tags, fields: s.fields, time: new Date(s.timeMs).toISOString() })),
  };
}

function table(results: ProbeResult[]): string {
  const rows = results.map((r) => [
    r.target,
    r.probe,
    r.success ? 'ok' : `FAIL ${r.reason ?? ''}`,
    `${Math.round(r.durationMs)} ms`,
    Object.entries(r.summary)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ') + (r.detail && !r.success ? `  (${r.detail})` : ''),
  ]);
  const head = ['TARGET', 'PROBE', 'RESULT', 'TIME', 'FIGURES'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [fmt(head), ...rows.map(fmt)].join('\n');
}

/** Look addresses up with the configured backend and cache (Redis when REDIS_URL is set). */
async function geo(args: string[]): Promise<number> {
  const cfg = configOrExit();
  if (typeof cfg === 'number') return cfg;
  const app = new App(cfg, silentLogger(), { sink: new DiscardSink(), server: false, schedule: false });
  const cache = app.cfg.env.REDIS_URL ? app.geoCache : undefined;
  if (app.cfg.env.REDIS_URL) await app.coordinator.start();
  try {
    return await geoCommand(args, cfg.env, app.http, cache);
  } finally {
    await app.stop(1000);
  }
}

async function checkTools(): Promise<number> {
  const cfg = configOrExit();
  if (typeof cfg === 'number') return cfg;
  const report = await checkPrivileges(new ProcessRunner(2), cfg.env.FPING_PATH, cfg.env.MTR_PATH);
  console.log(JSON.stringify(report, null, 2));
  return report.problem ? 1 : 0;
}

function checkConfig(args: string[]): number {
  const cfg = configOrExit();
  if (typeof cfg === 'number') return cfg;
  const shown = redactedConfig(cfg);
  if (args.includes('--json')) {
    console.log(JSON.stringify(shown, null, 2));
  } else {
    console.log(`configuration OK: ${cfg.targets.length} target(s), source "${cfg.sourceName}", sink ${cfg.influxUrls.length ? cfg.influxUrls.join(', ') : 'embedded store'}`);
    console.log(JSON.stringify(shown, null, 2));
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // collect/check-config are done: do not wait for keep-alive timers.
    if (process.argv[2] !== 'run') setImmediate(() => process.exit(code));
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
