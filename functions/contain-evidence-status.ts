import { dynamo, ec2, sns } from "../src/aws/client-factories.js";
import { checkEvidence } from "../src/containment/steps/evidence-status.js";
import { containStepHandler } from "../src/containment/steps/lambda.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, ec2, sns };

/** Step 5: one poll of the snapshots. */
export const createContainEvidenceStatusHandler = (deps: PhoenixDeps) =>
  containStepHandler("evidenceStatus", checkEvidence, deps);

export const handler = containStepHandler("evidenceStatus", checkEvidence, () => depsFromEnv(CLIENTS));
