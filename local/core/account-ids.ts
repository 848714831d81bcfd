/** The role every local member account has, as AWS Organizations creates it (./accounts.ts). */
export const ORGANIZATION_ACCESS_ROLE = "OrganizationAccountAccessRole";

/** The member accounts asked for, checked: twelve digits each, none twice, not the own account. */
export function memberAccounts(own: string, asked: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const account of asked) {
    if (!/^\d{12}$/.test(account)) problems.push(`${JSON.stringify(account)} is not a 12-digit account id`);
    else if (account === own)
      problems.push(`${account} is the local cloud's own account, a member of nothing`);
    else if (seen.has(account)) problems.push(`${account} is given twice`);
    seen.add(account);
  }
  if (problems.length > 0) throw new Error(`member accounts: ${problems.join("; ")}`);
  return [...seen];
}
