import { z } from 'zod';

/**
 * Building blocks of the environment schema, shared by the daemon's own
 * variables (env-schema.ts) and those each probe declares in its folder.
 * Environment values are strings: numbers are coerced, booleans go through
 * z.stringbool ("false" is false), empty strings count as unset.
 */
export const seconds = (def: number, min = 0.001, max = 86_400) => z.coerce.number().min(min).max(max).default(def).describe(`seconds, e.g. ${def}`);
export const int = (def: number, min = 1, max = 1_000_000) => z.coerce.number().int().min(min).max(max).default(def).describe(`a whole number, e.g. ${def}`);

/**
 * An http(s) URL; a value without its scheme gets a message that says what to
 * write. `example` is the value shown when the scheme is not http(s).
 */
export const httpUrl = (example = 'http://influxdb:8086') =>
  z.string().superRefine((v, ctx) => {
    const problem = httpUrlProblem(v, example);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export function httpUrlProblem(v: string, example = 'http://influxdb:8086'): string | undefined {
  // Shown back only when it cannot hold a secret (no userinfo, no query).
  const hostLike = /^\[?[A-Za-z0-9._:-]+\]?(:\d+)?(\/[^?#@]*)?$/;
  if (v.includes('://')) {
    if (!URL.canParse(v)) return 'is not a valid URL (e.g. "http://influxdb:8086")';
  } else if (!URL.canParse(v) || /^[A-Za-z0-9.-]+:\d+([/?#].*)?$/.test(v)) {
    // "influxdb:8086" parses, with the scheme "influxdb:".
    return hostLike.test(v) ? `is not a URL: it needs a scheme, e.g. "http://${v}"` : 'is not a URL: it needs a scheme (e.g. "http://influxdb:8086")';
  }
  const u = new URL(v);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `must be an http:// or https:// URL (not ${u.protocol.slice(0, -1)}://), e.g. ${example}`;
  if (!u.hostname) return 'has no host (e.g. "http://influxdb:8086")';
  return undefined;
}
export const optionalText = z.string().min(1).optional();
export const bool = (def: boolean) => z.stringbool().default(def);

/**
 * A threshold (THRESHOLD_*): a number >= 0, or `off` for none. Unset gives
 * the default (null = no threshold until one is set).
 */
export const threshold = (def: number | null = null) =>
  z
    .union([z.literal('off').transform(() => null), z.coerce.number().min(0)])
    .optional()
    .transform((v) => (v === undefined ? def : v));
