import { dynamo, ec2, sns, sts } from "../src/aws/client-factories.js";
import { harden } from "../src/containment/workflow/harden.js";
import { containStepHandler } from "../src/containment/workflow/lambda.js";
import type { PhoenixDeps } from "../src/deps.js";
import { deployedHandler } from "../src/lambda.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, ec2, sns, sts };

/** Step 3: termination protection, shutdown stops, volumes kept. */
export const createContainHardenHandler = (deps: PhoenixDeps) => containStepHandler("harden", harden, deps);

export const handler = deployedHandler(createContainHardenHandler, CLIENTS);
