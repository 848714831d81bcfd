import { setImmediate as nextTurn } from "node:timers/promises";
import { ExecutionAbortedError, ExecutionTimeoutError, StateMachine } from "aws-local-stepfunctions";
import type { Clock } from "../core/clock.js";
import { type AslDefinition, type AslState, allStates, isJsonObject, type Json } from "./asl.js";
import { prepareForEngine } from "./engine-definition.js";
import { EngineEventTranslator } from "./engine-events.js";
import { TaskFailure } from "./errors.js";
import { ExecutionTime } from "./execution-time.js";
import type { ExecutionHistory } from "./history.js";
import type { ExecutionRef, LocalTask } from "./task-resolver.js";

export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

export interface RunOutcome {
  status: Exclude<ExecutionStatus, "RUNNING">;
  output?: string;
  error?: string;
  cause?: string;
}

export interface RunSpec {
  execution: ExecutionRef;
  stateMachineName: string;
  roleArn: string;
  definition: AslDefinition;
  tasks: Map<string, LocalTask>;
  input: Json;
  clock: Clock;
  region: string;
  history: ExecutionHistory;
}

export interface RunningExecution {
  /** Settles when the execution has ended, never rejects. */
  done: Promise<RunOutcome>;
  /** StopExecution: aborts the run; the outcome is ABORTED with this error and cause. */
  stop(error?: string, cause?: string): void;
}

// How long to let the event log drain after the engine settles before closing the history.
const DRAIN_LIMIT_MS = 1000;

type EngineHandler = (input: Json) => Promise<Json>;

/**
 * Runs one execution with aws-local-stepfunctions: the definition rewritten for the simulated
 * clock, every Task through its local handler, the engine's event log and the handlers' own
 * reports written to the execution's history. Nothing it does can throw into the gateway.
 */
export function startRun(spec: RunSpec): RunningExecution {
  const controller = new AbortController();
  // How the run was cut short, by whichever came first: StopExecution or the machine's timeout.
  let ended: { by: "stop"; error?: string; cause?: string } | { by: "timeout" } | undefined;
  let abortEngine: () => void = () => {};
  let time: ExecutionTime | undefined;

  const done = run().catch((error: unknown): RunOutcome => {
    // The engine refused to start (or this module has a bug): the execution fails, the gateway lives.
    time?.finish();
    const outcome: RunOutcome = {
      status: "FAILED",
      error: "States.Runtime",
      cause: String((error as Error)?.message ?? error),
    };
    closeHistory(spec.history, outcome);
    return outcome;
  });

  async function run(): Promise<RunOutcome> {
    const { clock, history } = spec;
    const signal = controller.signal;
    history.add("ExecutionStarted", {
      input: JSON.stringify(spec.input),
      inputDetails: { truncated: false },
      roleArn: spec.roleArn,
    });
    const plan = prepareForEngine(spec.definition, clock.speed);
    const states = new Map<string, AslState>(
      allStates(spec.definition).map(({ name, state }) => [name, state]),
    );
    const translator = new EngineEventTranslator(
      history,
      states,
      (realMs) => clock.now() - (Date.now() - realMs) * clock.speed,
    );

    const handlers: Record<string, EngineHandler> = {};
    for (const [name, task] of spec.tasks) handlers[name] = taskHandler(name, task, spec, signal);
    for (const name of plan.clockWaits) handlers[name] = clockWaitHandler(clock, signal);

    // The machine's TimeoutSeconds, on the execution's own age (waits simulated, work real).
    time = new ExecutionTime(clock.speed, plan.timeoutSeconds, () => {
      if (ended) return;
      ended = { by: "timeout" };
      controller.abort();
      abortEngine();
    });
    const engine = new StateMachine(plan.definition as never, { validationOptions: { noValidate: true } });
    const execution = time.start(engine, spec.input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never },
      context: {
        Execution: { Id: spec.execution.executionArn, Name: spec.execution.name, RoleArn: spec.roleArn },
        StateMachine: { Id: spec.execution.stateMachineArn, Name: spec.stateMachineName },
      },
    });
    abortEngine = execution.abort;

    const drained = (async () => {
      try {
        for await (const event of execution.eventLogs) translator.translate(event);
      } catch {
        // The history keeps what it has; the outcome still comes from the engine's result.
      }
    })();

    let outcome: RunOutcome;
    try {
      const output = await execution.result;
      outcome = { status: "SUCCEEDED", output: JSON.stringify(output ?? null) };
    } catch (error) {
      outcome = outcomeOfFailure(error);
    }
    time.finish();
    let drainTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      drained,
      new Promise((resolve) => (drainTimer = setTimeout(resolve, DRAIN_LIMIT_MS))),
    ]);
    clearTimeout(drainTimer);
    if (outcome.status !== "SUCCEEDED" && outcome.status !== "FAILED") translator.abortOpenStates();
    closeHistory(history, outcome);
    return outcome;
  }

  function outcomeOfFailure(error: unknown): RunOutcome {
    if (ended?.by === "timeout" || error instanceof ExecutionTimeoutError) {
      controller.abort();
      return { status: "TIMED_OUT", error: "States.Timeout", cause: "The execution timed out" };
    }
    if (error instanceof ExecutionAbortedError || ended) {
      controller.abort();
      return ended?.by === "stop"
        ? { status: "ABORTED", error: ended.error, cause: ended.cause }
        : { status: "ABORTED" };
    }
    // ExecutionError carries the state's error: its name is the ASL error, its message the cause.
    const failure = (error as { cause?: unknown })?.cause ?? error;
    const name = (failure as Error)?.name || "States.Runtime";
    const message = (failure as Error)?.message ?? String(failure);
    // A Fail state without Error or Cause: the engine fills in defaults AWS does not have.
    return {
      status: "FAILED",
      error: name === "FailStateError" ? undefined : name,
      cause: message === "Execution failed because of a Fail state" ? undefined : message,
    };
  }

  return {
    done,
    stop(error?: string, cause?: string) {
      if (ended) return;
      ended = { by: "stop", error, cause };
      time?.finish();
      controller.abort();
      abortEngine();
    },
  };
}

