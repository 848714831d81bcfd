import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BudgetDecision,
  type BudgetPolicy,
  decideBudget,
  groupPercentAllowance,
} from "../../../src/containment/core/budget.js";
import { defaultPolicy } from "../../../src/policy/index.js";

const defaults = defaultPolicy().containment.budgets;
const NOW = "2025-06-01T12:00:00.000Z";
const minutesAgo = (minutes: number): string => new Date(Date.parse(NOW) - minutes * 60_000).toISOString();

const ACCOUNT = "111122223333";
const candidate = (overrides: Partial<BudgetCandidate> = {}): BudgetCandidate => ({
  instanceId: "i-0000000000000000a",
  accountId: ACCOUNT,
  group: { name: "web", desiredCapacity: 10 },
  ...overrides,
});

// Far from the candidate's id, so that a record never collides with it by accident.
let instanceCounter = 0x100000;
const running = (overrides: Partial<ContainmentRecord> = {}): ContainmentRecord => ({
  instanceId: `i-${(++instanceCounter).toString(16).padStart(17, "0")}`,
  accountId: ACCOUNT,
  group: "web",
  startedAt: minutesAgo(5),
  ...overrides,
});

const budgets = (overrides: Partial<BudgetPolicy>): BudgetPolicy => ({ ...defaults, ...overrides });

/**
 * The cases below are told as containment records (what ran, when); the store keeps counters.
 * This turns the records into the counters the store would hold at `now` (a group's members are
 * its running containments; the account's starts those in the window: a record that cannot be
 * read counts, the safe side) and asks the one decision, decideBudget.
 */
interface BudgetCandidate {
  instanceId: string;
  accountId: string;
  group?: { name: string; desiredCapacity: number };
}
interface ContainmentRecord {
  instanceId: string;
  accountId: string;
  group?: string;
  startedAt: string;
  endedAt?: string;
}
function checkBudget(input: {
  candidate: BudgetCandidate;
  containments: readonly ContainmentRecord[];
  now: string;
  budgets: BudgetPolicy;
}): BudgetDecision {
  const { candidate, containments, budgets: limits } = input;
  const nowMs = Date.parse(input.now);
  const running = containments.filter((r) => !(Date.parse(r.endedAt ?? "") <= nowMs));
  const windowStart = nowMs - limits.windowMinutes * 60_000;
  const accountStarts = containments.filter(
    (r) => r.accountId === candidate.accountId && !(Date.parse(r.startedAt) < windowStart),
  ).length;
  const members = running
    .filter(
      (r) =>
        r.accountId === candidate.accountId && r.group !== undefined && r.group === candidate.group?.name,
    )
    .map((r) => r.instanceId);
  // A finding on an instance already being contained joins it, grouped or not.
  const joining = running.some(
    (r) => r.accountId === candidate.accountId && r.instanceId === candidate.instanceId,
  );
  if (joining) return { allowed: true };
  return decideBudget(limits, candidate, {
    ...(candidate.group ? { group: { ...candidate.group, members } } : {}),
    accountStarts,
    window: `in the last ${limits.windowMinutes} minutes`,
  });
}

describe("groupPercentAllowance", () => {
  it.each([
    [10, 34, 3],
    [100, 34, 34],
    [3, 34, 1],
    [2, 34, 1], // at least one
    [1, 34, 1],
    [0, 34, 1],
    [4, 50, 2],
    [10, 100, 10],
    [7, 14.3, 1],
    [10, 0, 0], // 0% forbids automatic containment in groups
  ])("a group of %s at %s%% allows %s", (desired, percent, allowance) => {
    expect(groupPercentAllowance(desired, percent)).toBe(allowance);
  });
});

