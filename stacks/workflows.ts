/**
 * The state machines from workflows/*.asl.json: Standard type (long waits, exactly-once
 * semantics, deterministic execution names), function ARNs substituted for the `${Fn…}`
 * placeholders, execution logs to CloudWatch, and a role with the statements build/iam derives
 * from the ASL.
 */

import type { PolicyContext } from "../build/iam/context";
import { policyDocument, stateMachinePolicy } from "../build/iam/policy";
import type { ReadSource } from "../build/iam/used-actions";
import { PHOENIX_STATE_MACHINES, type PhoenixStateMachine, renderStateMachine } from "../src/catalog";
import { resourceNames } from "../src/resources";

export type PhoenixStateMachines = Record<PhoenixStateMachine, aws.sfn.StateMachine>;

const MACHINE_NAME: Record<PhoenixStateMachine, keyof ReturnType<typeof resourceNames>> = {
  contain: "containStateMachine",
  rollout: "rolloutStateMachine",
};

export function workflows(input: {
  context: $util.Output<PolicyContext>;
  read: ReadSource;
  /** Created first so a first deploy never starts a workflow whose functions are missing. */
  dependsOn: $util.Resource[];
}): PhoenixStateMachines {
  const names = resourceNames($app.stage);
  const created = {} as PhoenixStateMachines;
  for (const [machine, file] of Object.entries(PHOENIX_STATE_MACHINES) as [PhoenixStateMachine, string][]) {
    const template = input.read(file);
    if (template === undefined) throw new Error(`Phoenix deploy: ${file} not found`);
    const name = names[MACHINE_NAME[machine]];
    const id = machine.charAt(0).toUpperCase() + machine.slice(1);

    const logs = new aws.cloudwatch.LogGroup(`${id}WorkflowLogs`, {
      // The /aws/vendedlogs/ prefix keeps the log group's resource policy small (AWS advice).
      name: `/aws/vendedlogs/states/${name}`,
      retentionInDays: 90,
    });
    const role = new aws.iam.Role(`${id}WorkflowRole`, {
      name: `${name}-workflow`,
      assumeRolePolicy: input.context.apply((ctx) =>
        JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { Service: "states.amazonaws.com" },
              Action: "sts:AssumeRole",
              // Only this account's Step Functions may assume it (confused deputy).
              Condition: { StringEquals: { "aws:SourceAccount": ctx.account } },
            },
          ],
        }),
      ),
    });
    const policy = new aws.iam.RolePolicy(`${id}WorkflowPolicy`, {
      role: role.name,
      policy: input.context.apply((ctx) =>
        JSON.stringify(policyDocument(stateMachinePolicy(machine, JSON.parse(template), ctx))),
      ),
    });
    created[machine] = new aws.sfn.StateMachine(
      `${id}Workflow`,
      {
        name,
        type: "STANDARD",
        roleArn: role.arn,
        definition: input.context.apply((ctx) => renderStateMachine(machine, ctx.functionArn, template)),
        loggingConfiguration: {
          logDestination: $interpolate`${logs.arn}:*`,
          includeExecutionData: true,
          level: "ALL",
        },
      },
      // Step Functions checks the role's log-delivery permissions when the machine is created.
      { dependsOn: [...input.dependsOn, policy] },
    );
  }
  return created;
}
