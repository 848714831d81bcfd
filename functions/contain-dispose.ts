import { dynamo, ec2, sns, sts } from "../src/aws/client-factories.js";
import { dispose } from "../src/containment/workflow/dispose.js";
import { containStepHandler } from "../src/containment/workflow/lambda.js";
import type { PhoenixDeps } from "../src/deps.js";
import { deployedHandler } from "../src/lambda.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, ec2, sns, sts };

/** Step 7: terminate or stop per policy, once the evidence is complete. */
export const createContainDisposeHandler = (deps: PhoenixDeps) =>
  containStepHandler("dispose", dispose, deps);

export const handler = deployedHandler(createContainDisposeHandler, CLIENTS);
