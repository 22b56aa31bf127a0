/**
 * Parser of `mtr --raw` (`-l`) output. Why raw and not `--json`: mtr's JSON
 * report keeps one address per hop, so ECMP paths vanish; raw mode prints
 * every probe sent (`x TTL-1 SEQ`), every address seen (`h TTL-1 IP`), every
 * reply (`p TTL-1 USEC SEQ`) and DNS names (`d`), so we compute loss and RTT
 * statistics from the real samples and keep every address per TTL.
 */
export interface RawHop {
  ttl: number;
  /** Addresses seen at this TTL, in order of appearance. */
  ips: string[];
  sent: number;
  /** Reply RTTs in ms. */
  rtts: number[];
}

export interface RawTrace {
  hops: RawHop[];
  /** Lines with an unknown shape (kept for the log). */
  unparsed: string[];
}

export class MtrParseError extends Error {
  readonly code = 'PARSE_ERROR';
}

export function parseMtrRaw(text: string): RawTrace {
  const byIndex = new Map<number, { ips: string[]; sent: Set<string>; replies: Map<string, number> }>();
  const unparsed: string[] = [];
  const hop = (i: number) => {
    let h = byIndex.get(i);
    if (!h) {
      h = { ips: [], sent: new Set(), replies: new Map() };
      byIndex.set(i, h);
    }
    return h;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const parts = line.split(/\s+/);
    const kind = parts[0];
    const idx = Number(parts[1]);
    if (!Number.isInteger(idx) || idx < 0 || idx > 255) {
      unparsed.push(line);
      continue;
    }
    if (kind === 'x' && parts.length === 3 && /^\d+$/.test(parts[2]!)) {
      hop(idx).sent.add(parts[2]!);
    } else if (kind === 'h' && parts.length === 3 && /^[0-9a-fA-F:.]+$/.test(parts[2]!)) {
      const h = hop(idx);
      if (!h.ips.includes(parts[2]!)) h.ips.push(parts[2]!);
    } else if (kind === 'p' && parts.length >= 3 && /^\d+$/.test(parts[2]!)) {
      // `p TTL USEC SEQ` (0.9x); older versions omit SEQ: count each line as its own reply.
      const seq = parts[3] ?? `line${hop(idx).replies.size}`;
      hop(idx).replies.set(seq, Number(parts[2]) / 1000);
    } else if (kind === 'd' || kind === 'm' || kind === 't') {
      // DNS names (we run with -n and resolve ourselves), MPLS labels, timestamps: not used.
    } else {
      unparsed.push(line);
    }
  }
  if (byIndex.size === 0) throw new MtrParseError(`no hop lines in mtr output${unparsed.length ? ` (first line: ${unparsed[0]!.slice(0, 80)})` : ''}`);
  const hops: RawHop[] = [...byIndex.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([i, h]) => ({ ttl: i + 1, ips: h.ips, sent: Math.max(h.sent.size, h.replies.size), rtts: [...h.replies.values()] }));
  return { hops, unparsed };
}
