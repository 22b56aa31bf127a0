/**
 * Unknown environment variables that look like ours get a warning naming the
 * known one: a misspelled COLECTION_INTERVAL would otherwise be ignored in
 * silence and the default used.
 */

/** Prefixes only our variables use: anything under them that we do not know is a typo. */
const OUR_PREFIXES = ['INFLUX', 'CIRCUIT_', 'TRACE_', 'ICMP_', 'GEO_', 'CLUSTER_', 'OUTBOX_', 'EMBEDDED_', 'REMOTE_WRITE_', 'COLLECT_', 'TARGET', 'HTTP_REUSE', 'REDIS_', 'MAX_CONCURRENT', 'MAX_CONNECTION'];

/** Variables of the platform, the shell and Node that may sit next to ours. */
const FOREIGN = /^(PATH|HOME|USER|LOGNAME|SHELL|TERM|PWD|OLDPWD|LANG|LANGUAGE|HOSTNAME|SHLVL|TZ|TMPDIR|MAIL|EDITOR|PAGER|DISPLAY|COLORTERM|NO_COLOR|FORCE_COLOR|CI|UV_THREADPOOL_SIZE|INIT_CWD|_)$|^(NODE_|NPM_|npm_|LC_|XDG_|SSH_|KUBERNETES_|DOCKER_|GIT_|SUDO_|container)/;

export function unknownVariableWarnings(raw: NodeJS.ProcessEnv, known: readonly string[]): string[] {
  const knownSet = new Set(known);
  const out: string[] = [];
  for (const name of Object.keys(raw).sort()) {
    if (knownSet.has(name) || FOREIGN.test(name) || !/^[A-Z][A-Z0-9_]*$/.test(name)) continue;
    const close = known
      // Lengths more than 2 apart are more than 2 edits apart: not worth the distance (it ran for every variable at every reload).
      .filter((k) => Math.abs(k.length - name.length) <= 2)
      .map((k) => ({ k, d: distance(name, k) }))
      .filter(({ k, d }) => d <= 2 && Math.min(k.length, name.length) >= 5)
      .sort((a, b) => a.d - b.d)[0];
    const prefix = OUR_PREFIXES.find((p) => name.startsWith(p));
    if (close) out.push(`${name}: unknown variable, ignored: did you mean ${close.k}?`);
    else if (prefix) {
      const family = known.filter((k) => k.startsWith(prefix));
      out.push(`${name}: unknown variable, ignored${family.length ? ` (known ${prefix}* variables: ${family.join(', ')})` : ''}`);
    }
  }
  return out;
}

/** Damerau-Levenshtein (optimal string alignment) distance: a swap of two letters counts one. */
export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
