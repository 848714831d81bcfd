import {
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  type SFNClient,
} from "@aws-sdk/client-sfn";

/** Waits for the first execution of a machine whose name contains `needle` to end. */
export async function waitForExecution(
  sfn: SFNClient,
  stateMachineArn: string,
  needle: string,
  timeoutMs: number,
): Promise<{ executionArn: string; status: string }> {
  const deadline = Date.now() + timeoutMs;
  let running: string | undefined;
  while (Date.now() < deadline) {
    const { executions = [] } = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn, maxResults: 1000 }),
    );
    const hit = executions.find((e) => e.name?.includes(needle));
    if (hit && hit.status !== "RUNNING") return { executionArn: hit.executionArn!, status: hit.status! };
    running = hit?.executionArn;
    await new Promise((r) => setTimeout(r, 250));
  }
  // Where a stuck execution is, so a timeout says more than "it did not end".
  const where = running ? `; it is still running, last events: ${await lastEvents(sfn, running, 8)}` : "";
  throw new Error(
    `no execution of ${stateMachineArn} matching ${needle} ended within ${timeoutMs} ms${where}`,
  );
}

async function lastEvents(sfn: SFNClient, executionArn: string, count: number): Promise<string> {
  const events = await executionHistory(sfn, executionArn).catch(() => []);
  return events
    .slice(-count)
    .map((e) => {
      const state = e.stateEnteredEventDetails?.name ?? e.stateExitedEventDetails?.name;
      const error = e.taskFailedEventDetails?.error ?? e.executionFailedEventDetails?.error;
      return [e.type, state, error].filter(Boolean).join(" ");
    })
    .join(" → ");
}

export async function executionHistory(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        maxResults: 1000,
        nextToken,
        includeExecutionData: false,
      }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/**
 * What Step Functions bills for (Standard): a state transition per state entered, plus one per
 * retry of a failed task; and the Lambda invocations the execution made (every attempt).
 */
export function billedActivity(events: readonly HistoryEvent[]): {
  stateTransitions: number;
  lambdaInvocations: number;
} {
  const count = (test: (type: string) => boolean) => events.filter((e) => test(e.type ?? "")).length;
  const entered = count((t) => t.endsWith("StateEntered"));
  // Direct Lambda resources record LambdaFunctionScheduled; the lambda:invoke integration a TaskScheduled.
  const lambdaInvocations =
    count((t) => t === "LambdaFunctionScheduled") +
    events.filter((e) => e.type === "TaskScheduled" && e.taskScheduledEventDetails?.resourceType === "lambda")
      .length;
  const lambdaFailures = count((t) => t === "LambdaFunctionFailed" || t === "LambdaFunctionTimedOut");
  const taskFailures = count((t) => t === "TaskFailed" || t === "TaskTimedOut");
  // A failed attempt that the state retried shows as another Scheduled event in the same state.
  const stateTasks = count((t) => t === "TaskStateEntered");
  const attempts = lambdaInvocations + count((t) => t === "TaskScheduled");
  const retries = Math.max(0, Math.min(lambdaFailures + taskFailures, attempts - stateTasks));
  return { stateTransitions: entered + retries, lambdaInvocations };
}
