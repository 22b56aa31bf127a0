// npm test: alone (refused within 1 s)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tcpProbe } from '../../src/probes/tcp/tcp-probe.js';
import type { Probe } from '../../src/probes/types.js';
import { dnsProbe } from '../../src/probes/dns/dns-probe.js';
import { decodeHeader, encodeQuery, reverseName } from '../../src/probes/dns/dns-wire.js';
import type { Sample } from '../../src/samples/sample.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { ctx, target } from '../helpers/fixtures.js';
import { freePort, startHttpServer, startSilentServer, type TestServer } from '../helpers/net.js';

let http: TestServer;
let dns: Awaited<ReturnType<typeof startDnsmasq>>;

before(async () => {
  http = await startHttpServer((_q, r) => r.end('x'));
  dns = await startDnsmasq({ 'svc.test': '127.0.0.42', 'other.test': '10.1.2.3' });
});
after(async () => {
  await http.close();
  await dns.stop();
});

async function run(probe: Probe<never>, t: ReturnType<typeof target>) {
  const c = ctx(t);
  try {
    return await probe(c, t.specs[t.probes[0]!] as never);
  } finally {
    c.dispose();
  }
}

test('tcp: open port connects and reports connect_ms and the address', async () => {
  const out = await run(tcpProbe, target(`127.0.0.1:${http.port}`));
  assert.equal(out.success, true, out.detail);
  const s = out.samples[0] as Sample<'tcp'>;
  assert.equal(s.tags.port, String(http.port));
  assert.ok(s.fields.connect_ms! >= 0 && s.fields.connect_ms! < 1000);
  assert.equal(s.fields.ip, '127.0.0.1');
});

test('tcp: closed port is refused, and the point is still there', async () => {
  const out = await run(tcpProbe, target(`127.0.0.1:${await freePort()}`));
  assert.equal(out.success, false);
  assert.equal(out.reason, 'refused');
  assert.equal((out.samples[0] as Sample<'tcp'>).fields.success, false);
});

test('tcp: a host name is resolved first; localhost works', async () => {
  const out = await run(tcpProbe, target(`localhost:${http.port}`));
  assert.equal(out.success, true, out.detail);
});

test('tcp: a listener that accepts but never answers still connects (tcp measures the handshake only)', async () => {
  const s = await startSilentServer();
  const out = await run(tcpProbe, target(`127.0.0.1:${s.port}`));
  await s.close();
  assert.equal(out.success, true);
});

function dnsTarget(name: string, record: 'A' | 'AAAA' | 'MX' | 'PTR' = 'A', server = dns.server) {
  const t = target('svc.test', { probes: ['dns'] });
  t.specs = { dns: { server, record, name } };
  return t;
}

test('dns: answer from a real dnsmasq with query time, answer count and NOERROR', async () => {
  const out = await run(dnsProbe, dnsTarget('svc.test'));
  assert.equal(out.success, true, out.detail);
  const s = out.samples[0] as Sample<'dns'>;
  assert.equal(s.fields.rcode, 'NOERROR');
  assert.equal(s.fields.answers, 1);
  assert.ok(s.fields.query_ms! >= 0 && s.fields.query_ms! < 1000);
  assert.equal(s.tags.record, 'A');
  assert.equal(s.fields.server, dns.server);
});

test('dns: unknown name is NXDOMAIN with reason rcode', async () => {
  const out = await run(dnsProbe, dnsTarget('nothing.test'));
  assert.equal(out.success, false);
  assert.equal(out.reason, 'rcode');
  assert.equal((out.samples[0] as Sample<'dns'>).fields.rcode, 'NXDOMAIN');
});

test('dns: a name with no record of the asked type is no_answer', async () => {
  const out = await run(dnsProbe, dnsTarget('svc.test', 'MX'));
  assert.equal(out.success, false);
  assert.equal(out.reason, 'no_answer');
  assert.equal((out.samples[0] as Sample<'dns'>).fields.answers, 0);
});

test('dns: nothing listening on the server port is refused, fast', async () => {
  const t0 = Date.now();
  const out = await run(dnsProbe, dnsTarget('svc.test', 'A', `127.0.0.1:${await freePort()}`));
  assert.equal(out.success, false);
  assert.equal(out.reason, 'refused', out.detail);
  assert.ok(Date.now() - t0 < 1000);
});

test('dns: a server that drops queries times out at the deadline', async () => {
  const { createSocket } = await import('node:dgram');
  const sink = createSocket('udp4');
  await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r));
  const t = dnsTarget('svc.test', 'A', `127.0.0.1:${sink.address().port}`);
  t.timeoutS = 1;
  const t0 = Date.now();
  const out = await run(dnsProbe, t);
  sink.close();
  assert.equal(out.reason, 'timeout');
  assert.ok(Date.now() - t0 < 2000);
});

test('dns wire: query encoding round-trips through a header parse; reverse names', () => {
  const { packet, id } = encodeQuery('a.example', 'AAAA');
  assert.equal(packet.readUInt16BE(0), id);
  assert.throws(() => decodeHeader(packet), /query, not a response/);
  assert.throws(() => decodeHeader(Buffer.alloc(5)), /shorter than a header/);
  assert.equal(reverseName('192.0.2.1'), '1.2.0.192.in-addr.arpa');
  assert.equal(reverseName('2001:db8::1'), `${'1'.padStart(1)}.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa`);
});
