import type { Component, ComponentHealth, Deadline } from '../lifecycle/component.js';

/**
 * Who collects what. The scheduler asks at every (target, slot): `owns` is a
 * cheap local answer; `claim` is asked only by the believed owner, right
 * before probing, and may consult shared state.
 */
export interface Coordinator extends Component {
  owns(target: string): boolean;
  /** True when this replica should probe `target` for the slot starting at `slotMs`. */
  claim(target: string, slotMs: number, intervalMs: number): Promise<boolean>;
  /** Number of configured targets this replica currently owns. */
  ownedCount(): number;
  /** The targets this replica currently owns (GET /api/cluster). */
  ownedTargets(): string[];
  /** A reload changed the configured targets. */
  setTargets(targets: readonly string[]): void;
  health(): ComponentHealth;
  start(): Promise<void>;
  /** Leave the cluster (peers take over at once); idempotent. */
  stop(deadline: Deadline): Promise<void>;
}

/** No REDIS_URL: this replica owns every target. */
export class StandaloneCoordinator implements Coordinator {
  readonly name = 'cluster';
  constructor(private targets: readonly string[]) {}
  setTargets(targets: readonly string[]): void {
    this.targets = [...targets];
  }
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
