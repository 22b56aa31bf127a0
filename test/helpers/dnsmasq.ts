import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { freePort, waitFor } from './net.js';

/**
 * A real DNS server (dnsmasq) on 127.0.0.1:PORT answering
 * `--host-record` entries (NOERROR/no data for other types of a known name)
 * and NXDOMAIN for unknown names under .test.
 */
export async function startDnsmasq(records: Record<string, string>): Promise<{ server: string; port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const args = ['--local=/test/', '--no-daemon', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', '--log-facility=-', '--user=root', '--pid-file='];
  for (const [name, ip] of Object.entries(records)) args.push(`--host-record=${name},${ip}`);
  const child: ChildProcess = spawn('dnsmasq', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  await waitFor(() => udpAnswers(port), `dnsmasq on ${port} (${stderr})`, 10_000, 50);
  return {
    server: `127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
    },
  };
}

function udpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const q = Buffer.from('abcd01000001000000000000047465737404746573740000010001', 'hex');
    const t = setTimeout(() => (s.close(), resolve(false)), 200);
    s.on('message', () => (clearTimeout(t), s.close(), resolve(true)));
    s.on('error', () => (clearTimeout(t), s.close(), resolve(false)));
    s.send(q, port, '127.0.0.1');
  });
}
