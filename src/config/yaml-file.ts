import { CORE_SCHEMA, EVENT_ID, getScalarValue, load, parseEvents, YAMLException, type Event } from 'js-yaml';

/**
 * The one YAML reader of the daemon (targets file, web config file): strict
 * YAML 1.2 core schema through js-yaml, which is about ten times faster than
 * the `yaml` package on a large targets file (1.5 s against 19 s for
 * 100,000 targets here) and strict by default:
 *
 * - a syntax error, an undefined alias (`*name` with no `&name`), a
 *   duplicate key, an unknown tag or a second document is an error with
 *   its line — never an empty or partial result;
 * - merge keys (`<<: *defaults`) are refused: the core schema has none, and
 *   a key the reader of the file cannot see is how a typo hides;
 * - aliases may not expand the document past MAX_EXPANSION times its own
 *   size (a few anchors nested ten deep make a billion values);
 * - an unclosed `[` or `{` is reported on the line that opened it (the
 *   parser itself only notices on a later line).
 *
 * Positions are looked up only when something is wrong (`lineOf`): the
 * parse itself keeps no source map, so a 100,000-target file costs the
 * parse and nothing more.
 */

/** A problem with its 1-based line (undefined: the file as a whole). */
export class YamlError extends Error {
  constructor(
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(line === undefined ? reason : `line ${line}: ${reason}`);
    this.name = 'YamlError';
  }
}

export interface YamlDocument {
  data: unknown;
  /** 1-based line of the node at `path` (for a map entry: its key), or of its nearest existing parent. */
  lineOf(path: readonly (string | number)[]): number | undefined;
}

/** Values an alias-expanded document may have, at most, per value written in the file (and at least this many in all). */
const MAX_EXPANSION = 10;
const MIN_EXPANSION_BUDGET = 10_000;

export function parseYaml(text: string, filename?: string): YamlDocument {
  if (text.trim() === '') throw new YamlError(undefined, 'the file is empty');
  let data: unknown;
  try {
    data = load(text, { schema: CORE_SCHEMA, filename, maxDepth: 64 });
  } catch (err) {
    if (!(err instanceof YAMLException)) throw err;
    throw syntaxError(text, err);
  }
  const lines = new LineIndex(text);
  checkShape(data, text, lines);
  let events: Event[] | undefined;
  return {
    data,
    lineOf: (path) => {
      try {
        events ??= parseEvents(text, {});
      } catch {
        return undefined;
      }
      return locate(text, events, lines, path);
    },
  };
}

function syntaxError(text: string, err: YAMLException): YamlError {
  const line = err.mark ? err.mark.line + 1 : undefined;
  let reason = err.reason
    .replace(/^unidentified alias "([^"]*)"$/, 'the alias *$1 refers to no anchor &$1 defined before it (a typo?)')
    .replace(/^expected a single document in the stream, but found more$/, 'more than one YAML document (a second `---`): keep one');
  if (reason === 'duplicated mapping key' && err.mark) {
    const key = /^\s*-?\s*(["']?)([^:\n]*?)\1\s*:/.exec(text.slice(err.mark.position))?.[2];
    reason = key ? `the key "${key}" appears twice in the same mapping` : 'a key appears twice in the same mapping';
  }
  if (line !== undefined) {
    const open = unclosedBracket(text, err.mark!.position);
    if (open && open.line < line) {
      const close = open.char === '[' ? ']' : '}';
      return new YamlError(open.line, `this "${open.char}" is never closed (a missing "${close}"?); the parser stopped at line ${line}: ${reason}`);
    }
  }
  return new YamlError(line, reason);
}

/**
 * Merge keys refused, and the size after alias expansion bounded. Aliases
 * are shared references in `data`, so the expanded size is counted over
 * the graph with each distinct object counted once per reference.
 */
function checkShape(data: unknown, text: string, lines: LineIndex): void {
  const sizes = new Map<object, number>();
  let distinct = 0;
  let merge: boolean = false;
  const size = (v: unknown): number => {
    if (v === null || typeof v !== 'object') return 1;
    const known = sizes.get(v);
    if (known !== undefined) return known;
    distinct++;
    sizes.set(v, 1); // a cycle cannot be written in YAML without an alias to an ancestor; count it once
    let n = 1;
    if (Array.isArray(v)) for (const x of v) n += size(x);
    else
      for (const [k, x] of Object.entries(v)) {
        if (k === '<<') merge = true;
        n += 1 + size(x);
      }
    sizes.set(v, n);
    return n;
  };
  const total = size(data);
  if (merge) {
    const at = /(^|[\s{,])<<\s*:/m.exec(text);
    throw new YamlError(at ? lines.lineAt(at.index + at[1]!.length) : undefined, 'merge keys (<<) are not supported: write the keys out (a targets file has `defaults:` for what targets share)');
  }
  const budget = Math.max(MIN_EXPANSION_BUDGET, MAX_EXPANSION * (distinct + text.length / 8));
  if (total > budget) {
    const at = /\*[^\s,\]}]/.exec(text);
    throw new YamlError(at ? lines.lineAt(at.index) : undefined, `aliases expand this file to ${total} values (at most ${Math.round(budget)}): use fewer nested aliases`);
  }
}

