import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { advertisedUrl } from '../../src/cluster/index.js';
import { runCli } from '../helpers/daemon.js';

const nic = (address: string, internal = false, family: 'IPv4' | 'IPv6' = 'IPv4') => ({ address, internal, family }) as NetworkInterfaceInfo;
const NICS = { lo: [nic('127.0.0.1', true)], eth0: [nic('fe80::1', false, 'IPv6'), nic('10.0.3.7')] };

test('the advertised URL: the setting, else LISTEN_ADDRESS when it names one address, else the first non-internal IPv4', () => {
  const env = { PORT: 8080, LISTEN_ADDRESS: '0.0.0.0', CLUSTER_ADVERTISE_URL: undefined };
  assert.equal(advertisedUrl(env, NICS), 'http://10.0.3.7:8080', 'a pod or container address');
  assert.equal(advertisedUrl({ ...env, LISTEN_ADDRESS: '::' }, NICS), 'http://10.0.3.7:8080');
  assert.equal(advertisedUrl({ ...env, LISTEN_ADDRESS: '192.0.2.5' }, NICS), 'http://192.0.2.5:8080');
  assert.equal(advertisedUrl({ ...env, LISTEN_ADDRESS: '2001:db8::5' }, NICS), 'http://[2001:db8::5]:8080');
  assert.equal(advertisedUrl(env, { lo: [nic('127.0.0.1', true)] }), 'http://127.0.0.1:8080', 'nothing better on this host');
  assert.equal(advertisedUrl({ ...env, CLUSTER_ADVERTISE_URL: 'https://telemetry-0.telemetry:8443/' }, NICS), 'https://telemetry-0.telemetry:8443');
});

test('a CLUSTER_ADVERTISE_URL that is not an http(s) URL is one config error line naming it, exit 2', async () => {
  const r = await runCli(['check-config'], { TARGET_FQDNS: 'x.example', CLUSTER_ADVERTISE_URL: 'ftp://10.0.3.7' });
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim(), 'config error: CLUSTER_ADVERTISE_URL: must be an http:// or https:// URL (not ftp://), e.g. http://10.0.3.7:8080, an address peers can reach (got "ftp://10.0.3.7")');
});