function closeHistory(history: ExecutionHistory, outcome: RunOutcome): void {
  const errorDetails = { error: outcome.error, cause: outcome.cause };
  switch (outcome.status) {
    case "SUCCEEDED":
      history.add("ExecutionSucceeded", { output: outcome.output, outputDetails: { truncated: false } });
      break;
    case "FAILED":
      history.add("ExecutionFailed", errorDetails);
      break;
    case "ABORTED":
      history.add("ExecutionAborted", errorDetails);
      break;
    case "TIMED_OUT":
      history.add("ExecutionTimedOut", errorDetails);
      break;
  }
  history.close();
}

/** Wraps a local task for the engine, recording what AWS records around a task. */
function taskHandler(name: string, task: LocalTask, spec: RunSpec, signal: AbortSignal): EngineHandler {
  const { history } = spec;
  const shape = task.history;
  const record = (
    phase: "Scheduled" | "Started" | "Succeeded" | "Failed",
    details: Record<string, unknown>,
  ) => {
    if (shape.kind === "lambda") {
      const { resourceType: _t, resource: _r, region: _g, parameters: _p, ...rest } = details;
      history.add(`LambdaFunction${phase}`, Object.keys(rest).length > 0 ? rest : undefined);
    } else {
      history.add(`Task${phase}`, { resourceType: shape.resourceType, resource: shape.resource, ...details });
    }
  };
  return async (input) => {
    const strand = ExecutionTime.current();
    strand?.taskStarted(name);
    // Let the event-log consumer record this state's entry before the task's own events.
    await nextTurn();
    if (shape.kind === "lambda") {
      record("Scheduled", {
        resource: shape.resource,
        input: JSON.stringify(input),
        inputDetails: { truncated: false },
      });
    } else {
      record("Scheduled", { region: spec.region, parameters: JSON.stringify(input) });
    }
    record("Started", {});
    try {
      const output = await task.run({ input, execution: spec.execution, roleArn: spec.roleArn, signal });
      record("Succeeded", { output: JSON.stringify(output), outputDetails: { truncated: false } });
      return output;
    } catch (thrown) {
      const failure =
        thrown instanceof TaskFailure
          ? thrown
          : new TaskFailure(
              (thrown as Error)?.name || "States.TaskFailed",
              (thrown as Error)?.message ?? String(thrown),
            );
      record("Failed", { error: failure.name, cause: failure.message });
      strand?.taskFailed(name);
      throw failure;
    }
  };
}

/** A Wait state moved onto the simulated clock (see engine-definition.ts). */
function clockWaitHandler(clock: Clock, signal: AbortSignal): EngineHandler {
  return async (input) => {
    const parameters = isJsonObject(input) ? input : {};
    let waitMs: number;
    if ("seconds" in parameters) {
      const seconds = parameters.seconds;
      if (typeof seconds !== "number" || !Number.isInteger(seconds) || seconds < 0) {
        throw new TaskFailure(
          "States.Runtime",
          `SecondsPath must point to a non-negative integer, got ${JSON.stringify(seconds)}`,
        );
      }
      waitMs = seconds * 1000;
    } else {
      const at = Date.parse(String(parameters.timestamp));
      if (Number.isNaN(at)) {
        throw new TaskFailure(
          "States.Runtime",
          `Timestamp must be an ISO-8601 time, got ${JSON.stringify(parameters.timestamp)}`,
        );
      }
      waitMs = at - clock.now();
    }
    const strand = ExecutionTime.current();
    strand?.waitStarted(Math.max(0, waitMs));
    try {
      await clock.sleep(Math.max(0, waitMs), signal);
    } catch {
      // Stopped while waiting: the engine is already ending the execution.
    } finally {
      strand?.waitEnded();
    }
    return parameters.input ?? null;
  };
}
