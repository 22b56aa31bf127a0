import { h } from './dom.js';

/**
 * Light and dark: the stylesheet follows prefers-color-scheme unless the
 * toggle saved a choice (localStorage, applied before paint by
 * theme-boot.ts). Charts draw on canvas, so they listen for THEME_EVENT and
 * redraw with the new colours.
 */
export const THEME_EVENT = 'nt-theme-change';

export function effectiveTheme(): 'light' | 'dark' {
  const set = document.documentElement.dataset.theme;
  if (set === 'light' || set === 'dark') return set;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

/** A CSS custom property of the root, e.g. cssVar('--fg'). */
export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function themeToggle(): HTMLButtonElement {
  const label = () => (effectiveTheme() === 'dark' ? 'Light theme' : 'Dark theme');
  const btn = h('button', { type: 'button', class: 'theme-toggle', 'aria-pressed': String(effectiveTheme() === 'dark') }, label());
  btn.addEventListener('click', () => {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    try {
      localStorage.setItem('nt-theme', next);
    } catch {
      // not persisted; still applied
    }
    btn.textContent = label();
    btn.setAttribute('aria-pressed', String(next === 'dark'));
    window.dispatchEvent(new Event(THEME_EVENT));
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    btn.textContent = label();
    window.dispatchEvent(new Event(THEME_EVENT));
  });
  return btn;
}
