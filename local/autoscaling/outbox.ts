import type { BusEvent } from "../core/context.js";

/**
 * Puts the events a refresh emits on the bus in the order they happened, without making the
 * refresh wait for the bus: moto's PutEvents with an SQS target takes a few hundred milliseconds,
 * which would otherwise stretch every replacement. AWS delivers these events best effort too.
 * Events are stamped when posted, so their `time` is when they happened, not when delivered.
 */
export class EventOutbox {
  private readonly queue: BusEvent[] = [];
  private draining?: Promise<void>;

  constructor(
    private readonly publish: (events: BusEvent[]) => Promise<void>,
    private readonly now: () => number,
    private readonly log: (message: string) => void,
  ) {}

  post(events: BusEvent[]): void {
    for (const event of events)
      this.queue.push({ ...event, time: event.time ?? new Date(this.now()).toISOString() });
    if (this.queue.length > 0 && !this.draining) this.draining = this.drain();
  }

  /** Resolves once everything posted so far has been handed to the bus (or given up on). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    // Yield first, so `draining` is set before this can clear it.
    await Promise.resolve();
    for (;;) {
      // Checked and cleared in one synchronous step, so a post() can never find a finished drain.
      if (this.queue.length === 0) {
        this.draining = undefined;
        return;
      }
      const batch = this.queue.splice(0, 10);
      try {
        await this.publish(batch);
      } catch (error) {
        this.log(`autoscaling: ${batch.length} event(s) not delivered: ${(error as Error).message}`);
      }
    }
  }
}
