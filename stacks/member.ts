/**
 * The member stack: what Phoenix needs in a member account, and nothing else. Its own graph
 * (`PHOENIX_STACK=member`, `npm run synth -- --member`), deployed into every member account
 * (an SST stage per account, or the StackSets path of docs/DEPLOY.md):
 * - the member role (`phoenix-member` unless the policy names another for this account),
 *   trusting only the central Phoenix's function roles (build/iam/member.ts), with the fleet
 *   permissions containment uses there, scoped to this account;
 * - the quarantine instance profile that contain-revoke swaps onto a compromised instance.
 */
import { memberContext, memberRegionGuard, memberStatements, memberTrustPolicy } from "../build/iam/member";
import { policyDocument } from "../build/iam/policy";
import { DEFAULT_MEMBER_ROLE } from "../src/policy/index";
import { memberConfig } from "./config";
import { quarantineProfile } from "./containment";
import { readRepositoryFile, repositoryRoot } from "./source";

export interface MemberStack {
  role: aws.iam.Role;
  quarantineProfile: aws.iam.InstanceProfile;
}

export function member(): MemberStack {
  const config = memberConfig(process.env, $app.stage);
  const read = readRepositoryFile(repositoryRoot());
  const where = $util.all([aws.getPartitionOutput({}).partition, aws.getCallerIdentityOutput({}).accountId]);
  const roleName = where.apply(
    ([, account]) =>
      config.policy.accounts.find((m) => m.accountId === account)?.roleName ?? DEFAULT_MEMBER_ROLE,
  );
  const role = new aws.iam.Role("MemberRole", {
    name: roleName,
    description: `Phoenix member role: assumed by Phoenix ${config.centralStage} in ${config.centralAccount}`,
    assumeRolePolicy: where.apply(([partition]) =>
      JSON.stringify(
        memberTrustPolicy(
          {
            partition,
            account: config.centralAccount,
            stage: config.centralStage,
            ...(config.organizationId ? { organizationId: config.organizationId } : {}),
          },
          read,
        ),
      ),
    ),
    tags: { "phoenix:role": "member" },
  });
  new aws.iam.RolePolicy("MemberPermissions", {
    role: role.name,
    name: "phoenix-member",
    policy: where.apply(([partition, account]) => {
      const document = policyDocument(
        memberStatements(
          memberContext({ partition, account, stage: config.centralStage, policy: config.policy }),
          read,
        ),
      );
      const regions = config.policy.accounts.find((m) => m.accountId === account)?.regions ?? [];
      return JSON.stringify({ ...document, Statement: [...document.Statement, memberRegionGuard(regions)] });
    }),
  });
  return { role, quarantineProfile: quarantineProfile(config.policy) };
}
