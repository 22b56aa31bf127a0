import type { Logger } from 'pino';
import type { ComponentHealth } from '../lifecycle/component.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { AnySample } from '../samples/sample.js';
import type { Backlog, Sink } from './sink.js';

/**
 * The collector writes here; the points go to every configured sink. The
 * primary decides (its failure is the write's failure: the outbox in front of
 * the databases, or the embedded store when it is the only one); a failing
 * secondary (the embedded store next to the outbox) is counted and shown in
 * its own health, and never costs the primary its points.
 */
export class FanoutSink {
  private lastLog = 0;

  constructor(
    readonly primary: Sink,
    private readonly secondaries: readonly Sink[],
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
  ) {}

  get kind(): string {
    return [this.primary, ...this.secondaries].map((s) => s.kind).join('+');
  }

  async write(samples: readonly AnySample[]): Promise<void> {
    const side = this.secondaries.map((s) =>
      Promise.resolve()
        .then(() => s.write(samples))
        .catch((err: unknown) => {
          this.metrics.errors.inc({ component: s.kind });
          if (Date.now() - this.lastLog > 60_000) {
            this.lastLog = Date.now();
            this.log.error({ sink: s.kind, error: (err as Error).message }, 'secondary sink failed: points kept in the primary (logged once a minute)');
          }
        }),
    );
    await Promise.all([this.primary.write(samples), ...side]);
  }

  writable(): boolean {
    return this.primary.writable();
  }

  health(): ComponentHealth {
    return this.primary.health();
  }

  backlog(): Backlog | undefined {
    return this.primary.backlog?.();
  }
}
