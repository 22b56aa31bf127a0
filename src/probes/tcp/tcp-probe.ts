import { connect, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { performance } from 'node:perf_hooks';
import { round3 } from '../../util/numbers.js';
import { reasonForError } from '../reasons.js';
import type { Probe, ProbeOutcome } from '../types.js';

export interface TcpSpec {
  port: number;
}

/**
 * TCP connect time: name resolution first (not counted), then the three-way
 * handshake. The socket is closed right after it connects.
 */
export const tcpProbe: Probe<TcpSpec> = async ({ target, timeMs, tags, signal }, spec): Promise<ProbeOutcome> => {
  const port = spec.port;
  const sampleTags = { ...tags, port: String(port) };
  const fail = (err: unknown, ip?: string): ProbeOutcome => {
    const { reason, detail } = reasonForError(err, signal);
    return {
      success: false,
      reason,
      detail,
      samples: [{ measurement: 'tcp', tags: sampleTags, fields: { success: false, ip }, timeMs }],
      summary: { port },
    };
  };
  let ip = target.host;
  if (!isIP(ip)) {
    try {
      ip = (await lookup(target.host, { family: target.family ?? 0 })).address;
    } catch (err) {
      return fail(err);
    }
  }
  if (signal.aborted) return fail(signal.reason, ip);
  return new Promise<ProbeOutcome>((resolve) => {
    const t0 = performance.now();
    const socket = connect({ host: ip, port });
    const done = (o: ProbeOutcome) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(o);
    };
    const onAbort = () => done(fail(signal.reason, ip));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      const ms = round3(performance.now() - t0);
      done({
        success: true,
        samples: [{ measurement: 'tcp', tags: sampleTags, fields: { success: true, connect_ms: ms, ip }, timeMs }],
        summary: { port, connect_ms: ms },
      });
    });
    socket.once('error', (err) => done(fail(err, ip)));
  });
};
