// npm test: alone (timings under 1 s, a timeout at the probe deadline and not later)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHttpProbe } from '../../src/probes/http/http-probe.js';
import type { Sample } from '../../src/samples/sample.js';
import { ctx, newClient, spec, target } from '../helpers/fixtures.js';
import type { HttpSpec } from '../../src/probes/http/index.js';
import { freePort, makeCert, startHttpServer, startHttpsServer, startSilentServer, waitFor, type TestServer } from '../helpers/net.js';

let ok: TestServer;
let slow: TestServer;
let broken: TestServer;
let tls: TestServer;
let silent: Awaited<ReturnType<typeof startSilentServer>>;
let cert: ReturnType<typeof makeCert>;

before(async () => {
  ok = await startHttpServer((_req, res) => res.end('hello world'));
  slow = await startHttpServer((_req, res) => setTimeout(() => res.end('late'), 300));
  broken = await startHttpServer((_req, res) => {
    res.statusCode = 500;
    res.end('boom');
  });
  cert = makeCert(30);
  tls = await startHttpsServer((_req, res) => res.end('secure'), cert);
  silent = await startSilentServer();
});

after(async () => {
  await Promise.all([ok.close(), slow.close(), broken.close(), tls.close(), silent.close()]);
  cert.cleanup();
});

async function probe(url: string, over: Parameters<typeof target>[1] = {}, client = newClient()) {
  const t = target(url, over);
  const c = ctx(t);
  try {
    const out = await createHttpProbe(client)(c, spec(t, 'http'));
    return { out, http: out.samples.find((s) => s.measurement === 'http') as Sample<'http'> };
  } finally {
    c.dispose();
  }
}

test('200 from a live server: success, timings, bytes, status, ip', async () => {
  const client = newClient();
  const { out, http } = await probe(`${ok.url}/`, {}, client);
  assert.equal(out.success, true, out.detail);
  assert.equal(http.fields.status_code, 200);
  assert.equal(http.fields.bytes, 11);
  assert.equal(http.fields.ip, '127.0.0.1');
  assert.equal(http.fields.http_version, '1.1');
  assert.equal(http.fields.reused, false);
  for (const f of ['dns_ms', 'connect_ms', 'ttfb_ms', 'transfer_ms', 'total_ms'] as const) {
    assert.equal(typeof http.fields[f], 'number', f);
    assert.ok(http.fields[f]! >= 0 && http.fields[f]! < 1000, `${f}=${http.fields[f]}`);
  }
  assert.equal(http.fields.dns_ms, 0, 'an IP literal needs no name resolution');
  assert.equal(http.fields.tls_ms, undefined, 'plain http has no TLS phase');
  await client.close();
});

test('connection reuse is visible on the second probe', async () => {
  const client = newClient();
  const first = await probe(`${ok.url}/a`, {}, client);
  const second = await probe(`${ok.url}/a`, {}, client);
  assert.equal(first.http.fields.reused, false);
  assert.equal(second.http.fields.reused, true);
  assert.equal(second.http.fields.connect_ms, undefined, 'no connect phase on a reused connection');
  await client.close();
});

test('headers delayed by 300 ms show ttfb_ms >= 300', async () => {
  const { out, http } = await probe(`${slow.url}/`);
  assert.equal(out.success, true);
  assert.ok(http.fields.ttfb_ms! >= 300, `ttfb_ms=${http.fields.ttfb_ms}`);
  assert.ok(http.fields.total_ms! >= http.fields.ttfb_ms!);
});

test('500 is a failure with reason bad_status, the status still recorded', async () => {
  const { out, http } = await probe(`${broken.url}/`);
  assert.equal(out.success, false);
  assert.equal(out.reason, 'bad_status');
  assert.equal(http.fields.status_code, 500);
  assert.equal(http.fields.success, false);
});

test('expect_status decides success', async () => {
  const t = target(`${broken.url}/`);
  spec<HttpSpec>(t, 'http').expectStatus = [500];
  const c = ctx(t);
  const out = await createHttpProbe(newClient())(c, spec(t, 'http'));
  c.dispose();
  assert.equal(out.success, true);
});

test('closed port: refused', async () => {
  const port = await freePort();
  const { out, http } = await probe(`http://127.0.0.1:${port}/`);
  assert.equal(out.success, false);
  assert.equal(out.reason, 'refused');
  assert.equal(http.fields.success, false);
});

test('a server that never answers: timeout at the probe deadline, not later', async () => {
  const t0 = Date.now();
  const { out } = await probe(`http://127.0.0.1:${silent.port}/`, { timeoutS: 1 });
  const took = Date.now() - t0;
  assert.equal(out.success, false);
  assert.equal(out.reason, 'timeout');
  assert.ok(took >= 950 && took < 2500, `took ${took} ms`);
});

test('TLS: self-signed certificate fails verification with tls_error', async () => {
  const { out } = await probe(`${tls.url}/`);
  assert.equal(out.success, false);
  assert.equal(out.reason, 'tls_error', out.detail);
});

test('TLS: with insecure_tls the exchange succeeds and reports TLS time and certificate expiry', async () => {
  const t = target(`${tls.url}/`);
  spec<HttpSpec>(t, 'http').insecureTls = true;
  const c = ctx(t);
  const out = await createHttpProbe(newClient())(c, spec(t, 'http'));
  c.dispose();
  const http = out.samples[0] as Sample<'http'>;
  assert.equal(out.success, true, out.detail);
  assert.ok(http.fields.tls_ms! > 0, `tls_ms=${http.fields.tls_ms}`);
  assert.ok(http.fields.cert_expiry_days! > 29 && http.fields.cert_expiry_days! <= 30, `cert_expiry_days=${http.fields.cert_expiry_days}`);
});

test('unknown host: unknown_host', async () => {
  const { out } = await probe('http://no-such-host.invalid/');
  assert.equal(out.success, false);
  assert.ok(out.reason === 'unknown_host' || out.reason === 'dns_error', `${out.reason}: ${out.detail}`);
});

test('reuse_connection false: every probe opens a fresh connection and measures connect again', async () => {
  const s = await startHttpServer((_req, res) => res.end('x'));
  const client = newClient();
  try {
    const t = target(`${s.url}/fresh`);
    spec<HttpSpec>(t, 'http').reuseConnection = false;
    const c1 = ctx(t);
    const a = await createHttpProbe(client)(c1, spec(t, 'http'));
    c1.dispose();
    const c2 = ctx(t);
    const b = await createHttpProbe(client)(c2, spec(t, 'http'));
    c2.dispose();
    for (const o of [a, b]) {
      assert.equal(o.success, true);
      const http = o.samples[0] as Sample<'http'>;
      assert.equal(http.fields.reused, false);
      assert.equal(typeof http.fields.connect_ms, 'number');
    }
    assert.equal(s.accepted, 2, 'one connection per probe');
    await waitFor(() => s.open === 0, 'each connection closed after its probe', 2000, 10);
  } finally {
    await client.close();
    await s.close();
  }
});
