import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { connectRedis, redisOptions } from '../../src/cluster/redis-connection.js';
import { Redis as RedisServer, redisCli, until } from '../../scripts/lib/services.js';

/**
 * The race that left a collector's Redis connection dead after a Sentinel
 * failover (ioredis 5.11): the connection to the primary drops, the reconnect
 * asks a Sentinel where the primary is, and while that question is open the
 * previous connection's failover detector receives +switch-master and closes
 * the connector under it. ioredis then ends the connection for good (status
 * `end`, no retry). connectRedis must connect again.
 *
 * The Sentinel here is a stand-in (a few lines of RESP on loopback) because a
 * real one cannot be made to answer slowly and publish +switch-master at a
 * chosen moment; the primary is a real redis-server. test/cluster/sentinel-failover.test.ts
 * runs real Sentinels through real failovers.
 */

/** A Sentinel that names `primaryPort`; from `slowFrom` questions on it answers 300 ms late and publishes +switch-master meanwhile. */
function standInSentinel(primaryPort: number): { server: Server; questions: () => number; subscribed: () => boolean; slowFrom: (n: number) => void } {
  let asked = 0;
  let slowAfter = Number.POSITIVE_INFINITY;
  const subscribers = new Set<Socket>();
  const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  const server = createServer((sock) => {
    let buf = '';
    sock.on('error', () => {});
    sock.on('close', () => subscribers.delete(sock));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      // Whole RESP arrays of bulk strings only (what ioredis sends).
      for (;;) {
        const m = /^\*(\d+)\r\n/.exec(buf);
        if (!m) return;
        let at = m[0].length;
        const args: string[] = [];
        for (let i = 0; i < Number(m[1]); i++) {
          const h = /^\$(\d+)\r\n/.exec(buf.slice(at));
          if (!h || buf.length < at + h[0].length + Number(h[1]) + 2) return;
          at += h[0].length;
          args.push(buf.slice(at, at + Number(h[1])));
          at += Number(h[1]) + 2;
        }
        buf = buf.slice(at);
        const cmd = args.map((a) => a.toLowerCase());
        if (cmd[0] === 'sentinel' && cmd[1] === 'get-master-addr-by-name') {
          const answer = `*2\r\n${bulk('127.0.0.1')}${bulk(String(primaryPort))}`;
          if (++asked >= slowAfter) {
            for (const s of subscribers) s.write(`*3\r\n${bulk('message')}${bulk('+switch-master')}${bulk(`m 127.0.0.1 ${primaryPort} 127.0.0.1 ${primaryPort}`)}`);
            setTimeout(() => sock.writable && sock.write(answer), 300);
          } else sock.write(answer);
        } else if (cmd[0] === 'sentinel') sock.write('*0\r\n');
        else if (cmd[0] === 'subscribe') {
          subscribers.add(sock);
          sock.write(`*3\r\n${bulk('subscribe')}${bulk(args[1]!)}:1\r\n`);
        } else sock.write('+OK\r\n');
      }
    });
  });
  return { server, questions: () => asked, subscribed: () => subscribers.size > 0, slowFrom: (n) => (slowAfter = n) };
}

test('a connection through Sentinels that ioredis ends during a failover is connected again', async () => {
  const primary = await RedisServer.start();
  const sentinel = standInSentinel(primary.port);
  await new Promise<void>((r) => sentinel.server.listen(0, '127.0.0.1', r));
  const port = (sentinel.server.address() as { port: number }).port;
  const redis = connectRedis({ kind: 'sentinel', sentinels: [{ host: '127.0.0.1', port }], name: 'm' }, redisOptions({}, 200));
  redis.on('error', () => {});
  const statuses: string[] = [];
  redis.on('end', () => statuses.push('end'));
  try {
    await redis.connect();
    await until(() => sentinel.questions() >= 1 && redis.status === 'ready', 'the first connection');
    // The failover detector subscribes once the stream is up: wait for it before the drop.
    await until(() => sentinel.subscribed() || undefined, 'the failover detector subscribed to +switch-master');
    sentinel.slowFrom(sentinel.questions() + 1);
    await redisCli(primary.port, ['CLIENT', 'KILL', 'TYPE', 'normal']);
    // ioredis ended the connection (the race happened) ...
    await until(() => statuses.includes('end') || undefined, 'ioredis ending the connection in the race', 5000);
    // ... and it is back, answering commands.
    await until(async () => redis.status === 'ready' && (await redis.ping().catch(() => undefined)) === 'PONG', `the connection back (status ${redis.status})`, 5000);
  } finally {
    redis.disconnect();
    await new Promise((r) => sentinel.server.close(r));
    await primary.cleanup();
  }
});

test('a connection its owner closes stays closed', async () => {
  const primary = await RedisServer.start();
  const redis = connectRedis({ kind: 'url', url: primary.url }, redisOptions({}, 200));
  redis.on('error', () => {});
  try {
    await redis.connect();
    redis.disconnect();
    await until(() => redis.status === 'end' || undefined, 'closed');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(redis.status, 'end');
  } finally {
    redis.disconnect();
    await primary.cleanup();
  }
});
