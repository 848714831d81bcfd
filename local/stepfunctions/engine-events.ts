import type { StateMachine } from "aws-local-stepfunctions";
import { type AslState, isJsonObject, type Json } from "./asl.js";
import type { ExecutionHistory } from "./history.js";

/** One entry of aws-local-stepfunctions' event log (the package does not export the type). */
export type EngineEvent =
  ReturnType<StateMachine["run"]>["eventLogs"] extends AsyncGenerator<infer E> ? E : never;

// States whose abort AWS records as `<Type>StateAborted`.
const ABORTABLE = new Set(["Task", "Wait", "Map", "Parallel"]);

/**
 * Maps the engine's state-level events onto AWS history events. Task scheduling and results are
 * recorded by the task handlers themselves (the engine does not see them); execution start and
 * end by the runner.
 */
export class EngineEventTranslator {
  /** States entered and not yet left, by name (Map iterations may run one state many times). */
  private readonly open = new Map<string, number>();

  constructor(
    private readonly history: ExecutionHistory,
    private readonly states: Map<string, AslState>,
    /** Converts the engine's real timestamps to the simulated clock. */
    private readonly simulated: (realMs: number) => number,
  ) {}

  private typeOf(name: string, engineType: string): string {
    // The definition's type wins: Waits on the simulated clock run as Tasks inside the engine.
    return String(this.states.get(name)?.Type ?? engineType);
  }

  private opened(name: string, delta: number): void {
    this.open.set(name, Math.max(0, (this.open.get(name) ?? 0) + delta));
  }

  translate(event: EngineEvent): void {
    const at = this.simulated(event.timestamp);
    const add = (type: string, details?: Record<string, unknown>) => this.history.add(type, details, at);
    switch (event.type) {
      case "StateEntered": {
        const type = this.typeOf(event.state.name, event.state.type);
        this.opened(event.state.name, 1);
        add(`${type}StateEntered`, {
          name: event.state.name,
          input: json(event.state.input),
          inputDetails: { truncated: false },
        });
        if (type === "Map")
          add("MapStateStarted", mapLength(this.states.get(event.state.name), event.state.input));
        if (type === "Parallel") add("ParallelStateStarted");
        return;
      }
      case "StateExited": {
        const type = this.typeOf(event.state.name, event.state.type);
        this.opened(event.state.name, -1);
        if (type === "Map") add("MapStateSucceeded");
        if (type === "Parallel") add("ParallelStateSucceeded");
        add(`${type}StateExited`, {
          name: event.state.name,
          output: json(event.state.output ?? null),
          outputDetails: { truncated: false },
        });
        return;
      }
      case "StateFailed": {
        const type = this.typeOf(event.state.name, event.state.type);
        if (type === "Map") add("MapStateFailed");
        if (type === "Parallel") add("ParallelStateFailed");
        return;
      }
      case "StateCaught": {
        // A caught failure still leaves the state (AWS records its exit before the Catch target).
        const type = this.typeOf(event.state.name, event.state.type);
        this.opened(event.state.name, -1);
        add(`${type}StateExited`, { name: event.state.name });
        return;
      }
      case "MapIterationStarted":
      case "MapIterationSucceeded":
      case "MapIterationFailed":
        add(event.type, { name: event.parentState.name, index: event.index });
        return;
      default:
        // Execution-level events are the runner's; retries and Parallel branches have no AWS event.
        return;
    }
  }

  /** On StopExecution or timeout: what was running gets its `<Type>StateAborted`. */
  abortOpenStates(): void {
    for (const [name, count] of [...this.open].reverse()) {
      const type = this.typeOf(name, "");
      if (count > 0 && ABORTABLE.has(type)) this.history.add(`${type}StateAborted`);
    }
    this.open.clear();
  }
}

function json(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/** MapStateStarted's item count, when ItemsPath is simple enough to follow here. */
function mapLength(state: AslState | undefined, input: unknown): Record<string, unknown> | undefined {
  const path = typeof state?.ItemsPath === "string" ? state.ItemsPath : "$";
  if (!/^\$(\.[A-Za-z_][\w-]*)*$/.test(path)) return undefined;
  let items: unknown = input;
  for (const key of path.split(".").slice(1))
    items = isJsonObject(items) ? (items as Record<string, Json>)[key] : undefined;
  return Array.isArray(items) ? { length: items.length } : undefined;
}