/** The innermost `[` or `{` still open at `position`, outside quotes and comments. */
function unclosedBracket(text: string, position: number): { char: '[' | '{'; line: number } | undefined {
  const stack: { char: '[' | '{'; line: number }[] = [];
  let line = 1;
  let quote: '"' | "'" | undefined;
  let comment = false;
  for (let i = 0; i < position && i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      comment = false;
      continue;
    }
    if (comment) continue;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) comment = true;
    else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{') stack.push({ char: c, line });
    else if (c === ']' || c === '}') stack.pop();
  }
  return stack[stack.length - 1];
}

class LineIndex {
  private starts?: number[];
  constructor(private readonly text: string) {}
  lineAt(offset: number): number {
    if (!this.starts) {
      this.starts = [0];
      for (let i = this.text.indexOf('\n'); i >= 0; i = this.text.indexOf('\n', i + 1)) this.starts.push(i + 1);
    }
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }
}

/**
 * Where the node at `path` starts: one pass over the parser's events,
 * keeping the path of the node being read. A map entry is found by its key;
 * a path that goes through an alias stops at the alias.
 */
function locate(text: string, events: readonly Event[], lines: LineIndex, path: readonly (string | number)[]): number | undefined {
  /** `inKey`: a collection used as a map key (never valid in our files): skipped. */
  type Frame = { kind: 'seq' | 'map'; index: number; key?: string; keyAt?: number; inKey?: boolean };
  const stack: Frame[] = [];
  // Depth of the longest prefix of `path` the current position matches, and the best offset so far.
  let best: number | undefined;
  const matches = (depth: number) => {
    if (depth > path.length) return false;
    for (let d = 0; d < depth; d++) {
      const f = stack[d]!;
      const want = path[d];
      if (f.kind === 'seq' ? f.index !== want : f.key !== want) return false;
    }
    return true;
  };
  const startOf = (e: Event): number => {
    switch (e.type) {
      case EVENT_ID.SCALAR:
        return e.anchorStart >= 0 ? e.anchorStart : e.valueStart;
      case EVENT_ID.SEQUENCE:
      case EVENT_ID.MAPPING:
        return e.anchorStart >= 0 ? e.anchorStart : e.start;
      case EVENT_ID.ALIAS:
        return e.anchorStart - 1;
      default:
        return 0;
    }
  };
  /** A node (not a key) begins at the current position of the innermost frame. */
  const nodeBegins = (e: Event) => {
    const depth = stack.length;
    if (!matches(depth)) return;
    const top = stack[depth - 1];
    // For a map entry, point at its key.
    const at = top?.kind === 'map' && top.keyAt !== undefined ? top.keyAt : startOf(e);
    best = at;
    if (depth === path.length) throw new Found(at);
  };
  try {
    for (const e of events) {
      const top = stack[stack.length - 1];
      if (e.type === EVENT_ID.DOCUMENT) continue;
      if (e.type === EVENT_ID.POP) {
        const done = stack.pop();
        const parent = stack[stack.length - 1];
        if (parent && !done?.inKey) advance(parent);
        continue;
      }
      if (top?.inKey) {
        if (e.type === EVENT_ID.SEQUENCE || e.type === EVENT_ID.MAPPING) stack.push({ kind: 'seq', index: 0, inKey: true });
        continue;
      }
      if (top?.kind === 'map' && top.key === undefined) {
        // A key.
        top.key = e.type === EVENT_ID.SCALAR ? getScalarValue(text, e) : `\0complex${top.index}`;
        top.keyAt = startOf(e);
        if (e.type === EVENT_ID.SEQUENCE || e.type === EVENT_ID.MAPPING) stack.push({ kind: 'seq', index: 0, inKey: true });
        continue;
      }
      nodeBegins(e);
      if (e.type === EVENT_ID.SEQUENCE) stack.push({ kind: 'seq', index: 0 });
      else if (e.type === EVENT_ID.MAPPING) stack.push({ kind: 'map', index: 0 });
      else if (top) advance(top);
    }
  } catch (f) {
    if (f instanceof Found) return lines.lineAt(f.offset);
    throw f;
  }
  return best === undefined ? undefined : lines.lineAt(best);
}

function advance(f: { kind: 'seq' | 'map'; index: number; key?: string; keyAt?: number; inKey?: boolean }): void {
  f.index++;
  if (f.kind === 'map') {
    f.key = undefined;
    f.keyAt = undefined;
  }
}

class Found {
  constructor(readonly offset: number) {}
}
