import { harden } from "../src/containment/steps/harden.js";
import { containStepHandler } from "../src/containment/steps/lambda.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** Step 3: termination protection, shutdown stops, volumes kept. */
export const createContainHardenHandler = (deps: PhoenixDeps) => containStepHandler("harden", harden, deps);

export const handler = containStepHandler("harden", harden, () => depsFromEnv());
