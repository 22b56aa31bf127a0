import { z } from 'zod';

/**
 * Building blocks of the environment schema, shared by the daemon's own
 * variables (env-schema.ts) and those each probe declares in its folder.
 * Environment values are strings: numbers are coerced, booleans go through
 * z.stringbool ("false" is false), empty strings count as unset.
 */
export const seconds = (def: number, min = 0.001, max = 86_400) => z.coerce.number().min(min).max(max).default(def);
export const int = (def: number, min = 1, max = 1_000_000) => z.coerce.number().int().min(min).max(max).default(def);
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
