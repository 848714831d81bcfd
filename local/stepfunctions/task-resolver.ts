import type { Clock } from "../core/clock.js";
import { type AslDefinition, type AslState, allStates, isJsonObject, type Json } from "./asl.js";
import { TaskFailure } from "./errors.js";
import {
  functionNameOf,
  invokeLocalFunction,
  type LambdaScope,
  type LocalLambdaHandler,
  lambdaInvokeResponse,
} from "./lambda-tasks.js";
import { SdkClients } from "./sdk-clients.js";
import {
  awsSdkTask,
  dynamoDbTask,
  eventBridgePutEventsTask,
  OPTIMIZED_DYNAMODB_ACTIONS,
  snsPublishTask,
  startExecutionTask,
} from "./service-tasks.js";

/**
 * Every Task state of a definition gets a local handler, decided from its Resource when the state
 * machine is registered: the engine would otherwise call real AWS Lambda for an unmapped Task.
 */

export interface ExecutionRef {
  executionArn: string;
  stateMachineArn: string;
  name: string;
}

export interface TaskCall {
  /** The state's effective input (after InputPath and Parameters). */
  input: Json;
  execution: ExecutionRef;
  /** The state machine's role: its tasks call AWS (and invoke functions) as this role. */
  roleArn?: string;
  /** Aborted when the execution is stopped or times out. */
  signal: AbortSignal;
}

/** How GetExecutionHistory reports the task: a service integration, or a plain Lambda ARN. */
export type TaskHistoryShape =
  | { kind: "task"; resourceType: string; resource: string }
  | { kind: "lambda"; resource: string };

export interface LocalTask {
  stateName: string;
  resource: string;
  history: TaskHistoryShape;
  run(call: TaskCall): Promise<Json>;
}

export interface TaskResolverDeps {
  functions: Record<string, LocalLambdaHandler>;
  sdk: SdkClients;
  scope: LambdaScope;
  clock: Clock;
  /**
   * Whether the state machine's role may invoke the function (lambda:InvokeFunction, evaluated by
   * local/iam): a denial message, or undefined when allowed. Not given: no check.
   */
  authorizeInvoke?: (call: {
    roleArn: string;
    functionArn: string;
    execution: ExecutionRef;
  }) => Promise<string | undefined>;
}

/** Step Functions' failure when Lambda refuses the state machine's role (403 AccessDeniedException). */
async function assertInvokeAllowed(
  deps: TaskResolverDeps,
  call: TaskCall,
  functionName: string,
): Promise<void> {
  if (!deps.authorizeInvoke || !call.roleArn) return;
  const functionArn = `arn:aws:lambda:${deps.scope.region}:${deps.scope.accountId}:function:${functionName}`;
  const denied = await deps.authorizeInvoke({
    roleArn: call.roleArn,
    functionArn,
    execution: call.execution,
  });
  if (denied) {
    throw new TaskFailure(
      "Lambda.AWSLambdaException",
      `${denied} (Service: Lambda, Status Code: 403, Error Code: AccessDeniedException)`,
    );
  }
}

export interface UnmappedTask {
  state: string;
  /** Where the state is, e.g. `States.Fleet.ItemProcessor.States.Refresh`. */
  path: string;
  resource: string;
  reason: string;
}

export class UnmappedTasksError extends Error {
  constructor(readonly unmapped: UnmappedTask[]) {
    super(
      `the local cloud cannot run ${unmapped.length} Task state(s): ` +
        unmapped.map((u) => `'${u.state}' (${u.resource}): ${u.reason}`).join("; "),
    );
    this.name = "UnmappedTasksError";
  }
}

type Resolution = { task: LocalTask } | { problem: string };

const STATES_INTEGRATION = /^arn:aws[\w-]*:states:[\w-]*:\d*:(.+)$/;
const LAMBDA_FUNCTION = /^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:[^:]+(?::[^:]+)?$/;
const INTEGRATION_PATTERN = /^(.*?)(\.waitForTaskToken|\.sync:2|\.sync)?$/;

