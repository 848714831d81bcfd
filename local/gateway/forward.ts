import { MOTO_ACCOUNT_HEADER } from "./moto-account.js";
import type { AwsRequest } from "./request.js";
import type { AwsResponse } from "./response.js";

// Hop-by-hop headers, and ones fetch() sets itself, are not passed on; the CRC of a body the
// gateway may rewrite would no longer hold, so it is dropped too (SDKs check it only if present).
const UNFORWARDED_REQUEST = new Set([
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "keep-alive",
  "expect",
]);
/**
 * Headers the local runtime sets on its own calls to moto (e.g. the Auto Scaling engine's
 * terminations, moto-python/sitecustomize.py). A caller of the gateway cannot send them on.
 */
export const LOCAL_ONLY_PREFIX = "x-phoenix-local-";
const UNFORWARDED_RESPONSE = new Set([...UNFORWARDED_REQUEST, "content-encoding", "x-amz-crc32"]);

/** Sends a decoded call on to moto unchanged and returns moto's answer, body buffered. */
export async function forwardToMoto(
  motoUrl: string,
  request: AwsRequest,
): Promise<AwsResponse & { body: Buffer }> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (
      value === undefined ||
      UNFORWARDED_REQUEST.has(name) ||
      name.startsWith(LOCAL_ONLY_PREFIX) ||
      name === MOTO_ACCOUNT_HEADER
    )
      continue;
    headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  if (request.account) headers[MOTO_ACCOUNT_HEADER] = request.account;
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  const upstream = await fetch(`${motoUrl}${request.url}`, {
    method: request.method,
    headers,
    body: hasBody ? request.body : undefined,
  });
  const responseHeaders: Record<string, string> = {};
  upstream.headers.forEach((value, name) => {
    // moto grants every origin cross-origin reads; the gateway grants none (see guard.ts).
    if (!UNFORWARDED_RESPONSE.has(name) && !name.startsWith("access-control-")) responseHeaders[name] = value;
  });
  return {
    status: upstream.status,
    headers: responseHeaders,
    body: Buffer.from(await upstream.arrayBuffer()),
  };
}
