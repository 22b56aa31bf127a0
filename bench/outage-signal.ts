/**
 * node --import tsx bench/outage-signal.ts [targets=300] [outage_s=120]
 *
 * Does the HPA's signal (telemetry_collection_duration_seconds) move when the
 * database goes away? If the outbox slowed the rounds during an outage, an
 * outage would add pods that cannot help. The daemon as shipped (dist/),
 * loopback targets (icmp + http, 10 s), VictoriaMetrics as the InfluxDB
 * endpoint, stopped for outage_s; the signal read from /metrics every 10 s
 * before, during and after. Prints each reading and the medians.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Victoria } from '../scripts/lib/services.js';
import { startTargetServer } from './lib/target-server.js';
import { benchDaemon } from './lib/daemon.js';

const N = Number(process.argv[2] ?? 300);
const OUTAGE_S = Number(process.argv[3] ?? 120);
const web = await startTargetServer();
const vm = await Victoria.start();
const dir = mkdtempSync(join(tmpdir(), 'nt-exp-'));
const file = join(dir, 'targets.yaml');
const lines = ['targets:'];
for (let i = 0; i < N; i++) lines.push(`  - { name: s${i}, host: "127.7.${Math.floor(i / 250) % 250}.${(i % 250) + 1}", probes: [icmp, http], http: { url: "${web.url}/s/${i}" } }`);
writeFileSync(file, lines.join('\n') + '\n');
const d = await benchDaemon({ TARGETS_FILE: file, COLLECTION_INTERVAL: '10', INFLUXDB_URL: vm.url, INFLUXDB_TOKEN: 't', INFLUXDB_ORG: 'o', INFLUXDB_BUCKET: 'b', EMBEDDED_STORE: 'true', LOG_LEVEL: 'info' });
const t0 = Date.now();
const read = async () => {
  const m = await (await d.get('/metrics')).text();
  const v = (name: string) => Number(m.split('\n').find((l) => l.startsWith(name + ' '))?.split(' ')[1]);
  return { t: Math.round((Date.now() - t0) / 1000), load: v('telemetry_collection_duration_seconds'), longest: v('telemetry_round_longest_target_seconds') };
};
try {
  const seen: Record<string, number[]> = {};
  const phase = async (name: string, s: number) => {
    const end = Date.now() + s * 1000;
    while (Date.now() < end) {
      const r = await read();
      if (r.load > 0) (seen[name] ??= []).push(r.load);
      console.log(name, JSON.stringify(r));
      await new Promise((r) => setTimeout(r, 10_000));
    }
  };
  await phase('before', 60);
  await vm.down();
  await phase('outage', OUTAGE_S);
  await vm.up();
  await phase('after', 60);
  const median = (v: number[] = []) => [...v].sort((a, b) => a - b)[v.length >> 1];
  console.log(`${N} targets, outage ${OUTAGE_S} s: signal median before ${median(seen.before)} s, during ${median(seen.outage)} s (max ${Math.max(...(seen.outage ?? []))}), after ${median(seen.after)} s`);
} finally {
  d.proc.kill('SIGTERM');
  await d.exited;
  await vm.cleanup();
  await web.close();
}
