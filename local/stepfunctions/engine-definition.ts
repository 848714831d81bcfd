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
 * - Wait with `Seconds`: a `waitTimeOverrides` entry of Seconds*1000/speed real ms.
 * - Wait with `Timestamp`, `SecondsPath` or `TimestampPath`: the engine would compare against the
 *   real clock (or cannot be overridden before the input is known), so the state becomes a Task
 *   run by the local cloud itself: its Parameters let the engine evaluate the path, and the task
 *   sleeps on the simulated clock and passes its input through. History still calls it a Wait.
 * - Retry `IntervalSeconds` / `MaxDelaySeconds`: divided by speed (BackoffRate and jitter keep
 *   working, since the engine computes them from these fields).
 * - The machine's `TimeoutSeconds`: divided by speed (it bounds waits, which are simulated).
 * - Task `TimeoutSeconds`: kept in real seconds. A task's work (a handler, its AWS calls and their
 *   SDK backoff) runs on the real clock; dividing its timeout by the speed made a slow but healthy
 *   step time out at high speeds and run again while the first attempt was still working. A Task
 *   without a timeout gets a very long one: the engine's default (60 real seconds) is not AWS's.
 *
 * State names are unique across a definition (AWS and asl-validator enforce it), which is what
 * makes overrides keyed by state name safe.
 */

export const LOCAL_WAIT_RESOURCE = "arn:aws:states:::phoenix-local:wait";

// Long enough to mean "no timeout", short enough for setTimeout (max ~24.8 days).
const NO_TASK_TIMEOUT_SECONDS = 1_000_000;

export interface EnginePlan {
  /** The rewritten copy to hand to the engine (validation off: fields may be fractional). */
  definition: AslDefinition;
  /** Real milliseconds for each `Seconds` Wait state. */
  waitTimeOverrides: Record<string, number>;
  /** Wait states that the local cloud runs as tasks on the simulated clock. */
  clockWaits: Set<string>;
  /** Each state's type in the original definition, by name (history uses these). */
  stateTypes: Map<string, string>;
}

export function prepareForEngine(original: AslDefinition, speed: number): EnginePlan {
  const definition = structuredClone(original);
  const plan: EnginePlan = {
    definition,
    waitTimeOverrides: {},
    clockWaits: new Set(),
    stateTypes: new Map(allStates(original).map(({ name, state }) => [name, String(state.Type)])),
  };
  if (typeof definition.TimeoutSeconds === "number")
    definition.TimeoutSeconds = definition.TimeoutSeconds / speed;
  rewriteMachine(definition, speed, plan);
  return plan;
}

function rewriteMachine(machine: AslDefinition, speed: number, plan: EnginePlan): void {
  for (const [name, state] of Object.entries(machine.States)) {
    if (state.Type === "Wait") {
      if (typeof state.Seconds === "number") {
        plan.waitTimeOverrides[name] = (state.Seconds * 1000) / speed;
      } else {
        machine.States[name] = waitAsClockTask(state);
        plan.clockWaits.add(name);
      }
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
  if (typeof wait.SecondsPath === "string") parameters["seconds.$"] = wait.SecondsPath;
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
