/**
 * Phoenix's AWS resources for one stage. `sst.config.ts` imports this inside `run()`, where
 * the SST globals (`sst`, `aws`, `$app`) exist.
 *
 * Skeleton for now: the audit trail and the notification topic. The Lambda handlers,
 * EventBridge rules, state machines and their IAM come later and hang off what this returns.
 */
import { resourceNames } from "../src/resources";

export interface PhoenixStack {
  /** Audit trail: one item per mutating action or decision, keyed by subject (pk) and record key (sk). */
  audit: sst.aws.Dynamo;
  /** Notifications to people: containments, rollouts, protected instances that need a decision. */
  notifications: sst.aws.SnsTopic;
}

export function phoenix(): PhoenixStack {
  // Fixed, stage-aware names (phoenix-<stage>-…), the same ones the local cloud uses.
  const names = resourceNames($app.stage);
  const production = $app.stage === "production";

  const audit = new sst.aws.Dynamo("Audit", {
    fields: { pk: "string", sk: "string" },
    primaryIndex: { hashKey: "pk", rangeKey: "sk" },
    // Epoch seconds, set by the writer from policy retention.auditDays.
    ttl: "expiresAt",
    deletionProtection: production,
    transform: {
      table: {
        name: names.auditTable,
        pointInTimeRecovery: { enabled: true },
      },
    },
  });

  const notifications = new sst.aws.SnsTopic("Notifications", {
    transform: {
      topic: { name: names.topic },
    },
  });

  return { audit, notifications };
}
