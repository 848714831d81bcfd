import { dynamo, ec2, sns, ssm, sts } from "../src/aws/client-factories.js";
import { collectEvidence } from "../src/containment/workflow/evidence.js";
import { containStepHandler } from "../src/containment/workflow/lambda.js";
import type { PhoenixDeps } from "../src/deps.js";
import { deployedHandler } from "../src/lambda.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, ec2, sns, ssm, sts };

/** Step 6: memory-capture hook and snapshots of every volume. */
export const createContainEvidenceHandler = (deps: PhoenixDeps) =>
  containStepHandler("evidence", collectEvidence, deps);

export const handler = deployedHandler(createContainEvidenceHandler, CLIENTS);
