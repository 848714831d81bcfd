import type { AwsRequest } from "../gateway/request.js";
import { type AwsResponse, awsError, jsonResult, queryResult, xmlEscape } from "../gateway/response.js";
import type { IssuedCredentials } from "./model.js";

/**
 * IAM on the wire: who signed a request (SigV4's access key id and session token), the errors
 * AWS answers when it refuses one, in each service's own code and protocol, and STS's answers.
 */

const CREDENTIAL = /Credential=([^/,\s]+)\//;

/** The access key id a request is signed with (Authorization header or presigned query), if any. */
export function accessKeyOf(request: Pick<AwsRequest, "headers" | "url">): string | undefined {
  const header = CREDENTIAL.exec(String(request.headers.authorization ?? ""))?.[1];
  if (header) return header;
  const query = new URL(request.url, "http://gateway").searchParams.get("X-Amz-Credential");
  return query ? query.split("/")[0] : undefined;
}

export function sessionTokenOf(request: Pick<AwsRequest, "headers" | "url">): string | undefined {
  const header = request.headers["x-amz-security-token"];
  if (typeof header === "string") return header;
  return new URL(request.url, "http://gateway").searchParams.get("X-Amz-Security-Token") ?? undefined;
}

/** The error a service answers an unauthorized call with. */
export function accessDenied(
  request: Pick<AwsRequest, "service" | "protocol">,
  message: string,
): AwsResponse {
  if (request.service === "ec2") {
    return awsError(
      "query",
      "ec2",
      403,
      "UnauthorizedOperation",
      `You are not authorized to perform this operation. ${message}`,
    );
  }
  if (request.service === "sns") return awsError(request.protocol, "sns", 403, "AuthorizationError", message);
  if (request.service === "sqs") return awsError(request.protocol, "sqs", 403, "AccessDenied", message);
  if (request.protocol === "query") return awsError("query", request.service, 403, "AccessDenied", message);
  // JSON services (DynamoDB, KMS, SSM, Step Functions, EventBridge) answer 400; REST ones 403.
  return awsError(
    request.protocol,
    request.service,
    request.protocol === "json" ? 400 : 403,
    "AccessDeniedException",
    message,
  );
}

export function expiredToken(request: Pick<AwsRequest, "service" | "protocol">): AwsResponse {
  const message = "The security token included in the request is expired";
  if (request.service === "ec2")
    return awsError("query", "ec2", 400, "RequestExpired", "Request has expired.");
  if (request.protocol === "query") return awsError("query", request.service, 403, "ExpiredToken", message);
  return awsError(request.protocol, request.service, 400, "ExpiredTokenException", message);
}

export function invalidToken(request: Pick<AwsRequest, "service" | "protocol">): AwsResponse {
  const message = "The security token included in the request is invalid.";
  if (request.service === "ec2") {
    return awsError(
      "query",
      "ec2",
      401,
      "AuthFailure",
      "AWS was not able to validate the provided access credentials",
    );
  }
  if (request.protocol === "query")
    return awsError("query", request.service, 403, "InvalidClientTokenId", message);
  return awsError(request.protocol, request.service, 400, "UnrecognizedClientException", message);
}

export const STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/";

export function stsParam(request: AwsRequest, name: string): string | undefined {
  if (request.protocol === "json") {
    const value = request.json[name];
    return typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined;
  }
  return request.params.get(name) ?? undefined;
}

export function assumeRoleResult(
  request: AwsRequest,
  credentials: IssuedCredentials,
  user: { arn: string; id: string },
): AwsResponse {
  const expiration = new Date(credentials.expiration ?? 0).toISOString();
  if (request.protocol === "json") {
    return jsonResult({
      Credentials: {
        AccessKeyId: credentials.accessKeyId,
        SecretAccessKey: credentials.secretAccessKey,
        SessionToken: credentials.sessionToken,
        Expiration: Math.floor((credentials.expiration ?? 0) / 1000),
      },
      AssumedRoleUser: { Arn: user.arn, AssumedRoleId: user.id },
    });
  }
  return queryResult(
    "AssumeRole",
    `<Credentials><AccessKeyId>${credentials.accessKeyId}</AccessKeyId>` +
      `<SecretAccessKey>${xmlEscape(credentials.secretAccessKey)}</SecretAccessKey>` +
      `<SessionToken>${xmlEscape(credentials.sessionToken)}</SessionToken>` +
      `<Expiration>${expiration}</Expiration></Credentials>` +
      `<AssumedRoleUser><AssumedRoleId>${xmlEscape(user.id)}</AssumedRoleId><Arn>${xmlEscape(user.arn)}</Arn></AssumedRoleUser>`,
    STS_NAMESPACE,
  );
}

export function callerIdentityResult(
  request: AwsRequest,
  identity: { arn: string; userId: string; account: string },
): AwsResponse {
  if (request.protocol === "json") {
    return jsonResult({ Arn: identity.arn, UserId: identity.userId, Account: identity.account });
  }
  return queryResult(
    "GetCallerIdentity",
    `<Arn>${xmlEscape(identity.arn)}</Arn><UserId>${xmlEscape(identity.userId)}</UserId><Account>${identity.account}</Account>`,
    STS_NAMESPACE,
  );
}
