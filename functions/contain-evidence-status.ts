import { checkEvidence } from "../src/containment/steps/evidence-status.js";
import { containStepHandler } from "../src/containment/steps/lambda.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** Step 5: one poll of the snapshots. */
export const createContainEvidenceStatusHandler = (deps: PhoenixDeps) =>
  containStepHandler("evidenceStatus", checkEvidence, deps);

export const handler = containStepHandler("evidenceStatus", checkEvidence, () => depsFromEnv());
