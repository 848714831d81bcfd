/**
 * The one key map of Phoenix's state table (pk / sk), both domains: each record kind keeps its
 * own prefix, so the history of one thing is one query and two kinds never collide.
 *
 * Containment (src/containment/aws/):
 *   instance#<account>#<instance>  containment   the containment record (records.ts)
 *   hold#<hold id>                 hold          a held containment a person can approve (hold-records.ts)
 *   budget#group#<account>#<group> running       `members`: the group's instances in containment now
 *                                                (a set, not a counter: adding or releasing twice cannot skew it)
 *   budget#account#<account>       window#<t>    `starts` in that fixed window bucket (budget-counters.ts)
 *   finding#<finding id>           notified      the highest `service.count` already notified (once.ts)
 *   once#<key>                     once          a side effect done, so a retried step skips it (once.ts)
 *
 * Rollout (src/rollout/aws/):
 *   group#<name>   lock               the per-group lock (lock.ts)
 *   group#<name>   refresh#<id>       an instance refresh Phoenix started (see refresh.ts)
 *   family#<f>     current            the newest image the family is rolling to (see rollout-records.ts)
 *   family#<f>     rollout#<imageId>  one rollout of an image to the family
 *   family#<f>     completed          the image the family last finished rolling out
 *   control#rollout pause#*          rollouts of every family paused (see pauses.ts)
 *   control#rollout pause#family#<f> rollouts of one family paused
 *
 * Drift (src/drift/aws/):
 *   drift-hold#<hold id>           hold          a group's replacement beyond the sweep's budget, for approval
 */
export const groupPartition = (group: string) => `group#${group}`;
export const familyPartition = (family: string) => `family#${family}`;

export const LOCK_SK = "lock";
export const CURRENT_SK = "current";
export const COMPLETED_SK = "completed";
export const ROLLOUT_SK_PREFIX = "rollout#";
export const REFRESH_SK_PREFIX = "refresh#";

export const CONTROL_PARTITION = "control#rollout";
export const PAUSE_SK_PREFIX = "pause#";
export const pauseSortKey = (family: string | undefined) =>
  family === undefined ? `${PAUSE_SK_PREFIX}*` : `${PAUSE_SK_PREFIX}family#${family}`;

export const epochSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** Containment record kinds (see above). */
export const instancePartition = (accountId: string, instanceId: string) =>
  `instance#${accountId}#${instanceId}`;
export const containmentKey = (accountId: string, instanceId: string) => ({
  pk: instancePartition(accountId, instanceId),
  sk: "containment",
});
export const holdKey = (holdId: string) => ({ pk: `hold#${holdId}`, sk: "hold" });
export const groupBudgetKey = (accountId: string, groupName: string) => ({
  pk: `budget#group#${accountId}#${groupName}`,
  sk: "running",
});
export const windowKey = (accountId: string, bucketStart: string) => ({
  pk: `budget#account#${accountId}`,
  sk: `window#${bucketStart}`,
});
export const notifiedKey = (findingId: string) => ({ pk: `finding#${findingId}`, sk: "notified" });
export const onceKey = (key: string) => ({ pk: `once#${key}`, sk: "once" });
export const driftHoldKey = (holdId: string) => ({ pk: `drift-hold#${holdId}`, sk: "hold" });
