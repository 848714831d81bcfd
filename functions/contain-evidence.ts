import { collectEvidence } from "../src/containment/steps/evidence.js";
import { containStepHandler } from "../src/containment/steps/lambda.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** Step 5: memory-capture hook and snapshots of every volume. */
export const createContainEvidenceHandler = (deps: PhoenixDeps) =>
  containStepHandler("evidence", collectEvidence, deps);

export const handler = containStepHandler("evidence", collectEvidence, () => depsFromEnv());
