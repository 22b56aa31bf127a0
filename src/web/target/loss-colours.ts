import { effectiveTheme } from '../theme.js';

/**
 * SmokePing's loss colour scale (its default for 20 pings: 0, 1/20, 2/20,
 * 3/20, 4/20, 10/20, 19/20), as upper bounds in percent: a slot takes the
 * first colour whose bound is >= its loss. On a light background the two
 * palest steps are darkened to keep 3:1 against white (WCAG 1.4.11); the hue
 * order is SmokePing's.
 */
const SCALE: { upTo: number; label: string; dark: string; light: string }[] = [
  { upTo: 0, label: '0', dark: '#26ff00', light: '#1c8c00' },
  { upTo: 5, label: '≤5%', dark: '#00b8ff', light: '#0077a8' },
  { upTo: 10, label: '≤10%', dark: '#0059ff', light: '#0052eb' },
  { upTo: 15, label: '≤15%', dark: '#5e00ff', light: '#5e00ff' },
  { upTo: 20, label: '≤20%', dark: '#7e00ff', light: '#7e00ff' },
  { upTo: 50, label: '≤50%', dark: '#dd00ff', light: '#b300cf' },
  { upTo: 100, label: '>50%', dark: '#ff0000', light: '#e00000' },
];

export function lossColour(lossPct: number): string {
  const dark = effectiveTheme() === 'dark';
  for (const s of SCALE) if (lossPct <= s.upTo + 1e-9) return dark ? s.dark : s.light;
  return dark ? SCALE[SCALE.length - 1]!.dark : SCALE[SCALE.length - 1]!.light;
}

export function lossLegend(): { label: string; colour: string }[] {
  const dark = effectiveTheme() === 'dark';
  return SCALE.map((s) => ({ label: s.label, colour: dark ? s.dark : s.light }));
}
