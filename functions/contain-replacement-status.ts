import { containStepHandler } from "../src/containment/steps/lambda.js";
import { checkReplacement } from "../src/containment/steps/replacement-status.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** Step 6: one poll of the group's healthy capacity. */
export const createContainReplacementStatusHandler = (deps: PhoenixDeps) =>
  containStepHandler("replacementStatus", checkReplacement, deps);

export const handler = containStepHandler("replacementStatus", checkReplacement, () => depsFromEnv());
