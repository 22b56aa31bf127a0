import { isIP } from 'node:net';
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { SpecError, thresholdEnv, type ProbeModule, type SpecContext } from '../probes/module.js';
import { PROBE_MODULES, type ProbeKind } from '../probes/registry.js';
import type { TargetRef } from '../probes/types.js';
import type { Env } from './env-schema.js';
import { redactUrl } from '../env/redact.js';
import { distance } from './suggest.js';
import { parseYaml, YamlError, type YamlDocument } from './yaml-file.js';

export { PROBE_KINDS, type ProbeKind } from '../probes/registry.js';

/** A configured destination: what probes know of it, its probes, and each probe's settings. */
export interface Target extends TargetRef {
  probes: ProbeKind[];
  /** Probe kind -> that probe's settings (its module's spec). */
  specs: Record<string, unknown>;
  /** When an answering target counts as degraded (status/target-state.ts). */
  thresholds: Thresholds;
}

/**
 * Threshold key (`loss_pct`, declared by the probe modules) -> limit, null
 * for none; the target's own, else the file's `defaults.thresholds`, else
 * THRESHOLD_<KEY>. Keys of probes the target does not run are left out.
 */
export interface Thresholds {
  limits: Record<string, number | null>;
  /** Consecutive slots that must agree before the state changes (STATE_HYSTERESIS_SLOTS). */
  hysteresisSlots: number;
}

/** Targets-file `thresholds:` values (target or defaults). */
type ThresholdBlock = Record<string, number | null | undefined> & { hysteresis_slots?: number };

/** What targets inherit from the environment, and how problems are reported. */
export interface TargetDefaults {
  env: Env;
  /** Environment variables the user set; the rest may adapt to fit. */
  explicit: ReadonlySet<string>;
  intervalS: number;
  /** PROBE_TIMEOUT when set; otherwise each target gets min(10 s, 0.8 x its interval). */
  timeoutS: number | null;
  /** DEFAULT_PROBES, or null for the default set per kind of host (see defaultProbesFor). */
  probes: ProbeKind[] | null;
  lookupEnv(name: string): string | undefined;
  note(message: string): void;
  modules?: readonly ProbeModule[];
  /** Called every PROGRESS_EVERY targets while a targets file's entries are built (a large file takes seconds). */
  progress?(done: number, total: number): void;
}

/** How often a targets file's load reports progress, in targets. */
const PROGRESS_EVERY = 2000;

export class TargetConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'TargetConfigError';
  }
}

