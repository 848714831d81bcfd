import { containStepHandler } from "../src/containment/steps/lambda.js";
import { reportFailure } from "../src/containment/steps/report-failure.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** Catch target: audit and notify where the containment failed. */
export const createContainReportFailureHandler = (deps: PhoenixDeps) =>
  containStepHandler("failure", reportFailure, deps);

export const handler = containStepHandler("failure", reportFailure, () => depsFromEnv());
