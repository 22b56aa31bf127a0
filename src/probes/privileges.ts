import { readFileSync } from 'node:fs';
import type { ProcessRunner, ToolRun } from './tools/process-runner.js';
import { excerpt } from './tools/process-runner.js';

export type IcmpMode = 'root' | 'cap_net_raw' | 'ping_group_range' | 'none';

export interface PrivilegeReport {
  /** How ICMP probing works here, or `none`. */
  mode: IcmpMode;
  fping: 'ok' | 'missing' | 'denied' | 'error';
  mtr: 'ok' | 'missing' | 'denied' | 'error';
  /** One sentence naming the fix, when something does not work. */
  problem?: string;
}

/** The fix, naming the paths the daemon really uses (FPING_PATH, MTR_PATH). */
function fix(fpingPath: string, mtrPath: string): string {
  const mtrPacket = mtrPath.includes('/') ? `${mtrPath}-packet` : '$(command -v mtr-packet)';
  const fping = fpingPath.includes('/') ? fpingPath : `$(command -v ${fpingPath})`;
  return (
    `give the tools raw sockets: run as root, or \`setcap cap_net_raw+ep ${fping} ${mtrPacket}\` (FPING_PATH=${fpingPath}, MTR_PATH=${mtrPath}; ` +
    'Docker: --cap-add NET_RAW; Kubernetes: capabilities.add [NET_RAW]), ' +
    "or allow unprivileged ICMP with `sysctl -w net.ipv4.ping_group_range='0 2147483647'`"
  );
}

/** Is our group inside net.ipv4.ping_group_range (unprivileged ICMP datagram sockets)? */
function inPingGroupRange(): boolean {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8').trim().split(/\s+/).map(Number);
    const gid = process.getgid?.() ?? -1;
    return lo !== undefined && hi !== undefined && gid >= lo && gid <= hi;
  } catch {
    return false;
  }
}

/** What a failed self-test said, or what happened to it when it said nothing. */
function why(r: ToolRun): string {
  const said = excerpt(r.stderr) || excerpt(r.stdout);
  if (said) return said;
  if (r.killed) return `no output; stopped after ${r.durationMs} ms (${r.killed === 'timeout' ? 'timed out' : r.killed})`;
  return `exit code ${r.code} with no output`;
}

/**
 * Run each tool once against loopback at start: tells root / CAP_NET_RAW /
 * ping_group_range / nothing, so /health can say which, and a missing
 * capability is one clear message instead of a failure per probe.
 */
export async function checkPrivileges(runner: ProcessRunner, fpingPath: string, mtrPath: string): Promise<PrivilegeReport> {
  const [fp, mt] = await Promise.all([
    runner.run(fpingPath, ['-c', '1', '-t', '500', '-q', '127.0.0.1'], { timeoutMs: 3000 }),
    runner.run(mtrPath, ['--raw', '-n', '-c', '1', '-G', '0.3', '-m', '2', '127.0.0.1'], { timeoutMs: 5000 }),
  ]);
  const judge = (r: typeof fp): PrivilegeReport['fping'] => {
    if (r.spawnError) return r.spawnError.code === 'ENOENT' ? 'missing' : r.spawnError.code === 'ESPAWNER' ? 'error' : 'denied';
    const text = `${r.stderr} ${r.stdout}`;
    if (/permission|not permitted|must run as root|Failure to open|Failure to start|can't create socket/i.test(text)) return 'denied';
    if (r === fp && r.code === 4) return 'denied'; // fping: "system call error", i.e. no ICMP socket
    return r.code === 0 ? 'ok' : 'error';
  };
  const fping = judge(fp);
  const mtr = judge(mt);
  const uid = process.getuid?.() ?? -1;
  let mode: IcmpMode = 'none';
  if (fping === 'ok' || mtr === 'ok') mode = uid === 0 ? 'root' : inPingGroupRange() ? 'ping_group_range' : 'cap_net_raw';
  const problems: string[] = [];
  if (fping === 'missing') problems.push(`fping not found (FPING_PATH=${fpingPath}): apt-get install fping, or set FPING_PATH`);
  if (mtr === 'missing') problems.push(`mtr not found (MTR_PATH=${mtrPath}): apt-get install mtr-tiny, or set MTR_PATH`);
  const spawnDenied = [fp, mt].find((r) => r.spawnError?.code === 'EPERM' || r.spawnError?.code === 'EACCES');
  if (spawnDenied) problems.push(`cannot start the tools (${spawnDenied.spawnError!.code}: ${spawnDenied.spawnError!.message}): check the file permissions and the container's capability bounding set (it must keep NET_RAW)`);
  else if (fping === 'denied' || mtr === 'denied') problems.push(`ICMP not permitted: ${fix(fpingPath, mtrPath)}`);
  if (fping === 'error' && mode === 'ping_group_range') {
    // Seen with Debian's fping 5.1: it opens the unprivileged ICMP socket but
    // never matches the replies (every echo "timed out"), while mtr works.
    problems.push(
      'fping gets no replies over unprivileged ICMP sockets (fping 5.1 does not match them): ' +
        `give fping CAP_NET_RAW (\`setcap cap_net_raw+ep ${fpingPath.includes('/') ? fpingPath : `$(command -v ${fpingPath})`}\`, FPING_PATH=${fpingPath}; Docker --cap-add NET_RAW) — traces work as they are`,
    );
  } else if (fping === 'error') {
    problems.push(`fping self-test against 127.0.0.1 failed: ${why(fp)}`);
  }
  if (mtr === 'error') problems.push(`mtr self-test against 127.0.0.1 failed: ${why(mt)}`);
  return { mode, fping, mtr, problem: problems.length ? problems.join('; ') : undefined };
}
