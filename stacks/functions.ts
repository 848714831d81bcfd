/**
 * One Lambda function per entry point under functions/ (src/catalog.ts), bundled by SST's
 * esbuild, each with exactly the IAM statements build/iam derives from its code.
 */

import { deployedFunctionName, deployedFunctionRoleName, type PolicyContext } from "../build/iam/context";
import { functionPolicy, type PolicyStatement } from "../build/iam/policy";
import type { ReadSource } from "../build/iam/used-actions";
import { PHOENIX_FUNCTIONS, type PhoenixFunction, placeholderOf } from "../src/catalog";
import type { Policy } from "../src/policy/index";
import { resourceNames, resourcesToEnv } from "../src/resources";

type Memory = `${number} MB`;
type Timeout = `${number} seconds`;

interface Sizing {
  memory: Memory;
  timeout: Timeout;
  /** Reserved concurrency: a ceiling that protects the APIs and workflow behind the function. */
  reserved?: number;
}

const DEFAULT_SIZING: Sizing = { memory: "512 MB", timeout: "60 seconds" };

/**
 * Sizes that differ from the default, and why. Step functions are short (a few AWS calls each;
 * the workflow waits between polls, not the function).
 */
const SIZING: Partial<Record<PhoenixFunction, Sizing>> = {
  // A flood of findings queues up in the buffer instead of starting hundreds of containments
  // at once (EC2 and Auto Scaling throttle per account); budgets still decide what is contained.
  "on-finding": { memory: "512 MB", timeout: "60 seconds", reserved: 5 },
  // One snapshot per volume, plus the optional memory-capture command.
  "contain-evidence": { memory: "512 MB", timeout: "120 seconds" },
  // Gate (KMS Verify), supersede check and the description of every group of the family.
  "rollout-plan": { memory: "512 MB", timeout: "120 seconds" },
  // Reads every live instance and managed group of the account; one at a time is plenty.
  sweep: { memory: "512 MB", timeout: "300 seconds", reserved: 1 },
};

export const sizingOf = (name: PhoenixFunction): Sizing => SIZING[name] ?? DEFAULT_SIZING;

/** SST's permission shape (FunctionPermissionArgs) from a derived statement. */
function toPermission(statement: PolicyStatement) {
  return {
    ...(statement.effect === "Deny" ? { effect: "deny" as const } : {}),
    actions: statement.actions,
    resources: statement.resources,
    ...(statement.conditions ? { conditions: statement.conditions } : {}),
  };
}

export type PhoenixFunctions = Record<PhoenixFunction, sst.aws.Function>;

/** Only the Lambda service may assume a function's role. */
export const LAMBDA_TRUST_POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
});

export function functions(input: {
  policy: Policy;
  context: $util.Output<PolicyContext>;
  read: ReadSource;
}): PhoenixFunctions {
  const stage = $app.stage;
  const names = resourceNames(stage);
  const environment = input.context.apply((ctx) => ({
    ...resourcesToEnv({
      auditTable: names.auditTable,
      stateTable: names.stateTable,
      topicArn: ctx.topicArn,
      containStateMachineArn: ctx.stateMachineArns.contain,
      rolloutStateMachineArn: ctx.stateMachineArns.rollout,
    }),
    // Validated at deploy (stacks/config.ts) and again by each handler at cold start.
    PHOENIX_POLICY: JSON.stringify(input.policy),
    PHOENIX_ACCOUNT_ID: ctx.account,
    POWERTOOLS_SERVICE_NAME: "phoenix",
    POWERTOOLS_LOG_LEVEL: "INFO",
  }));

  const created = {} as PhoenixFunctions;
  for (const name of PHOENIX_FUNCTIONS) {
    const sizing = sizingOf(name);
    created[name] = new sst.aws.Function(placeholderOf(name), {
      name: deployedFunctionName(stage, name),
      description: `Phoenix ${name} (${stage})`,
      handler: `functions/${name}.handler`,
      runtime: "nodejs22.x",
      architecture: "arm64",
      memory: sizing.memory,
      timeout: sizing.timeout,
      ...(sizing.reserved !== undefined ? { concurrency: { reserved: sizing.reserved } } : {}),
      // ES modules of the SDK (mainFields) and the plugins let esbuild drop the SDK code of
      // operations a function never calls; bench/cold-start.ts builds the same way.
      nodejs: {
        format: "esm",
        sourcemap: true,
        minify: true,
        plugins: "./build/esbuild-plugins.mjs",
        esbuild: { mainFields: ["module", "main"] },
      },
      environment,
      permissions: input.context.apply((ctx) => functionPolicy(name, ctx, input.read).map(toPermission)),
      transform: {
        // SST 4.17.1 means to trust the account root only in `sst dev`, but tests `!dev` on an
        // Output (always truthy), so every deployed role would also trust the account root:
        // any principal allowed sts:AssumeRole could act as the isolate or rollout roles.
        role: (args) => {
          args.assumeRolePolicy = LAMBDA_TRUST_POLICY;
          // A name a member account's trust policy can name exactly (build/iam/member.ts).
          args.name = deployedFunctionRoleName(stage, name);
        },
      },
      logging: { retention: "3 months", format: "json" },
    });
  }
  return created;
}
