/**
 * npm run stack:ha — the HA staging topology on this machine (no Docker):
 * see scripts/lib/stack.ts. Prints where everything listens and runs until
 * Ctrl-C, then stops every process it started.
 */
import { startStack } from './lib/stack.js';

const stack = await startStack({ log: (m) => console.log(m) });
console.log(`
stack up:
  daemons        ${stack.daemons.map((d) => d.url).join('  ')}   (GET /health, /api/cluster, /metrics)
  InfluxDB reads ${stack.urls.influxRead}   (HAProxy round robin over two VictoriaMetrics)
  writes         ${stack.urls.influxWrite.join('  ')}   (HAProxy per-replica frontends, mirror)
  HAProxy stats  ${stack.urls.haproxyStats}/stats   (admin / stack-password)
  Prometheus     ${stack.urls.prometheus}   Alertmanager ${stack.urls.alertmanager}
Ctrl-C stops everything.`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void stack.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
