import { CliError, EXIT } from "./io.js";
import { DEFAULT_LOCAL_PORT } from "./local-defaults.js";
import { portOf, type Target } from "./target.js";

const CREDENTIAL_ERRORS = new Set([
  "UnrecognizedClientException",
  "InvalidClientTokenId",
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "ExpiredTokenException",
  "AuthFailure",
]);

/**
 * Turns what the SDK throws when the environment is wrong into a message that says what to do.
 * Returns undefined for anything else (a real failure of the operation, reported as is).
 */
export function environmentFailure(error: unknown, target: Target): CliError | undefined {
  const e = error as { name?: string; code?: string; message?: string; Code?: string };
  const name = e?.name ?? "";
  const code = e?.code ?? e?.Code ?? "";
  const message = e?.message ?? String(error);
  if (code === "ECONNREFUSED" || /ECONNREFUSED/.test(message)) {
    return new CliError(
      target.local && target.endpoint
        ? notRunning(target.endpoint, target.via)
        : `Cannot reach ${target.endpoint ?? "AWS"} (connection refused): check ${target.via ?? "AWS_ENDPOINT_URL"}, or drop it to use AWS.`,
      EXIT.environment,
    );
  }
  if (["ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET"].includes(code)) {
    return new CliError(
      `Cannot reach ${target.endpoint ?? "AWS"} (${code}): check the network, the region and AWS_ENDPOINT_URL.`,
      EXIT.environment,
    );
  }
  if (name === "CredentialsProviderError" || /Could not load credentials/i.test(message)) {
    return new CliError(
      target.profile
        ? `No AWS credentials found for profile ${target.profile}: check that it exists in ~/.aws/config (\`aws configure list-profiles\`) and log in (\`aws sso login --profile ${target.profile}\`). For the local cloud, use --local.`
        : "No AWS credentials found: use --profile <name> or AWS_PROFILE (after `aws configure` or `aws sso login`), or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. For the local cloud, use --local.",
      EXIT.environment,
    );
  }
  if (/Region is missing/i.test(message)) {
    return new CliError(
      "No AWS region: pass --region <region> or set AWS_REGION (or a region in your profile).",
      EXIT.environment,
    );
  }
  if (CREDENTIAL_ERRORS.has(name) || CREDENTIAL_ERRORS.has(code)) {
    return new CliError(
      `AWS rejected the credentials (${name || code}: ${message}): refresh them (\`aws sso login\`, a new session token) or pick another --profile.`,
      EXIT.environment,
    );
  }
  if (name === "AccessDeniedException" || name === "AccessDenied" || code === "AccessDenied") {
    return new CliError(
      `Access denied (${message}): the identity in use lacks a permission Phoenix's CLI needs; use a role with Phoenix operator access.`,
      EXIT.environment,
    );
  }
  return undefined;
}

/** "Not running", with the commands that start a local cloud on that very port. */
export function notRunning(endpoint: string, via?: Target["via"]): string {
  const port = portOf(endpoint);
  const flag = port === DEFAULT_LOCAL_PORT ? "" : ` --port ${port}`;
  const how =
    via === "AWS_ENDPOINT_URL"
      ? " (from AWS_ENDPOINT_URL)"
      : via === "--local"
        ? " (recorded by the local cloud started from this checkout)"
        : "";
  const demo = flag ? `npm start --${flag}` : "npm start";
  return `The local cloud is not running on ${endpoint}${how} (connection refused): start it with \`npx phoenix local${flag}\` (or \`${demo}\` for the demo)${via === "AWS_ENDPOINT_URL" ? ", or point AWS_ENDPOINT_URL at the one you run" : ""}.`;
}

/** Runs an AWS call sequence, translating environment problems; other errors pass through. */
export async function withEnvironmentErrors<T>(target: Target, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw environmentFailure(error, target) ?? error;
  }
}
