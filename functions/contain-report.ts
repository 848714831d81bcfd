import { dynamo, sns } from "../src/aws/client-factories.js";
import { containHomeStepHandler } from "../src/containment/workflow/lambda.js";
import { report } from "../src/containment/workflow/report.js";
import type { PhoenixDeps } from "../src/deps.js";
import { deployedHandler } from "../src/lambda.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, sns };

/** Step 8: audit and notify the outcome with its timeline. */
export const createContainReportHandler = (deps: PhoenixDeps) =>
  containHomeStepHandler("report", report, deps);

export const handler = deployedHandler(createContainReportHandler, CLIENTS);
