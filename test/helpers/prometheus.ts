import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, Proc, until } from '../../scripts/lib/services.js';

/**
 * Prometheus 2.42 as a remote-write receiver (--web.enable-remote-write-receiver,
 * POST /api/v1/write), no scrapes. Stop/start keeps its TSDB (SIGTERM closes
 * the WAL cleanly); cleanup removes it.
 */
export class PrometheusReceiver {
  readonly proc: Proc;
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {
    const cfg = join(dir, 'prometheus.yml');
    writeFileSync(cfg, 'global:\n  scrape_interval: 1m\n');
    this.proc = new Proc('prometheus', [
      `--config.file=${cfg}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
      '--log.level=warn',
    ]);
  }

  static async start(): Promise<PrometheusReceiver> {
    const p = new PrometheusReceiver(await freePort(), mkdtempSync(join(tmpdir(), 'nt-prom-')));
    await p.up();
    return p;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  get writeUrl(): string {
    return `${this.url}/api/v1/write`;
  }

  async up(): Promise<void> {
    this.proc.start();
    await until(async () => (await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(2000) })).ok, `prometheus on ${this.port}: ${this.proc.output}`, 60_000, 100);
  }

  async down(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.proc.stop(signal, 30_000);
  }

  /** Every raw sample of the series matching `selector` in the last `range` (e.g. `1h`). */
  async samples(selector: string, range = '1h'): Promise<{ metric: Record<string, string>; values: [number, string][] }[]> {
    const r = await fetch(`${this.url}/api/v1/query?${new URLSearchParams({ query: `${selector}[${range}]`, time: String(Date.now() / 1000 + 60) })}`);
    const body = (await r.json()) as { status: string; data: { result: { metric: Record<string, string>; values: [number, string][] }[] }; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus query ${selector}: ${body.error}`);
    return body.data.result;
  }

  async cleanup(): Promise<void> {
    await this.proc.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
