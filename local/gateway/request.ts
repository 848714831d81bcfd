import type { IncomingHttpHeaders } from "node:http";

/** The wire protocols the gateway recognises; each AWS service speaks one of them. */
export type Protocol = "query" | "json" | "rest";

/** One AWS API call as the gateway sees it, decoded just enough to route it. */
export interface AwsRequest {
  service: string;
  action: string;
  region: string;
  protocol: Protocol;
  method: string;
  path: string;
  /** Path and query string exactly as the client sent them. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Query protocol: the form parameters. REST: the URL query string. */
  params: URLSearchParams;
  /** JSON protocol: the parsed body ({} when empty or not JSON). */
  json: Record<string, unknown>;
  /**
   * The account the call acts in, set by the gateway before anything serves it: the account of
   * the role session that signed it (local/iam knows), else the local cloud's own account (its
   * administrator's credentials act there). Never taken from the caller.
   */
  account?: string;
}

// Target prefixes of JSON-protocol services, for clients that do not sign (service unknown).
const TARGET_PREFIX_SERVICE: Record<string, string> = {
  AWSStepFunctions: "states",
  AWSEvents: "events",
  DynamoDB_20120810: "dynamodb",
  AmazonSSM: "ssm",
  TrentService: "kms",
  AmazonSQS: "sqs",
  AWSSecurityTokenServiceV20110615: "sts",
};

const CREDENTIAL_SCOPE = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/;

export function decodeRequest(
  method: string,
  rawUrl: string,
  headers: IncomingHttpHeaders,
  body: Buffer,
  defaultRegion: string,
): AwsRequest {
  const url = new URL(rawUrl, "http://gateway");
  const scope = CREDENTIAL_SCOPE.exec(String(headers.authorization ?? ""));
  const target = headers["x-amz-target"];
  const signedService = scope?.[2] ?? "";
  const common = {
    region: scope?.[1] ?? defaultRegion,
    method,
    path: url.pathname,
    url: rawUrl,
    headers,
    body,
    params: url.searchParams,
    json: {},
  };

  if (typeof target === "string" && target.includes(".")) {
    const [prefix = "", action = ""] = target.split(".");
    const service = signedService || TARGET_PREFIX_SERVICE[prefix] || prefix.toLowerCase();
    return { ...common, service, action, protocol: "json", json: parseJsonObject(body) };
  }

  const contentType = String(headers["content-type"] ?? "");
  if (method === "POST" && contentType.startsWith("application/x-www-form-urlencoded")) {
    const params = new URLSearchParams(body.toString("utf8"));
    return {
      ...common,
      service: signedService,
      action: params.get("Action") ?? "",
      protocol: "query",
      params,
    };
  }
  const queryAction = url.searchParams.get("Action");
  if (queryAction) return { ...common, service: signedService, action: queryAction, protocol: "query" };

  // REST services (e.g. Image Builder): the action is the last path segment.
  const action = url.pathname.split("/").filter(Boolean).pop() ?? "";
  return {
    ...common,
    service: signedService || "unknown",
    action,
    protocol: "rest",
    json: parseJsonObject(body),
  };
}

function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  try {
    const value: unknown = JSON.parse(body.toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** Query-protocol lists: `Prefix.member.1`, `Prefix.member.2`, … (or `Prefix.1` for EC2). */
export function queryList(params: URLSearchParams, prefix: string): string[] {
  const values: string[] = [];
  for (let i = 1; ; i++) {
    const value = params.get(`${prefix}.member.${i}`) ?? params.get(`${prefix}.${i}`);
    if (value === null) return values;
    values.push(value);
  }
}
