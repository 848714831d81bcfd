import type { IncomingHttpHeaders } from "node:http";

/**
 * Who may drive the local cloud. It has no authentication (any credentials are accepted), so
 * anything that can reach its loopback port could drive it, including a web page open in the
 * developer's browser. The AWS CLI and SDKs send no Origin and a loopback Host; browsers say where
 * a request comes from. Refused, with 403:
 * - a Host that is not loopback (127.0.0.1, localhost, [::1], any port): a page whose DNS name was
 *   rebound to 127.0.0.1 sends its own name;
 * - an Origin other than the gateway's own (the one the Host names), CORS preflights included: a
 *   page elsewhere, or `null` (sandboxed frames, files);
 * - a browser's Sec-Fetch-Site other than same-origin or none (typed URL): cross-site requests
 *   that carry no Origin (a GET from an <img> or a link to `/?Action=TerminateInstances…`). Only
 *   navigations to the read-only /_phoenix/ pages (a link to the dashboard) are let through.
 * The gateway never grants cross-origin reads: no access-control-allow-origin header is sent.
 */

const LOOPBACK_HOSTNAMES = new Set(["127.0.0.1", "localhost", "[::1]"]);

export function isLoopbackHostname(hostname: string): boolean {
  return LOOPBACK_HOSTNAMES.has(hostname.toLowerCase());
}

/** Why the request is refused, or undefined when it may be served. */
export function refusal(method: string, path: string, headers: IncomingHttpHeaders): string | undefined {
  const host = headers.host;
  const hostUrl = host ? parseHttpUrl(`http://${host}`) : undefined;
  if (!hostUrl || !isLoopbackHostname(hostUrl.hostname)) {
    return (
      `the local cloud answers only requests addressed to a loopback host (127.0.0.1, localhost, [::1]); ` +
      `this one was addressed to ${host ?? "no host"} (DNS rebinding?). ` +
      "Use http://127.0.0.1:<port> as the endpoint."
    );
  }
  const origin = headers.origin;
  if (origin !== undefined) {
    const originUrl = parseHttpUrl(String(origin));
    if (originUrl?.protocol !== "http:" || originUrl.host !== hostUrl.host) {
      return (
        `cross-origin request refused (Origin ${String(origin)}): the local cloud has no authentication, ` +
        "so it serves only the AWS CLI, the SDKs and its own dashboard, never other web pages."
      );
    }
  }
  const site = headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    const readOnlyNavigation =
      (method === "GET" || method === "HEAD") &&
      headers["sec-fetch-mode"] === "navigate" &&
      path.startsWith("/_phoenix/");
    if (!readOnlyNavigation) {
      return (
        `${String(site)} request refused: the local cloud has no authentication, so it serves only the ` +
        "AWS CLI, the SDKs and its own dashboard, never requests that other web pages make."
      );
    }
  }
  return undefined;
}

function parseHttpUrl(value: string): URL | undefined {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? url : undefined;
  } catch {
    return undefined;
  }
}
