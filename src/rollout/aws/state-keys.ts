/**
 * Keys of the rollout's items in the state table (pk/sk). Groups and families get their own
 * partitions so the history of one thing is one query; other Phoenix features keep other prefixes.
 *
 *   group#<name>   lock               the per-group lock (see lock.ts)
 *   group#<name>   refresh#<id>       an instance refresh Phoenix started (see refresh.ts)
 *   family#<f>     current            the newest image the family is rolling to (see rollout-records.ts)
 *   family#<f>     rollout#<imageId>  one rollout of an image to the family
 *   family#<f>     completed          the image the family last finished rolling out
 *   control#rollout pause#*          rollouts of every family paused (see pauses.ts)
 *   control#rollout pause#family#<f> rollouts of one family paused
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
