import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CreateStateMachineCommand, SFNClient } from "@aws-sdk/client-sfn";
import { createClients } from "../../src/aws/clients.js";
import {
  factoryExportOf,
  functionPlaceholders,
  PHOENIX_FUNCTIONS,
  PHOENIX_STATE_MACHINES,
  type PhoenixFunction,
  substitutePlaceholders,
} from "../../src/catalog.js";
import { buildDeps, type PhoenixDeps } from "../../src/deps.js";
import { EVENT_TARGETS, type EventTargetName } from "../../src/events/targets.js";
import type { Policy } from "../../src/policy/index.js";
import { resourceNames } from "../../src/resources.js";
import type { LocalCloudContext, LocalCloudPlugin } from "../context.js";
import type { EventHandlers } from "../events/index.js";
import type { LocalLambdaHandler } from "../stepfunctions/index.js";
import { createPhoenixResources, type LocalPhoenixResources } from "./resources.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Lambda functions by name, filled when the stack deploys; shared with Step Functions and the bus. */
export type FunctionRegistry = Record<string, LocalLambdaHandler>;

export interface LocalPhoenix {
  deps: PhoenixDeps;
  resources: LocalPhoenixResources;
  stateMachineArns: Record<keyof typeof PHOENIX_STATE_MACHINES, string>;
}

export const localFunctionName = (stage: string, name: PhoenixFunction) => `phoenix-${stage}-${name}`;

/** What the Lambda handlers of the event targets are, looked up when an event arrives. */
export function eventHandlersFrom(registry: FunctionRegistry, stage: string): EventHandlers {
  const invoke = (target: EventTargetName) => async (event: unknown) => {
    const name = localFunctionName(stage, EVENT_TARGETS[target].function);
    const fn = registry[name];
    if (!fn) throw new Error(`function ${name} is not deployed on the local cloud yet`);
    return fn(event, {} as never);
  };
  return {
    "on-finding": invoke("on-finding"),
    "on-image": invoke("on-image"),
    "on-refresh-event": invoke("on-refresh-event"),
  };
}

/**
 * "Deploys" Phoenix onto the local cloud, as `sst deploy` does on AWS: its tables and topic,
 * its functions (the real handlers, in-process, with clients that call back through the
 * gateway) and its state machines (the real ASL with the function ARNs substituted).
 */
export function phoenixStackPlugin(options: {
  registry: FunctionRegistry;
  policy: Policy;
  stage?: string;
  onDeployed?: (phoenix: LocalPhoenix) => void;
}): LocalCloudPlugin {
  const stage = options.stage ?? "local";
  return (context: LocalCloudContext) => {
    let deployed: LocalPhoenix | undefined;
    return {
      name: "phoenix",
      async start() {
        deployed = await deployPhoenix(context, options.registry, options.policy, stage);
        options.onDeployed?.(deployed);
      },
      health: () => ({
        deployed: deployed !== undefined,
        stage,
        functions: Object.keys(options.registry).length,
        stateMachines: deployed?.stateMachineArns ?? {},
      }),
    };
  };
}

async function deployPhoenix(
  context: LocalCloudContext,
  registry: FunctionRegistry,
  policy: Policy,
  stage: string,
): Promise<LocalPhoenix> {
  const resources = await createPhoenixResources(context.internalClientConfig, {
    stage,
    accountId: context.accountId,
    region: context.region,
  });
  const deps = buildDeps({
    clients: createClients({
      endpoint: context.endpoint,
      region: context.region,
      credentials: { accessKeyId: "phoenix-local", secretAccessKey: "phoenix-local" },
    }),
    resources,
    policy,
    accountId: context.accountId,
    region: context.region,
    // The local cloud's clock, which its Step Functions, Auto Scaling and events keep time by: the
    // audit trail, locks and budgets then agree with the executions and refreshes they record.
    now: () => new Date(context.clock.now()),
  });
  for (const name of PHOENIX_FUNCTIONS) {
    // The sources themselves (tsx or vitest load TypeScript); a computed URL, so no bundler
    // tries to resolve it ahead of time.
    const entry = pathToFileURL(resolve(ROOT, "functions", `${name}.ts`)).href;
    const module = (await import(/* @vite-ignore */ entry)) as Record<string, unknown>;
    const factory = module[factoryExportOf(name)];
    if (typeof factory !== "function") {
      throw new Error(`functions/${name}.ts does not export ${factoryExportOf(name)}(deps)`);
    }
    registry[localFunctionName(stage, name)] = factory(deps) as LocalLambdaHandler;
  }
  const arnOf = (name: PhoenixFunction) =>
    `arn:aws:lambda:${context.region}:${context.accountId}:function:${localFunctionName(stage, name)}`;
  // Step Functions is served by the gateway itself, not by moto.
  const sfn = new SFNClient({ ...context.internalClientConfig, endpoint: context.endpoint });
  const names = resourceNames(stage);
  const machineNames = { contain: names.containStateMachine, rollout: names.rolloutStateMachine };
  const stateMachineArns = {} as LocalPhoenix["stateMachineArns"];
  for (const [key, file] of Object.entries(PHOENIX_STATE_MACHINES) as [
    keyof typeof PHOENIX_STATE_MACHINES,
    string,
  ][]) {
    const definition = substitutePlaceholders(
      readFileSync(resolve(ROOT, file), "utf8"),
      functionPlaceholders(arnOf),
    );
    const created = await sfn.send(
      new CreateStateMachineCommand({
        name: machineNames[key],
        definition,
        roleArn: `arn:aws:iam::${context.accountId}:role/phoenix-${stage}-${key}`,
        type: "STANDARD",
      }),
    );
    stateMachineArns[key] = created.stateMachineArn!;
  }
  return { deps, resources, stateMachineArns };
}
