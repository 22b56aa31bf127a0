import { eachInSteps } from '../util/turn.js';
import { BaseComponent, type Component, type ComponentHealth } from '../lifecycle/component.js';

/** A replica as its peers see it: its id and the API address it advertises. */
export interface Member {
  id: string;
  /** CLUSTER_ADVERTISE_URL of that replica ('' when it advertised none). */
  url: string;
  /** True for this replica. */
  self: boolean;
}

/**
 * Who collects what. The scheduler asks at every (target, slot): `owns` is a
 * cheap local answer; `claim` is asked only by the believed owner, right
 * before probing, and may consult shared state. The web UI asks `ownerOf`
 * and `members` to find the replica that holds a target's data.
 *
 * Lifecycle (Component, name `cluster`): start() joins, stop(deadline)
 * leaves (peers take over at once), both idempotent.
 */
export interface Coordinator extends Component {
  /** This replica's member id. */
  readonly memberId: string;
  owns(target: string): boolean;
  /** True when this replica should probe `target` for the slot starting at `slotMs` (local clock). */
  claim(target: string, slotMs: number, intervalMs: number): Promise<boolean>;
  /** The member that collects `target` in this replica's view (undefined: not a configured target). */
  ownerOf(target: string): string | undefined;
  /** Live members in this replica's view, itself included. */
  members(): Member[];
  /** A reload changed the configured targets (the caller awaits what returns a promise: work done in steps). */
  setTargets(names: readonly string[]): void | Promise<void>;
  /** Number of configured targets this replica currently owns. */
  ownedCount(): number;
  /** The targets this replica currently owns (GET /api/cluster). */
  ownedTargets(): string[];
  /**
   * `listener` is called with the targets this replica starts to own while it
   * has a view (a peer left, a reload moved them here), once ownership says
   * so. The scheduler collects the current slot of those it passed over as
   * another replica's (the claim keeps a slot that replica did collect from
   * being collected twice).
   */
  onGain(listener: (targets: readonly string[]) => void): void;
  health(): ComponentHealth;
}

/**
 * No REDIS_URL: this replica owns every target. The list of names is built
 * at start and at each reload in steps: 100,000 names in one go held the
 * event loop for a noticeable time, while the API already answered.
 */
export class StandaloneCoordinator extends BaseComponent implements Coordinator {
  readonly name = 'cluster';
  readonly memberId = 'standalone';
  private targets = new Set<string>();

  constructor(
    private initial: readonly string[],
    private readonly advertiseUrl = '',
  ) {
    super();
  }

  // Nothing to share with: whatever the scheduler runs is ours.
  owns(): boolean {
    return true;
  }
  async claim(): Promise<boolean> {
    return true;
  }
  ownerOf(target: string): string | undefined {
    return this.targets.has(target) ? this.memberId : undefined;
  }
  members(): Member[] {
    return [{ id: this.memberId, url: this.advertiseUrl, self: true }];
  }
  async setTargets(names: readonly string[]): Promise<void> {
    const next = new Set<string>();
    await eachInSteps(names, (n) => next.add(n));
    this.targets = next;
  }
  ownedCount(): number {
    return this.targets.size;
  }
  ownedTargets(): string[] {
    return [...this.targets].sort();
  }
  onGain(): void {} // owns everything from the start: never gains
  health(): ComponentHealth {
    return { status: 'ok', mode: 'standalone', members: 1 };
  }
  protected async onStart(): Promise<void> {
    await this.setTargets(this.initial);
    this.initial = [];
  }
  protected async onStop(): Promise<void> {}
}
