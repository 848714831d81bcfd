import { EC2Client } from "@aws-sdk/client-ec2";
import { DescribeExecutionCommand, ListStateMachinesCommand, SFNClient } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import type { AuditRecord } from "../../src/audit/audit.js";
import { type CliCloud, phoenix, startCliCloud } from "../cli/support.js";

/**
 * One clock on the local cloud: the audit records Phoenix's handlers write during an execution
 * carry the simulated time that the local Step Functions engine stamps the execution with, so
 * they fall within its start and stop. The cloud runs at 60×: a minute after it started, the
 * real clock is an hour behind the simulated one.
 */
let world: CliCloud;
beforeAll(async () => {
  world = await startCliCloud(60);
});
afterAll(() => world?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the local cloud's clock", () => {
  it("stamps the audit trail of an execution within the execution's start and stop", async () => {
    const imageId = await registerImage(new EC2Client(world.backstage), {
      family: "api",
      name: "clock-api-v2",
    });
    const started = await phoenix(["rollout", "--image", imageId, "--json"], world.env);
    expect(started.code, started.stderr).toBe(0);
    const name = started.json<{ execution: string }>().execution;

    const sfn = new SFNClient({
      endpoint: world.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    const { stateMachines = [] } = await sfn.send(new ListStateMachinesCommand({}));
    const machine = stateMachines.find((m) => m.name?.includes("rollout"))!;
    const executionArn = `${machine.stateMachineArn!.replace(":stateMachine:", ":execution:")}:${name}`;
    const deadline = Date.now() + 60_000;
    let execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    while (execution.status === "RUNNING") {
      if (Date.now() > deadline) throw new Error(`${name} still running`);
      await sleep(200);
      execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    }
    expect(execution.status, execution.cause).toBe("SUCCEEDED");

    const trail = await phoenix(["audit", "--image", imageId, "--json"], world.env);
    const records = trail
      .json<{ records: AuditRecord[] }>()
      .records.filter((r) => r.execution === executionArn);
    expect(records.length).toBeGreaterThan(0);
    const startMs = execution.startDate!.getTime();
    const stopMs = execution.stopDate!.getTime();
    for (const record of records) {
      const at = Date.parse(record.at);
      expect(at, `${record.action} at ${record.at}`).toBeGreaterThanOrEqual(startMs);
      expect(at, `${record.action} at ${record.at}`).toBeLessThanOrEqual(stopMs);
    }
  });
});
