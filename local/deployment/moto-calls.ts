/**
 * Calls to moto for the services Phoenix itself has no SDK client for (Lambda, CloudWatch Logs,
 * CloudWatch): plain HTTP in each service's wire protocol. moto reads the region and the service
 * from the credential scope, so a scope is all the "signature" needs.
 */

export class MotoCallError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "MotoCallError";
  }
}

function authorization(region: string, service: string): string {
  return `AWS4-HMAC-SHA256 Credential=phoenix-local/20240101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
}

async function answer(response: Response, what: string): Promise<unknown> {
  const text = await response.text();
  if (response.status >= 300) {
    let code = response.headers.get("x-amzn-errortype") ?? "";
    let message = text;
    try {
      const parsed = JSON.parse(text) as {
        __type?: string;
        message?: string;
        Message?: string;
        Type?: string;
      };
      code ||= parsed.__type ?? parsed.Type ?? "";
      message = parsed.message ?? parsed.Message ?? text;
    } catch {
      code ||= /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? "";
      message = /<Message>([^<]+)<\/Message>/.exec(text)?.[1] ?? text;
    }
    code = code.split(":")[0] ?? code;
    throw new MotoCallError(response.status, code, `${what}: ${response.status} ${code} ${message}`.trim());
  }
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * moto's Flask server answers an occasional 500 under load (a race in its lazily created
 * backends); AWS answers 5xx now and then too, and every deployment tool retries them. So a
 * call is retried on 5xx and on a dropped connection, with backoff; a 4xx is final.
 */
const ATTEMPTS = 5;

async function withRetries(what: string, call: () => Promise<Response>): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await call();
      if (response.status < 500 || attempt === ATTEMPTS) return await answer(response, what);
      await response.text();
    } catch (error) {
      if (error instanceof MotoCallError || attempt === ATTEMPTS) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
  }
}

export interface MotoTarget {
  motoUrl: string;
  region: string;
}

/** A REST-JSON call (Lambda). */
export async function motoRest(
  target: MotoTarget,
  service: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  return withRetries(`${service} ${method} ${path}`, () =>
    fetch(`${target.motoUrl}${path}`, {
      method,
      headers: {
        authorization: authorization(target.region, service),
        "content-type": "application/json",
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
}

/** A JSON-protocol call (CloudWatch Logs: `Logs_20140328.<Action>`). */
export async function motoJson(
  target: MotoTarget,
  service: string,
  targetPrefix: string,
  action: string,
  body: unknown,
): Promise<unknown> {
  return withRetries(`${service} ${action}`, () =>
    fetch(`${target.motoUrl}/`, {
      method: "POST",
      headers: {
        authorization: authorization(target.region, service),
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": `${targetPrefix}.${action}`,
      },
      body: JSON.stringify(body),
    }),
  );
}

/** A Query-protocol call (CloudWatch): flat form parameters. */
export async function motoQuery(
  target: MotoTarget,
  service: string,
  version: string,
  action: string,
  params: Record<string, string>,
): Promise<string> {
  const form = new URLSearchParams({ Action: action, Version: version, ...params });
  const text = await withRetries(`${service} ${action}`, () =>
    fetch(`${target.motoUrl}/`, {
      method: "POST",
      headers: {
        authorization: authorization(target.region, service),
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
      },
      body: form.toString(),
    }),
  );
  return String(text);
}

/** A structure flattened into Query parameters: `Dimensions.member.1.Name`, … */
export function queryParams(
  value: unknown,
  prefix = "",
  out: Record<string, string> = {},
): Record<string, string> {
  if (value === undefined || value === null) return out;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) queryParams(item, `${prefix}.member.${i + 1}`, out);
  } else if (typeof value === "object") {
    for (const [key, inner] of Object.entries(value as Record<string, unknown>))
      queryParams(inner, prefix ? `${prefix}.${key}` : key, out);
  } else {
    out[prefix] = String(value);
  }
  return out;
}
