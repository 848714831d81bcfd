import { containStepHandler } from "../src/containment/steps/lambda.js";
import { report } from "../src/containment/steps/report.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** Step 8: audit and notify the outcome with its timeline. */
export const createContainReportHandler = (deps: PhoenixDeps) => containStepHandler("report", report, deps);

export const handler = containStepHandler("report", report, () => depsFromEnv());
