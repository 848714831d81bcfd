import { parseGroupKey, placeKey } from "./place.js";

/**
 * A rollout's results by account and region: what its record, its end in the audit trail and its
 * last notification say of each account. Pure.
 */

/** One group's result as the waves report it (contract.ts GroupResult), or a group not rolled. */
export interface GroupOutcomeEntry {
  /** The group's key (place.ts). */
  group: string;
  outcome: string;
}

export interface AccountResult {
  accountId: string;
  region: string;
  /** The groups' keys by outcome ("succeeded", "failed", "not-rolled", …), sorted. */
  outcomes: Record<string, string[]>;
}

/** Results grouped by the account and region of each group; Phoenix's own first, then by account. */
export function accountResults(
  entries: readonly GroupOutcomeEntry[],
  home: { accountId: string; region: string },
): AccountResult[] {
  const byPlace = new Map<string, AccountResult>();
  for (const entry of entries) {
    const place = parseGroupKey(entry.group);
    const accountId = place.accountId ?? home.accountId;
    const region = place.region ?? home.region;
    const key = placeKey({ accountId, region });
    const result = byPlace.get(key) ?? { accountId, region, outcomes: {} };
    byPlace.set(key, result);
    const list = result.outcomes[entry.outcome] ?? [];
    if (!list.includes(entry.group)) list.push(entry.group);
    result.outcomes[entry.outcome] = list.sort();
  }
  const isHome = (r: AccountResult) => r.accountId === home.accountId && r.region === home.region;
  return [...byPlace.values()].sort((a, b) =>
    isHome(a) !== isHome(b) ? (isHome(a) ? -1 : 1) : placeKey(a) < placeKey(b) ? -1 : 1,
  );
}

/** "account 222222222222 (us-east-1): 2 succeeded, 1 failed" per account, for messages. */
export function describeAccountResults(results: readonly AccountResult[]): string[] {
  return results.map((result) => {
    const counts = Object.entries(result.outcomes)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([outcome, groups]) => `${groups.length} ${outcome}`);
    return `account ${result.accountId} (${result.region}): ${counts.join(", ")}`;
  });
}
