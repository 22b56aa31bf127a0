import type { ComponentHealth } from '../lifecycle/component.js';

/**
 * Who collects what. The scheduler asks at every (target, slot): `owns` is a
 * cheap local answer; `claim` is asked only by the believed owner, right
 * before probing, and may consult shared state.
 */
export interface Coordinator {
  owns(target: string): boolean;
  /** True when this replica should probe `target` for the slot starting at `slotMs`. */
  claim(target: string, slotMs: number, intervalMs: number): Promise<boolean>;
  /** Number of configured targets this replica currently owns. */
  ownedCount(): number;
  /** The targets this replica currently owns (GET /api/cluster). */
  ownedTargets(): string[];
  health(): ComponentHealth;
  start(): Promise<void>;
  /** Leave the cluster (peers take over at once); idempotent. */
  stop(deadlineMs: number): Promise<void>;
}

/** No REDIS_URL: this replica owns every target. */
export class StandaloneCoordinator implements Coordinator {
  constructor(private readonly targets: readonly string[]) {}
  owns(): boolean {
    return true;
  }
  async claim(): Promise<boolean> {
    return true;
  }
  ownedCount(): number {
    return this.targets.length;
  }
  ownedTargets(): string[] {
    return [...this.targets].sort();
  }
  health(): ComponentHealth {
    return { status: 'ok', mode: 'standalone', members: 1 };
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