/** The local handler a Task's function name or ARN names, or why there is none. */
function localFunction(
  deps: TaskResolverDeps,
  nameOrArn: string,
):
  | { problem: string }
  | { functionName: string; handler: NonNullable<TaskResolverDeps["functions"][string]> } {
  const functionName = functionNameOf(nameOrArn);
  const handler = deps.functions[functionName];
  if (!handler) return { problem: `no local handler registered for function '${functionName}'` };
  return { functionName, handler };
}

function resolveLambdaInvoke(
  name: string,
  resource: string,
  state: AslState,
  deps: TaskResolverDeps,
): Resolution {
  const parameters = isJsonObject(state.Parameters) ? state.Parameters : {};
  if (typeof parameters["FunctionName.$"] === "string") {
    return {
      problem:
        "FunctionName is computed at run time (FunctionName.$): the local cloud cannot prove a handler exists",
    };
  }
  if (typeof parameters.FunctionName !== "string") return { problem: "Parameters.FunctionName is missing" };
  const found = localFunction(deps, parameters.FunctionName);
  if ("problem" in found) return { problem: found.problem };
  const { functionName, handler } = found;
  return {
    task: {
      stateName: name,
      resource,
      history: { kind: "task", resourceType: "lambda", resource: "invoke" },
      async run(call) {
        const { input } = call;
        await assertInvokeAllowed(deps, call, functionName);
        const params = isJsonObject(input) ? input : {};
        // An asynchronous invocation answers at once, as Lambda does; the handler runs on.
        if (params.InvocationType === "Event") {
          invokeLocalFunction(handler, functionName, params.Payload ?? {}, deps.scope).catch(() => {});
          return lambdaInvokeResponse("", 202);
        }
        return lambdaInvokeResponse(
          await invokeLocalFunction(handler, functionName, params.Payload ?? {}, deps.scope),
        );
      },
    },
  };
}

function resolveLambdaArn(name: string, resource: string, deps: TaskResolverDeps): Resolution {
  const found = localFunction(deps, resource);
  if ("problem" in found) return { problem: found.problem };
  const { functionName, handler } = found;
  return {
    task: {
      stateName: name,
      resource,
      history: { kind: "lambda", resource },
      // A plain function ARN returns the function's result itself, not Lambda's Invoke response.
      run: async (call) => {
        await assertInvokeAllowed(deps, call, functionName);
        return invokeLocalFunction(handler, functionName, call.input, deps.scope);
      },
    },
  };
}

async function resolveIntegration(
  name: string,
  resource: string,
  state: AslState,
  integration: string,
  deps: TaskResolverDeps,
): Promise<Resolution> {
  const [, base = "", pattern = ""] = INTEGRATION_PATTERN.exec(integration) ?? [];
  if (pattern === ".waitForTaskToken") {
    return {
      problem: "the .waitForTaskToken pattern is not supported: the local engine issues no task tokens",
    };
  }
  const [service = "", ...rest] = base.split(":");
  const shape = (resourceType: string, apiAction: string) => ({
    kind: "task" as const,
    resourceType,
    resource: apiAction,
  });

  if (service === "lambda" && rest.join(":") === "invoke") {
    if (pattern) return { problem: `lambda:invoke does not support ${pattern}` };
    return resolveLambdaInvoke(name, resource, state, deps);
  }
  if (service === "aws-sdk" && rest.length === 2) {
    const [sdkService = "", action = ""] = rest;
    if (pattern) return { problem: `aws-sdk integrations do not support ${pattern}` };
    const problem = await deps.sdk.problem(sdkService, action);
    if (problem) return { problem };
    return {
      task: {
        stateName: name,
        resource,
        history: shape(`aws-sdk:${sdkService}`, action),
        run: awsSdkTask(sdkService, action, deps.sdk),
      },
    };
  }
  const action = rest.join(":");
  if (service === "dynamodb" && OPTIMIZED_DYNAMODB_ACTIONS.has(action) && !pattern) {
    return {
      task: {
        stateName: name,
        resource,
        history: shape("dynamodb", action),
        run: dynamoDbTask(action, deps.sdk),
      },
    };
  }
  if (service === "sns" && action === "publish" && !pattern) {
    return {
      task: { stateName: name, resource, history: shape("sns", action), run: snsPublishTask(deps.sdk) },
    };
  }
  if (service === "events" && action === "putEvents" && !pattern) {
    return {
      task: {
        stateName: name,
        resource,
        history: shape("events", action),
        run: eventBridgePutEventsTask(deps.sdk),
      },
    };
  }
  if (service === "states" && action === "startExecution") {
    const wait = pattern === ".sync:2" ? "sync:2" : pattern === ".sync" ? "sync" : "none";
    return {
      task: {
        stateName: name,
        resource,
        history: shape("states", `startExecution${pattern}`),
        run: startExecutionTask(wait, deps.sdk, deps.clock),
      },
    };
  }
  return { problem: "not an integration the local cloud runs (see local/stepfunctions/task-resolver.ts)" };
}

