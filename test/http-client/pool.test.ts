// npm test: alone (READ_TIMEOUT and CONNECTION_TIMEOUT honoured to within 2 s)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { newClient } from '../helpers/fixtures.js';
import { freePort, SocketTally, startHttpServer, startSilentServer, waitFor } from '../helpers/net.js';
import { Namespaces } from '../helpers/netns.js';

const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TLSWrap').length;

test('1000 sequential requests to one host use one socket', async () => {
  const s = await startHttpServer((_q, r) => r.end('ok'), { logRequests: false });
  const c = newClient();
  try {
    for (let i = 0; i < 1000; i++) {
      const o = await c.request(`${s.url}/seq`);
      assert.ok(o.ok && o.statusCode === 200);
    }
    assert.equal(s.accepted, 1);
  } finally {
    await c.close();
    await s.close();
  }
});

test('200 concurrent requests to one host never exceed MAX_CONNECTIONS_PER_HOST sockets', async () => {
  const s = await startHttpServer((_q, r) => setTimeout(() => r.end('ok'), 20), { logRequests: false });
  const c = newClient({ maxConnectionsPerHost: 30 });
  try {
    const all = await Promise.all(Array.from({ length: 200 }, () => c.request(`${s.url}/par`)));
    assert.ok(all.every((o) => o.ok && o.statusCode === 200));
    assert.ok(s.maxOpen <= 30, `server saw ${s.maxOpen} sockets open at once`);
    assert.ok(s.maxOpen >= 25, `the per-host cap was reached (${s.maxOpen}): the test can fail`);
  } finally {
    await c.close();
    await s.close();
  }
});

test('50 hosts x 10 concurrent requests never exceed MAX_CONNECTIONS sockets in total, and all complete', async () => {
  const tally = new SocketTally();
  const servers = await Promise.all(Array.from({ length: 50 }, () => startHttpServer((_q, r) => setTimeout(() => r.end('ok'), 5), { logRequests: false, tally })));
  const c = newClient({ maxConnections: 20, maxConnectionsPerHost: 30 });
  try {
    const all = await Promise.all(servers.flatMap((s) => Array.from({ length: 10 }, () => c.request(`${s.url}/x`))));
    const failed = all.filter((o) => !o.ok);
    assert.equal(failed.length, 0, failed.map((f) => (f.ok ? '' : f.error.message)).slice(0, 3).join('; '));
    assert.ok(c.budget.peak <= 20, `client held ${c.budget.peak} sockets at once`);
    assert.ok(tally.max <= 20, `servers saw ${tally.max} sockets open at once`);
    assert.ok(tally.max >= 15, `the global cap was reached (${tally.max})`);
    assert.ok(c.budget.openSockets <= 20);
  } finally {
    await c.close();
    await Promise.all(servers.map((s) => s.close()));
  }
});

test('idle keep-alive sockets holding every slot do not block a new host', async () => {
  const a = await startHttpServer((_q, r) => r.end('a'), { logRequests: false });
  const b = await startHttpServer((_q, r) => r.end('b'), { logRequests: false });
  const c = newClient({ maxConnections: 2, maxConnectionsPerHost: 2 });
  try {
    await Promise.all([c.request(`${a.url}/`), c.request(`${a.url}/`)]);
    assert.equal(c.budget.idleSockets, 2, 'both slots held by idle sockets of host a');
    const o = await c.request(`${b.url}/`);
    assert.ok(o.ok && o.statusCode === 200);
    assert.ok(c.budget.openSockets <= 2);
  } finally {
    await c.close();
    await a.close();
    await b.close();
  }
});

test('a server that accepts and never answers: failure after READ_TIMEOUT (+ timer granularity), nothing leaks', async () => {
  const before = tcpHandles();
  const silent = await startSilentServer();
  const c = newClient({ readTimeoutMs: 1000 });
  try {
    const t0 = Date.now();
    const o = await c.request(`http://127.0.0.1:${silent.port}/`);
    const took = Date.now() - t0;
    assert.equal(o.ok, false);
    assert.equal(!o.ok && o.error.code, 'UND_ERR_HEADERS_TIMEOUT');
    assert.ok(took >= 1000 && took < 3000, `failed after ${took} ms`);
  } finally {
    await c.close();
    await silent.close();
  }
  await waitFor(() => tcpHandles() <= before, `TCP handles back to ${before} (now ${tcpHandles()})`, 5000);
});

test('a blackholed connect fails after CONNECTION_TIMEOUT, nothing leaks', async () => {
  // A namespace whose address drops every incoming TCP packet: SYNs vanish.
  const ns = new Namespaces();
  const net = randomInt(100, 250);
  const before = tcpHandles();
  const c = newClient({ connectTimeoutMs: 1000 });
  try {
    const hole = ns.add('bh');
    ns.link(null, `10.${net}.250.1/30`, hole, `10.${net}.250.2/30`);
    ns.nft(hole, 'table inet bh {\n chain input {\n type filter hook input priority 0;\n tcp dport 80 drop\n }\n}\n');
    const t0 = Date.now();
    const o = await c.request(`http://10.${net}.250.2:80/`);
    const took = Date.now() - t0;
    assert.equal(o.ok, false);
    assert.equal(!o.ok && o.error.code, 'UND_ERR_CONNECT_TIMEOUT');
    assert.ok(took >= 1000 && took < 3000, `failed after ${took} ms`);
    await waitFor(() => c.budget.openSockets === 0, 'connection slot released', 5000);
  } finally {
    await c.close();
    ns.cleanup();
  }
  await waitFor(() => tcpHandles() <= before, `TCP handles back to ${before}`, 5000);
});

test('refused connections release their slot at once', async () => {
  const port = await freePort();
  const c = newClient({ maxConnections: 1 });
  try {
    for (let i = 0; i < 5; i++) {
      const o = await c.request(`http://127.0.0.1:${port}/`);
      assert.equal(!o.ok && o.error.code, 'ECONNREFUSED');
    }
    await waitFor(() => c.budget.openSockets === 0, 'the refused sockets closed', 2000, 5);
  } finally {
    await c.close();
  }
});
