/**
 * Phoenix's state: the audit trail, the state table (locks, budgets, dedupe, rollout records)
 * and the notification topic, with fixed stage-aware names (the functions get them by name).
 */
import type { Policy } from "../src/policy/index";
import { resourceNames } from "../src/resources";

export interface Storage {
  /** Audit trail: one item per mutating action or decision, keyed by subject (pk) and record key (sk). */
  audit: sst.aws.Dynamo;
  /** Locks, budgets, dedupe keys, containment and rollout records; items expire through expiresAt. */
  state: sst.aws.Dynamo;
  /** Notifications to people: containments, rollouts, protected instances that need a decision. */
  notifications: sst.aws.SnsTopic;
}

function table(id: string, name: string, production: boolean): sst.aws.Dynamo {
  return new sst.aws.Dynamo(id, {
    fields: { pk: "string", sk: "string" },
    primaryIndex: { hashKey: "pk", rangeKey: "sk" },
    // Epoch seconds, set by the writers (audit: retention.auditDays; state: lock and dedupe TTLs).
    ttl: "expiresAt",
    deletionProtection: production,
    transform: {
      table: {
        name,
        pointInTimeRecovery: { enabled: true },
        serverSideEncryption: { enabled: true },
      },
    },
  });
}

export function storage(policy: Policy): Storage {
  const names = resourceNames($app.stage);
  const production = $app.stage === "production";
  const audit = table("Audit", names.auditTable, production);
  const state = table("State", names.stateTable, production);
  const notifications = new sst.aws.SnsTopic("Notifications", {
    transform: { topic: { name: names.topic } },
  });
  if (policy.notifications.email) {
    // AWS mails a confirmation link; nothing is delivered until the recipient confirms.
    new aws.sns.TopicSubscription("NotificationsEmail", {
      topic: notifications.arn,
      protocol: "email",
      endpoint: policy.notifications.email,
    });
  }
  return { audit, state, notifications };
}
