import { startNamedExecution } from "../../aws/executions.js";
import type { PhoenixDeps } from "../../deps.js";
import type { ContainState } from "../core/types.js";
import { type ContainmentItem, markRunning } from "./records.js";

/**
 * Starts the contain workflow of a record under its deterministic name, with the input stored in
 * the record: exactly one execution exists per containment, however often this is called.
 */
export async function startContainment(deps: PhoenixDeps, item: ContainmentItem): Promise<string> {
  const input: ContainState = { containment: item.executionInput, results: {} };
  const { executionArn } = await startNamedExecution(deps.clients.sfn, {
    stateMachineArn: deps.resources.containStateMachineArn,
    name: item.executionName,
    input,
  });
  await markRunning(deps, item, executionArn);
  return executionArn;
}
