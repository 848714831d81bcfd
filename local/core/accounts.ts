import { AttachRolePolicyCommand, CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { inAccount } from "../gateway/moto-account.js";
import { ORGANIZATION_ACCESS_ROLE } from "./account-ids.js";
import type { LocalCloudContext } from "./context.js";

/**
 * The local cloud's other accounts. moto keeps every service's state per account (told by its
 * account header, which the gateway sets from the account of the role session that signed a
 * call); these are the accounts the local cloud creates, each as AWS Organizations creates a
 * member account: with `OrganizationAccountAccessRole`, administrator, trusting the local
 * cloud's own account (the management account here). A person or a test acts in a member by
 * assuming that role, as they would in AWS.
 */
const ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess";

/** Creates each member account's access role (moto creates an account's state on first use). */
export async function createMemberAccounts(
  context: Pick<LocalCloudContext, "internalClientConfig" | "accountId">,
  accounts: readonly string[],
): Promise<void> {
  await Promise.all(
    accounts.map(async (account) => {
      const iam = inAccount(new IAMClient(context.internalClientConfig), account);
      await iam.send(
        new CreateRoleCommand({
          RoleName: ORGANIZATION_ACCESS_ROLE,
          AssumeRolePolicyDocument: JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              {
                Effect: "Allow",
                Principal: { AWS: `arn:aws:iam::${context.accountId}:root` },
                Action: "sts:AssumeRole",
              },
            ],
          }),
          Description: "Created as AWS Organizations creates it: administrator, for the management account",
        }),
      );
      await iam.send(
        new AttachRolePolicyCommand({ RoleName: ORGANIZATION_ACCESS_ROLE, PolicyArn: ADMINISTRATOR_ACCESS }),
      );
      iam.destroy();
    }),
  );
}

/**
 * Client settings that act in a member account as its administrator would: through the gateway,
 * on credentials of its OrganizationAccountAccessRole, assumed with the local cloud's own keys
 * (how the demo seeds a member's fleet, and how a person would).
 */
export async function memberAdministrator(
  context: Pick<LocalCloudContext, "endpoint" | "internalClientConfig">,
  account: string,
  region: string,
): Promise<{
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
}> {
  const sts = new STSClient({ ...context.internalClientConfig, endpoint: context.endpoint });
  try {
    const { Credentials: keys } = await sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${account}:role/${ORGANIZATION_ACCESS_ROLE}`,
        RoleSessionName: "phoenix-local",
        // As long as STS allows a session not chained from another (the local clock may run fast).
        DurationSeconds: 43_200,
      }),
    );
    if (!keys?.AccessKeyId || !keys.SecretAccessKey || !keys.SessionToken)
      throw new Error(`STS gave no credentials for ${ORGANIZATION_ACCESS_ROLE} in ${account}`);
    return {
      endpoint: context.endpoint,
      region,
      credentials: {
        accessKeyId: keys.AccessKeyId,
        secretAccessKey: keys.SecretAccessKey,
        sessionToken: keys.SessionToken,
      },
    };
  } finally {
    sts.destroy();
  }
}
