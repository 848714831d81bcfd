import { containStepHandler } from "../src/containment/steps/lambda.js";
import { revokeCredentials } from "../src/containment/steps/revoke.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";

/** Step 4: quarantine profile, deny existing credentials, Elastic IPs away. */
export const createContainRevokeHandler = (deps: PhoenixDeps) =>
  containStepHandler("revoke", revokeCredentials, deps);

export const handler = containStepHandler("revoke", revokeCredentials, () => depsFromEnv());
