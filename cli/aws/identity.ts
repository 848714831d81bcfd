import { createHash, createHmac } from "node:crypto";

/**
 * The caller's AWS identity (STS GetCallerIdentity), for the audit trail's actor when the login
 * name is unknown. Phoenix's dependencies have no STS client, and one signed read is all this
 * needs: a Signature Version 4 request made here (checked against the SDK's own signer in
 * test/unit/cli-identity.test.ts). Any failure is an unknown identity, never an error.
 */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export async function callerArn(options: {
  region: string;
  credentials: Credentials;
  endpoint?: string;
  timeoutMs?: number;
}): Promise<string | undefined> {
  const url = new URL(options.endpoint ?? `https://sts.${options.region}.amazonaws.com`);
  const body = "Action=GetCallerIdentity&Version=2011-06-15";
  const headers = signedHeaders({
    method: "POST",
    url,
    body,
    region: options.region,
    service: "sts",
    credentials: options.credentials,
    headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    now: new Date(),
  });
  try {
    const response = await fetch(url, {
      method: "POST",
      headers,
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 3_000),
    });
    if (!response.ok) return undefined;
    const arn = /<Arn>([^<]+)<\/Arn>/.exec(await response.text())?.[1];
    return arn?.startsWith("arn:") ? arn : undefined;
  } catch {
    return undefined;
  }
}

export interface SignInput {
  method: string;
  url: URL;
  body: string;
  region: string;
  service: string;
  credentials: Credentials;
  headers: Record<string, string>;
  now: Date;
}

/** The request's headers with SigV4's (x-amz-date, the token if any, authorization) added. */
export function signedHeaders(input: SignInput): Record<string, string> {
  const amzDate = input.now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const date = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    ...Object.fromEntries(Object.entries(input.headers).map(([k, v]) => [k.toLowerCase(), v.trim()])),
    host: input.url.host,
    "x-amz-date": amzDate,
    ...(input.credentials.sessionToken ? { "x-amz-security-token": input.credentials.sessionToken } : {}),
  };
  const names = Object.keys(headers).sort();
  const canonicalQuery = [...input.url.searchParams.entries()]
    .map(([k, v]) => [encode(k), encode(v)] as const)
    .sort(([a, av], [b, bv]) => (a === b ? av.localeCompare(bv) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalRequest = [
    input.method,
    input.url.pathname || "/",
    canonicalQuery,
    ...names.map((name) => `${name}:${headers[name]}`),
    "",
    names.join(";"),
    sha256(input.body),
  ].join("\n");
  const scope = `${date}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonicalRequest)].join("\n");
  let key: Buffer = hmac(`AWS4${input.credentials.secretAccessKey}`, date);
  for (const part of [input.region, input.service, "aws4_request"]) key = hmac(key, part);
  const signature = createHmac("sha256", key).update(stringToSign).digest("hex");
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
  };
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();
const encode = (text: string) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
