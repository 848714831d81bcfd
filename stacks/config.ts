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
