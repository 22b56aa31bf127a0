import { parseArgs } from 'node:util';
import { App } from '../app.js';
import { PROBE_KINDS } from '../config/targets.js';
import { Deadline } from '../lifecycle/component.js';
import { createLogger, silentLogger } from '../logging/logger.js';
import type { ProbeResult } from '../probes/types.js';
import { configOrExitCode, reportOperatorError } from './errors.js';

/**
 * `collect --once`: probe now, print the results, exit 1 if any probe failed
 * (like `telegraf --test`). Nothing is stored and no server runs, so the
 * default targets leave out the daemon's own /health/live.
 */
export async function collectCommand(args: string[], usage: string): Promise<number> {
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
    console.error(`${(err as Error).message}\n\n${usage}`);
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
  const cfg = configOrExitCode({ selfProbe: false });
  if (typeof cfg === 'number') return cfg;
  const names = values.target;
  const unknown = (names ?? []).filter((n) => !cfg.targets.some((t) => t.name === n));
  if (unknown.length) {
    console.error(`not a configured target: ${unknown.join(', ')} (configured: ${cfg.targets.map((t) => t.name).join(', ')})`);
    return 2;
  }
  const log = values.json ? silentLogger() : createLogger(cfg.env.LOG_LEVEL === 'info' ? 'warn' : cfg.env.LOG_LEVEL, { destination: process.stderr, format: cfg.env.LOG_FORMAT });
  let app: App | undefined;
  try {
    app = new App(cfg, log, { oneShot: true });
    await app.start();
  } catch (err) {
    await app?.stop(Deadline.in(1000)).catch(() => {});
    const code = reportOperatorError(err);
    if (code !== undefined) return code;
    throw err;
  }
  const run = await app.collectNow(names, values.probe, { adhoc: false });
  await app.stop(Deadline.in(2000));
  if ('rejected' in run) {
    console.error(run.message);
    return 2;
  }
  if (values.json) console.log(JSON.stringify(run.results.map(publicResult), null, 2));
  else console.log(table(run.results));
  return run.results.every((r) => r.success) ? 0 : 1;
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
  return formatTable(['TARGET', 'PROBE', 'RESULT', 'TIME', 'FIGURES'], rows);
}

/** Columns padded to their widest cell; the last column is left ragged. */
export function formatTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [fmt(head), ...rows.map(fmt)].join('\n');
}
