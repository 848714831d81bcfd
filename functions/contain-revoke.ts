import { dynamo, ec2, iam, sns } from "../src/aws/client-factories.js";
import { containStepHandler } from "../src/containment/steps/lambda.js";
import { revokeCredentials } from "../src/containment/steps/revoke.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, ec2, iam, sns };

/** Step 4: quarantine profile, deny existing credentials, Elastic IPs away. */
export const createContainRevokeHandler = (deps: PhoenixDeps) =>
  containStepHandler("revoke", revokeCredentials, deps);

export const handler = containStepHandler("revoke", revokeCredentials, () => depsFromEnv(CLIENTS));
