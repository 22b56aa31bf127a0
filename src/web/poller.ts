/**
 * A refresh loop for a page: one run at a time (the next is scheduled when
 * the previous settles, so a slow daemon is never asked twice at once), no
 * runs while the tab is hidden, and an AbortSignal that cancels the run in
 * flight when the page asks for fresh data or goes away.
 */
export class Poller {
  private timer?: ReturnType<typeof setTimeout>;
  private controller?: AbortController;
  private running = false;
  private stopped = false;
  private readonly onVisible = () => {
    if (!document.hidden && !this.running) this.now();
  };

  constructor(
    private readonly run: (signal: AbortSignal) => Promise<void>,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    document.addEventListener('visibilitychange', this.onVisible);
    this.now();
  }

  /** Run at once (cancelling a run in flight), then on the interval. */
  now(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.running = true;
    this.run(controller.signal)
      .catch(() => undefined) // run() shows its own errors
      .finally(() => {
        if (this.controller !== controller) return; // superseded
        this.running = false;
        if (!this.stopped && !document.hidden) this.timer = setTimeout(() => this.now(), this.intervalMs);
      });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.controller?.abort();
    document.removeEventListener('visibilitychange', this.onVisible);
  }
}
