import { dynamo, ec2, sns, ssm } from "../src/aws/client-factories.js";
import { collectEvidence } from "../src/containment/steps/evidence.js";
import { containStepHandler } from "../src/containment/steps/lambda.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, ec2, sns, ssm };

/** Step 5: memory-capture hook and snapshots of every volume. */
export const createContainEvidenceHandler = (deps: PhoenixDeps) =>
  containStepHandler("evidence", collectEvidence, deps);

export const handler = containStepHandler("evidence", collectEvidence, () => depsFromEnv(CLIENTS));
