/**
 * An execution's history in GetExecutionHistory's terms: numbered events with AWS's type names and
 * details keys, timestamps on the simulated clock.
 */
export interface HistoryEvent {
  /** Simulated epoch milliseconds. */
  timestamp: number;
  type: string;
  id: number;
  previousEventId: number;
  details?: Record<string, unknown>;
}

/** AWS groups every `*StateEntered` under one details key, every `*StateExited` under another. */
export function detailsKey(type: string): string {
  if (type.endsWith("StateEntered")) return "stateEnteredEventDetails";
  if (type.endsWith("StateExited")) return "stateExitedEventDetails";
  return `${lowerFirst(type)}EventDetails`;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

export class ExecutionHistory {
  private readonly recorded: HistoryEvent[] = [];
  private closed = false;

  constructor(private readonly now: () => number) {}

  /**
   * Appends an event. `at` (simulated ms) is for events reported after the fact; timestamps never
   * go backwards, so the order of ids and of times agree.
   */
  add(type: string, details?: Record<string, unknown>, at?: number): void {
    if (this.closed) return;
    const last = this.recorded.at(-1);
    const timestamp = Math.max(at ?? this.now(), last?.timestamp ?? 0);
    const id = this.recorded.length + 1;
    this.recorded.push({ timestamp, type, id, previousEventId: id - 1, details });
  }

  /** After the execution's closing event nothing more is recorded (late task results included). */
  close(): void {
    this.closed = true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  list(): readonly HistoryEvent[] {
    return this.recorded;
  }
}
