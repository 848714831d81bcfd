import type { ContainmentPolicy } from "../../policy/schema.js";

/**
 * The blast-radius budget: the one decision of whether one more containment may start now. The
 * intake's store turns the same limits into the conditions of its transaction (aws/records.ts: the
 * counters are incremented only while under them, so concurrent findings cannot all see room for
 * one more), and words a refusal through the same functions; the CLI's dry run (`phoenix plan
 * --instance`) decides from the same counters, read instead of written.
 */

export type BudgetPolicy = ContainmentPolicy["budgets"];

export type BudgetLimit = "perGroupCount" | "perGroupPercent" | "perAccountWindow";

export type BudgetDecision = { allowed: true } | { allowed: false; limit: BudgetLimit; reason: string };

/** What the budget counts, as the store keeps it. */
export interface BudgetCounters {
  /** Absent for a standalone instance, to which the group limits do not apply. */
  group?: { name: string; desiredCapacity: number; members: readonly string[] };
  /** Containments started in the account within the window. */
  accountStarts: number;
  /** How that window reads ("in the last 60 minutes"): the store counts whole window buckets. */
  window: string;
}

/**
 * How many instances of a group of this desired capacity may be contained at once under the
 * percent limit: floor(desired * percent / 100), but at least 1 unless percent is 0. A small
 * group (say 2 instances at 34%) would otherwise never be contained at all, and a compromised
 * instance left running costs more than one instance of capacity missing while the replacement
 * (launched at once by the detach) boots. A policy that wants no automatic containment in
 * groups sets perGroupMaxPercent or perGroupMaxCount to 0.
 */
export function groupPercentAllowance(desiredCapacity: number, percent: number): number {
  if (percent <= 0) return 0;
  return Math.max(1, Math.floor((desiredCapacity * percent) / 100));
}

/**
 * The most instances of a group that may be in containment at once, and which limit sets it. A
 * capacity that cannot be read allows none: an over-budget finding is held for a person, never
 * dropped, so erring towards holding is the safe side.
 */
export function groupLimit(
  budgets: BudgetPolicy,
  desiredCapacity: number,
): { limit: number; by: BudgetLimit } {
  const readable = Number.isFinite(desiredCapacity) && desiredCapacity >= 0;
  const byPercent = readable ? groupPercentAllowance(desiredCapacity, budgets.perGroupMaxPercent) : 0;
  return budgets.perGroupMaxCount <= byPercent && readable
    ? { limit: budgets.perGroupMaxCount, by: "perGroupCount" }
    : { limit: byPercent, by: "perGroupPercent" };
}

/** The group's refusal, worded once for the intake, the store and the plan. */
export function groupRefusal(
  budgets: BudgetPolicy,
  group: { name: string; desiredCapacity: number },
  inGroup: number,
): { allowed: false; limit: BudgetLimit; reason: string } {
  const { limit, by } = groupLimit(budgets, group.desiredCapacity);
  const readable = Number.isFinite(group.desiredCapacity) && group.desiredCapacity >= 0;
  const reason =
    by === "perGroupCount"
      ? `Group ${group.name} already has ${inGroup} instance(s) in containment, and the per-group limit is ${budgets.perGroupMaxCount} at a time (containment.budgets.perGroupMaxCount).`
      : readable
        ? `Group ${group.name} (desired capacity ${group.desiredCapacity}) already has ${inGroup} instance(s) in containment; ${budgets.perGroupMaxPercent}% of its capacity allows ${limit} at a time (containment.budgets.perGroupMaxPercent).`
        : `The desired capacity of group ${group.name} is unknown (${group.desiredCapacity}), so the per-group percent limit cannot be checked (containment.budgets.perGroupMaxPercent).`;
  return { allowed: false, limit: by, reason };
}

/** The account's refusal, worded once. */
export function accountRefusal(
  budgets: BudgetPolicy,
  accountId: string,
  started: number,
  window: string,
): { allowed: false; limit: BudgetLimit; reason: string } {
  return {
    allowed: false,
    limit: "perAccountWindow",
    reason: `Account ${accountId} already had ${started} containment(s) started ${window}, and the per-account limit is ${budgets.perAccountMaxCount} (containment.budgets.perAccountMaxCount).`,
  };
}

/** Whether one more containment of `candidate` stays within every budget. */
export function decideBudget(
  budgets: BudgetPolicy,
  candidate: { instanceId: string; accountId: string },
  counters: BudgetCounters,
): BudgetDecision {
  const { group } = counters;
  if (group) {
    // Already counted (an earlier attempt, or a containment it joins): no new blast radius.
    if (group.members.includes(candidate.instanceId)) return { allowed: true };
    const inGroup = group.members.length;
    if (inGroup + 1 > groupLimit(budgets, group.desiredCapacity).limit)
      return groupRefusal(budgets, group, inGroup);
  }
  if (counters.accountStarts + 1 > budgets.perAccountMaxCount) {
    return accountRefusal(budgets, candidate.accountId, counters.accountStarts, counters.window);
  }
  return { allowed: true };
}

/** How the store's window reads: it counts the current bucket and the one before it. */
export function bucketWindow(windowMinutes: number): string {
  return `within the last ${windowMinutes} to ${2 * windowMinutes} minutes`;
}
