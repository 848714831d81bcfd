/**
 * The account, region and partition being deployed to, as one Output, and the IAM policy
 * context (every ARN Phoenix's policies name) built from it.
 */
import { type PolicyContext, policyContext } from "../build/iam/context";
import type { DeployConfig } from "./config";

export function deployedPolicyContext(config: DeployConfig): $util.Output<PolicyContext> {
  return $util
    .all([
      aws.getPartitionOutput({}).partition,
      aws.getRegionOutput({}).region,
      aws.getCallerIdentityOutput({}).accountId,
    ])
    .apply(([partition, region, account]) =>
      policyContext({
        partition,
        region,
        account,
        stage: $app.stage,
        policy: config.policy,
        fleetRoleArns: config.fleetRoleArns,
      }),
    );
}
