/**
 * Roles Phoenix must never pass or write a policy on, whatever their tags: its own (every stage's
 * function and workflow roles are `phoenix-…`), and the usual administrative ones (Organizations'
 * access role, Control Tower, IAM Identity Center permission sets, service-linked roles, CDK's
 * and StackSets' execution roles). A compromised function could otherwise tag-and-write its way
 * to administrator; the explicit Deny (build/iam/scopes.ts) wins over any Allow. The policy may
 * not name one of the administrative ones as a member role either (src/policy/schema.ts): Phoenix
 * would then be granted sts:AssumeRole on an administrator in every member.
 */
export const PROTECTED_ROLE_NAMES = [
  "phoenix-*",
  "OrganizationAccountAccessRole",
  "AWSControlTowerExecution",
  "AWSCloudFormationStackSetExecutionRole",
  "stacksets-exec-*",
  "aws-reserved/*",
  "aws-service-role/*",
  "cdk-*",
];

/** The protected administrative role a name is (IAM's names are case-insensitive), or undefined. */
export function administrativeRole(name: string): string | undefined {
  return PROTECTED_ROLE_NAMES.filter((pattern) => !pattern.startsWith("phoenix-")).find((pattern) =>
    pattern.endsWith("*")
      ? name.toLowerCase().startsWith(pattern.slice(0, -1).toLowerCase())
      : name.toLowerCase() === pattern.toLowerCase(),
  );
}
