/**
 * A webhook receiver for Alertmanager (its webhook_configs JSON), on loopback:
 * what the loopback stack's Alertmanager and the alerting tests deliver to.
 * It keeps every notification (bounded) so a caller can wait for an alert by
 * name and state, and answers 200 as a chat or paging bridge would.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Notification {
  /** The path it was posted to (one receiver per path: /ops, /watchdog). */
  path: string;
  at: number;
  status: 'firing' | 'resolved';
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
}

const MAX_KEPT = 10_000;

export class AlertReceiver {
  readonly received: Notification[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<AlertReceiver> {
    const server = createServer();
    const r = new AlertReceiver(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 1024 * 1024) chunks.push(c);
      });
      req.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Omit<Notification, 'path' | 'at'>;
          if (r.received.length >= MAX_KEPT) r.received.shift();
          r.received.push({ path: req.url ?? '/', at: Date.now(), status: body.status, alerts: body.alerts ?? [] });
          res.writeHead(200).end('ok');
        } catch {
          res.writeHead(400).end('not an Alertmanager webhook body');
        }
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    return r;
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** Notifications to `path` naming `alertname` in `state`. */
  find(path: string, alertname: string, state: 'firing' | 'resolved' = 'firing'): Notification['alerts'] {
    return this.received.filter((n) => n.path === path).flatMap((n) => n.alerts.filter((a) => a.labels.alertname === alertname && a.status === state));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((ok) => this.server.close(() => ok()));
  }
}

/** prometheus/alertmanager.yml rendered for `receiver` (ops -> /ops, Watchdog -> /watchdog) into `dir`; returns the file. */
export async function renderAlertmanagerConfig(repo: string, dir: string, receiver: AlertReceiver): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  execFileSync('sh', [`${repo}/prometheus/alertmanager-entrypoint.sh`, '--render-only'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ALERTMANAGER_CONFIG_TEMPLATE: `${repo}/prometheus/alertmanager.yml`,
      ALERTMANAGER_RUNTIME_DIR: dir,
      ALERT_WEBHOOK_URL: receiver.url('/ops'),
      WATCHDOG_WEBHOOK_URL: receiver.url('/watchdog'),
    },
    stdio: 'pipe',
  });
  return `${dir}/alertmanager.yml`;
}
