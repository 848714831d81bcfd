import { dynamo, ec2, iam, sns, sts } from "../src/aws/client-factories.js";
import { containStepHandler } from "../src/containment/workflow/lambda.js";
import { revokeCredentials } from "../src/containment/workflow/revoke.js";
import type { PhoenixDeps } from "../src/deps.js";
import { deployedHandler } from "../src/lambda.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, ec2, iam, sns, sts };

/** Step 4: quarantine profile, deny existing credentials, Elastic IPs away. */
export const createContainRevokeHandler = (deps: PhoenixDeps) =>
  containStepHandler("revoke", revokeCredentials, deps);

export const handler = deployedHandler(createContainRevokeHandler, CLIENTS);
