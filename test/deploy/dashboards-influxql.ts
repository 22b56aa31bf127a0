/**
 * A small InfluxQL reader for the dashboard tests: enough of the language to
 * say which measurements, fields and tags a dashboard query touches, and to
 * reject what it cannot vouch for (unquoted identifiers, regex or subquery
 * sources, unknown functions). Not a full parser — the live test runs every
 * query against a real influxd for the rest.
 */
import { COMMON_TAGS, SCHEMA_TABLE as SCHEMA, type FieldType, type MeasurementSchema } from '../../src/probes/schema.js';

type Tok =
  | { t: 'ident'; v: string } // "double quoted"
  | { t: 'word'; v: string }
  | { t: 'str'; v: string } // 'single quoted'
  | { t: 'regex'; v: string }
  | { t: 'var'; v: string } // $name, ${name:format}
  | { t: 'num'; v: string }
  | { t: 'op'; v: string };

export function tokenize(q: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const rest = () => q.slice(i);
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    let m: RegExpMatchArray | null;
    if ((m = rest().match(/^"((?:[^"\\]|\\.)*)"/))) out.push({ t: 'ident', v: m[1]!.replace(/\\(.)/g, '$1') });
    else if ((m = rest().match(/^'((?:[^'\\]|\\.)*)'/))) out.push({ t: 'str', v: m[1]! });
    else if ((m = rest().match(/^\$\{[^}]*\}|^\$\w+/))) out.push({ t: 'var', v: m[0] });
    else if ((m = rest().match(/^\d+(?:\.\d+)?(?:ns|u|µ|ms|s|m|h|d|w)?(?![\w.])/))) out.push({ t: 'num', v: m[0] });
    else if ((m = rest().match(/^[A-Za-z_][A-Za-z0-9_]*/))) out.push({ t: 'word', v: m[0] });
    else if ((m = rest().match(/^(=~|!~|<>|!=|<=|>=|=|<|>|\+|-|\*|\/|%|\(|\)|,|;|::|:)/))) {
      const prev = out[out.length - 1];
      if (m[0] === '/' && prev?.t === 'word' && prev.v.toUpperCase() === 'FROM') throw new Error('FROM /regex/: name the measurement');
      if (m[0] === '*' && (prev?.t === 'word' ? prev.v.toUpperCase() === 'SELECT' : prev?.t === 'op' && (prev.v === ',' || prev.v === '(')))
        throw new Error('wildcard (*) selects fields nobody checked: name them');
      out.push({ t: 'op', v: m[0] });
      // A regex literal only ever follows a regex operator (or FROM, which we reject).
      if (m[0] === '=~' || m[0] === '!~') {
        i += m[0].length;
        while (/\s/.test(q[i] ?? '')) i++;
        const r = q.slice(i).match(/^\/((?:[^/\\]|\\.)*)\//);
        if (!r) throw new Error(`regex literal expected after ${m[0]} at ${i}: ${q.slice(i, i + 30)}`);
        out.push({ t: 'regex', v: r[1]! });
        i += r[0].length;
        continue;
      }
    } else if (c === '/') throw new Error(`regex literal outside a =~/!~ comparison at ${i}: ${q.slice(i, i + 30)}`);
    else throw new Error(`unexpected character ${JSON.stringify(c)} at ${i}`);
    i += m[0].length;
  }
  return out;
}

const KEYWORDS = new Set(
  'SELECT FROM WHERE AND OR NOT AS GROUP BY ORDER ASC DESC LIMIT SLIMIT OFFSET SOFFSET FILL NULL NONE PREVIOUS LINEAR TRUE FALSE SHOW TAG VALUES KEY WITH TZ'.split(' '),
);
/** Functions on numbers only (InfluxQL rejects them on strings and booleans). */
const NUMERIC_FUNCS = new Set(['mean', 'median', 'sum', 'spread', 'stddev', 'integral', 'percentile', 'derivative', 'non_negative_derivative', 'difference', 'non_negative_difference', 'moving_average', 'cumulative_sum', 'min', 'max', 'abs', 'round', 'floor', 'ceil']);
const ANY_FUNCS = new Set(['count', 'first', 'last', 'distinct', 'mode', 'sample', 'top', 'bottom', 'elapsed']);
const SPECIAL_FUNCS = new Set(['time', 'now']);

