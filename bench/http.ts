import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, Proc, until } from '../scripts/lib/services.js';
import { cpu, mb, paced, r3, rss, sleep, treeCpu } from './lib/proc.js';
import { benchDaemon } from './lib/daemon.js';
import { startTargetServer } from './lib/target-server.js';

export interface HttpRow {
  tool: string;
  probes: number;
  cpuPer1000: number;
  driverCpuPer1000: number | null;
  rssMb: number;
  ttfbMs: number;
}

/**
 * The same loopback targets, the same rate: our daemon (keep-alive and new
 * connection per probe) and blackbox_exporter driven through /probe. The
 * target answers after 50 ms, so both should measure a time to first byte
 * of at least 50 ms.
 */
export async function benchHttp(o: { targets: number; seconds: number; dir: string }): Promise<HttpRow[]> {
  const server = await startTargetServer(50);
  const rows: HttpRow[] = [];
  const interval = 2;
  const rate = o.targets / interval;
  try {
    for (const reuse of [true, false]) {
      const urls = Array.from({ length: o.targets }, (_, i) => `${server.url}/t/${i}`);
      const d = await benchDaemon({
        TARGET_FQDNS: urls.join(','),
        COLLECTION_INTERVAL: String(interval),
        HTTP_REUSE_CONNECTIONS: String(reuse),
      });
      try {
        await sleep(2 * interval * 1000); // warm up: connections, JIT
        const s0 = await server.stats();
        const c0 = treeCpu(d.proc.pid!);
        await sleep(o.seconds * 1000);
        const c1 = treeCpu(d.proc.pid!);
        const s1 = await server.stats();
        const pts = await d.json<{ points: { fields: { ttfb_ms?: number } }[] }>('/api/points?measurement=http&since=10s&limit=10000');
        const ttfb = pts.points.map((p) => p.fields.ttfb_ms ?? 0);
        const probes = s1.requests - s0.requests;
        rows.push({
          tool: `network-telemetry (${reuse ? 'keep-alive' : 'new connection per probe'})`,
          probes,
          cpuPer1000: r3(((c1.total - c0.total) / probes) * 1000),
          driverCpuPer1000: null,
          rssMb: mb(rss(d.proc.pid!)),
          ttfbMs: r3(ttfb.reduce((a, b) => a + b, 0) / Math.max(1, ttfb.length)),
        });
      } finally {
        await d.cleanup();
      }
    }

    // blackbox_exporter, one /probe per target at the same rate.
    const port = await freePort();
    const cfg = join(o.dir, 'blackbox.yml');
    writeFileSync(cfg, 'modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n');
    const bb = new Proc('prometheus-blackbox-exporter', [`--config.file=${cfg}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn']).start();
    try {
      await until(async () => (await fetch(`http://127.0.0.1:${port}/-/healthy`)).ok, 'blackbox_exporter');
      const pid = bb.child!.pid!;
      const total = Math.round(rate * o.seconds);
      const ttfb: number[] = [];
      const probe = async (i: number) => {
        const r = await fetch(`http://127.0.0.1:${port}/probe?module=http_2xx&target=${encodeURIComponent(`${server.url}/t/${i % o.targets}`)}`);
        const text = await r.text();
        const m = /^probe_http_duration_seconds\{phase="processing"\} ([\d.e+-]+)/m.exec(text);
        if (m) ttfb.push(Number(m[1]) * 1000);
      };
      await paced(Math.round(rate * 2), rate, 64, probe); // warm up
      const s0 = await server.stats();
      const c0 = cpu(pid);
      const d0 = cpu('self');
      ttfb.length = 0;
      await paced(total, rate, 64, probe);
      const c1 = cpu(pid);
      const d1 = cpu('self');
      const s1 = await server.stats();
      const probes = s1.requests - s0.requests;
      rows.push({
        tool: 'blackbox_exporter 0.23 (/probe, http_2xx)',
        probes,
        cpuPer1000: r3(((c1.total - c0.total) / probes) * 1000),
        driverCpuPer1000: r3(((d1.self - d0.self) / probes) * 1000),
        rssMb: mb(rss(pid)),
        ttfbMs: r3(ttfb.reduce((a, b) => a + b, 0) / Math.max(1, ttfb.length)),
      });
    } finally {
      await bb.stop('SIGKILL');
    }
  } finally {
    await server.close();
  }
  return rows;
}
