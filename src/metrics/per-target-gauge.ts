/**
 * Gauges with one series per target (optionally per target and one more
 * label: probe, phase), rendered as text directly.
 *
 * Why not prom-client's Gauge: it hashes a label object on every set and
 * formats every series through generic code at every scrape; at 10,000
 * targets its per-target gauges blocked the event loop for ~80 ms a scrape.
 * A first version of this class kept each series' exposition line as a
 * string, rebuilt at every set: 46 MB retained and 19 µs of sets per target
 * run at 10,000 targets (icmp + http + trace), most of the daemon's memory
 * beyond its baseline. Now every target gets a slot number once
 * (TargetSlots, shared by all the gauges), each gauge keeps its values in
 * one Float64Array (slot x label value), and the text is built at scrape
 * time: about 1 MB for the same series, a set is an array store, and a
 * scrape renders RENDER_CHUNK targets of one gauge per event-loop turn.
 * NaN marks "no value": a series set to NaN is not rendered.
 */
/** Targets rendered per piece of a scrape (TelemetryMetrics yields between pieces). */
export const RENDER_CHUNK = 2000;

export class TargetSlots {
  private readonly slotOf = new Map<string, number>();
  /** Slot -> target name (undefined: free). */
  readonly names: (string | undefined)[] = [];
  /** Slot -> the target as a label value, escaped once. */
  readonly labels: string[] = [];
  private readonly free: number[] = [];
  private readonly gauges: PerTargetGauge[] = [];

  get capacity(): number {
    return this.names.length;
  }

  get(target: string): number | undefined {
    return this.slotOf.get(target);
  }

  slot(target: string): number {
    let s = this.slotOf.get(target);
    if (s !== undefined) return s;
    s = this.free.pop() ?? this.names.length;
    this.slotOf.set(target, s);
    this.names[s] = target;
    this.labels[s] = escapeLabelValue(target);
    return s;
  }

  /** The target left: every gauge forgets it, its slot is reused. */
  release(target: string): void {
    const s = this.slotOf.get(target);
    if (s === undefined) return;
    for (const g of this.gauges) g.clearSlot(s);
    this.slotOf.delete(target);
    this.names[s] = undefined;
    this.labels[s] = '';
    this.free.push(s);
  }

  register(g: PerTargetGauge): void {
    this.gauges.push(g);
  }
}

export class PerTargetGauge {
  /** Values, slot-major: values[slot * width + labelIndex]; NaN = no series. */
  private values = new Float64Array(0);
  private width = 1;
  private allocated = 0;
  /** Second label value -> its column, and each column's rendered `",label="value"} `. */
  private readonly columns = new Map<string, number>();
  private readonly closers: string[] = [];

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly slots: TargetSlots,
    /** Name of the second label (`probe`, `phase`), if any. */
    private readonly label?: string,
  ) {
    slots.register(this);
    if (!label) {
      this.columns.set('', 0);
      this.closers.push('"} ');
    }
  }

  set(target: string, value: number, labelValue = ''): void {
    const s = this.slots.slot(target);
    if (s >= this.allocated) this.grow(s + 1);
    const c = this.column(labelValue); // may widen the rows: before reading this.width
    this.values[s * this.width + c] = value;
  }

  /** Drop one series (labelValue given) or every series of the target. */
  remove(target: string, labelValue?: string): void {
    const s = this.slots.get(target);
    if (s === undefined || s >= this.allocated) return;
    if (labelValue === undefined) return this.clearSlot(s);
    const c = this.columns.get(labelValue);
    if (c !== undefined) this.values[s * this.width + c] = Number.NaN;
  }

  get size(): number {
    let n = 0;
    for (const v of this.values) if (!Number.isNaN(v)) n++;
    return n;
  }

  /** Text exposition format 0.0.4, as prom-client renders a gauge. */
  render(): string {
    let out = this.header();
    for (let s = 0; s < this.slots.capacity; s += RENDER_CHUNK) out += this.renderSlots(s, s + RENDER_CHUNK);
    return out;
  }

  /** `# HELP` and `# TYPE`, then renderSlots() over every slot range. */
  header(): string {
    return `# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${this.name} gauge\n`;
  }

  /** The series of targets in slots [from, to). */
  renderSlots(from: number, to: number): string {
    const { names, labels } = this.slots;
    const w = this.width;
    const end = Math.min(to, this.allocated, names.length);
    // Pieces joined once: a template literal per line left ~1M cons-string
    // cells per scrape for the garbage collector (most of a scrape's CPU).
    const parts: string[] = [];
    const open = `${this.name}{target="`;
    for (let s = from; s < end; s++) {
      if (names[s] === undefined) continue;
      const base = s * w;
      for (let c = 0; c < w; c++) {
        const v = this.values[base + c]!;
        if (Number.isNaN(v)) continue;
        parts.push(open, labels[s]!, this.closers[c]!, formatValue(v), '\n');
      }
    }
    return parts.join('');
  }

  /** @internal (TargetSlots) */
  clearSlot(s: number): void {
    if (s < this.allocated) this.values.fill(Number.NaN, s * this.width, (s + 1) * this.width);
  }

  /** Room for `slots` targets, doubling. */
  private grow(slots: number): void {
    if (slots <= this.allocated) return;
    this.relayout(Math.max(slots, this.allocated * 2, 64), this.width);
  }

  private column(labelValue: string): number {
    let c = this.columns.get(labelValue);
    if (c === undefined) {
      c = this.closers.length;
      this.columns.set(labelValue, c);
      this.closers.push(`",${this.label}="${escapeLabelValue(labelValue)}"} `);
      if (c >= this.width) this.relayout(this.allocated, c + 1);
    }
    return c;
  }

  private relayout(slots: number, width: number): void {
    const next = new Float64Array(slots * width).fill(Number.NaN);
    for (let s = 0; s < this.allocated; s++) next.set(this.values.subarray(s * this.width, (s + 1) * this.width), s * width);
    this.values = next;
    this.allocated = slots;
    this.width = width;
  }
}

function escapeLabelValue(v: string): string {
  return /[\\\n"]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v;
}

function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
