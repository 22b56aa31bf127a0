import type { Sparkline, SparklineOptions } from '../store/types.js';
import type { FanOut } from './fan-out.js';

/** The overview sparkline: the last hour in one-minute buckets. */
const SPARK_BUCKETS = 60;
/** Targets per store call (the store's bound). */
const PER_CALL = 100;

export interface SparklineReader {
  sparklines(targets: readonly string[], o?: SparklineOptions): Promise<Record<string, Sparkline>>;
}

/** The sparklines of targets this replica holds, from its store. */
export async function localSparklines(store: SparklineReader | undefined, names: readonly string[]): Promise<Map<string, Sparkline>> {
  const out = new Map<string, Sparkline>();
  if (!store) return out;
  for (let i = 0; i < names.length; i += PER_CALL) {
    for (const [n, sp] of Object.entries(await store.sparklines(names.slice(i, i + PER_CALL), { buckets: SPARK_BUCKETS }))) out.set(n, sp);
  }
  return out;
}

/** The sparklines of targets other members hold: one call per member, none for a member that does not answer. */
export async function remoteSparklines(fanOut: FanOut, byOwner: ReadonlyMap<string, readonly string[]>): Promise<Map<string, Sparkline>> {
  const out = new Map<string, Sparkline>();
  await Promise.all(
    [...byOwner].map(async ([owner, names]) => {
      const a = await fanOut.ask(owner, `/api/local/sparklines?${names.map((n) => `name=${encodeURIComponent(n)}`).join('&')}`);
      if (a.status === 'ok') for (const [n, sp] of Object.entries((a.body as { sparklines?: Record<string, Sparkline> }).sparklines ?? {})) out.set(n, sp);
    }),
  );
  return out;
}
