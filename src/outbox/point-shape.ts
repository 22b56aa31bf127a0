/**
 * A point as the outbox keeps it, independent of any transport: what a
 * transport needs to encode it for its database. Field types travel with the
 * point (a JS number cannot tell 3 from 3.0, and the schema may change
 * between the version that stored a point and the one that sends it):
 * numbers in `f` are floats, numbers in `i` integers.
 */
export interface StoredPoint {
  /** measurement */
  m: string;
  /** tags (identity) */
  t: Record<string, string>;
  /** float, string and boolean fields */
  f: Record<string, number | string | boolean>;
  /** integer fields (absent when none) */
  i?: Record<string, number>;
  /** timestamp, ms since the epoch (the slot start) */
  ts: number;
}
