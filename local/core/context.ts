import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import type { CallLog } from "../gateway/calllog.js";
import type { FaultInjector } from "../gateway/faults.js";
import { inAccount } from "../gateway/moto-account.js";
import type { ControlRoute, RequestAuthorizer, ResponseObserver, ServiceHandler } from "../gateway/server.js";
import type { Clock } from "./clock.js";

/** An event as an AWS service puts it on the default bus (the envelope is added by the bus). */
export interface BusEvent {
  source: string;
  detailType: string;
  detail: Record<string, unknown>;
  resources?: string[];
  /** ISO time; defaults to the simulated clock's now. */
  time?: string;
}

/** What every part of the local runtime shares. */
export interface LocalCloudContext {
  readonly region: string;
  readonly accountId: string;
  /**
   * The other accounts moto keeps (local/core/accounts.ts). IAM, STS, shared images and Auto
   * Scaling (one model per account and region) of the local runtime serve them; every other call
   * in a member account is moto's alone (no Step Functions or Phoenix deployment there).
   */
  readonly memberAccounts: readonly string[];
  readonly clock: Clock;
  readonly motoUrl: string;
  /** SDK client configuration that talks to moto directly: no faults, not in the call log. */
  readonly internalClientConfig: {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
    maxAttempts: number;
  };
  /** The gateway's URL, known once it listens. */
  endpoint: string;
  readonly callLog: CallLog;
  readonly faults: FaultInjector;
  /** Puts events on the local default bus, as AWS services would. */
  putEvents(events: BusEvent[]): Promise<void>;
  /**
   * Another part of the runtime by name (e.g. the deployment asks for "stepfunctions"), once
   * every part is built; undefined when that part is not loaded.
   */
  part<P extends LocalCloudPart = LocalCloudPart>(name: string): P | undefined;
  /** One numbering for the journals parts keep (deliveries, emitted events): one `since` pages all. */
  readonly sequence: { next(): number };
  log(message: string): void;
}

/** One part of the local runtime: the calls it serves, what it observes, its lifecycle. */
export interface LocalCloudPart {
  name: string;
  handlers?: ServiceHandler[];
  observers?: ResponseObserver[];
  /** Asked before any call is served (IAM enforcement, local/iam). */
  authorizers?: RequestAuthorizer[];
  control?: Record<string, ControlRoute>;
  start?(): Promise<void>;
  stop?(): Promise<void>;
  health?(): Record<string, unknown>;
}

export type LocalCloudPlugin = (context: LocalCloudContext) => LocalCloudPart;

/** Puts events on the default bus of the client's region, in `account` (moto's default when none). */
export function busPublisher(
  context: Pick<LocalCloudContext, "internalClientConfig" | "clock">,
  account?: string,
) {
  const client = inAccount(new EventBridgeClient(context.internalClientConfig), account);
  return async (events: BusEvent[]): Promise<void> => {
    // PutEvents takes at most 10 entries per call.
    for (let i = 0; i < events.length; i += 10) {
      const batch = events.slice(i, i + 10);
      const result = await client.send(
        new PutEventsCommand({
          Entries: batch.map((e) => ({
            Source: e.source,
            DetailType: e.detailType,
            Detail: JSON.stringify(e.detail),
            Resources: e.resources ?? [],
            Time: new Date(e.time ?? context.clock.now()),
          })),
        }),
      );
      if (result.FailedEntryCount) {
        const failure = result.Entries?.find((entry) => entry.ErrorCode);
        throw new Error(
          `local bus refused ${result.FailedEntryCount} event(s): ${failure?.ErrorCode} ${failure?.ErrorMessage}`,
        );
      }
    }
  };
}
