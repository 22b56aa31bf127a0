/**
 * What changed between two routes, hop by hop: `hop 2: 10.77.2.2 -> 10.77.5.2`.
 * From the change's own `route_diff` field when the trace stored one
 * (`2:10.77.2.2>10.77.5.2;4:+10.77.9.1;5:-10.77.3.2`), else from the two
 * routes' paths (`a>b>*>c`, one address or `*` per TTL, `|`-joined for
 * ECMP sets). A silent hop (`*`) is never a difference by itself.
 */

export interface HopChange {
  ttl: number;
  from: string | null;
  to: string | null;
}

export function parseRouteDiff(diff: string): HopChange[] {
  const out: HopChange[] = [];
  for (const part of diff.split(';')) {
    const m = /^(\d+):(.*)$/.exec(part.trim());
    if (!m) continue;
    const ttl = Number(m[1]);
    const body = m[2]!;
    if (body.startsWith('+')) out.push({ ttl, from: null, to: body.slice(1) });
    else if (body.startsWith('-')) out.push({ ttl, from: body.slice(1), to: null });
    else {
      const [from, to] = body.split('>');
      out.push({ ttl, from: from ?? null, to: to ?? null });
    }
  }
  return out;
}

export function diffPaths(before: string | null | undefined, after: string | null | undefined): HopChange[] {
  if (!before || !after) return [];
  const a = before.split('>');
  const b = after.split('>');
  const out: HopChange[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) out.push({ ttl: i + 1, from: null, to: y! });
    else if (y === undefined) out.push({ ttl: i + 1, from: x, to: null });
    else if (x !== '*' && y !== '*' && x !== y) out.push({ ttl: i + 1, from: x, to: y });
  }
  return out;
}

export function describeHopChange(c: HopChange): string {
  if (c.from === null) return `hop ${c.ttl}: + ${c.to}`;
  if (c.to === null) return `hop ${c.ttl}: ${c.from} removed`;
  return `hop ${c.ttl}: ${c.from} -> ${c.to}`;
}
