import type { LocalCloudPlugin } from "../../../local/core/context.js";
import type { AwsRequest } from "../../../local/gateway/request.js";
import { assumedRoleArn, IAM_PART, type IamPart } from "../../../local/iam/index.js";
import { READ_ONLY } from "./effects.js";

/** One call the gateway served successfully, with who made it and its parameters. */
export interface RecordedCall {
  seq: number;
  service: string;
  action: string;
  /**
   * Who signed the call: a role session the local cloud issued (Phoenix's functions and state
   * machines each call with their role's), as its assumed-role ARN; else the access key id.
   */
  caller: string;
  params: Record<string, string>;
  json: Record<string, unknown>;
}

/** The local cloud's own parts sign as `phoenix-local`. */
export const PHOENIX_CALLER = "phoenix-local";
const isPhoenix = (caller: string) => caller === PHOENIX_CALLER || caller.startsWith("arn:aws:sts::");
const CREDENTIAL = /Credential=([^/]+)\//;

/** Records every successful call (observers only see answers below 300). */
export class CallRecorder {
  readonly calls: RecordedCall[] = [];

  plugin(): LocalCloudPlugin {
    return (context) => ({
      name: "call-recorder",
      observers: [
        (request: AwsRequest) => {
          const key = CREDENTIAL.exec(String(request.headers.authorization ?? ""))?.[1] ?? "";
          const session = context.part<IamPart>(IAM_PART)?.sessionOf(key);
          this.calls.push({
            seq: this.calls.length + 1,
            service: request.service,
            action: request.action,
            caller: session ? assumedRoleArn(session) : key,
            params: Object.fromEntries(request.params),
            json: request.json,
          });
        },
      ],
    });
  }

  mark(): number {
    return this.calls.length;
  }

  /** Phoenix's successful mutating calls since a mark. */
  phoenixMutations(mark = 0): RecordedCall[] {
    return this.calls.slice(mark).filter((c) => isPhoenix(c.caller) && !READ_ONLY.test(c.action));
  }
}

/**
 * An action's identity: service, action and every parameter except the ones that differ
 * between two sendings of the same request (protocol version, idempotency tokens). The same
 * identity served twice is the same action done twice.
 */
export function actionIdentity(call: RecordedCall): string {
  const { Action: _a, Version: _v, ClientToken: _t, ...params } = call.params;
  const { clientToken: _c, ...json } = call.json as Record<string, unknown>;
  return `${call.service}:${call.action}:${JSON.stringify(Object.entries(params).sort())}:${JSON.stringify(json)}`;
}

/** Identities served more than once. */
export function repeatedActions(calls: readonly RecordedCall[]): string[] {
  const seen = new Map<string, number>();
  for (const call of calls) seen.set(actionIdentity(call), (seen.get(actionIdentity(call)) ?? 0) + 1);
  return [...seen.entries()].filter(([, n]) => n > 1).map(([id, n]) => `${n}× ${id.slice(0, 300)}`);
}
