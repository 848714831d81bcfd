import {
  type AslDefinition,
  type AslState,
  allStates,
  childMachines,
  isJsonObject,
  type JsonObject,
} from "./asl.js";

/**
 * aws-local-stepfunctions waits in real time. The local cloud runs on a clock that can be N times
 * faster, so before an execution starts its definition is rewritten for that clock:
 *
 * - Every Wait state becomes a Task run by the local cloud itself: its Parameters let the engine
 *   evaluate `SecondsPath` / `TimestampPath` (or carry `Seconds` / `Timestamp`), and the task
 *   sleeps on the simulated clock and passes its input through. History still calls it a Wait.
 *   The engine's own Wait would compare a Timestamp against the real clock, and, run outside the
 *   local cloud's hands, would be invisible to the execution's age (execution-time.ts).
 * - Retry `IntervalSeconds` / `MaxDelaySeconds`: divided by speed (BackoffRate and jitter keep
 *   working, since the engine computes them from these fields).
 * - The machine's `TimeoutSeconds` is taken out of the engine's hands: the engine would count it
 *   on one clock, but an execution's age has two (waits simulated, work real). The runner
 *   enforces it with an ExecutionTime (execution-time.ts).
 * - Task `TimeoutSeconds`: kept in real seconds. A task's work (a handler, its AWS calls and their
 *   SDK backoff) runs on the real clock; dividing its timeout by the speed made a slow but healthy
 *   step time out at high speeds and run again while the first attempt was still working. A Task
 *   without a timeout gets a very long one: the engine's default (60 real seconds) is not AWS's.
 *
 * State names are unique across a definition (AWS and asl-validator enforce it), which is what
 * makes handlers keyed by state name safe.
 */

export const LOCAL_WAIT_RESOURCE = "arn:aws:states:::phoenix-local:wait";

// Long enough to mean "no timeout", short enough for setTimeout (max ~24.8 days).
const NO_TASK_TIMEOUT_SECONDS = 1_000_000;

export interface EnginePlan {
  /** The rewritten copy to hand to the engine (validation off: fields may be fractional). */
  definition: AslDefinition;
  /** The Wait states, all run by the local cloud as tasks on the simulated clock. */
  clockWaits: Set<string>;
  /** The machine's TimeoutSeconds (simulated seconds), for the runner to enforce. */
  timeoutSeconds: number | undefined;
  /** Each state's type in the original definition, by name (history uses these). */
  stateTypes: Map<string, string>;
}

export function prepareForEngine(original: AslDefinition, speed: number): EnginePlan {
  const definition = structuredClone(original);
  const plan: EnginePlan = {
    definition,
    clockWaits: new Set(),
    timeoutSeconds: typeof original.TimeoutSeconds === "number" ? original.TimeoutSeconds : undefined,
    stateTypes: new Map(allStates(original).map(({ name, state }) => [name, String(state.Type)])),
  };
  delete definition.TimeoutSeconds;
  rewriteMachine(definition, speed, plan);
  return plan;
}

function rewriteMachine(machine: AslDefinition, speed: number, plan: EnginePlan): void {
  for (const [name, state] of Object.entries(machine.States)) {
    if (state.Type === "Wait") {
      machine.States[name] = waitAsClockTask(state);
      plan.clockWaits.add(name);
      continue;
    }
    if (Array.isArray(state.Retry)) state.Retry = state.Retry.map((retrier) => scaleRetrier(retrier, speed));
    if (state.Type === "Task") defaultTaskTimeout(state);
    for (const child of childMachines(state)) rewriteMachine(child.machine, speed, plan);
  }
}

function scaleRetrier(retrier: unknown, speed: number): JsonObject {
  if (!isJsonObject(retrier)) return {};
  const scaled: JsonObject = { ...retrier };
  // The engine defaults IntervalSeconds to 1: make the default explicit so it scales too.
  scaled.IntervalSeconds =
    (typeof retrier.IntervalSeconds === "number" ? retrier.IntervalSeconds : 1) / speed;
  if (typeof retrier.MaxDelaySeconds === "number") scaled.MaxDelaySeconds = retrier.MaxDelaySeconds / speed;
  return scaled;
}

function defaultTaskTimeout(state: AslState): void {
  if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
    state.TimeoutSeconds = NO_TASK_TIMEOUT_SECONDS;
  }
}

function waitAsClockTask(wait: AslState): AslState {
  const parameters: JsonObject = { "input.$": "$" };
  if (typeof wait.Seconds === "number") parameters.seconds = wait.Seconds;
  else if (typeof wait.SecondsPath === "string") parameters["seconds.$"] = wait.SecondsPath;
  else if (typeof wait.TimestampPath === "string") parameters["timestamp.$"] = wait.TimestampPath;
  else if (typeof wait.Timestamp === "string") parameters.timestamp = wait.Timestamp;
  const task: AslState = {
    Type: "Task",
    Resource: LOCAL_WAIT_RESOURCE,
    Parameters: parameters,
    TimeoutSeconds: NO_TASK_TIMEOUT_SECONDS,
  };
  for (const key of ["InputPath", "OutputPath", "Next", "End", "Comment"] as const) {
    const value = wait[key];
    if (value !== undefined) task[key] = value;
  }
  return task;
}
