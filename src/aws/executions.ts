import { type SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { isAwsError } from "./errors.js";

/** The ARN Step Functions gives an execution of a state machine under a name. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
}

export interface StartedExecution {
  executionArn: string;
  /** False when an execution of that name existed already (this start was a repeat). */
  created: boolean;
}

/**
 * Starts an execution under a deterministic name: the one way every Phoenix entry point starts a
 * workflow. Step Functions accepts the same name and input again as the same execution and
 * refuses any other start under that name (ExecutionAlreadyExists): either way one execution
 * exists per name however often this runs, and the caller learns which case it was.
 */
export async function startNamedExecution(
  sfn: SFNClient,
  request: { stateMachineArn: string; name: string; input: unknown },
): Promise<StartedExecution> {
  const { stateMachineArn, name } = request;
  try {
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(request.input) }),
    );
    return { executionArn: started.executionArn ?? executionArnOf(stateMachineArn, name), created: true };
  } catch (error) {
    if (!isAwsError(error, "ExecutionAlreadyExists")) throw error;
    return { executionArn: executionArnOf(stateMachineArn, name), created: false };
  }
}
