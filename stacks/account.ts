/**
 * The account, region and partition being deployed to, as one Output, and the IAM policy
 * context (every ARN Phoenix's policies name) built from it.
 */
import { type PolicyContext, policyContext } from "../build/iam/context";
import { ownAccountProblem } from "../src/scope";
import type { DeployConfig } from "./config";

export function deployedPolicyContext(config: DeployConfig): $util.Output<PolicyContext> {
  return $util
    .all([
      aws.getPartitionOutput({}).partition,
      aws.getRegionOutput({}).region,
      aws.getCallerIdentityOutput({}).accountId,
    ])
    .apply(([partition, region, account]) => {
      // Known only now: the account and region being deployed to.
      const problem = ownAccountProblem(config.policy, { accountId: account, region });
      if (problem) throw new Error(`Phoenix deploy refused: ${problem}`);
      return policyContext({
        partition,
        region,
        account,
        stage: $app.stage,
        policy: config.policy,
        fleetRoleArns: config.fleetRoleArns,
      });
    });
}
