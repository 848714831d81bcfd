import { autoScaling, dynamo, sns, sts } from "../src/aws/client-factories.js";
import { containStepHandler } from "../src/containment/workflow/lambda.js";
import { checkReplacement } from "../src/containment/workflow/replacement-status.js";
import type { PhoenixDeps } from "../src/deps.js";
import { deployedHandler } from "../src/lambda.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { autoScaling, dynamo, sns, sts };

/** Step 5 (wait, after the evidence): one poll of the group's healthy capacity. */
export const createContainReplacementStatusHandler = (deps: PhoenixDeps) =>
  containStepHandler("replacementStatus", checkReplacement, deps);

export const handler = deployedHandler(createContainReplacementStatusHandler, CLIENTS);
