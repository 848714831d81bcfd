import { randomUUID } from "node:crypto";
import type { Protocol } from "./request.js";

export interface AwsResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

export function xmlEscape(value: string): string {
  return value.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A successful Query-protocol answer: `<ActionResponse><ActionResult>…</ActionResult>…`. */
export function queryResult(action: string, resultXml: string, namespace: string): AwsResponse {
  const requestId = randomUUID();
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${namespace}">` +
    (resultXml ? `<${action}Result>${resultXml}</${action}Result>` : "") +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
  return { status: 200, headers: { "content-type": "text/xml", "x-amzn-requestid": requestId }, body };
}

export function jsonResult(value: unknown, status = 200): AwsResponse {
  return {
    status,
    headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": randomUUID() },
    body: JSON.stringify(value ?? {}),
  };
}

/** An AWS error in the shape the caller's protocol expects, so SDKs surface the real error code. */
export function awsError(
  protocol: Protocol,
  service: string,
  status: number,
  code: string,
  message: string,
): AwsResponse {
  const requestId = randomUUID();
  if (protocol === "json" || protocol === "rest") {
    return {
      status,
      headers: {
        "content-type": "application/x-amz-json-1.0",
        "x-amzn-requestid": requestId,
        "x-amzn-errortype": code,
      },
      body: JSON.stringify({ __type: code, message }),
    };
  }
  if (service === "ec2") {
    return {
      status,
      headers: { "content-type": "text/xml", "x-amzn-requestid": requestId },
      body:
        `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${xmlEscape(code)}</Code>` +
        `<Message>${xmlEscape(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
    };
  }
  const type = status >= 500 ? "Receiver" : "Sender";
  return {
    status,
    headers: { "content-type": "text/xml", "x-amzn-requestid": requestId },
    body:
      `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>${type}</Type><Code>${xmlEscape(code)}</Code>` +
      `<Message>${xmlEscape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}
