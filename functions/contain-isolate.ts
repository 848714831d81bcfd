import { dynamo, ec2, sns, sts } from "../src/aws/client-factories.js";
import { isolate } from "../src/containment/workflow/isolate.js";
import { containStepHandler } from "../src/containment/workflow/lambda.js";
import type { PhoenixDeps } from "../src/deps.js";
import { deployedHandler } from "../src/lambda.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, ec2, sns, sts };

/** Steps 1–2: look up the instance and isolate every network interface. */
export const createContainIsolateHandler = (deps: PhoenixDeps) =>
  containStepHandler("isolate", isolate, deps);

export const handler = deployedHandler(createContainIsolateHandler, CLIENTS);
