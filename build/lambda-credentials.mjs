// Stands in for @aws-sdk/credential-provider-node in Lambda bundles (build/esbuild-plugins.mjs):
// the only credentials a Lambda function has are its role's, in AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. Missing ones fail with the SDK's own error,
// which names the variables.
import { fromEnv } from "@aws-sdk/credential-provider-env";

export const defaultProvider = (init) => fromEnv(init);
