import type { ContainmentPolicy } from "../../policy/schema.js";

export type BudgetPolicy = ContainmentPolicy["budgets"];

export interface BudgetCandidate {
  instanceId: string;
  accountId: string;
  /** Absent for a standalone instance, to which the group limits do not apply. */
  group?: { name: string; desiredCapacity: number };
}

/**
 * A containment already started. Pass every one still running plus every one started within the
 * budget window (finished ones too: the per-account limit counts starts, not running work).
 */
export interface ContainmentRecord {
  instanceId: string;
  accountId: string;
  group?: string;
  /** ISO-8601. */
  startedAt: string;
  /** ISO-8601; absent while the containment is still running. */
  endedAt?: string;
}

export type BudgetLimit = "perGroupCount" | "perGroupPercent" | "perAccountWindow";

export type BudgetDecision = { allowed: true } | { allowed: false; limit: BudgetLimit; reason: string };

export interface BudgetInput {
  candidate: BudgetCandidate;
  containments: readonly ContainmentRecord[];
  /** ISO-8601. */
  now: string;
  budgets: BudgetPolicy;
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
 * Whether starting one more containment stays within the blast-radius budgets. Anything that
 * cannot be read (a bad timestamp, an unknown capacity) counts against the budget: an over-budget
 * finding is held for a person, never dropped, so erring towards holding is the safe side.
 */
export function checkBudget({ candidate, containments, now, budgets }: BudgetInput): BudgetDecision {
  const nowMs = Date.parse(now);
  const running = containments.filter((record) => isRunning(record, nowMs));

  // A finding on an instance already being contained joins that containment: no new blast radius.
  if (running.some((record) => sameInstance(record, candidate))) return { allowed: true };

  if (candidate.group) {
    const { name, desiredCapacity } = candidate.group;
    const inGroup = running.filter(
      (record) => record.accountId === candidate.accountId && record.group === name,
    ).length;
    if (inGroup + 1 > budgets.perGroupMaxCount) {
      return {
        allowed: false,
        limit: "perGroupCount",
        reason: `Group ${name} already has ${inGroup} instance(s) in containment, and the per-group limit is ${budgets.perGroupMaxCount} at a time (containment.budgets.perGroupMaxCount).`,
      };
    }
    if (!Number.isFinite(desiredCapacity) || desiredCapacity < 0) {
      return {
        allowed: false,
        limit: "perGroupPercent",
        reason: `The desired capacity of group ${name} is unknown (${desiredCapacity}), so the per-group percent limit cannot be checked.`,
      };
    }
    const allowance = groupPercentAllowance(desiredCapacity, budgets.perGroupMaxPercent);
    if (inGroup + 1 > allowance) {
      return {
        allowed: false,
        limit: "perGroupPercent",
        reason: `Group ${name} (desired capacity ${desiredCapacity}) already has ${inGroup} instance(s) in containment; ${budgets.perGroupMaxPercent}% of its capacity allows ${allowance} at a time (containment.budgets.perGroupMaxPercent).`,
      };
    }
  }

  const windowStartMs = nowMs - budgets.windowMinutes * 60_000;
  const startedInWindow = containments.filter(
    (record) => record.accountId === candidate.accountId && startedSince(record, windowStartMs),
  ).length;
  if (startedInWindow + 1 > budgets.perAccountMaxCount) {
    return {
      allowed: false,
      limit: "perAccountWindow",
      reason: `Account ${candidate.accountId} already had ${startedInWindow} containment(s) started in the last ${budgets.windowMinutes} minutes, and the per-account limit is ${budgets.perAccountMaxCount} (containment.budgets.perAccountMaxCount).`,
    };
  }
  return { allowed: true };
}

const sameInstance = (record: ContainmentRecord, candidate: BudgetCandidate): boolean =>
  record.accountId === candidate.accountId && record.instanceId === candidate.instanceId;

function isRunning(record: ContainmentRecord, nowMs: number): boolean {
  if (record.endedAt === undefined) return true;
  const endedMs = Date.parse(record.endedAt);
  // NaN on either side makes the comparison false, which keeps the record counted.
  return !(endedMs <= nowMs);
}

function startedSince(record: ContainmentRecord, windowStartMs: number): boolean {
  const startedMs = Date.parse(record.startedAt);
  return !(startedMs < windowStartMs);
}
