import { autoScaling, dynamo, ec2, sns, sts } from "../src/aws/client-factories.js";
import { containStepHandler } from "../src/containment/workflow/lambda.js";
import { replace } from "../src/containment/workflow/replace.js";
import type { PhoenixDeps } from "../src/deps.js";
import { deployedHandler } from "../src/lambda.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { autoScaling, dynamo, ec2, sns, sts };

/** Step 5: detach from the group (it launches a replacement) before the evidence steps. */
export const createContainReplaceHandler = (deps: PhoenixDeps) =>
  containStepHandler("replace", replace, deps);

export const handler = deployedHandler(createContainReplaceHandler, CLIENTS);
