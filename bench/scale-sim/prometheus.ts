import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, Proc, until } from '../../scripts/lib/services.js';

/**
 * A real Prometheus scraping the replicas listed in a file_sd file (the
 * StatefulSet keeps it to the pods that exist), as the kubernetes-pods job
 * scrapes pods: each series carries `namespace` and `pod`, which the
 * prometheus-adapter rule selects on.
 */
export class SimPrometheus {
  readonly proc: Proc;
  readonly sdFile: string;

  private constructor(
    readonly port: number,
    dir: string,
    scrapeIntervalS: number,
  ) {
    mkdirSync(dir, { recursive: true });
    this.sdFile = join(dir, 'pods.json');
    writeFileSync(this.sdFile, '[]');
    const cfg = join(dir, 'prometheus.yml');
    const every = `${Math.round(scrapeIntervalS * 1000)}ms`;
    writeFileSync(
      cfg,
      [
        'global:',
        `  scrape_interval: ${every}`,
        `  scrape_timeout: ${Math.round(scrapeIntervalS * 900)}ms`,
        'scrape_configs:',
        '  - job_name: kubernetes-pods',
        '    file_sd_configs:',
        `      - files: ["${this.sdFile}"]`,
        '        refresh_interval: 1s',
        '',
      ].join('\n'),
    );
    this.proc = new Proc('prometheus', [`--config.file=${cfg}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn']);
  }

  static async start(dir: string, scrapeIntervalS: number): Promise<SimPrometheus> {
    const p = new SimPrometheus(await freePort(), dir, scrapeIntervalS);
    p.proc.start();
    await until(async () => (await fetch(`${p.url}/-/ready`)).ok, `prometheus on ${p.port}: ${p.proc.output}`, 60_000, 200);
    return p;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** An instant query: label set -> value. */
  async query(q: string): Promise<{ metric: Record<string, string>; value: number }[]> {
    const r = await fetch(`${this.url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: q }), signal: AbortSignal.timeout(5000) });
    const j = (await r.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (j.status !== 'success') throw new Error(`PromQL ${q}: ${j.error}`);
    return j.data.result.map((x) => ({ metric: x.metric, value: Number(x.value[1]) }));
  }

  async stop(): Promise<void> {
    await this.proc.stop('SIGKILL');
  }
}
