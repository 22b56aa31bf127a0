/**
 * The image built from docker/Dockerfile, run the way docker-compose.yml and
 * k8s/ run it: uid 1000 (the image's USER), every capability dropped but
 * NET_RAW, read-only root filesystem without even a writable /tmp (Docker's
 * --read-only; podman would add tmpfs mounts unless told not to), a named
 * volume on /data. Run by `npm run test:container` (scripts/container/test.sh).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../../scripts/lib/services.js';
import { fromScript, imageSizeBytes, inspect, podman, RUN, secs, sh, until } from './podman.js';

const IMAGE = fromScript('NT_CT_IMAGE');
const GEO_IMAGE = fromScript('NT_CT_IMAGE_GEO');
const NAME = `${RUN}-image`;
const VOLUME = `${RUN}-image-data`;
const SHUTDOWN_TIMEOUT_S = 5;

after(async () => {
  await podman('rm', '-f', '-v', '--ignore', NAME).catch(() => undefined);
  await podman('volume', 'rm', '-f', VOLUME).catch(() => undefined);
});

test('image: size, pinned Node 22, no geoip-lite, no source maps, fping and mtr-packet with cap_net_raw', async () => {
  const size = await imageSizeBytes(IMAGE);
  const geoSize = await imageSizeBytes(GEO_IMAGE);
  console.log(`image size: ${(size / 1e6).toFixed(0)} MB (${IMAGE}); GEO=offline variant ${(geoSize / 1e6).toFixed(0)} MB`);
  assert.ok(size < 450e6, `${(size / 1e6).toFixed(0)} MB: the image grew past 450 MB`);

  const probe = async (image: string, script: string) =>
    (await podman('run', '--rm', '--pull=never', '--network', 'none', '--entrypoint', 'sh', image, '-c', script)).trim();
  const pinned = /^ARG NODE_VERSION=(\S+)$/m.exec(await sh('cat', ['docker/Dockerfile']))?.[1];
  assert.equal(await probe(IMAGE, 'node --version'), `v${pinned}`, 'the Node version docker/Dockerfile pins');
  assert.equal(await probe(IMAGE, 'id -u; id -g'), '1000\n1000');
  assert.equal(await probe(IMAGE, 'test -e /app/node_modules/geoip-lite && echo present || echo absent; echo "GEO=$GEO"'), 'absent\nGEO=off');
  assert.equal(await probe(IMAGE, 'find /app -name "*.map" -o -name "*.ts" -o -name "*.mts" -o -name "*.cts" | wc -l'), '0', 'no source maps or TypeScript sources under /app');
  assert.equal(await probe(IMAGE, 'ls /app/node_modules/better-sqlite3/build/Release'), 'better_sqlite3.node', 'only the native addon of the better-sqlite3 build');
  // The daemon's allocator: jemalloc preloaded (docker/Dockerfile, docs/sizing.md "Memory").
  assert.equal(await probe(IMAGE, `node -e "console.log(require('fs').readFileSync('/proc/self/maps', 'utf8').includes('libjemalloc'))"`), 'true', 'node runs with jemalloc (LD_PRELOAD)');
  const caps = await probe(IMAGE, 'getcap /usr/bin/fping /usr/bin/mtr-packet');
  assert.match(caps, /\/usr\/bin\/fping cap_net_raw=ep/);
  assert.match(caps, /\/usr\/bin\/mtr-packet cap_net_raw=ep/);
  // The variant: geoip-lite importable by the daemon's user, GEO=offline by default.
  const geo = await probe(GEO_IMAGE, `echo "GEO=$GEO"; node -e "import('geoip-lite').then((m) => console.log((m.default ?? m).lookup('8.8.8.8').country))"`);
  assert.equal(geo, 'GEO=offline\nUS');
});

test('image: runs as compose and Kubernetes run it; icmp and http probes work, HEALTHCHECK passes, SIGTERM exits 0 in time', { timeout: 300_000 }, async (t) => {
  const port = await freePort();
  await podman('volume', 'create', VOLUME);
  const started = Date.now();
  await podman(
    'run', '-d', '--pull=never', '--name', NAME,
    '--cap-drop', 'ALL', '--cap-add', 'NET_RAW',
    '--read-only', '--read-only-tmpfs=false',
    '-v', `${VOLUME}:/data`,
    '-p', `127.0.0.1:${port}:8080`,
    '-e', 'TARGET_FQDNS=127.0.0.1,http://127.0.0.1:8080/health/live',
    '-e', 'COLLECTION_INTERVAL=5',
    '-e', 'PROBE_TIMEOUT=4',
    '-e', `SHUTDOWN_TIMEOUT=${SHUTDOWN_TIMEOUT_S}`,
    '-e', 'SOURCE_NAME=container-test',
    IMAGE,
  );
  const url = `http://127.0.0.1:${port}`;
  // The daemon logs to stdout and stderr: both, in order.
  const logs = async () => (await sh('sh', ['-c', `podman logs --tail 30 ${NAME} 2>&1`]).catch((e: Error) => e.message)).slice(-4000);
  const ready = async () => {
    const st = (await inspect(NAME)).State;
    if (!st.Running) throw new Error(`the container exited (${st.ExitCode}):\n${await logs()}`);
    return (await fetch(`${url}/health/ready`).catch(() => undefined))?.status === 200;
  };
  try {
    await until(ready, '/health/ready 200', 60_000, 250).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${await logs()}`);
    });
    console.log(`ready ${secs(Date.now() - started)} s after podman run`);
    const st = (await inspect(NAME)).State;
    assert.equal(st.Running, true);

    // The tools are checked in the background after start (/health says "checking" meanwhile).
    type Health = { components: Record<string, Record<string, unknown>> };
    const health = await until(async () => {
      const h = (await (await fetch(`${url}/health`)).json()) as Health;
      return h.components['probe-tools']?.checked === false ? undefined : h;
    }, 'the probe tools checked', 20_000, 250);
    assert.equal(health.components['probe-tools']?.mode, 'cap_net_raw', `fping and mtr through file capabilities: ${JSON.stringify(health.components['probe-tools'])}`);

    // The web UI as built into the image (dist/web): the page and the script it names.
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200, 'GET / (the web UI) in the image');
    const script = /src="(\/ui\/main-[^"]+\.js)"/.exec(await page.text())?.[1];
    assert.ok(script, 'the overview page names its bundled script');
    assert.equal((await fetch(`${url}${script}`)).status, 200, `GET ${script}`);

    // The embedded store (no InfluxDB configured) holds what the probes measured.
    type Point = { measurement: string; target: string; fields: Record<string, unknown> };
    const points = async (measurement: string, target: string) =>
      ((await (await fetch(`${url}/api/points?${new URLSearchParams({ measurement, target })}`)).json()) as { points: Point[] }).points;
    const ping = await until(async () => (await points('ping', '127.0.0.1')).find((p) => p.fields.success === true), 'a successful icmp probe of 127.0.0.1', 30_000, 500).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify((await points('ping', '127.0.0.1')).slice(-2))}\n${await logs()}`);
    });
    assert.ok(Number(ping.fields.received) > 0, JSON.stringify(ping));
    const http = await until(async () => (await points('http', 'http://127.0.0.1:8080/health/live')).find((p) => p.fields.success === true), 'a successful http probe', 30_000, 500);
    assert.equal(http.fields.status_code, 200);
    // mtr as uid 1000 through mtr-packet's capability: the route to itself, one hop.
    const route = await until(async () => (await points('route', '127.0.0.1')).find((p) => p.fields.success === true), 'a successful trace of 127.0.0.1', 30_000, 500);
    assert.equal(route.fields.hop_count, 1, JSON.stringify(route));

    // COLLECT_TOKEN unset: the daemon keeps a generated one in the volume
    // (0600, readable by the daemon's user only). Until src/ generates it, the
    // API stays open as before and this says so.
    const token = await podman('exec', NAME, 'sh', '-c', 'test -f /data/collect-token && stat -c %a /data/collect-token && cat /data/collect-token || true');
    const collect = (auth?: string) => fetch(`${url}/collect`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) }, body: '{"targets":["127.0.0.1"],"probes":["icmp"]}' });
    if (token.trim()) {
      const [mode, value] = token.trim().split('\n');
      assert.equal(mode, '600', '/data/collect-token mode');
      assert.equal((await collect()).status, 401, 'POST /collect without the token');
      assert.equal((await collect(value)).status, 200, 'POST /collect with the generated token');
    } else {
      t.diagnostic('pending in src/: no /data/collect-token generated with COLLECT_TOKEN unset (POST /collect is open)');
      assert.equal((await collect()).status, 200);
    }

    // The image's own HEALTHCHECK, as the engine runs it.
    await podman('healthcheck', 'run', NAME);
    assert.equal((await inspect(NAME)).State.Health?.Status, 'healthy');

    // podman stop: SIGTERM to tini (PID 1), which hands it to the daemon.
    const t0 = Date.now();
    await podman('stop', '-t', String(SHUTDOWN_TIMEOUT_S + 10), NAME);
    const took = Date.now() - t0;
    const end = (await inspect(NAME)).State;
    console.log(`SIGTERM: exit ${end.ExitCode} after ${secs(took)} s (SHUTDOWN_TIMEOUT=${SHUTDOWN_TIMEOUT_S})`);
    assert.equal(end.ExitCode, 0, `exit code after SIGTERM\n${await logs()}`);
    assert.ok(took < (SHUTDOWN_TIMEOUT_S + 2) * 1000, `stopped in ${took} ms, SHUTDOWN_TIMEOUT is ${SHUTDOWN_TIMEOUT_S} s`);
    const log = await logs();
    assert.doesNotMatch(log, /not running as PID 1|zombie reaping won't work/, 'one init only (tini is PID 1)');
  } finally {
    await podman('rm', '-f', '-v', NAME).catch(() => undefined);
  }
});
