import { ApiError, request } from '../api.js';
import type { CollectReply, CollectResult } from '../api-types.js';
import { errorBox, h } from '../dom.js';
import { ms } from '../format.js';

/**
 * "Probe now": POST /collect for this target. When the daemon wants a
 * token (401, COLLECT_TOKEN or DATA_DIR/collect-token) the panel asks for
 * it once and keeps it in sessionStorage for the tab's life.
 */

const TOKEN_KEY = 'nt-collect-token';
const SKIP = new Set(['target', 'probe', 'success', 'reason', 'detail', 'duration_ms']);

function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function storeToken(t: string | null): void {
  try {
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // not kept: asked again next time
  }
}

export class ProbeNow {
  readonly button = h('button', { type: 'button', id: 'probe-now', class: 'primary' }, 'Probe now');
  readonly panel = h('div', { id: 'probe-result', 'aria-live': 'polite' });

  constructor(
    private readonly target: string,
    private readonly onDone: () => void,
  ) {
    this.button.addEventListener('click', () => void this.run());
  }

  private async run(): Promise<void> {
    this.button.disabled = true;
    this.button.setAttribute('aria-busy', 'true');
    this.panel.replaceChildren(h('p', { class: 'muted' }, `Probing ${this.target}…`));
    const token = storedToken();
    try {
      const reply = await request<CollectReply>('/collect', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ targets: [this.target] }),
      });
      this.panel.replaceChildren(results(reply));
      this.onDone();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        storeToken(null);
        this.askToken(token ? 'The token was refused.' : 'This daemon needs a token to probe on demand.');
      } else {
        this.panel.replaceChildren(errorBox(`Probe failed: ${(err as Error).message}`));
      }
    } finally {
      this.button.disabled = false;
      this.button.removeAttribute('aria-busy');
    }
  }

  private askToken(why: string): void {
    const input = h('input', { type: 'password', id: 'collect-token', autocomplete: 'off', required: true });
    const form = h(
      'form',
      { class: 'token-form' },
      h('p', {}, why, ' It is COLLECT_TOKEN, or the file collect-token in the daemon’s DATA_DIR.'),
      h('label', { for: 'collect-token' }, 'Collect token'),
      ' ',
      input,
      ' ',
      h('button', { type: 'submit' }, 'Probe with token'),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const t = input.value.trim();
      if (!t) return;
      storeToken(t);
      void this.run();
    });
    this.panel.replaceChildren(form);
    input.focus();
  }
}

function figures(r: CollectResult): string {
  return Object.entries(r)
    .filter(([k, v]) => !SKIP.has(k) && v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toFixed(3) : String(v)}`)
    .join('  ');
}

function results(reply: CollectReply): HTMLElement {
  return h(
    'div',
    { class: 'probe-results', 'data-ok': reply.ok, 'data-failed': reply.failed },
    h('p', {}, `Probed at ${new Date(reply.time).toLocaleTimeString()} in ${ms(reply.duration_ms, 0)}: ${reply.ok} ok, ${reply.failed} failed.`),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        {},
        h('caption', { class: 'visually-hidden' }, 'Results of the probe run'),
        h('thead', {}, h('tr', {}, ...['Probe', 'Result', 'Duration', 'Figures'].map((c) => h('th', { scope: 'col' }, c)))),
        h(
          'tbody',
          {},
          ...reply.results.map((r) =>
            h(
              'tr',
              { 'data-probe': r.probe },
              h('td', {}, r.probe),
              h('td', {}, h('span', { class: `badge ${r.success ? 'ok' : 'failing'}` }, r.success ? 'ok' : r.reason ?? 'failed'), r.detail ? h('div', { class: 'why' }, r.detail) : null),
              h('td', { class: 'num' }, ms(r.duration_ms)),
              h('td', { class: 'mono small' }, figures(r)),
            ),
          ),
        ),
      ),
    ),
  );
}