describe("checkBudget with the default budgets", () => {
  it("allows the first containment in a group", () => {
    expect(checkBudget({ candidate: candidate(), containments: [], now: NOW, budgets: defaults })).toEqual({
      allowed: true,
    });
  });

  it("holds a second containment in the same group on the per-group count", () => {
    const decision = checkBudget({
      candidate: candidate(),
      containments: [running()],
      now: NOW,
      budgets: defaults,
    });
    expect(decision).toMatchObject({ allowed: false, limit: "perGroupCount" });
    if (!decision.allowed) {
      expect(decision.reason).toContain("Group web already has 1 instance(s) in containment");
      expect(decision.reason).toContain("perGroupMaxCount");
    }
  });

  it("does not count other groups, other accounts, or finished containments against a group", () => {
    const containments = [
      running({ group: "api" }),
      running({ accountId: "444455556666" }),
      running({ endedAt: minutesAgo(1) }),
      running({ group: undefined }),
    ];
    expect(checkBudget({ candidate: candidate(), containments, now: NOW, budgets: defaults }).allowed).toBe(
      true,
    );
  });

  it("lets a finding on an instance already in containment join it", () => {
    const self = running({ instanceId: candidate().instanceId });
    const decision = checkBudget({
      candidate: candidate(),
      containments: [self],
      now: NOW,
      budgets: defaults,
    });
    expect(decision).toEqual({ allowed: true });
  });

  it("treats a released instance found again as a new containment", () => {
    const earlier = running({ instanceId: candidate().instanceId, endedAt: minutesAgo(1) });
    const decision = checkBudget({
      candidate: candidate(),
      containments: [earlier, running({ group: "api" })],
      now: NOW,
      budgets: budgets({ perAccountMaxCount: 2 }),
    });
    expect(decision).toMatchObject({ allowed: false, limit: "perAccountWindow" });
  });
});

describe("checkBudget per-group percent", () => {
  const roomy = budgets({ perGroupMaxCount: 100, perAccountMaxCount: 100 });

  it("holds at floor(desired × percent / 100)", () => {
    const two = [running(), running()];
    const three = [...two, running()];
    expect(checkBudget({ candidate: candidate(), containments: two, now: NOW, budgets: roomy }).allowed).toBe(
      true,
    );
    const decision = checkBudget({ candidate: candidate(), containments: three, now: NOW, budgets: roomy });
    expect(decision).toMatchObject({ allowed: false, limit: "perGroupPercent" });
    if (!decision.allowed) {
      expect(decision.reason).toBe(
        "Group web (desired capacity 10) already has 3 instance(s) in containment; 34% of its capacity allows 3 at a time (containment.budgets.perGroupMaxPercent).",
      );
    }
  });

  it("allows one containment in a small group", () => {
    const small = candidate({ group: { name: "bastion", desiredCapacity: 2 } });
    expect(checkBudget({ candidate: small, containments: [], now: NOW, budgets: roomy }).allowed).toBe(true);
  });

  it("holds everything grouped when the percent or the count is 0", () => {
    for (const zero of [{ perGroupMaxPercent: 0 }, { perGroupMaxCount: 0 }]) {
      const decision = checkBudget({
        candidate: candidate(),
        containments: [],
        now: NOW,
        budgets: budgets(zero),
      });
      expect(decision.allowed).toBe(false);
    }
  });

  it("holds when the group's desired capacity is unknown", () => {
    for (const desiredCapacity of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      const decision = checkBudget({
        candidate: candidate({ group: { name: "web", desiredCapacity } }),
        containments: [],
        now: NOW,
        budgets: roomy,
      });
      expect(decision).toMatchObject({ allowed: false, limit: "perGroupPercent" });
    }
  });

  it("does not apply group limits to a standalone instance", () => {
    const standalone = candidate({ group: undefined });
    const containments = [running(), running()];
    const decision = checkBudget({
      candidate: standalone,
      containments,
      now: NOW,
      budgets: budgets({ perGroupMaxCount: 0 }),
    });
    expect(decision.allowed).toBe(true);
  });
});

describe("checkBudget per-account window", () => {
  const accountOnly = budgets({ perAccountMaxCount: 3, windowMinutes: 60 });
  const standalone = candidate({ group: undefined });

  it("counts starts in the window, finished or not, in this account only", () => {
    const containments = [
      running({ group: undefined, startedAt: minutesAgo(59), endedAt: minutesAgo(30) }),
      running({ group: undefined, startedAt: minutesAgo(10) }),
      running({ group: undefined, startedAt: minutesAgo(61) }), // before the window, still running
      running({ group: undefined, accountId: "444455556666" }),
    ];
    expect(checkBudget({ candidate: standalone, containments, now: NOW, budgets: accountOnly }).allowed).toBe(
      true,
    );
    const full = [...containments, running({ group: undefined, startedAt: minutesAgo(60) })];
    const decision = checkBudget({
      candidate: standalone,
      containments: full,
      now: NOW,
      budgets: accountOnly,
    });
    expect(decision).toMatchObject({ allowed: false, limit: "perAccountWindow" });
    if (!decision.allowed) {
      expect(decision.reason).toBe(
        `Account ${ACCOUNT} already had 3 containment(s) started in the last 60 minutes, and the per-account limit is 3 (containment.budgets.perAccountMaxCount).`,
      );
    }
  });

  it("counts records it cannot read against the budget", () => {
    const unreadable = [
      running({ group: undefined, startedAt: "not a time" }),
      running({ group: undefined, startedAt: minutesAgo(600), endedAt: "garbage" }),
    ];
    const tight = budgets({ perAccountMaxCount: 1 });
    const decision = checkBudget({
      candidate: standalone,
      containments: unreadable.slice(0, 1),
      now: NOW,
      budgets: tight,
    });
    expect(decision).toMatchObject({ allowed: false, limit: "perAccountWindow" });
    // A record whose end cannot be read is still running, so it occupies its group.
    const grouped = checkBudget({
      candidate: candidate(),
      containments: [{ ...unreadable[1]!, group: "web" }],
      now: NOW,
      budgets: defaults,
    });
    expect(grouped).toMatchObject({ allowed: false, limit: "perGroupCount" });
  });
});

