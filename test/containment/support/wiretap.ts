import type { LocalCloudPlugin } from "../../../local/core/context.js";

/** One call the gateway served successfully, with its parameters. */
export interface TappedCall {
  seq: number;
  service: string;
  action: string;
  /** Query-protocol parameters (EC2, Auto Scaling, IAM, SNS). */
  params: Record<string, string>;
  /** JSON-protocol body (DynamoDB, Step Functions, SSM). */
  json: Record<string, unknown>;
}

/** Actions that only read. */
export const READ_ACTION = /^(Describe|Get|List|Receive|Query|Scan|BatchGet)/;

/**
 * Records every successful call with its parameters, in the order served (the call log keeps
 * the order but not the parameters): enough to check which group each interface was moved to.
 */
export class Wiretap {
  readonly calls: TappedCall[] = [];
  private seq = 0;

  plugin(): LocalCloudPlugin {
    return () => ({
      name: "wiretap",
      observers: [
        (request) => {
          this.calls.push({
            seq: ++this.seq,
            service: request.service,
            action: request.action,
            params: Object.fromEntries(request.params),
            json: request.json,
          });
        },
      ],
    });
  }

  mark(): number {
    return this.seq;
  }

  /** The successful calls since a mark that change something outside Phoenix's own tables (DynamoDB). */
  mutationsSince(mark: number): TappedCall[] {
    return this.since(mark).filter((c) => !READ_ACTION.test(c.action) && c.service !== "dynamodb");
  }

  since(mark: number, filter: Partial<Pick<TappedCall, "service" | "action">> = {}): TappedCall[] {
    return this.calls.filter(
      (c) =>
        c.seq > mark &&
        (filter.service === undefined || c.service === filter.service) &&
        (filter.action === undefined || c.action === filter.action),
    );
  }
}
