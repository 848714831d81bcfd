/**
 * Which accounts and regions Phoenix acts in, decided once: routing (findings, sessions), the
 * member access (src/member-access.ts) and the CLI all ask here. Pure.
 */

/** The partition of a region, for ARNs Phoenix builds and writes into policies. */
export function partitionOf(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  return "aws";
}

/** One account Phoenix manages, the regions it manages there, and the role it assumes there. */
export interface ScopeMember {
  accountId: string;
  regions: readonly string[];
  /** The member role (absent for Phoenix's own account, where it acts as itself). */
  roleName?: string;
}

/**
 * The accounts and regions whose findings Phoenix acts on: the account it runs in (in the region
 * it runs in: PhoenixDeps.accountId / region, 123456789012 / us-east-1 on the local cloud) and
 * the member accounts the policy lists, each in its own regions. `accounts` and `regions` are
 * the unions, for messages and quick checks; a pair is managed only as `members` says.
 */
export interface ManagedScope {
  members: readonly ScopeMember[];
  accounts: readonly string[];
  regions: readonly string[];
}

/** A scope from its members (the unions computed). */
export function scopeOf(members: readonly ScopeMember[]): ManagedScope {
  return {
    members,
    accounts: [...new Set(members.map((member) => member.accountId))],
    regions: [...new Set(members.flatMap((member) => member.regions))],
  };
}

/**
 * What Phoenix manages: its own account and region, plus the policy's member accounts (the own
 * account listed there adds its regions, and keeps acting as itself, with no role).
 */
export function managedScope(self: {
  accountId: string;
  region: string;
  policy?: { accounts: readonly { accountId: string; regions: readonly string[]; roleName: string }[] };
}): ManagedScope {
  const listed = self.policy?.accounts ?? [];
  const own = self.accountId ? listed.find((member) => member.accountId === self.accountId) : undefined;
  const members: ScopeMember[] = [];
  if (self.accountId)
    members.push({
      accountId: self.accountId,
      regions: [...new Set([...(self.region ? [self.region] : []), ...(own?.regions ?? [])])],
    });
  for (const member of listed)
    if (member.accountId !== self.accountId)
      members.push({ accountId: member.accountId, regions: member.regions, roleName: member.roleName });
  return scopeOf(members);
}

/** Only the account and region Phoenix runs in (for what is not yet built across accounts). */
export function ownScope(self: { accountId: string; region: string }): ManagedScope {
  return managedScope({ accountId: self.accountId, region: self.region });
}

/** Whether Phoenix manages this account in this region. */
export function isManaged(scope: ManagedScope, accountId: string, region: string): boolean {
  return scope.members.some((member) => member.accountId === accountId && member.regions.includes(region));
}

/** "account 123456789012 in us-east-1; account 222222222222 in us-east-1, eu-west-1", or "none". */
export function describeScope(scope: ManagedScope): string {
  if (scope.members.length === 0) return "account(s) none";
  return scope.members
    .map((member) => `account ${member.accountId} in ${member.regions.join(", ") || "no region"}`)
    .join("; ");
}
