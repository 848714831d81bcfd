import { autoScaling, dynamo, ec2, sfn, sns, sts } from "../src/aws/client-factories.js";
import { admit } from "../src/containment/workflow/admit.js";
import { containHomeStepHandler } from "../src/containment/workflow/lambda.js";
import type { PhoenixDeps } from "../src/deps.js";
import { deployedHandler } from "../src/lambda.js";

/**
 * The AWS clients this function's code uses: only these are bundled into it. The intake's own:
 * an execution nobody admitted goes through the same decisions as a finding.
 */
export const CLIENTS = { autoScaling, dynamo, ec2, sfn, sns, sts };

/** Step 0: admit the execution (the intake's or an approval's), or hand it to the intake. */
export const createContainAdmitHandler = (deps: PhoenixDeps) =>
  containHomeStepHandler("admit", admit, deps, { ownValidation: true });

export const handler = deployedHandler(createContainAdmitHandler, CLIENTS);
