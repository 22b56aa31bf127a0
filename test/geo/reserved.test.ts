import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeIp } from '../../src/geo/ip-address.js';
import { reservedKind } from '../../src/geo/reserved.js';

const kind = (ip: string) => {
  const n = normalizeIp(ip);
  assert.ok(n, `${ip} should parse`);
  return reservedKind(n);
};

test('IPv4 special-purpose ranges are recognised, with their kind', () => {
  const cases: [string, string][] = [
    ['0.0.0.0', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.254', 'cgnat'],
    ['127.0.0.1', 'loopback'],
    ['169.254.10.20', 'link-local'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['224.0.0.251', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
  ];
  for (const [ip, k] of cases) assert.equal(kind(ip), k, ip);
});

test('IPv4 public addresses next to the reserved ranges are public', () => {
  for (const ip of ['8.8.8.8', '1.1.1.1', '100.63.255.255', '100.128.0.0', '172.15.255.255', '172.32.0.0', '192.0.3.1', '198.17.255.255', '198.20.0.0', '223.255.255.255', '11.0.0.0', '169.253.255.255']) {
    assert.equal(kind(ip), undefined, ip);
  }
});

test('IPv6 special-purpose ranges are recognised', () => {
  const cases: [string, string][] = [
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['2001:DB8:ffff::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2001:2::1', 'benchmarking'],
    ['2001::1', 'reserved'], // Teredo
    ['2002:c000:0204::1', 'reserved'], // 6to4
    ['100::1', 'reserved'],
    ['64:ff9b:1::1', 'reserved'],
    ['5f00::1', 'reserved'],
  ];
  for (const [ip, k] of cases) assert.equal(kind(ip), k, ip);
  for (const ip of ['2001:4860:4860::8888', '2606:4700:4700::1111', '2a00:1450:4001::1', '2001:200::1']) assert.equal(kind(ip), undefined, ip);
});

test('IPv4-mapped IPv6 is judged (and keyed) as the IPv4 address it is', () => {
  assert.deepEqual(normalizeIp('::ffff:10.0.0.1'), { ip: '10.0.0.1', family: 4 });
  assert.deepEqual(normalizeIp('::ffff:a00:1'), { ip: '10.0.0.1', family: 4 });
  assert.deepEqual(normalizeIp('0:0:0:0:0:ffff:8.8.8.8'), { ip: '8.8.8.8', family: 4 });
  assert.equal(kind('::ffff:192.168.0.1'), 'private');
  assert.equal(kind('::ffff:127.0.0.1'), 'loopback');
  assert.equal(kind('::ffff:8.8.8.8'), undefined);
});

test('normalization gives one key per address and rejects non-addresses', () => {
  assert.equal(normalizeIp('2001:4860:4860:0:0:0:0:8888')?.ip, '2001:4860:4860::8888');
  assert.equal(normalizeIp('2001:DB8:0:0:1:0:0:1')?.ip, '2001:db8::1:0:0:1');
  assert.equal(normalizeIp('[2606:4700::1111]')?.ip, '2606:4700::1111');
  assert.equal(normalizeIp('fe80::1%eth0')?.ip, 'fe80::1');
  assert.equal(normalizeIp('::')?.ip, '::');
  assert.equal(normalizeIp(' 8.8.8.8 ')?.ip, '8.8.8.8');
  for (const bad of ['*', '', 'example.com', '8.8.8', '999.1.1.1', '1::2::3', '08.8.8.8x']) assert.equal(normalizeIp(bad), undefined, bad);
});
