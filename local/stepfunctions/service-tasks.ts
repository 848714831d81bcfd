import type { Clock } from "../core/clock.js";
import { isJsonObject, type Json, type JsonObject } from "./asl.js";
import {
  awsSdkClientError,
  awsSdkIntegrationError,
  type OptimizedService,
  optimizedIntegrationError,
  sdkErrorFacts,
} from "./error-naming.js";
import { TaskFailure } from "./errors.js";
import { camelCaseKeys, pascalCaseKeys, sdkOutputToJson } from "./json-shapes.js";
import { SDK_SERVICES, type SdkClients } from "./sdk-clients.js";
import type { TaskCall } from "./task-resolver.js";

/**
 * Service integrations as real AWS SDK calls against the local cloud's gateway, so the call log,
 * fault injection and every local service model apply to them exactly as to Phoenix's own calls.
 */

type TaskRun = (call: TaskCall) => Promise<Json>;

export const OPTIMIZED_DYNAMODB_ACTIONS = new Set(["putItem", "getItem", "updateItem", "deleteItem"]);

function parametersOf(input: Json): JsonObject {
  return isJsonObject(input) ? input : {};
}

/** `arn:aws:states:::aws-sdk:<service>:<action>`: PascalCase in, the SDK's output (PascalCase) out. */
export function awsSdkTask(service: string, action: string, sdk: SdkClients): TaskRun {
  const info = SDK_SERVICES[service]!;
  return async ({ input, signal, roleArn }) => {
    const parameters = info.camelCaseApi ? camelCaseKeys(parametersOf(input)) : parametersOf(input);
    let output: Record<string, unknown>;
    try {
      output = await sdk.send(service, action, parameters, signal, roleArn);
    } catch (thrown) {
      const facts = sdkErrorFacts(thrown);
      const named = facts
        ? awsSdkIntegrationError(info.errorPrefix, facts)
        : awsSdkClientError(info.errorPrefix, thrown);
      throw new TaskFailure(named.error, named.cause);
    }
    const json = sdkOutputToJson(output);
    return info.camelCaseApi ? (pascalCaseKeys(json) as Json) : json;
  };
}

async function callOptimized(
  naming: OptimizedService,
  service: string,
  action: string,
  parameters: unknown,
  signal: AbortSignal,
  sdk: SdkClients,
  roleArn?: string,
): Promise<Record<string, unknown>> {
  try {
    return await sdk.send(service, action, parameters, signal, roleArn);
  } catch (thrown) {
    const named = optimizedIntegrationError(naming, sdkErrorFacts(thrown), thrown);
    throw new TaskFailure(named.error, named.cause);
  }
}

export function dynamoDbTask(action: string, sdk: SdkClients): TaskRun {
  return async ({ input, signal, roleArn }) =>
    sdkOutputToJson(
      await callOptimized("dynamodb", "dynamodb", action, parametersOf(input), signal, sdk, roleArn),
    );
}

/** The optimized integration serializes a non-string Message for you; the SDK one would not. */
export function snsPublishTask(sdk: SdkClients): TaskRun {
  return async ({ input, signal, roleArn }) => {
    const parameters = { ...parametersOf(input) };
    if (parameters.Message !== undefined && typeof parameters.Message !== "string") {
      parameters.Message = JSON.stringify(parameters.Message);
    }
    return sdkOutputToJson(await callOptimized("sns", "sns", "publish", parameters, signal, sdk, roleArn));
  };
}

/**
 * PutEvents as Step Functions does it: an object Detail is serialized, the state machine and
 * execution ARNs are added to each entry's Resources, and any failed entry fails the task with
 * `EventBridge.FailedEntry`.
 */
export function eventBridgePutEventsTask(sdk: SdkClients): TaskRun {
  return async ({ input, signal, execution, roleArn }) => {
    const parameters = parametersOf(input);
    const entries = Array.isArray(parameters.Entries) ? parameters.Entries : [];
    const Entries = entries.map((entry) => {
      const e = parametersOf(entry);
      const resources = Array.isArray(e.Resources) ? e.Resources : [];
      return {
        ...e,
        Detail: e.Detail !== undefined && typeof e.Detail !== "string" ? JSON.stringify(e.Detail) : e.Detail,
        Resources: [...resources, execution.stateMachineArn, execution.executionArn],
      };
    });
    const output = sdkOutputToJson(
      await callOptimized(
        "events",
        "eventbridge",
        "putEvents",
        { ...parameters, Entries },
        signal,
        sdk,
        roleArn,
      ),
    );
    if (isJsonObject(output) && typeof output.FailedEntryCount === "number" && output.FailedEntryCount > 0) {
      throw new TaskFailure("EventBridge.FailedEntry", JSON.stringify(output));
    }
    return output;
  };
}

const FINISHED = new Set(["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]);
// How often a `.sync` task looks at its child execution, in simulated milliseconds.
const SYNC_POLL_MS = 1000;

/**
 * `arn:aws:states:::states:startExecution[.sync|.sync:2]`: starts a child execution through the
 * gateway; the `.sync` forms wait for it and return its description (`.sync:2` with Input and
 * Output as JSON), failing with States.TaskFailed when the child does not succeed.
 */
export function startExecutionTask(wait: "none" | "sync" | "sync:2", sdk: SdkClients, clock: Clock): TaskRun {
  return async ({ input, signal, roleArn }) => {
    const parameters = parametersOf(input);
    const request = {
      stateMachineArn: parameters.StateMachineArn,
      name: parameters.Name,
      input: typeof parameters.Input === "string" ? parameters.Input : JSON.stringify(parameters.Input ?? {}),
      traceHeader: parameters.TraceHeader,
    };
    const started = await callOptimized("states", "sfn", "startExecution", request, signal, sdk, roleArn);
    if (wait === "none") return pascalCaseKeys(sdkOutputToJson(started)) as Json;
    for (;;) {
      const described = await callOptimized(
        "states",
        "sfn",
        "describeExecution",
        { executionArn: started.executionArn },
        signal,
        sdk,
        roleArn,
      );
      if (FINISHED.has(String(described.status))) {
        const result = pascalCaseKeys(sdkOutputToJson(described)) as JsonObject;
        if (wait === "sync:2") {
          for (const key of ["Input", "Output"] as const) {
            if (typeof result[key] === "string") result[key] = JSON.parse(result[key]) as Json;
          }
        }
        if (described.status !== "SUCCEEDED")
          throw new TaskFailure("States.TaskFailed", JSON.stringify(result));
        return result;
      }
      await clock.sleep(SYNC_POLL_MS, signal);
    }
  };
}
