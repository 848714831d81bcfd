import { defaultPolicy, type Policy } from "../src/policy/index.js";
import { autoScalingPlugin } from "./autoscaling/index.js";
import type { LocalCloudPlugin } from "./context.js";
import { dashboardPlugin } from "./dashboard/index.js";
import { eventsPlugin } from "./events/index.js";
import { launchTemplateSourceVersion } from "./moto-fixes/launch-template-source.js";
import { primaryInterfaceGroups } from "./moto-fixes/primary-eni-groups.js";
import { registerImageTags } from "./moto-fixes/register-image-tags.js";
import { serialDynamoDb } from "./moto-fixes/serial-dynamodb.js";
import { notificationsPlugin } from "./notifications.js";
import {
  eventHandlersFrom,
  type FunctionRegistry,
  type LocalPhoenix,
  phoenixStackPlugin,
} from "./phoenix/stack.js";
import { stepFunctionsPlugin } from "./stepfunctions/index.js";

export interface BuiltinOptions {
  policy?: Policy;
  /** Simulated seconds an instance takes to boot and pass health checks. */
  bootSeconds?: number;
  /** Deploy Phoenix itself (functions, state machines, tables) onto the local cloud (default true). */
  deployPhoenix?: boolean;
  stage?: string;
  onDeployed?: (phoenix: LocalPhoenix) => void;
}

/** Every part of the local runtime that `phoenix local` loads, in start order. */
export function builtinPlugins(options: BuiltinOptions = {}): LocalCloudPlugin[] {
  const policy = options.policy ?? defaultPolicy();
  const stage = options.stage ?? "local";
  const registry: FunctionRegistry = {};
  const plugins: LocalCloudPlugin[] = [
    serialDynamoDb(),
    primaryInterfaceGroups(),
    launchTemplateSourceVersion(),
    registerImageTags(),
    autoScalingPlugin({ bootSeconds: options.bootSeconds }),
    stepFunctionsPlugin({ functions: registry }),
    eventsPlugin({ handlers: eventHandlersFrom(registry, stage), policy }),
    notificationsPlugin(),
  ];
  if (options.deployPhoenix !== false) {
    plugins.push(phoenixStackPlugin({ registry, policy, stage, onDeployed: options.onDeployed }));
    plugins.push(dashboardPlugin({ stage }));
  }
  return plugins;
}
