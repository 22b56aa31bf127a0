import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { Agent, fetch as undiciFetch, type RequestInit } from 'undici';
import { ROOT, runCli, startDaemon } from '../helpers/daemon.js';
import { makeCert, startHttpServer, waitFor } from '../helpers/net.js';
import { launchBrowser } from '../web/browser.js';

/**
 * WEB_CONFIG_FILE: TLS and basic auth for every route of
 * the daemon's one port, in the Prometheus exporter toolkit's format. A real
 * daemon with a self-signed certificate made by openssl and a bcrypt hash
 * made by bcryptjs: over TLS, the pages, /api/*, /metrics and /health answer
 * 401 without credentials and 200 with them; the orchestrator probes
 * (/health/live, /health/ready) stay open; POST /collect takes basic auth or
 * the bearer token. A bad file stops the start with one line naming
 * WEB_CONFIG_FILE and exit 2, no stack. Chromium loads the overview over TLS
 * with credentials (screenshot in test-output/overview-tls.png).
 *
 * Broken once each to see it fail: `access: 'open'` on /api/targets -> "401
 * without credentials: /api/targets answered 200"; dropping the TLS branch of
 * ApiServer.onStart -> the https fetches fail; a web config error rethrown as
 * a plain Error -> "exit 2" fails with the stack in stderr.
 */

const USER = 'alice';
const PASSWORD = 'correct horse battery staple';
const TOKEN = 'web-config-token-0123456789';

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

