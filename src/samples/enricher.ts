import type { AnySample } from './sample.js';

/**
 * Adds to the points of one target run before they are stored (geolocation,
 * src/geo/: fields on per-hop points, a `geo` point). Must respect the
 * signal and never throw for a failed lookup: a point without geo fields
 * beats a made-up one. The collector calls it; it sits with the data model
 * so that what enriches needs nothing of who collects.
 */
export interface Enricher {
  enrich(target: { name: string; host: string }, samples: AnySample[], ctx: { timeMs: number; tags: Record<string, string>; signal: AbortSignal }): Promise<AnySample[]>;
}
