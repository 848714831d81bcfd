import { dynamo, ec2, sns, sts } from "../src/aws/client-factories.js";
import { checkEvidence } from "../src/containment/workflow/evidence-status.js";
import { containStepHandler } from "../src/containment/workflow/lambda.js";
import type { PhoenixDeps } from "../src/deps.js";
import { deployedHandler } from "../src/lambda.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, ec2, sns, sts };

/** Step 6: one poll of the snapshots. */
export const createContainEvidenceStatusHandler = (deps: PhoenixDeps) =>
  containStepHandler("evidenceStatus", checkEvidence, deps);

export const handler = deployedHandler(createContainEvidenceStatusHandler, CLIENTS);
