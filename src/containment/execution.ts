import { StartExecutionCommand } from "@aws-sdk/client-sfn";
import type { PhoenixDeps } from "../deps.js";
import { type ContainmentItem, markRunning } from "./state.js";
import { isAwsError } from "./steps/errors.js";
import type { ContainState } from "./steps/types.js";

/** The ARN Step Functions gives an execution of a state machine under a name. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
}

/**
 * Starts the contain workflow of a record under its deterministic name, with the input stored in
 * the record. Step Functions accepts the same name and input again as the same execution and
 * refuses any other start under that name (ExecutionAlreadyExists): either way exactly one
 * execution exists per containment, however often this is called.
 */
export async function startContainment(deps: PhoenixDeps, item: ContainmentItem): Promise<string> {
  const stateMachineArn = deps.resources.containStateMachineArn;
  const input: ContainState = { containment: item.executionInput, results: {} };
  let executionArn: string;
  try {
    const started = await deps.clients.sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: item.executionName, input: JSON.stringify(input) }),
    );
    executionArn = started.executionArn ?? executionArnOf(stateMachineArn, item.executionName);
  } catch (error) {
    if (!isAwsError(error, "ExecutionAlreadyExists")) throw error;
    executionArn = executionArnOf(stateMachineArn, item.executionName);
  }
  await markRunning(deps, item, executionArn);
  return executionArn;
}
