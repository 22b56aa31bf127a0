import type { StoredPoint } from '../../src/outbox/stored-point.js';

/**
 * Parse one line of InfluxDB line protocol as src/outbox/transports/line-protocol.ts
 * writes it (`measurement,tag=v field=1.5,n=3i,s="x",b=t <ns>`), escaped the
 * way @influxdata/influxdb-client's Point escapes: `\,` `\ ` `\=` in names and
 * tags, `\"` `\\` inside string fields, `\n` `\r` `\t` for those characters.
 *
 * Only bench/sink.ts needs it: the cost of decoding line protocol, beside
 * the outbox's JSON rows (the official client has a writer but no parser).
 */
export function parseLineProtocol(line: string): StoredPoint {
  let pos = 0;
  const n = line.length;

  /** Read an escaped token up to one of `stops` (unescaped). */
  const token = (stops: string): string => {
    let out = '';
    while (pos < n) {
      const c = line[pos]!;
      if (c === '\\' && pos + 1 < n) {
        const next = line[pos + 1]!;
        out += next === 'n' ? '\n' : next === 'r' ? '\r' : next === 't' ? '\t' : next;
        pos += 2;
        continue;
      }
      if (stops.includes(c)) break;
      out += c;
      pos++;
    }
    return out;
  };
  const expect = (c: string) => {
    if (line[pos] !== c) throw new Error(`expected "${c}" at ${pos}`);
    pos++;
  };

  const m = token(', ');
  if (!m) throw new Error('no measurement');
  const t: Record<string, string> = {};
  while (line[pos] === ',') {
    pos++;
    const k = token('=');
    expect('=');
    t[k] = token(', ');
  }
  expect(' ');
  const f: StoredPoint['f'] = {};
  let i: Record<string, number> | undefined;
  for (;;) {
    const k = token('=');
    expect('=');
    if (line[pos] === '"') {
      pos++;
      let s = '';
      while (pos < n && line[pos] !== '"') {
        if (line[pos] === '\\' && pos + 1 < n) {
          const next = line[pos + 1]!;
          s += next === 'n' ? '\n' : next === 'r' ? '\r' : next === 't' ? '\t' : next;
          pos += 2;
        } else s += line[pos++];
      }
      expect('"');
      f[k] = s;
    } else {
      const raw = token(', ');
      if (/^(t|T|true|True|TRUE)$/.test(raw)) f[k] = true;
      else if (/^(f|F|false|False|FALSE)$/.test(raw)) f[k] = false;
      else if (/^-?\d+[iu]$/.test(raw)) (i ??= {})[k] = Number(raw.slice(0, -1));
      else {
        const v = Number(raw);
        if (raw === '' || !Number.isFinite(v)) throw new Error(`bad field value "${raw}"`);
        f[k] = v;
      }
    }
    if (line[pos] !== ',') break;
    pos++;
  }
  expect(' ');
  const tsRaw = line.slice(pos).trim();
  if (!/^-?\d+$/.test(tsRaw)) throw new Error(`bad timestamp "${tsRaw}"`);
  // Stored with precision=ns; our timestamps are whole milliseconds.
  const ts = Number(BigInt(tsRaw) / 1_000_000n);
  const p: StoredPoint = { m, t, f, ts };
  if (i) p.i = i;
  return p;
}
