import { dynamo, sns } from "../src/aws/client-factories.js";
import { containStepHandler } from "../src/containment/steps/lambda.js";
import { report } from "../src/containment/steps/report.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, sns };

/** Step 8: audit and notify the outcome with its timeline. */
export const createContainReportHandler = (deps: PhoenixDeps) => containStepHandler("report", report, deps);

export const handler = containStepHandler("report", report, () => depsFromEnv(CLIENTS));
