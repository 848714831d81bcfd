/**
 * A bounded, numbered record of recent happenings (deliveries, emitted events) for health and
 * the `/_phoenix/events` route. Old entries fall off: the local cloud may run for days.
 */
export class Journal<T> {
  private readonly entries: (T & { seq: number })[] = [];
  private seq = 0;
  private count = 0;

  /** Journals that share `sequence` number their entries in one series (one `since` for all). */
  constructor(
    private readonly capacity: number,
    private readonly sequence: { next(): number } = { next: () => this.seq + 1 },
  ) {}

  add(entry: T): T & { seq: number } {
    this.seq = this.sequence.next();
    this.count++;
    const numbered = { ...entry, seq: this.seq };
    this.entries.push(numbered);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    return numbered;
  }

  /** Entries after `seq`, oldest first, at most `limit` of the newest ones. */
  since(seq = 0, limit = this.capacity): (T & { seq: number })[] {
    const newer = this.entries.filter((entry) => entry.seq > seq);
    return limit >= newer.length ? newer : newer.slice(newer.length - limit);
  }

  /** Entries ever added, including those that fell off. */
  get total(): number {
    return this.count;
  }
}

/** A counter that several journals share. */
export function sharedSequence(): { next(): number } {
  let last = 0;
  return { next: () => ++last };
}
