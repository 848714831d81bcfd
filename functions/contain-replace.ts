import { containStepHandler } from "../src/containment/steps/lambda.js";
import { replace } from "../src/containment/steps/replace.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** Step 6: detach from the group so it launches a replacement. */
export const createContainReplaceHandler = (deps: PhoenixDeps) =>
  containStepHandler("replace", replace, deps);

export const handler = containStepHandler("replace", replace, () => depsFromEnv());
