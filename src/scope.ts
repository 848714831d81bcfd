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
  /** One entry per account and way in: Phoenix's own account may have two (see managedScope). */
  members: readonly ScopeMember[];
  accounts: readonly string[];
  regions: readonly string[];
  /** The account Phoenix runs in (empty when unknown). */
  home: string;
}

/** A scope from its members (the unions computed); `home` defaults to the first member's account. */
export function scopeOf(members: readonly ScopeMember[], home = members[0]?.accountId ?? ""): ManagedScope {
  return {
    members,
    accounts: [...new Set(members.map((member) => member.accountId))],
    regions: [...new Set(members.flatMap((member) => member.regions))],
    home,
  };
}

/**
 * What Phoenix manages: its own account in its own region, where it acts as itself, plus the
 * policy's member accounts, each through its member role. The deploy refuses a policy that lists
 * Phoenix's own account in other regions (stacks/account.ts: its functions' grants are scoped to
 * their home region), so such an entry adds nothing here: fail closed.
 */
export function managedScope(self: {
  accountId: string;
  region: string;
  policy?: { accounts: readonly { accountId: string; regions: readonly string[]; roleName: string }[] };
}): ManagedScope {
  const members: ScopeMember[] = [];
  if (self.accountId) members.push({ accountId: self.accountId, regions: self.region ? [self.region] : [] });
  for (const member of self.policy?.accounts ?? [])
    if (member.accountId !== self.accountId)
      members.push({ accountId: member.accountId, regions: member.regions, roleName: member.roleName });
  return scopeOf(members, self.accountId);
}

/** Why a policy's accounts cannot be deployed in this account and region, or undefined. */
export function ownAccountProblem(
  policy: { accounts: readonly { accountId: string; regions: readonly string[] }[] },
  self: { accountId: string; region: string },
): string | undefined {
  const own = policy.accounts.find((member) => member.accountId === self.accountId);
  const other = own?.regions.filter((region) => region !== self.region) ?? [];
  if (other.length === 0) return undefined;
  return `accounts lists ${self.accountId}, the account Phoenix is deployed in, with region(s) ${other.join(", ")}: Phoenix manages its own account only in the region it runs in (${self.region}); deploy a Phoenix stage in ${other.join(", ")} for those, or leave them out`;
}

/** Only the account and region Phoenix runs in (for what is not yet built across accounts). */
export function ownScope(self: { accountId: string; region: string }): ManagedScope {
  return managedScope({ accountId: self.accountId, region: self.region });
}

/** The scope's entry for this account in this region (how Phoenix reaches it), or undefined. */
export function memberAt(scope: ManagedScope, accountId: string, region: string): ScopeMember | undefined {
  return scope.members.find((member) => member.accountId === accountId && member.regions.includes(region));
}

/** Whether Phoenix manages this account in this region. */
export function isManaged(scope: ManagedScope, accountId: string, region: string): boolean {
  return memberAt(scope, accountId, region) !== undefined;
}

/** The regions Phoenix manages an account in (any way in), or none. */
export function regionsOf(scope: ManagedScope, accountId: string): string[] {
  return [...new Set(scope.members.filter((m) => m.accountId === accountId).flatMap((m) => m.regions))];
}

/** "account 123456789012 in us-east-1; account 222222222222 in us-east-1, eu-west-1", or "none". */
export function describeScope(scope: ManagedScope): string {
  if (scope.members.length === 0) return "account(s) none";
  return scope.accounts
    .map((account) => `account ${account} in ${regionsOf(scope, account).join(", ") || "no region"}`)
    .join("; ");
}