async function resolveOne(name: string, state: AslState, deps: TaskResolverDeps): Promise<Resolution> {
  const resource = typeof state.Resource === "string" ? state.Resource : "";
  if (!resource) return { problem: "Resource is missing" };
  if (LAMBDA_FUNCTION.test(resource)) return resolveLambdaArn(name, resource, deps);
  const integration = STATES_INTEGRATION.exec(resource)?.[1];
  if (integration) return resolveIntegration(name, resource, state, integration, deps);
  if (resource.startsWith("arn:aws:states:") && resource.includes(":activity:")) {
    return { problem: "activities are not supported: the local cloud has no activity workers" };
  }
  return { problem: "not an integration the local cloud runs (see local/stepfunctions/task-resolver.ts)" };
}

async function resolveAll(definition: AslDefinition, deps: TaskResolverDeps) {
  const tasks = new Map<string, LocalTask>();
  const unmapped: UnmappedTask[] = [];
  for (const { name, state, path } of allStates(definition)) {
    if (state.Type !== "Task") continue;
    const resolution = await resolveOne(name, state, deps);
    if ("task" in resolution) tasks.set(name, resolution.task);
    else
      unmapped.push({
        state: name,
        path,
        resource: String(state.Resource ?? ""),
        reason: resolution.problem,
      });
  }
  return { tasks, unmapped };
}

/** A local handler for every Task state, by state name; throws naming each Task it cannot map. */
export async function resolveTasks(
  definition: AslDefinition,
  deps: TaskResolverDeps,
): Promise<Map<string, LocalTask>> {
  const { tasks, unmapped } = await resolveAll(definition, deps);
  if (unmapped.length > 0) throw new UnmappedTasksError(unmapped);
  return tasks;
}

/**
 * The Task states the local cloud could not run, with why. Only needs the names of the local
 * Lambda handlers: tests use it to prove Phoenix's workflows are fully mapped.
 */
export async function listUnmappedTasks(
  definition: AslDefinition,
  options: { functions?: Record<string, LocalLambdaHandler> | Iterable<string> } = {},
): Promise<UnmappedTask[]> {
  const functions: Record<string, LocalLambdaHandler> = {};
  const given = options.functions ?? {};
  const names = Symbol.iterator in Object(given) ? [...(given as Iterable<string>)] : Object.keys(given);
  const unused: LocalLambdaHandler = async () => {
    throw new Error("listUnmappedTasks never runs handlers");
  };
  for (const name of names) functions[name] = unused;
  const deps: TaskResolverDeps = {
    functions,
    sdk: new SdkClients(() => {
      throw new Error("listUnmappedTasks never calls AWS");
    }),
    scope: { region: "us-east-1", accountId: "123456789012" },
    clock: { speed: 1, now: Date.now, toRealMs: (ms) => ms, sleep: async () => {} },
  };
  return (await resolveAll(definition, deps)).unmapped;
}
