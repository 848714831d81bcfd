import { dynamo, ec2, sns } from "../src/aws/client-factories.js";
import { harden } from "../src/containment/steps/harden.js";
import { containStepHandler } from "../src/containment/steps/lambda.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, ec2, sns };

/** Step 3: termination protection, shutdown stops, volumes kept. */
export const createContainHardenHandler = (deps: PhoenixDeps) => containStepHandler("harden", harden, deps);

export const handler = containStepHandler("harden", harden, () => depsFromEnv(CLIENTS));
