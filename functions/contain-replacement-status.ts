import { autoScaling, dynamo, sns } from "../src/aws/client-factories.js";
import { containStepHandler } from "../src/containment/steps/lambda.js";
import { checkReplacement } from "../src/containment/steps/replacement-status.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { autoScaling, dynamo, sns };

/** Step 6: one poll of the group's healthy capacity. */
export const createContainReplacementStatusHandler = (deps: PhoenixDeps) =>
  containStepHandler("replacementStatus", checkReplacement, deps);

export const handler = containStepHandler("replacementStatus", checkReplacement, () => depsFromEnv(CLIENTS));
