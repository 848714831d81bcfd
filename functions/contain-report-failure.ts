import { dynamo, sns } from "../src/aws/client-factories.js";
import { containHomeStepHandler } from "../src/containment/workflow/lambda.js";
import { reportFailure } from "../src/containment/workflow/report-failure.js";
import type { PhoenixDeps } from "../src/deps.js";
import { deployedHandler } from "../src/lambda.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, sns };

/** Catch target: audit and notify where the containment failed. */
export const createContainReportFailureHandler = (deps: PhoenixDeps) =>
  containHomeStepHandler("failure", reportFailure, deps);

export const handler = deployedHandler(createContainReportFailureHandler, CLIENTS);
