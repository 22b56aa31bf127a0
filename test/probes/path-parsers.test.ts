import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFpingOutput } from '../../src/probes/icmp/fping-output.js';
import { MtrParseError, parseMtrRaw } from '../../src/probes/trace/mtr-raw.js';
import { summarizeTrace } from '../../src/probes/trace/route.js';

// Outputs captured from real fping 5.1 / mtr 0.95 runs in a client -> r1 -> r2 -> r3 -> server namespace chain.
const F = join(import.meta.dirname, '../fixtures');
const fx = (name: string) => readFileSync(join(F, name), 'utf8');
const meta = JSON.parse(fx('chain-meta.json')) as { hops: string[]; server: string; unowned: string };

test('mtr raw: 4-hop chain cut at the destination; its hop counts every probe that reached it (mtr probes one TTL past it)', () => {
  const r = summarizeTrace(parseMtrRaw(fx('mtr-raw-4hops.txt')), meta.server);
  assert.equal(r.hopCount, 4);
  assert.equal(r.reached, true);
  assert.deepEqual(r.hops.map((h) => h.ip), [...meta.hops, meta.server]);
  assert.equal(r.respondingHops, 4);
  assert.equal(r.path, [...meta.hops, meta.server].join('>'));
  assert.deepEqual(r.hops.map((h) => h.sent), [3, 3, 3, 4]);
  assert.deepEqual(r.hops.map((h) => h.lossPct), [0, 0, 0, 0]);
  const h1 = r.hops[0]!;
  assert.equal(h1.rttAvgMs, 0.135); // (164 + 127 + 115) µs / 3
  assert.equal(h1.rttBestMs, 0.115);
  assert.equal(h1.rttWorstMs, 0.164);
  assert.equal(r.hops[3]!.rttBestMs, 0.054); // the TTL-5 echo reply counts at the destination's TTL
});

test('mtr raw: a silent hop is * with 100% loss and the count is unchanged', () => {
  const r = summarizeTrace(parseMtrRaw(fx('mtr-raw-silent-hop2.txt')), meta.server);
  assert.equal(r.hopCount, 4);
  assert.equal(r.reached, true);
  assert.equal(r.hops[1]!.ip, '*');
  assert.equal(r.hops[1]!.lossPct, 100);
  assert.equal(r.hops[1]!.rttAvgMs, undefined);
  assert.equal(r.respondingHops, 3);
  assert.equal(r.path, `${meta.hops[0]}>*>${meta.hops[2]}>${meta.server}`);
});

test('mtr raw: destination never answers -> reached false, the trace ends at the last TTL that answered', () => {
  const r = summarizeTrace(parseMtrRaw(fx('mtr-raw-unreached.txt')), meta.unowned);
  assert.equal(r.reached, false);
  assert.equal(r.hopCount, 3);
  assert.deepEqual(r.hops.map((h) => h.ip), [meta.hops[0], '*', meta.hops[2]]);
  assert.equal(r.path, `${meta.hops[0]}>*>${meta.hops[2]}`);
});

test('mtr raw: ECMP keeps every address seen at a TTL', () => {
  const r = summarizeTrace(parseMtrRaw(fx('mtr-raw-ecmp-udp.txt')), '10.203.6.2');
  assert.equal(r.hopCount, 4);
  const h2 = r.hops[1]!;
  assert.equal(h2.ip, '10.203.2.2');
  assert.deepEqual(h2.others, ['10.203.3.2']);
  assert.match(r.path, /10\.203\.2\.2\|10\.203\.3\.2/);
  assert.equal(h2.sent, 6);
});

test('mtr raw: IPv6', () => {
  const r = summarizeTrace(parseMtrRaw(fx('mtr-raw-ipv6-loopback.txt')), '::1');
  assert.equal(r.hopCount, 1);
  assert.equal(r.reached, true);
  assert.equal(r.hops[0]!.ip, '::1');
});

test('mtr raw: truncated output keeps what is complete; garbage is an error, not a guess', () => {
  const text = fx('mtr-raw-4hops.txt');
  const cut = text.slice(0, text.indexOf('x 2 33002'));
  const r = summarizeTrace(parseMtrRaw(cut), meta.server);
  assert.equal(r.reached, false);
  assert.equal(r.hopCount, 2);
  assert.throws(() => parseMtrRaw('<html>502 Bad Gateway</html>\n'), MtrParseError);
  assert.throws(() => parseMtrRaw(''), MtrParseError);
  const mixed = parseMtrRaw('x 0 1\nh 0 10.0.0.1\np 0 100 1\nWARNING: something odd\nh zero 10.0.0.2\n');
  assert.deepEqual(mixed.unparsed, ['WARNING: something odd', 'h zero 10.0.0.2']);
  assert.equal(mixed.hops.length, 1);
});

test('fping -C: per-packet results, `-` is a lost packet, IPv6, unknown lines kept aside', () => {
  const r = parseFpingOutput(fx('fping-unowned.txt'), 3);
  assert.deepEqual(r.rtts.get(meta.unowned), [null, null, null]);
  assert.deepEqual(r.rtts.get(meta.server), [0.151, 0.152, 0.168]);
  assert.deepEqual(r.unparsed, ['rc=1']);
  const v6 = parseFpingOutput(fx('fping-ipv6.txt'), 3);
  assert.deepEqual(v6.rtts.get('::1'), [0.055, 0.069, 0.079]);
  // A line with the wrong number of values is not trusted.
  const short = parseFpingOutput('10.0.0.1 : 0.1 -\n', 3);
  assert.equal(short.rtts.size, 0);
  assert.deepEqual(short.unparsed, ['10.0.0.1 : 0.1 -']);
  const icmp = parseFpingOutput('ICMP Host Unreachable from 10.0.0.254 for ICMP Echo sent to 10.0.0.9\n10.0.0.9 : - -\n', 2);
  assert.equal(icmp.errors.get('10.0.0.9'), 'ICMP Host Unreachable from 10.0.0.254');
  assert.equal(parseFpingOutput('fping: can\'t create socket (must run as root?)\n', 2).unparsed.length, 1);
});