const HOSTNAME_RE = /^(?=.{1,253}$)([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?)*\.?$/;

export function isValidHost(host: string): boolean {
  return isIP(host) !== 0 || HOSTNAME_RE.test(host);
}

/** An IP literal or `localhost`: nothing to resolve, no certificate to match. */
function isAddressLike(host: string): boolean {
  return isIP(host) !== 0 || host === 'localhost' || host.endsWith('.localhost');
}

const modulesOf = (d: TargetDefaults) => d.modules ?? (PROBE_MODULES as readonly ProbeModule[]);

/**
 * The probes a bare host runs when nothing says otherwise: each module says
 * whether it belongs to the default set of a name and of an address (a DNS
 * query or a TLS name check makes no sense for an IP address).
 */
export function defaultProbesFor(host: string, modules: readonly ProbeModule[] = PROBE_MODULES as readonly ProbeModule[]): ProbeKind[] {
  const kind = isAddressLike(host) ? 'address' : 'name';
  return modules.filter((m) => m.defaultFor.includes(kind)).map((m) => m.kind as ProbeKind);
}

/** Unset PROBE_TIMEOUT follows short intervals down, so COLLECTION_INTERVAL=5 just works. */
export function defaultTimeoutS(intervalS: number): number {
  return Math.min(10, Math.round(intervalS * 0.8 * 1000) / 1000);
}

interface Draft {
  name: string;
  host: string;
  family: 4 | 6 | null;
  probes: ProbeKind[];
  intervalS: number;
  timeoutS: number | null;
  /** Which setting gave the timeout, for error messages. */
  timeoutFrom: string;
  intervalFrom: string;
  blocks: Record<string, unknown>;
  /** Targets-file thresholds: the file's defaults, then the target's own. */
  thresholds?: ThresholdBlock[];
}

/** The thresholds the modules' figures declare (probes/<kind>/view.ts): the keys of a `thresholds:` block. */
function thresholdNames(modules: readonly ProbeModule[]): string[] {
  return modules.flatMap((m) => (m.figures ?? []).flatMap((f) => (f.threshold ? [f.threshold.name] : [])));
}

function thresholdsOf(d: Draft, defaults: TargetDefaults, modules: readonly ProbeModule[]): Thresholds {
  const env = defaults.env as unknown as Record<string, unknown>;
  const limits: Record<string, number | null> = {};
  const blocks = d.thresholds ?? [];
  for (const m of modules) {
    if (!d.probes.includes(m.kind as ProbeKind)) continue;
    for (const name of thresholdNames([m])) {
      let v = (env[thresholdEnv(name)] as number | null | undefined) ?? null;
      for (const b of blocks) if (b[name] !== undefined) v = b[name]!;
      limits[name] = v;
    }
  }
  let slots = defaults.env.STATE_HYSTERESIS_SLOTS ?? 1;
  for (const b of blocks) if (b.hysteresis_slots !== undefined) slots = b.hysteresis_slots;
  return { limits, hysteresisSlots: slots };
}

/** Control characters (C0, DEL, C1), invisible and direction-changing characters: refused in target names. */
const HIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;
const HIDDEN_CHARS_ALL = new RegExp(HIDDEN_CHARS.source, 'g');
const CHAR_NAMES: Record<string, string> = { '\u0000': 'NUL', '\t': 'tab', '\n': 'line feed', '\r': 'carriage return', '\u001b': 'ESC', '\u202e': 'right-to-left override', '\u202d': 'left-to-right override' };

/** Build a target: order its probes, fit its timeout, let each module build its settings. */
function finish(d: Draft, defaults: TargetDefaults): Target {
  const hidden = HIDDEN_CHARS.exec(d.name);
  if (hidden) {
    // A name reaches the terminal, /metrics labels and the database: an escape sequence or a right-to-left override there misleads whoever reads them.
    const code = `U+${hidden[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    throw new SpecError(`the name "${d.name.replace(HIDDEN_CHARS_ALL, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`)}" contains a control character (${code}${CHAR_NAMES[hidden[0]] ? `, ${CHAR_NAMES[hidden[0]]}` : ''}): remove it`);
  }
  const modules = modulesOf(defaults);
  const order = modules.map((m) => m.kind);
  const timeoutS = d.timeoutS ?? defaultTimeoutS(d.intervalS);
  if (timeoutS >= d.intervalS) {
    throw new SpecError(`${d.timeoutFrom}: a ${timeoutS} s probe timeout must be shorter than the ${d.intervalS} s interval (${d.intervalFrom}): lower the timeout or raise the interval`);
  }
  const ref: TargetRef = { name: d.name, host: d.host, family: d.family, intervalS: d.intervalS, timeoutS };
  const ctx: SpecContext = { ...ref, env: defaults.env, explicit: defaults.explicit, lookupEnv: defaults.lookupEnv, note: defaults.note };
  const specs: Record<string, unknown> = {};
  for (const kind of d.probes) {
    const m = modules.find((x) => x.kind === kind);
    if (!m) throw new SpecError(`unknown probe "${kind}" (known: ${order.join(', ')})`);
    specs[kind] = m.spec(d.blocks[kind], ctx);
  }
  const probes = [...d.probes].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  return { ...ref, probes, specs, thresholds: thresholdsOf(d, defaults, modules) };
}

// ---------------------------------------------------------------------------
// TARGET_FQDN / TARGET_FQDNS entries

/**
 * One comma-separated entry: a URL runs the http probe of that URL, `host:port`
 * runs a tcp probe, a bare host runs the default probe set. The target name is
 * the entry as written (secret query values redacted: the name is a tag), so
 * two URLs on one host stay two targets.
 */
export function targetFromEntry(entry: string, defaults: TargetDefaults): Target {
  const draft = (name: string, host: string, probes: ProbeKind[], blocks: Record<string, unknown> = {}): Draft => ({
    name,
    host,
    family: null,
    probes,
    intervalS: defaults.intervalS,
    timeoutS: defaults.timeoutS,
    timeoutFrom: 'PROBE_TIMEOUT',
    intervalFrom: 'COLLECTION_INTERVAL',
    blocks,
  });

  if (entry.includes('://')) {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new SpecError(`"${redactUrl(entry)}" is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new SpecError(`"${redactUrl(entry)}": only http:// and https:// URLs can be probed`);
    }
    const block = { url: url.toString(), method: 'GET', insecure_tls: false, headers: {} };
    return finish(draft(redactUrl(entry), stripBrackets(url.hostname), ['http' as ProbeKind], { http: block }), defaults);
  }

  const hostPort = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(entry);
  if (hostPort) {
    const host = (hostPort[1] ?? hostPort[2]) as string;
    const port = Number(hostPort[3]);
    if (!isValidHost(host)) throw new SpecError(`"${entry}": "${host}" is not a valid host name or IP address`);
    if (port < 1 || port > 65535) throw new SpecError(`"${entry}": port must be 1-65535`);
    return finish(draft(entry, host, ['tcp' as ProbeKind], { tcp: { port } }), defaults);
  }

  const host = stripBrackets(entry);
  if (!isValidHost(host)) {
    if (/^[A-Za-z0-9.-]+(:\d+)?\/./.test(entry) && isValidHost(entry.split(/[:/]/)[0]!)) {
      throw new SpecError(`"${entry}" looks like a URL without its scheme: write "https://${entry}" (or http://)`);
    }
    throw new SpecError(`"${entry}" is not a host name, IP address, host:port or http(s) URL`);
  }
  return finish(draft(entry, host, defaults.probes ?? defaultProbesFor(host, modulesOf(defaults))), defaults);
}

