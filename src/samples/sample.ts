import type { FieldType, Measurement, Measurements } from './measurement.js';

type ValueOf<T extends FieldType> = T extends 'string' ? string : T extends 'boolean' ? boolean : number;
type SchemaFields<M extends Measurement> = Measurements[M] extends { fields: infer F } ? F : never;

/** Fields of measurement M, typed from the schema: a probe cannot write an unknown field. */
export type FieldsOf<M extends Measurement> = {
  -readonly [K in keyof SchemaFields<M>]?: SchemaFields<M>[K] extends FieldType ? ValueOf<SchemaFields<M>[K]> : never;
};

export type FieldValue = number | string | boolean;

/** One point: what probes emit and sinks store. */
export interface Sample<M extends Measurement = Measurement> {
  measurement: M;
  /** Identity. Always `target` and `source`, plus the measurement's own tags. */
  tags: Record<string, string>;
  fields: FieldsOf<M>;
  /** Slot start (or the ad-hoc request time), integer milliseconds since the epoch. */
  timeMs: number;
}

export type AnySample = { [M in Measurement]: Sample<M> }[Measurement];

/** The fields of a sample as a plain map (drops undefined and non-finite numbers). */
export function fieldEntries(s: AnySample): [string, FieldValue][] {
  const out: [string, FieldValue][] = [];
  for (const [k, v] of Object.entries(s.fields as Record<string, FieldValue | undefined>)) {
    if (v === undefined) continue;
    if (typeof v === 'number' && !Number.isFinite(v)) continue;
    out.push([k, v]);
  }
  return out;
}

/** Canonical series key: measurement plus sorted tags (InfluxDB's point identity without the time). */
export function seriesKey(s: AnySample): string {
  const tags = Object.keys(s.tags)
    .sort()
    .map((k) => `${k}=${s.tags[k]}`)
    .join(',');
  return `${s.measurement},${tags}`;
}
