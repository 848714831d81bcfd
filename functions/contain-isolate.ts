import { isolate } from "../src/containment/steps/isolate.js";
import { containStepHandler } from "../src/containment/steps/lambda.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** Steps 1–2: look up the instance and isolate every network interface. */
export const createContainIsolateHandler = (deps: PhoenixDeps) =>
  containStepHandler("isolate", isolate, deps);

export const handler = containStepHandler("isolate", isolate, () => depsFromEnv());
