import type { LocalCloudPlugin } from "../core/context.js";
import { forwardToMoto } from "../gateway/forward.js";

/**
 * moto's server is threaded and its DynamoDB backend takes no lock: a condition is checked and
 * the write applied without excluding concurrent requests, so two conditional writes (or
 * transactions) racing on one item can both pass (measured: 6 of 60 concurrent
 * TransactWriteItems passed an `n < 5` condition). Real DynamoDB evaluates a condition and its
 * write atomically. This plugin restores that by serving DynamoDB calls one at a time.
 */
const READS = new Set([
  "GetItem",
  "BatchGetItem",
  "Query",
  "Scan",
  "DescribeTable",
  "ListTables",
  "TransactGetItems",
]);

export function serialDynamoDb(): LocalCloudPlugin {
  return (context) => {
    let queue: Promise<unknown> = Promise.resolve();
    return {
      name: "serial-dynamodb",
      handlers: [
        {
          name: "serial-dynamodb",
          // Reads change nothing: they need not wait for the writes queued before them.
          handles: (request) => request.service === "dynamodb" && !READS.has(request.action),
          handle(request) {
            const served = queue.then(() => forwardToMoto(context.motoUrl, request));
            queue = served.catch(() => undefined);
            return served;
          },
        },
      ],
    };
  };
}