test('with WEB_CONFIG_FILE: TLS, 401 without credentials and 200 with them on every route but /health/live and /health/ready; POST /collect takes basic auth or the token; Chromium over TLS', { timeout: 240_000 }, async (t) => {
  const cert = makeCert();
  const dir = mkdtempSync(join(tmpdir(), 'nt-webcfg-'));
  const web = await startHttpServer((_req, res) => res.end('ok'));
  const target = `${web.url}/ok`;
  // Relative paths in the file are relative to the file.
  mkdirSync(join(dir, 'tls'));
  writeFileSync(join(dir, 'tls', 'server.crt'), cert.cert);
  writeFileSync(join(dir, 'tls', 'server.key'), cert.key);
  const hash = await bcrypt.hash(PASSWORD, 10);
  const file = join(dir, 'web.yml');
  writeFileSync(file, `tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/server.key\nbasic_auth_users:\n  ${USER}: ${hash}\n`);
  const daemon = await startDaemon({ WEB_CONFIG_FILE: file, TARGET_FQDNS: target, COLLECTION_INTERVAL: '5', COLLECT_TOKEN: TOKEN }, { waitLive: false });
  // The certificate is trusted as a CA, not ignored: TLS is checked for real.
  const tls = new Agent({ connect: { ca: cert.cert } });
  const base = `https://127.0.0.1:${daemon.port}`;
  const req = (path: string, init: RequestInit = {}) => undiciFetch(base + path, { ...init, dispatcher: tls, signal: AbortSignal.timeout(60_000) });
  const browser = await launchBrowser({ ignoreHTTPSErrors: true, httpCredentials: { username: USER, password: PASSWORD } });
  try {
    await waitFor(
      async () => {
        if (daemon.proc.exitCode !== null) throw new Error(`daemon exited ${daemon.proc.exitCode}: ${daemon.stderr()}`);
        return (await req('/health/live')).ok;
      },
      'the daemon live over TLS',
      60_000,
      200,
    );
    const started = daemon.logs.find((l) => String(l.msg).startsWith('network-telemetry started'));
    assert.equal(started?.url, `https://127.0.0.1:${daemon.port}/`, 'the start-up line gives the https URL');

    const plain = await fetch(`http://127.0.0.1:${daemon.port}/health/live`, { signal: AbortSignal.timeout(10_000) }).then(
      (r) => r.status,
      () => 'refused',
    );
    assert.notEqual(plain, 200, 'plain HTTP on the TLS port gets nothing');

    const read = ['/', `/targets/${encodeURIComponent(target)}`, '/api/targets', '/api/status', '/api/points?since=5m', `/api/targets/${encodeURIComponent(target)}`, '/api/cluster', '/metrics', '/health'];
    for (const path of read) {
      const none = await req(path);
      await none.arrayBuffer();
      assert.equal(none.status, 401, `401 without credentials: ${path} answered ${none.status}`);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Basic realm=/, `${path}: a browser is asked for credentials`);
      // Four wrong passwords in all: a fifth failure from one address is throttled (hostile-auth.test.ts).
      if (read.indexOf(path) < 4) {
        const wrong = await req(path, { headers: { authorization: basic(USER, 'wrong') } });
        await wrong.arrayBuffer();
        assert.equal(wrong.status, 401, `wrong password: ${path} answered ${wrong.status}`);
      }
      const ok = await req(path, { headers: { authorization: basic(USER, PASSWORD) } });
      const body = await ok.text();
      assert.equal(ok.status, 200, `200 with credentials: ${path} answered ${ok.status}: ${body.slice(0, 200)}`);
    }
    const nobody = await req('/api/targets', { headers: { authorization: basic('mallory', PASSWORD) } });
    await nobody.arrayBuffer();
    assert.equal(nobody.status, 401, 'an unknown user');

    for (const path of ['/health/live', '/health/ready']) {
      const r = await req(path);
      await r.arrayBuffer();
      assert.ok(r.status === 200 || r.status === 503, `${path} is open: ${r.status}`);
      assert.notEqual(r.status, 401);
    }
    await waitFor(async () => (await req('/health/ready')).status === 200, '/health/ready 200 without credentials', 30_000, 200);

    const collect = (authorization?: string) =>
      req('/collect', { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body: JSON.stringify({ targets: [target] }) });
    const denied = await collect();
    const deniedBody = (await denied.json()) as { error: string };
    assert.equal(denied.status, 401);
    assert.match(denied.headers.get('www-authenticate') ?? '', /Bearer/);
    assert.match(deniedBody.error, /bearer token/);
    assert.equal((await collect(`Bearer ${TOKEN}x`)).status, 401, 'a wrong token');
    for (const [how, authorization] of [
      ['bearer token', `Bearer ${TOKEN}`],
      ['basic auth', basic(USER, PASSWORD)],
    ] as const) {
      const r = await collect(authorization);
      const body = (await r.json()) as { ok: number; results: { target: string; success: boolean }[] };
      assert.equal(r.status, 200, `POST /collect with ${how}: ${JSON.stringify(body)}`);
      assert.equal(body.ok, 1, `POST /collect with ${how} probed the target`);
    }

    // The page in a browser: over TLS, the credentials answered once.
    const page = await browser.page();
    const resp = await page.goto(`${base}/`);
    assert.equal(resp?.status(), 200);
    await page.waitForSelector(`table.targets tbody tr[data-target="${target}"]`, { timeout: 60_000 });
    const out = join(ROOT, 'test-output');
    mkdirSync(out, { recursive: true });
    await page.screenshot({ path: join(out, 'overview-tls.png'), fullPage: true });
    assert.deepEqual(page.errors, [], 'no console error over TLS with basic auth');
    await page.close();
    // Without credentials the browser gets the challenge, not the page (headless
    // Chromium with nobody to type a password ends the navigation with an error).
    const anonymous = await launchBrowser({ ignoreHTTPSErrors: true });
    try {
      const p = await anonymous.page();
      const got = await p.goto(`${base}/`).then(
        (r) => String(r?.status()),
        (err: Error) => err.message.split('\n')[0]!,
      );
      assert.match(got, /^401$|ERR_INVALID_AUTH_CREDENTIALS/, `without credentials: ${got}`);
    } finally {
      await anonymous.close();
    }
    t.diagnostic(`plain HTTP on the TLS port: ${plain}`);
  } finally {
    await browser.close();
    await tls.close();
    await daemon.cleanup();
    await web.close();
    cert.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad WEB_CONFIG_FILE stops the start: one "config error: WEB_CONFIG_FILE: ..." line, exit 2, no stack; check-config says the same', { timeout: 300_000 }, async () => {
  const cert = makeCert();
  const dir = mkdtempSync(join(tmpdir(), 'nt-webcfg-bad-'));
  writeFileSync(join(dir, 'server.crt'), cert.cert);
  writeFileSync(join(dir, 'server.key'), cert.key);
  const hash = bcrypt.hashSync('pw', 4);
  const cases: { name: string; yaml?: string; file?: string; line: RegExp }[] = [
    { name: 'missing cert', yaml: 'tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n', line: /^config error: WEB_CONFIG_FILE: \S+: tls_server_config\.cert_file: cannot read \S+missing\.crt \(ENOENT\)$/ },
    { name: 'bad hash', yaml: `basic_auth_users:\n  alice: plaintext-password\n`, line: /^config error: WEB_CONFIG_FILE: \S+: basic_auth_users\.alice: is not a bcrypt hash \(make one with `htpasswd -nBC 10 USER`\)$/ },
    { name: 'unknown key', yaml: `basic_auth_users:\n  alice: ${hash}\nbasic_auth_user:\n  bob: ${hash}\n`, line: /^config error: WEB_CONFIG_FILE: \S+: basic_auth_user: / },
    { name: 'key file not a key', yaml: 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.crt\n', line: /^config error: WEB_CONFIG_FILE: \S+: tls_server_config\.key_file: \S+ is not a PEM private key$/ },
    { name: 'no such file', file: join(dir, 'nope.yml'), line: /^config error: WEB_CONFIG_FILE: \S+nope\.yml: cannot read it \(ENOENT\)$/ },
  ];
  try {
    // The cases are independent (own file, no port: each start fails before it
    // listens), so they run at once: one daemon start and one check-config each.
    const outcomes = await Promise.allSettled(
      cases.map(async (c) => {
        const file = c.file ?? join(dir, `${c.name.replace(/ /g, '-')}.yml`);
        if (c.yaml) writeFileSync(file, c.yaml);
        const env = { WEB_CONFIG_FILE: file, TARGET_FQDNS: 'http://127.0.0.1:9/x', COLLECT_TOKEN: TOKEN };
        const d = await startDaemon(env, { waitLive: false });
        let timer: NodeJS.Timeout | undefined;
        const code = await Promise.race([d.exited, new Promise<string>((r) => (timer = setTimeout(r, 60_000, 'still running')))]).finally(() => clearTimeout(timer));
        await d.cleanup();
        const lines = d.stderr().trim().split('\n');
        assert.equal(code, 2, `${c.name}: exit ${code}; stderr: ${d.stderr()}`);
        assert.equal(lines.length, 1, `${c.name}: one line on stderr, got:\n${d.stderr()}`);
        assert.match(lines[0]!, c.line, c.name);
        assert.ok(!/^\s+at /m.test(d.stderr() + d.logs.map((l) => JSON.stringify(l)).join('\n')), `${c.name}: no stack trace`);
        const check = await runCli(['check-config'], env);
        assert.equal(check.code, 2, `${c.name}: check-config exit ${check.code}: ${check.stdout}${check.stderr}`);
        assert.equal(check.stderr.trim(), lines[0], `${c.name}: check-config prints the line run prints`);
      }),
    );
    const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
    if (failed.length === 1) throw failed[0];
    if (failed.length) assert.fail(`${failed.length} of ${cases.length} cases failed:\n${failed.map((e) => e.message).join('\n')}`);
  } finally {
    cert.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
