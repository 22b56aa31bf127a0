/**
 * The shape of the data model, with no imports: every measurement is declared
 * where it is written (each probe's folder, core-measurements.ts for the
 * daemon's own) by adding itself to the `Measurements` interface, and
 * schema.ts puts the runtime table together. Kept apart so probes can type
 * their samples without importing the whole schema (no import cycle).
 */

export type FieldType = 'float' | 'integer' | 'string' | 'boolean';

export interface MeasurementSchema {
  /** Tags besides target/source (values are bounded). */
  tags: readonly string[];
  fields: Readonly<Record<string, FieldType>>;
}

/** Measurement name -> its schema type; extended by `declare module` next to each measurement. */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface Measurements {}

export type Measurement = keyof Measurements & string;

/** Tags every point carries. `mode` is only present (value `adhoc`) on ad-hoc runs. */
export const COMMON_TAGS = ['target', 'source', 'mode'] as const;
