import { dynamo, sns } from "../src/aws/client-factories.js";
import { containStepHandler } from "../src/containment/steps/lambda.js";
import { reportFailure } from "../src/containment/steps/report-failure.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, sns };

/** Catch target: audit and notify where the containment failed. */
export const createContainReportFailureHandler = (deps: PhoenixDeps) =>
  containStepHandler("failure", reportFailure, deps);

export const handler = containStepHandler("failure", reportFailure, () => depsFromEnv(CLIENTS));
