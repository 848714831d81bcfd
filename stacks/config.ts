/**
 * Deploy-time configuration: the Phoenix policy, validated before any resource is declared, so
 * a bad field fails `sst deploy` with the field's name instead of a handler failing later.
 *
 * Sources (the same variables the handlers read): PHOENIX_POLICY (inline JSON) or
 * PHOENIX_POLICY_FILE (a JSON file), else the safe defaults. PHOENIX_FLEET_ROLE_ARNS lists
 * fleet roles beside the ones tagged `phoenix:fleet-role=true` (rollouts may pass them to EC2,
 * containment writes its revocation on them; see docs/DEPLOY.md); it is not part of the policy
 * because it is an IAM grant, not behaviour.
 */
import { loadPolicy, type Policy, PolicyError } from "../src/policy/index.js";
import { stageProblem } from "../src/resources.js";

export interface DeployConfig {
  policy: Policy;
  fleetRoleArns: string[];
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\-/*]+$/;

export function deployConfig(env: NodeJS.ProcessEnv = process.env, stage?: string): DeployConfig {
  // Before any resource is declared: a name AWS refuses would otherwise fail the deploy half way.
  const badStage = stage === undefined ? undefined : stageProblem(stage);
  if (badStage) throw new Error(`Phoenix deploy refused: ${badStage}`);
  let policy: Policy;
  try {
    policy = loadPolicy(env);
  } catch (error) {
    // Rethrown with a first line that says where it failed; PolicyError already names each field.
    if (error instanceof PolicyError) throw new Error(`Phoenix deploy refused: ${error.message}`);
    throw error;
  }
  const fleetRoleArns = (env.PHOENIX_FLEET_ROLE_ARNS ?? "")
    .split(",")
    .map((arn) => arn.trim())
    .filter((arn) => arn.length > 0);
  const bad = fleetRoleArns.filter((arn) => !ROLE_ARN.test(arn));
  if (bad.length > 0) {
    throw new Error(`Phoenix deploy refused: PHOENIX_FLEET_ROLE_ARNS: not IAM role ARNs: ${bad.join(", ")}`);
  }
  return { policy, fleetRoleArns };
}

/**
 * The member stack's configuration (PHOENIX_STACK=member): which central Phoenix its role
 * trusts. PHOENIX_CENTRAL_ACCOUNT_ID is required; PHOENIX_CENTRAL_STAGE is the central stack's
 * stage (default: the member's own stage name); PHOENIX_ORGANIZATION_ID (o-…) adds
 * aws:PrincipalOrgID to the trust. The policy is the central one (its accounts, role names,
 * quarantine profile).
 */
export interface MemberConfig {
  policy: Policy;
  centralAccount: string;
  centralStage: string;
  organizationId?: string;
}

export function memberConfig(env: NodeJS.ProcessEnv = process.env, stage = ""): MemberConfig {
  const { policy } = deployConfig(env, stage);
  const centralAccount = env.PHOENIX_CENTRAL_ACCOUNT_ID ?? "";
  const problems: string[] = [];
  if (!/^\d{12}$/.test(centralAccount))
    problems.push(
      `PHOENIX_CENTRAL_ACCOUNT_ID ${centralAccount === "" ? "is not set" : `"${centralAccount}" is not a 12-digit account id`}: the member role trusts Phoenix's functions in that account only`,
    );
  const centralStage = env.PHOENIX_CENTRAL_STAGE || stage;
  const badStage = stageProblem(centralStage);
  if (badStage) problems.push(`PHOENIX_CENTRAL_STAGE: ${badStage}`);
  const organizationId = env.PHOENIX_ORGANIZATION_ID || undefined;
  if (organizationId !== undefined && !/^o-[a-z0-9]{10,32}$/.test(organizationId))
    problems.push(
      `PHOENIX_ORGANIZATION_ID "${organizationId}" is not an organization id (o- and 10-32 letters or digits)`,
    );
  if (problems.length > 0) throw new Error(`Phoenix member deploy refused: ${problems.join("; ")}`);
  return { policy, centralAccount, centralStage, ...(organizationId ? { organizationId } : {}) };
}