function stripBrackets(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

// ---------------------------------------------------------------------------
// TARGETS_FILE (YAML)

function fileSchemas(modules: readonly ProbeModule[]) {
  const kinds = modules.map((m) => m.kind) as [string, ...string[]];
  const probeList = z.array(z.enum(kinds)).min(1).refine((l) => new Set(l).size === l.length, 'lists a probe twice');
  const blocks = Object.fromEntries(modules.map((m) => [m.kind, m.block.optional()]));
  // Every module's threshold keys: a limit >= 0, or null for none (turns a global default off).
  const limit = z.number().min(0).nullable().optional();
  const thresholds = z
    .strictObject({
      ...Object.fromEntries(thresholdNames(modules).map((name) => [name, limit])),
      hysteresis_slots: z.number().int().min(1).max(100).optional(),
    })
    .optional();
  const target = z.strictObject({
    name: z.string().min(1).max(200).optional(),
    host: z.string().min(1).refine(isValidHost, 'is not a host name or IP address').optional(),
    family: z.union([z.literal(4), z.literal(6)]).optional(),
    probes: probeList.optional(),
    interval: z.number().min(1).max(86_400).optional(),
    timeout: z.number().min(0.1).max(600).optional(),
    thresholds,
    ...blocks,
  });
  const file = z.strictObject({
    defaults: z
      .strictObject({
        interval: z.number().min(1).max(86_400).optional(),
        timeout: z.number().min(0.1).max(600).optional(),
        probes: probeList.optional(),
        thresholds,
      })
      .optional(),
    targets: z.array(target).min(1),
  });
  return { target, file };
}

type FileTarget = Record<string, unknown> & {
  name?: string;
  host?: string;
  family?: 4 | 6;
  probes?: string[];
  interval?: number;
  timeout?: number;
  http?: { url: string };
  thresholds?: ThresholdBlock;
};
type FileDefaults = { interval?: number; timeout?: number; probes?: string[]; thresholds?: ThresholdBlock };

/** Parse a targets file; every problem is reported as `file:line: path: message`. */
/** Largest targets file read (about 200,000 targets): past it, one clear line instead of a parser running out of memory. */
export const MAX_TARGETS_FILE_BYTES = 32 * 1024 * 1024;

export function loadTargetsFile(path: string, defaults: TargetDefaults): Target[] {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_TARGETS_FILE_BYTES) {
      throw new TargetConfigError([`TARGETS_FILE: ${path} is ${(size / 1024 ** 2).toFixed(1)} MiB, more than the ${MAX_TARGETS_FILE_BYTES / 1024 ** 2} MiB a targets file may be (about 200,000 targets): split the targets over several deployments, or check that this is the right file`]);
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof TargetConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new TargetConfigError([`TARGETS_FILE: cannot read ${path} (${why}): fix the path or unset TARGETS_FILE`]);
  }
  return parseTargetsYaml(text, path, defaults);
}