describe("checkBudget properties", () => {
  const groups = [
    { name: "a", desiredCapacity: 1 },
    { name: "b", desiredCapacity: 4 },
    { name: "c", desiredCapacity: 12 },
  ];
  const accounts = ["111111111111", "222222222222"];

  const arrival = fc.record({
    minutesLater: fc.integer({ min: 0, max: 30 }),
    account: fc.constantFrom(...accounts),
    group: fc.option(fc.constantFrom(...groups), { nil: undefined }),
    instance: fc.integer({ min: 0, max: 40 }),
    endsAfterMinutes: fc.option(fc.integer({ min: 1, max: 120 }), { nil: undefined }),
  });

  const policy = fc.record({
    perGroupMaxCount: fc.integer({ min: 0, max: 4 }),
    perGroupMaxPercent: fc.integer({ min: 0, max: 100 }),
    perAccountMaxCount: fc.integer({ min: 0, max: 6 }),
    windowMinutes: fc.integer({ min: 1, max: 90 }),
  });

  it("never lets the containments admitted exceed any limit", () => {
    fc.assert(
      fc.property(policy, fc.array(arrival, { maxLength: 60 }), (limits, arrivals) => {
        const admitted: ContainmentRecord[] = [];
        let clock = Date.parse(NOW);
        for (const next of arrivals) {
          clock += next.minutesLater * 60_000;
          const now = new Date(clock).toISOString();
          const instanceId = `i-${next.instance.toString(16).padStart(8, "0")}`;
          const decision = checkBudget({
            candidate: { instanceId, accountId: next.account, group: next.group },
            containments: admitted,
            now,
            budgets: limits,
          });
          const joining = admitted.some(
            (r) => r.instanceId === instanceId && r.accountId === next.account && isRunningAt(r, clock),
          );
          if (!decision.allowed || joining) continue;
          admitted.push({
            instanceId,
            accountId: next.account,
            group: next.group?.name,
            startedAt: now,
            endedAt:
              next.endsAfterMinutes === undefined
                ? undefined
                : new Date(clock + next.endsAfterMinutes * 60_000).toISOString(),
          });

          for (const group of groups) {
            for (const account of accounts) {
              const inGroup = admitted.filter(
                (r) => r.accountId === account && r.group === group.name && isRunningAt(r, clock),
              ).length;
              expect(inGroup).toBeLessThanOrEqual(limits.perGroupMaxCount);
              expect(inGroup).toBeLessThanOrEqual(
                groupPercentAllowance(group.desiredCapacity, limits.perGroupMaxPercent),
              );
            }
          }
          for (const account of accounts) {
            const windowStart = clock - limits.windowMinutes * 60_000;
            const started = admitted.filter(
              (r) => r.accountId === account && Date.parse(r.startedAt) >= windowStart,
            );
            expect(started.length).toBeLessThanOrEqual(limits.perAccountMaxCount);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("names the policy field of the limit it holds on", () => {
    const field = {
      perGroupCount: "perGroupMaxCount",
      perGroupPercent: "perGroupMaxPercent",
      perAccountWindow: "perAccountMaxCount",
    } as const;
    fc.assert(
      fc.property(policy, fc.integer({ min: 0, max: 8 }), (limits, existing) => {
        const containments = Array.from({ length: existing }, () => running());
        const decision = checkBudget({ candidate: candidate(), containments, now: NOW, budgets: limits });
        if (!decision.allowed) expect(decision.reason).toContain(field[decision.limit as keyof typeof field]);
      }),
    );
  });
});

function isRunningAt(record: ContainmentRecord, clock: number): boolean {
  return record.endedAt === undefined || Date.parse(record.endedAt) > clock;
}
