import type { ComponentHealth } from '../lifecycle/component.js';
import type { AnySample } from '../samples/sample.js';
import type { DropReason } from './retention.js';
import type { EngineOptions, EngineStats, MaintenanceWork } from './store-engine.js';

/** Messages between EmbeddedStore (daemon thread) and store-worker.ts. */

export interface WorkerInit {
  /** Absolute path of store.db (created and checked by the daemon thread). */
  path: string;
  options: EngineOptions;
}

/** The engine's read calls the worker answers (a literal list: nothing else is callable). */
export const CALLS = ['query', 'series', 'routes', 'sparklines', 'latest'] as const;
export type CallName = (typeof CALLS)[number];

export type ToWorker =
  | { type: 'write'; id: number; samples: readonly AnySample[] }
  | { type: 'call'; id: number; op: CallName; args: unknown[] }
  | { type: 'stop' };

/** Maintenance steps since the worker started (bench/store.ts reports them). */
export interface MaintenanceSteps {
  count: number;
  over_10ms: number;
  over_50ms: number;
  max_ms: number;
  max_ms_by_work: Partial<Record<MaintenanceWork, number>>;
}

/** The worker thread's own memory: its V8 heap, and its SQLite connection's page cache bound. */
export interface WorkerMemory {
  heap_used_bytes: number;
  heap_size_bytes: number;
  page_cache_max_bytes: number;
}

/** An error as it crosses the thread boundary (class lost, name and code kept). */
export interface WireError {
  name: string;
  message: string;
  code?: string;
}

export type FromWorker =
  | { type: 'ready' }
  | { type: 'fatal'; error: WireError }
  | { type: 'written'; id: number; points: number }
  | { type: 'failed'; id: number; error: WireError }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'stats'; stats: EngineStats; maintenance: ComponentHealth; max_step_ms: number; steps: MaintenanceSteps; memory: WorkerMemory }
  | { type: 'dropped'; reason: DropReason; points: number }
  | { type: 'error'; component: string; error: WireError; message: string }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown> }
  | { type: 'stopped' };

export function toWire(err: unknown): WireError {
  const e = err as { name?: string; message?: string; code?: unknown };
  return { name: e?.name ?? 'Error', message: e?.message ?? String(err), ...(typeof e?.code === 'string' ? { code: e.code } : {}) };
}

export function fromWire(w: WireError): Error & { code?: string } {
  const err: Error & { code?: string } = w.name === 'RangeError' ? new RangeError(w.message) : new Error(w.message);
  if (w.code) err.code = w.code;
  return err;
}