/** Problems listed at most (the rest are counted): a file broken everywhere needs its first fixes first. */
const MAX_PROBLEMS = 20;

export function parseTargetsYaml(text: string, path: string, defaults: TargetDefaults): Target[] {
  const modules = modulesOf(defaults);
  const schemas = fileSchemas(modules);
  const at = (line: number | undefined) => `TARGETS_FILE ${line === undefined ? path : `${path}:${line}`}`;
  let doc: YamlDocument;
  try {
    doc = parseYaml(text, path);
  } catch (err) {
    if (err instanceof YamlError) throw new TargetConfigError([`${at(err.line)}: ${err.reason}`]);
    throw err;
  }
  const parsed = schemas.file.safeParse(doc.data, { reportInput: true });
  if (!parsed.success) {
    const issues = parsed.error.issues;
    throw new TargetConfigError(
      capped(
        issues.map((issue) => {
          // Unknown keys are reported on their parent; point at the key itself, and suggest the known one it resembles.
          const unknownKey = issue.code === 'unrecognized_keys' ? (issue.keys[0] as string) : undefined;
          const keyPath = (unknownKey !== undefined ? [...issue.path, unknownKey] : issue.path) as (string | number)[];
          const where = keyPath.length ? keyPath.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : '(top)';
          const message = unknownKey !== undefined ? unknownKeyMessage(unknownKey, knownKeysAt(schemas.file, issue.path as (string | number)[])) : issueMessage(issue);
          return `${at(doc.lineOf(keyPath))}: ${where}: ${message}`;
        }),
      ),
    );
  }

  const fd = (parsed.data.defaults ?? {}) as FileDefaults;
  const problems: string[] = [];
  const targets: Target[] = [];
  const entries = parsed.data.targets as FileTarget[];
  defaults.progress?.(0, entries.length);
  entries.forEach((ft, i) => {
    if (i > 0 && i % PROGRESS_EVERY === 0) defaults.progress?.(i, entries.length);
    try {
      targets.push(targetFromFile(ft, fd, defaults, modules));
    } catch (err) {
      if (!(err instanceof SpecError)) throw err;
      problems.push(`${problems.length < MAX_PROBLEMS ? at(doc.lineOf(['targets', i])) : ''}: targets[${i}]: ${err.message}`);
    }
  });
  if (problems.length) throw new TargetConfigError(capped(problems));
  defaults.progress?.(entries.length, entries.length);
  return targets;
}

function capped(problems: string[]): string[] {
  return problems.length <= MAX_PROBLEMS ? problems : [...problems.slice(0, MAX_PROBLEMS), `... and ${problems.length - MAX_PROBLEMS} more problems in TARGETS_FILE`];
}

/** zod's message, said the way an operator reads it. */
function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') {
    const got = issue.input === undefined ? 'nothing' : issue.input === null ? 'an empty value' : Array.isArray(issue.input) ? 'a list' : typeof issue.input === 'object' ? 'a mapping' : `${typeof issue.input} ${JSON.stringify(issue.input)}`;
    return issue.input === undefined ? `is required (${issue.expected})` : `must be ${article(issue.expected)} ${issue.expected}, got ${got}`;
  }
  if (issue.code === 'too_small' && issue.origin === 'number') return `must be at least ${issue.minimum}${issue.inclusive === false ? ' (exclusive)' : ''}`;
  if (issue.code === 'too_big' && issue.origin === 'number') return `must be at most ${issue.maximum}`;
  if (issue.code === 'invalid_value') {
    const values = issue.values.map((v) => String(v));
    const close = typeof issue.input === 'string' ? closest(issue.input, values) : undefined;
    return `${typeof issue.input === 'string' ? `"${issue.input.slice(0, 40)}" is not known: ` : ''}must be one of ${values.join(', ')}${close ? ` (did you mean "${close}"?)` : ''}`;
  }
  return issue.message;
}

