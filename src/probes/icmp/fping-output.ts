/**
 * fping -C N -q prints, on stderr, one line per target in the order given:
 *   `127.0.0.1 : 0.05 0.06 -`   (`-` = no reply to that echo request)
 * Other stderr lines are diagnostics (e.g. `ICMP Host Unreachable from ...`
 * or `fping: ...` errors). The parser keeps per-target RTT lists and the
 * diagnostics, and refuses lines it cannot read instead of guessing.
 */
export interface FpingResult {
  /** address -> one entry per echo request: RTT in ms, or null when lost. */
  rtts: Map<string, (number | null)[]>;
  /** address -> ICMP error text seen for it (unreachable, prohibited, ...). */
  errors: Map<string, string>;
  /** Lines that matched nothing we know. */
  unparsed: string[];
}

const RESULT_LINE = /^(\S+)\s+:\s+((?:(?:\d+(?:\.\d+)?|-)\s*)+)$/;
const ICMP_ERROR = /^ICMP (.+?) from (\S+) for ICMP Echo sent to (\S+)/;

export function parseFpingOutput(stderr: string, expectedCount: number): FpingResult {
  const rtts = new Map<string, (number | null)[]>();
  const errors = new Map<string, string>();
  const unparsed: string[] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const m = RESULT_LINE.exec(line);
    if (m) {
      const values = m[2]!.trim().split(/\s+/);
      if (values.length !== expectedCount) {
        unparsed.push(line);
        continue;
      }
      rtts.set(m[1]!, values.map((v) => (v === '-' ? null : Number(v))));
      continue;
    }
    const e = ICMP_ERROR.exec(line);
    if (e) {
      errors.set(e[3]!, `ICMP ${e[1]} from ${e[2]}`);
      continue;
    }
    unparsed.push(line);
  }
  return { rtts, errors, unparsed };
}
