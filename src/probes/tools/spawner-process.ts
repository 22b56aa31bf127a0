/**
 * The spawner: a small helper process that starts the probe tools for the
 * daemon. Why: fork() copies the page tables of the process that forks, so a
 * spawn costs time proportional to its memory — ~15-20 ms of blocked event
 * loop in a 250 MB daemon, ~3 ms here. At 10,000 targets (17 tool starts a
 * second) that is the difference between a responsive daemon and one whose
 * event loop stalls for hundreds of milliseconds.
 *
 * Protocol (IPC, JSON): {type:'run', id, cmd, args, timeoutMs, maxOutputBytes}
 * -> {type:'done', id, run}; {type:'kill', id}; {type:'killAll'}. When the
 * daemon goes away (IPC disconnect) every tool is killed and the helper exits.
 */
import { spawnTool } from './spawn-tool.js';

type Msg =
  | { type: 'run'; id: number; cmd: string; args: string[]; timeoutMs: number; maxOutputBytes?: number }
  | { type: 'kill'; id: number }
  | { type: 'killAll' };

const running = new Map<number, () => void>();

process.on('message', (m: Msg) => {
  if (m.type === 'run') {
    const t = spawnTool(m.cmd, m.args, { timeoutMs: m.timeoutMs, maxOutputBytes: m.maxOutputBytes });
    running.set(m.id, t.kill);
    void t.done.then((run) => {
      running.delete(m.id);
      if (process.connected) process.send?.({ type: 'done', id: m.id, pid: t.pid, run }, (err: Error | null) => void err);
    });
  } else if (m.type === 'kill') {
    running.get(m.id)?.();
  } else if (m.type === 'killAll') {
    for (const kill of running.values()) kill();
  }
});

// Ctrl-C in a terminal signals the whole process group, this helper included.
// The daemon decides when tools stop (it disconnects at the end of its
// shutdown); dying first would turn the probes in flight into failures.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => {});

process.on('disconnect', () => {
  for (const kill of running.values()) kill();
  setTimeout(() => process.exit(0), 100).unref();
});
