import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { buildWebBundle, StaticUi, writeWebBundle } from '../../src/server/static-ui.js';
import { ROOT } from '../helpers/daemon.js';

/** StaticUi behind a real node:http server on loopback, as the daemon mounts it. */
async function serve(ui: StaticUi): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    void ui.serve(new URL(req.url ?? '/', 'http://x').pathname, req.headers).then((r) => {
      if (!r) return res.writeHead(404).end('not ui');
      res.writeHead(r.status, r.headers).end(r.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** fetch() without its transparent decompression: we check the bytes on the wire. */
async function raw(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: new Headers(res.headers as Record<string, string>), body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
}

function assetUrls(shell: string): string[] {
  return [...shell.matchAll(/(?:href|src)="(\/ui\/[^"]+)"/g)].map((m) => m[1]!);
}

test('from source: the shell for / and URL-encoded /targets/<name>, hashed assets immutable, brotli and gzip by Accept-Encoding, 304 on ETag', async () => {
  const ui = new StaticUi({ dir: join(ROOT, 'src/web') });
  const { url, server } = await serve(ui);
  try {
    const home = await raw(`${url}/`);
    assert.equal(home.status, 200);
    assert.match(home.headers.get('content-type')!, /^text\/html/);
    assert.equal(home.headers.get('cache-control'), 'no-cache');
    assert.match(home.headers.get('content-security-policy')!, /script-src 'self'/);
    const shell = home.body.toString();
    const assets = assetUrls(shell);
    assert.equal(assets.length, 3, `stylesheet, theme boot, main module in ${shell}`);

    const target = await raw(`${url}/targets/${encodeURIComponent('https://example.com/x?y')}`);
    assert.equal(target.status, 200);
    assert.equal(target.body.toString(), shell, 'every page path answers the same shell');

    for (const a of assets) {
      const plain = await raw(url + a);
      assert.equal(plain.status, 200, a);
      assert.equal(plain.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal(plain.headers.get('content-encoding'), null, 'identity without Accept-Encoding');
      assert.match(plain.headers.get('content-type')!, a.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
      if (plain.body.length < 1024) continue;
      const br = await raw(url + a, { 'accept-encoding': 'gzip, deflate, br' });
      assert.equal(br.headers.get('content-encoding'), 'br');
      assert.deepEqual(brotliDecompressSync(br.body), plain.body);
      const gz = await raw(url + a, { 'accept-encoding': 'gzip, br;q=0' });
      assert.equal(gz.headers.get('content-encoding'), 'gzip');
      assert.deepEqual(gunzipSync(gz.body), plain.body);
      assert.notEqual(gz.headers.get('etag'), br.headers.get('etag'), 'each encoding its own ETag');
      const again = await raw(url + a, { 'accept-encoding': 'gzip', 'if-none-match': gz.headers.get('etag')! });
      assert.equal(again.status, 304);
      assert.equal(again.body.length, 0);
    }
    const missing = await raw(`${url}/ui/nope-123.js`);
    assert.equal(missing.status, 404);
    assert.match(JSON.parse(missing.body.toString()).error, /no UI file \/ui\/nope-123\.js/);
    assert.equal((await raw(`${url}/api/points`)).body.toString(), 'not ui', 'other paths are left to the API');
    assert.equal((await raw(`${url}/targets/a/b`)).body.toString(), 'not ui', 'a name is one path segment');
    assert.equal(ui.health().status, 'ok');
  } finally {
    server.close();
  }
});

test('from a build: npm run build output (manifest, precompressed files) is served without esbuild', async () => {
  const out = mkdtempSync(join(tmpdir(), 'nt-web-'));
  try {
    const written = await writeWebBundle(await buildWebBundle(join(ROOT, 'src/web')), out);
    assert.ok(written.gzipBytes < written.bytes);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { assets: string[] };
    const ui = new StaticUi({ dir: out });
    await ui.start();
    assert.equal(ui.health().loaded, false, 'nothing is read before the first request');
    await ui.serve('/', {});
    assert.equal(ui.health().from, out);
    const { url, server } = await serve(ui);
    try {
      const shell = (await raw(`${url}/`)).body.toString();
      for (const a of assetUrls(shell)) assert.ok(manifest.assets.includes(a.slice('/ui/'.length)), `${a} listed in the manifest`);
      const big = manifest.assets.find((f) => f.endsWith('.json'))!;
      const br = await raw(`${url}/ui/${big}`, { 'accept-encoding': 'br' });
      assert.equal(br.headers.get('content-encoding'), 'br');
      assert.deepEqual(br.body, readFileSync(join(out, `${big}.br`)), 'the precompressed file as written by the build');
    } finally {
      server.close();
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('missing assets: the page answers 503 with what to do, health says degraded, and a later request retries', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-web-missing-'));
  try {
    const ui = new StaticUi({ dir });
    await ui.start();
    const r = await ui.serve('/', {});
    assert.equal(ui.health().status, 'degraded');
    assert.equal(r!.status, 503);
    assert.match(JSON.parse(r!.body.toString()).error, /web UI assets could not be loaded from .*npm run build/);
    await writeWebBundle(await buildWebBundle(join(ROOT, 'src/web')), dir);
    assert.equal((await ui.serve('/', {}))!.status, 200, 'loaded once the files are there');
    assert.equal(ui.health().status, 'ok');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
