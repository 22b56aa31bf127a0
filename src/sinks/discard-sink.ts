import type { AnySample } from '../samples/sample.js';
import { BaseComponent, type ComponentHealth } from '../lifecycle/component.js';
import type { SinkComponent as Sink } from './sink.js';

/** For `collect --once`: results are printed, not stored (like `telegraf --test`). */
export class DiscardSink extends BaseComponent implements Sink {
  readonly kind = 'none';
  readonly name = 'sink';
  write(samples: readonly AnySample[]): void {
    void samples;
  }
  health(): ComponentHealth {
    return { status: 'ok', kind: this.kind };
  }
  writable(): boolean {
    return true;
  }
  protected async onStart(): Promise<void> {}
  protected async onStop(): Promise<void> {}
}
