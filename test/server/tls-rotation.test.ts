import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import { Redis } from '../../scripts/lib/services.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/net.js';

/**
 * Two members behind TLS with certificates from a private CA (openssl), in
 * cluster mode over a real Redis:
 *  - WEB_CLIENT_CA_FILE lets each member call the other (GET /api/cluster/peers
 *    shows it reachable); the same call made with the system's trust only is
 *    refused (the CA is what makes it work), and probes keep the system's trust;
 *  - a member's certificate is renewed on disk (new key, new serial) while it
 *    runs: WEB_CONFIG_FILE and its files are reread, new connections get the
 *    new certificate, same process, and its peer still reaches it.
 */
function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, and a leaf for 127.0.0.1 signed by it into `<name>.crt` / `<name>.key` (written atomically). */
function issue(dir: string, name: string, days: number): void {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key.new`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(Date.now()), '-out', `${name}.crt.new`, '-days', String(days), '-extfile', 'san.ext']);
  // Key first, then certificate, each renamed into place (as cert-manager and certbot hooks do).
  renameSync(join(dir, `${name}.key.new`), join(dir, `${name}.key`));
  renameSync(join(dir, `${name}.crt.new`), join(dir, `${name}.crt`));
}

/** The certificate a fresh TLS connection to `port` is shown. */
function presented(port: number, ca: Buffer): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca, servername: undefined }, () => {
      const cert = s.getPeerCertificate();
      s.end();
      resolve(cert);
    });
    s.once('error', reject);
  });
}

test('members behind TLS: WEB_CLIENT_CA_FILE trusts a private CA for peer calls; a renewed certificate is served without a restart', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-tls-'));
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=network-telemetry test CA']);
  const ca = readFileSync(join(dir, 'ca.crt'));
  const redis = await Redis.start();
  const daemons: Daemon[] = [];
  try {
    for (const name of ['a', 'b']) {
      issue(dir, name, 1);
      writeFileSync(join(dir, `${name}.yml`), `tls_server_config:\n  cert_file: ${name}.crt\n  key_file: ${name}.key\n`);
      const port = await freePort();
      daemons.push(
        await startDaemon(
          {
            PORT: String(port),
            TARGET_FQDNS: 'http://127.0.0.1:9/unused',
            COLLECTION_INTERVAL: '5',
            REDIS_URL: redis.url,
            REDIS_KEY_PREFIX: `tls-test-${process.pid}:`,
            COLLECT_TOKEN: 'tls-test-token',
            CLUSTER_HEARTBEAT_INTERVAL: '0.5',
            CLUSTER_MEMBER_TTL: '3',
            CLUSTER_ADVERTISE_URL: `https://127.0.0.1:${port}`,
            WEB_CONFIG_FILE: join(dir, `${name}.yml`),
            WEB_CONFIG_CHECK_INTERVAL: '0.2',
            WEB_CLIENT_CA_FILE: join(dir, 'ca.crt'),
          },
          { waitLive: false },
        ),
      );
    }
    const tls = new Agent({ connect: { ca } });
    const get = async (d: Daemon, path: string) => (await undiciFetch(`https://127.0.0.1:${d.port}${path}`, { dispatcher: tls, signal: AbortSignal.timeout(30_000) })).json() as Promise<any>;
    for (const d of daemons) await waitFor(async () => (await get(d, '/health/live')).status === 'alive', `daemon ${d.port} live over TLS`, 60_000, 200);
    const [a, b] = daemons as [Daemon, Daemon];

    // Peer calls through the private CA.
    type Peer = { status: 'ok' | 'unavailable'; member: string; url?: string; detail?: string };
    const peersOf = async (d: Daemon) => ((await get(d, '/api/cluster/peers')) as { peers: Peer[] }).peers;
    let seen: Peer | undefined;
    const reachesB = async () => (seen = (await peersOf(a)).find((p) => p.url === `https://127.0.0.1:${b.port}`))?.status === 'ok';
    await waitFor(reachesB, 'a reaches b over TLS through WEB_CLIENT_CA_FILE', 30_000, 200).catch((e: Error) => {
      throw new Error(`${e.message}; last answer: ${JSON.stringify(seen)}`);
    });
    // The same call with the system's trust only: refused by certificate verification.
    const plain = await undiciFetch(`https://127.0.0.1:${b.port}/health/live`, { signal: AbortSignal.timeout(10_000) }).then(
      () => 'accepted',
      (e: Error & { cause?: { code?: string } }) => e.cause?.code ?? e.message,
    );
    assert.match(plain, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER_CERT/, 'the private CA is not trusted by default');

    // Renew b's certificate (new key, new serial) under its feet.
    const before = await presented(b.port, ca);
    const pid = b.proc.pid;
    issue(dir, 'b', 2);
    const renewedAt = Date.now();
    const after = await waitFor(async () => {
      const c = await presented(b.port, ca);
      return c.serialNumber !== before.serialNumber ? c : undefined;
    }, 'a new TLS connection to b shows the renewed certificate', 20_000, 100);
    assert.notEqual(after.valid_to, before.valid_to);
    assert.equal(b.proc.pid, pid);
    assert.equal(b.proc.exitCode, null, 'no restart');
    assert.ok(b.logs.some((l) => l.msg === 'WEB_CONFIG_FILE reread: new connections use it'));
    // And its peer still reaches it (a new connection: the old ones may linger in the pool).
    await waitFor(reachesB, 'a still reaches b after the renewal', 30_000, 200);
    t.diagnostic(`certificate renewed on disk: served on new connections ${Date.now() - renewedAt} ms later (check every 200 ms), serial ${before.serialNumber} -> ${after.serialNumber}, same process`);
  } finally {
    await Promise.all(daemons.map((d) => d.cleanup()));
    await redis.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
