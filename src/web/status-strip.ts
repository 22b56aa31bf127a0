import { isAbort, request } from './api.js';
import type { DaemonStatus } from './api-types.js';
import { h } from './dom.js';
import { ago, duration } from './format.js';
import { Poller } from './poller.js';

/** health, breakers, outbox backlog, cluster members, last round: from /api/status every 15 s. */
export class StatusStrip {
  private readonly poller = new Poller((signal) => this.refresh(signal), 15_000);

  constructor(private readonly el: HTMLElement) {}

  start(): void {
    this.el.setAttribute('aria-busy', 'true');
    this.poller.start();
  }

  private async refresh(signal: AbortSignal): Promise<void> {
    try {
      const s = await request<DaemonStatus>('/api/status', { signal });
      this.render(s);
    } catch (err) {
      if (isAbort(err)) return;
      this.el.replaceChildren(item('Daemon', h('span', { class: 'badge failing' }, 'no status'), (err as Error).message));
    } finally {
      this.el.removeAttribute('aria-busy');
    }
  }

  private render(s: DaemonStatus): void {
    const open = s.breakers.filter((b) => b.state === 'open');
    const half = s.breakers.filter((b) => b.state === 'half_open' || b.state === 'half-open');
    const members = s.cluster.members;
    const up = members.filter((m) => m.available).length;
    const pending = s.outbox ? Object.entries(s.outbox.pending) : [];
    const problems = Object.entries(s.components).filter(([, c]) => c.status !== 'ok');
    this.el.replaceChildren(
      item('Health', h('span', { class: `badge ${s.status}`, 'data-health': s.status }, s.status), problems.map(([n, c]) => `${n}: ${c.status}`).join(', ') || `${s.source} · v${s.version} · up ${duration(s.uptime_s)}`),
      item(
        'Circuit breakers',
        h('span', { class: open.length ? 'badge failing' : half.length ? 'badge degraded' : 'badge ok' }, open.length ? `${open.length} open` : half.length ? `${half.length} half-open` : 'all closed'),
        s.breakers.length ? [...open, ...half].map((b) => `${b.host} ${b.state}`).join(', ') : s.breaker_hosts ? `${s.breaker_hosts} HTTP host${s.breaker_hosts === 1 ? '' : 's'}` : 'no HTTP hosts yet',
      ),
      item('Outbox', s.outbox ? `${s.outbox.points.toLocaleString()} points` : 'none', s.outbox ? (pending.length ? pending.map(([e, n]) => `${e}: ${n.toLocaleString()}`).join(', ') : 'nothing pending') : 'embedded store only'),
      item(
        'Cluster',
        s.cluster.mode === 'standalone' ? 'standalone' : `${up} of ${members.length} members`,
        s.cluster.mode === 'standalone' ? s.instance : members.map((m) => `${m.id}${m.self ? ' (this)' : ''}${m.available ? '' : ' unavailable'}`).join(', '),
      ),
      item('Last round', s.last_round ? duration(s.last_round.duration_s) : '–', s.last_round ? ago(s.last_round.at) : 'no round yet'),
    );
  }

  dispose(): void {
    this.poller.stop();
  }
}

function item(label: string, value: Node | string, detail: string): HTMLElement {
  return h('div', { class: 'strip-item' }, h('dt', {}, label), h('dd', {}, value, h('span', { class: 'muted strip-detail', title: detail }, detail)));
}
