import { DescribeExecutionCommand } from "@aws-sdk/client-sfn";
import type { Connection } from "../../ops/connect.js";
import { CliError, EXIT } from "../../ops/io.js";
import { executionArnOf } from "../../src/aws/executions.js";

/** An execution by ARN, or by name in either of Phoenix's state machines. */
export async function findExecution(
  connection: Connection,
  nameOrArn: string,
): Promise<{ arn: string; workflow: "rollout" | "contain" }> {
  const { sfn } = connection.deps.clients;
  const candidates = nameOrArn.startsWith("arn:")
    ? (Object.entries(connection.stateMachines) as ["rollout" | "contain", string][])
        .filter(([, machine]) => nameOrArn.startsWith(`${machine.replace(":stateMachine:", ":execution:")}:`))
        .map(([workflow]) => ({ workflow, arn: nameOrArn }))
    : (Object.entries(connection.stateMachines) as ["rollout" | "contain", string][]).map(
        ([workflow, machine]) => ({
          workflow,
          arn: executionArnOf(machine, nameOrArn),
        }),
      );
  for (const candidate of candidates) {
    try {
      await sfn.send(new DescribeExecutionCommand({ executionArn: candidate.arn }));
      return candidate;
    } catch (error) {
      if ((error as Error).name !== "ExecutionDoesNotExist") throw error;
    }
  }
  throw new CliError(
    `No execution "${nameOrArn}" in Phoenix's workflows (${Object.values(connection.stateMachines).join(", ")}): list recent ones with \`phoenix status\`.`,
    EXIT.usage,
  );
}
