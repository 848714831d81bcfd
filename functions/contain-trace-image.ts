import { dynamo, ec2, kms, sfn, sns, sts } from "../src/aws/client-factories.js";
import { containHomeStepHandler } from "../src/containment/workflow/lambda.js";
import { traceImage } from "../src/containment/workflow/trace-image.js";
import type { PhoenixDeps } from "../src/deps.js";
import { deployedHandler } from "../src/lambda.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, ec2, kms, sfn, sns, sts };

/** After the detach: trace the containment to its instance's image (a poisoned image is marked and rolled back). */
export const createContainTraceImageHandler = (deps: PhoenixDeps) =>
  containHomeStepHandler("traceImage", traceImage, deps);

export const handler = deployedHandler(createContainTraceImageHandler, CLIENTS);
