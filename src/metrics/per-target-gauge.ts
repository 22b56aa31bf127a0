/**
 * A gauge with one series per target, kept in a Map and rendered as text
 * directly. prom-client's Gauge hashes a label object on every set and formats
 * every series through generic code at every scrape: at 10,000 targets its two
 * per-target gauges blocked the event loop for ~80 ms per scrape (the largest
 * source of event-loop lag in the scale benchmark). Here a series' label text
 * is escaped once, when the target first appears, and its line is built when
 * it is set, so a scrape only joins strings.
 */
export class PerTargetGauge {
  /** target -> its exposition line, built when the value is set (sets are spread over the interval, scrapes are not). */
  private readonly series = new Map<string, { prefix: string; line: string }>();

  constructor(
    readonly name: string,
    private readonly help: string,
  ) {}

  set(target: string, value: number): void {
    const s = this.series.get(target);
    if (s) {
      s.line = s.prefix + formatValue(value);
    } else {
      const prefix = `${this.name}{target="${escapeLabelValue(target)}"} `;
      this.series.set(target, { prefix, line: prefix + formatValue(value) });
    }
  }

  remove(target: string): void {
    this.series.delete(target);
  }

  /** Text exposition format 0.0.4, as prom-client renders a gauge. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${this.name} gauge`];
    for (const s of this.series.values()) lines.push(s.line);
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
