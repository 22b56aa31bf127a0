/**
 * A gauge with one series per target (optionally per target and one more
 * label: probe, phase), kept in a Map and rendered as text directly.
 * prom-client's Gauge hashes a label object on every set and formats every
 * series through generic code at every scrape: at 10,000 targets its two
 * per-target gauges blocked the event loop for ~80 ms per scrape (the largest
 * source of event-loop lag in the scale benchmark). Here a series' label text
 * is escaped once, when the series first appears, and its line is built when
 * it is set, so a scrape only joins strings.
 */
export class PerTargetGauge {
  /** target -> (second label value | '') -> its exposition line, built when the value is set. */
  private readonly series = new Map<string, Map<string, { prefix: string; line: string }>>();

  constructor(
    readonly name: string,
    private readonly help: string,
    /** Name of the second label (`probe`, `phase`), if any. */
    private readonly label?: string,
  ) {}

  set(target: string, value: number, labelValue = ''): void {
    let perTarget = this.series.get(target);
    if (!perTarget) this.series.set(target, (perTarget = new Map()));
    const s = perTarget.get(labelValue);
    if (s) {
      s.line = s.prefix + formatValue(value);
    } else {
      const extra = this.label ? `,${this.label}="${escapeLabelValue(labelValue)}"` : '';
      const prefix = `${this.name}{target="${escapeLabelValue(target)}"${extra}} `;
      perTarget.set(labelValue, { prefix, line: prefix + formatValue(value) });
    }
  }

  /** Drop one series (labelValue given) or every series of the target. */
  remove(target: string, labelValue?: string): void {
    if (labelValue === undefined) this.series.delete(target);
    else this.series.get(target)?.delete(labelValue);
  }

  get size(): number {
    let n = 0;
    for (const m of this.series.values()) n += m.size;
    return n;
  }

  /** Text exposition format 0.0.4, as prom-client renders a gauge. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${this.name} gauge`];
    for (const m of this.series.values()) for (const s of m.values()) lines.push(s.line);
    return `${lines.join('\n')}\n`;
  }
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
