/**
 * Worker thread: bcrypt comparisons off the event loop (password-verifier.ts).
 * Messages in: {id, password, hash}; out: {id, ok}.
 */
import bcrypt from 'bcryptjs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';

// The lowest CPU priority, for this thread only (on Linux a thread is its own
// scheduling entity): a flood of password checks yields to the event loop,
// the probes and the store instead of competing with them for the cores.
try {
  setPriority(19);
} catch {
  // not permitted here: the queue bound still holds
}

parentPort!.on('message', (m: { id: number; password: string; hash: string }) => {
  let ok = false;
  try {
    ok = bcrypt.compareSync(m.password, m.hash);
  } catch {
    ok = false; // a malformed hash never matches
  }
  parentPort!.postMessage({ id: m.id, ok });
});