export interface QueryFacts {
  kind: 'select' | 'show';
  measurements: string[];
  /** Field or tag names referenced (not measurement names, not aliases). */
  references: string[];
  aliases: string[];
  groupBy: string[];
  /** Dashboard variables and macros used, as written ($timeFilter, ${target:regex}, ...). */
  variables: string[];
  problems: string[];
}

type Schema = Record<string, MeasurementSchema>;

/**
 * Tags every point of a measurement carries besides its own. The `collector`
 * measurement is health data about a replica, not about a target: it is
 * tagged `source` and `instance` only (src/probes/schema.ts, docs/schema.md).
 */
export function commonTagsOf(measurement: string, commonTags: readonly string[] = COMMON_TAGS): readonly string[] {
  return measurement === 'collector' ? ['source'] : commonTags;
}

export function analyze(q: string, schema: Schema = SCHEMA, commonTags: readonly string[] = COMMON_TAGS): QueryFacts {
  const facts: QueryFacts = { kind: 'select', measurements: [], references: [], aliases: [], groupBy: [], variables: [], problems: [] };
  facts.variables = [...q.matchAll(/\$\{[^}]*\}|\$\w+/g)].map((m) => m[0]);
  let toks: Tok[];
  try {
    toks = tokenize(q);
  } catch (err) {
    facts.problems.push((err as Error).message);
    return facts;
  }
  const up = (k: number) => (toks[k]?.t === 'word' ? toks[k]!.v.toUpperCase() : '');
  if (up(0) === 'SHOW') {
    facts.kind = 'show';
    if (up(1) !== 'TAG' || up(2) !== 'VALUES') facts.problems.push(`only SHOW TAG VALUES is expected, got: ${q}`);
  } else if (up(0) !== 'SELECT') facts.problems.push(`not a SELECT or SHOW TAG VALUES: ${q}`);
  if (toks.some((t) => t.t === 'op' && t.v === ';')) facts.problems.push('one statement per query');

  // token index -> measurement | alias | ref | group | key | numeric:<function>
  const identRole = new Map<number, string>();
  let clause = '';
  for (let k = 0; k < toks.length; k++) {
    const tok = toks[k]!;
    const next = toks[k + 1];
    if (tok.t === 'word') {
      const U = tok.v.toUpperCase();
      const isCall = next?.t === 'op' && next.v === '(';
      if (KEYWORDS.has(U)) {
        if (U === 'FROM') {
          clause = 'FROM';
          // measurement list: "a", "b" — no regex, no subquery
          let j = k + 1;
          for (;;) {
            const m = toks[j];
            if (m?.t === 'ident' || (m?.t === 'word' && !KEYWORDS.has(m.v.toUpperCase()))) {
              if (m.t === 'word') facts.problems.push(`unquoted measurement ${m.v}`);
              facts.measurements.push(m.v);
              identRole.set(j, 'measurement');
            } else if (m?.t === 'op' && m.v === '(') facts.problems.push('subqueries are not used by the dashboards');
            else facts.problems.push(`FROM must name a measurement in double quotes: ${q}`);
            if (toks[j + 1]?.t === 'op' && toks[j + 1]!.v === ',') j += 2;
            else break;
          }
          k = j;
        } else if (U === 'AS') {
          if (next?.t !== 'ident') facts.problems.push(`alias after AS must be double-quoted: ${q}`);
          else {
            identRole.set(k + 1, 'alias');
            facts.aliases.push(next.v);
            k++;
          }
        } else if (U === 'BY' && up(k - 1) === 'GROUP') clause = 'GROUP BY';
        else if (U === 'KEY') clause = 'KEY';
        else if (['WHERE', 'ORDER', 'LIMIT', 'FILL', 'SELECT', 'SLIMIT', 'OFFSET', 'SOFFSET'].includes(U)) clause = U;
        continue;
      }
      if (isCall) {
        const f = tok.v.toLowerCase();
        if (!NUMERIC_FUNCS.has(f) && !ANY_FUNCS.has(f) && !SPECIAL_FUNCS.has(f)) facts.problems.push(`unknown function ${tok.v}()`);
        const arg = toks[k + 2];
        if (NUMERIC_FUNCS.has(f) && arg?.t === 'ident') identRole.set(k + 2, `numeric:${f}`);
        continue;
      }
      if (tok.v === 'time') continue; // the time column (ORDER BY time, time > now() - 1h)
      facts.problems.push(`unquoted identifier or unknown keyword "${tok.v}" (quote identifiers with double quotes)`);
      continue;
    }
    if (tok.t === 'ident' && !identRole.has(k)) identRole.set(k, clause === 'GROUP BY' ? 'group' : clause === 'KEY' ? 'key' : 'ref');
  }

  // Resolve identifiers against the schema.
  const known = facts.measurements.filter((m) => {
    if (schema[m]) return true;
    facts.problems.push(`measurement "${m}" is not written by the daemon`);
    return false;
  });
  if (facts.kind === 'select' && facts.measurements.length === 0) facts.problems.push('SELECT without FROM');
  const scope: MeasurementSchema[] = known.length ? known.map((m) => schema[m]!) : facts.kind === 'show' ? Object.values(schema) : [];
  const scopeNames = known.length ? known : facts.kind === 'show' ? Object.keys(schema) : [];
  const isTag = (n: string) => scopeNames.some((m) => commonTagsOf(m, commonTags).includes(n) || schema[m]!.tags.includes(n)) || (!scopeNames.length && commonTags.includes(n));
  const typeOf = (n: string): FieldType | undefined => scope.map((s) => s.fields[n]).find((t) => t !== undefined);
  const where = known.length ? known.map((m) => `"${m}"`).join(', ') : 'any measurement';
  for (const [k, role] of identRole) {
    const name = (toks[k] as { v: string }).v;
    if (role === 'measurement' || role === 'alias') continue;
    facts.references.push(name);
    if (role === 'group' || role === 'key') {
      if (!isTag(name)) facts.problems.push(`${role === 'key' ? 'WITH KEY' : 'GROUP BY'} "${name}": not a tag of ${where}`);
      if (role === 'group') facts.groupBy.push(name);
      continue;
    }
    if (facts.kind === 'show') {
      if (!isTag(name)) facts.problems.push(`"${name}" in SHOW TAG VALUES is not a tag of ${where}`);
      continue;
    }
    const type = typeOf(name);
    if (!type && !isTag(name)) facts.problems.push(`"${name}" is neither a field nor a tag of ${where}`);
    if (role.startsWith('numeric:') && type !== 'float' && type !== 'integer') facts.problems.push(`${role.slice(8)}("${name}"): ${name} is ${type ?? (isTag(name) ? 'a tag' : 'unknown')}, not a number`);
  }
  return facts;
}

/** Grafana's regex escaping (kbn.regexEscape), as the `${var:regex}` format applies it. */
export function grafanaRegexEscape(v: string): string {
  return v.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/**
 * What Grafana sends for a query: variables as `${name:regex}` (escaped),
 * `$timeFilter` and `$__interval` as the datasource renders them.
 */
export function substitute(q: string, vars: Record<string, string>, macros: { timeFilter: string; interval: string; intervalMs: number }): string {
  return q
    .replace(/\$\{(\w+):regex\}/g, (_, n: string) => {
      if (!(n in vars)) throw new Error(`no value for variable ${n}`);
      return grafanaRegexEscape(vars[n]!);
    })
    .replace(/\$timeFilter\b/g, macros.timeFilter)
    .replace(/\$__interval_ms\b/g, String(macros.intervalMs))
    .replace(/\$__interval\b/g, macros.interval)
    .replace(/\$\{?(\w+)\}?/g, (m, n: string) => {
      if (n in vars) return vars[n]!;
      throw new Error(`unsubstituted ${m} in ${q}`);
    });
}
