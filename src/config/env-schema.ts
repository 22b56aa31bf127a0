import { z } from 'zod';
import { PROBE_MODULES } from '../probes/registry.js';
import { daemonEnv } from '../env/daemon-env.js';

/**
 * Every environment variable the daemon reads, with its default and unit:
 * the daemon's own below, and each probe's in its folder
 * (src/probes/<kind>/index.ts, `env`). docs/configuration.md lists each of
 * them; a test checks that every key here appears there.
 *
 * Empty strings count as "unset" (compose files often write `FOO: ""`),
 * except TARGET_FQDN(S), where an explicitly empty list is an error.
 */

type UnionToIntersection<U> = (U extends unknown ? (k: U) => void : never) extends (k: infer I) => void ? I : never;
type ProbeEnv = UnionToIntersection<(typeof PROBE_MODULES)[number]['env']>;
const probeEnv = Object.assign({}, ...PROBE_MODULES.map((m) => m.env)) as ProbeEnv;

export const envSchema = z.object({ ...daemonEnv, ...probeEnv }).strip();

export type Env = z.infer<typeof envSchema>;

/** Map empty strings to undefined so defaults apply (see header comment). */
export function cleanEnv(raw: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = raw[key];
    out[key] = v === undefined || v.trim() === '' ? undefined : v.trim();
  }
  return out;
}