const article = (w: string) => (/^[aeiou]/.test(w) ? 'an' : 'a');

/** The known word `word` is most likely a typo of (a third of its letters off at most), or the only one it begins (`loss` for `loss_pct`). */
function closest(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  const typo = known
    .map((k) => ({ k, d: distance(w, k.toLowerCase()) }))
    .filter(({ k, d }) => d <= Math.max(1, Math.floor(Math.min(k.length, word.length) / 3)))
    .sort((a, b) => a.d - b.d)[0]?.k;
  if (typo) return typo;
  const begun = w.length >= 3 ? known.filter((k) => k.toLowerCase().startsWith(w)) : [];
  return begun.length === 1 ? begun[0] : undefined;
}

function unknownKeyMessage(key: string, known: string[]): string {
  const close = closest(key, known);
  if (close) return `unknown key "${key}": did you mean "${close}"?`;
  return `unknown key "${key}"${known.length ? ` (known here: ${known.join(', ')})` : ''}`;
}

/** The keys the schema accepts at `path` (an object under optionals, defaults and arrays); [] when it is not an object. */
function knownKeysAt(schema: z.ZodType, path: readonly (string | number)[]): string[] {
  let s: z.ZodType | undefined = schema;
  const unwrap = (x: z.ZodType | undefined): z.ZodType | undefined => {
    for (let i = 0; i < 10 && x; i++) {
      const def = (x as unknown as { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } }).def;
      if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') x = def.innerType;
      else if (def.type === 'pipe') x = def.in;
      else return x;
    }
    return x;
  };
  for (const p of path) {
    s = unwrap(s);
    const def = (s as unknown as { def?: { type: string; element?: z.ZodType; shape?: Record<string, z.ZodType> } } | undefined)?.def;
    if (!def) return [];
    if (typeof p === 'number') s = def.type === 'array' ? def.element : undefined;
    else s = def.type === 'object' ? def.shape?.[p] : undefined;
  }
  const def = (unwrap(s) as unknown as { def?: { type: string; shape?: Record<string, z.ZodType> } } | undefined)?.def;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

function targetFromFile(ft: FileTarget, fd: FileDefaults, d: TargetDefaults, modules: readonly ProbeModule[]): Target {
  const urlHost = ft.http ? stripBrackets(new URL(ft.http.url).hostname) : undefined;
  const host = ft.host ?? urlHost;
  if (!host) throw new SpecError('needs a host (or an http.url to take it from)');
  const kinds = modules.map((m) => m.kind);
  // Blocks given without the probe in `probes` would be ignored silently: say so instead.
  const probes = (ft.probes ?? (ft.host ? (fd.probes ?? d.probes ?? defaultProbesFor(host, modules)) : ['http'])) as ProbeKind[];
  const stray = kinds.filter((k) => ft[k] !== undefined && !probes.includes(k as ProbeKind));
  if (stray.length && ft.probes) throw new SpecError(`has ${stray.join(', ')} settings but ${stray.length > 1 ? 'those probes are' : 'that probe is'} not in its probes list`);
  const blocks: Record<string, unknown> = {};
  for (const k of kinds) if (ft[k] !== undefined) blocks[k] = ft[k];
  const name = ft.name ?? (ft.http && !ft.host ? redactUrl(ft.http.url) : host);
  return finish(
    {
      name,
      host,
      family: ft.family ?? null,
      probes: [...new Set([...probes, ...(ft.probes ? [] : (stray as ProbeKind[]))])],
      intervalS: ft.interval ?? fd.interval ?? d.intervalS,
      intervalFrom: ft.interval !== undefined ? 'interval' : fd.interval !== undefined ? 'defaults.interval' : 'COLLECTION_INTERVAL',
      timeoutS: ft.timeout ?? fd.timeout ?? d.timeoutS,
      timeoutFrom: ft.timeout !== undefined ? 'timeout' : fd.timeout !== undefined ? 'defaults.timeout' : 'PROBE_TIMEOUT',
      blocks,
      thresholds: [fd.thresholds, ft.thresholds].filter((b): b is ThresholdBlock => b !== undefined),
    },
    d,
  );
}
