import type { Target } from '../config/targets.js';
import type { ProbeModule } from '../probes/module.js';
import type { ChartSpec, FigureSpec, PanelSpec } from '../probes/view.js';

/**
 * What the pages draw for each probe, from the registry: the overview's
 * figure columns and, for one target, each of its probes' settings line and
 * panel. The pages know kinds of drawings (probes/view.ts ChartSpec), never
 * a probe: a new probe is drawn from what its module declares.
 */

/** The overview's figure columns (in registry order). */
export function figureColumns(figures: readonly FigureSpec[]): { key: string; label: string; unit: FigureSpec['unit']; sort: string }[] {
  return figures.filter((f) => f.column !== false).map((f) => ({ key: f.key, label: f.label, unit: f.unit, sort: f.sort ?? f.key }));
}

/** Each probe of the target: its settings in words (check-config's summary, secrets redacted). */
export function probeSettings(t: Target, modules: readonly ProbeModule[]): { probe: string; summary: string }[] {
  return t.probes.flatMap((kind) => {
    const m = modules.find((x) => x.kind === kind);
    return m ? [{ probe: kind, summary: m.summary(t.specs[kind]) }] : [];
  });
}

/** The figures of the target's probes (key, label, unit), in the order of its probes: a column each where sources are compared. */
export function targetFigures(t: Target, modules: readonly ProbeModule[]): { key: string; label: string; unit: FigureSpec['unit'] }[] {
  return t.probes.flatMap((kind) => (modules.find((x) => x.kind === kind)?.figures ?? []).map((f) => ({ key: f.key, label: f.label, unit: f.unit })));
}

/** Each probe of the target: its panel on the target page. */
export function probePanels(t: Target, modules: readonly ProbeModule[]): ({ probe: string } & PanelSpec)[] {
  return t.probes.flatMap((kind) => {
    const m = modules.find((x) => x.kind === kind);
    return m ? [{ probe: kind, ...panelOf(m) }] : [];
  });
}

/**
 * A module's panel, or one drawn from its rollups when it declares none: a
 * chart of lines per rollup, one line per output (run counts aside), so a
 * probe's history shows before anyone designs its charts.
 */
export function panelOf(m: ProbeModule): PanelSpec {
  if (m.panel) return m.panel;
  const charts: ChartSpec[] = (m.rollups ?? []).map((r) => ({
    id: `chart-${m.kind}-${r.name}`,
    title: `${m.kind}: ${r.measurement}`,
    rollup: r.name,
    type: 'lines',
    lines: r.outputs.filter((o) => o.name !== 'ok' && o.name !== 'failed').map((o) => ({ column: o.name, label: o.name, unit: unitOf(o.name) })),
    ...(r.outputs.some((o) => o.name === 'failed') ? { failed: 'failed' } : {}),
  }));
  return { charts };
}

function unitOf(name: string): string {
  if (name.endsWith('_ms')) return 'ms';
  if (name.endsWith('_pct')) return '%';
  return '';
}
