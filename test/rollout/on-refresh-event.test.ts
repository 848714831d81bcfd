import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createOnRefreshEventHandler } from "../../functions/on-refresh-event.js";
import type { LocalCloud } from "../../local/cloud.js";
import { deploymentOf } from "../../local/deployment/index.js";
import type { PhoenixDeps } from "../../src/deps.js";
import { recordPhoenixRefresh } from "../../src/rollout/aws/refresh.js";
import { startDeployedCloud } from "../support/phoenix.js";
import { sampleEvents } from "../support/sample-events.js";
import { lambdaContext, lastSeq, mutatingCallsSince, quietLogger } from "./support.js";

let cloud: LocalCloud;
let deps: PhoenixDeps;
const logger = quietLogger();
let handle: (event: unknown) => Promise<unknown>;
const samples = sampleEvents("instance-refresh");

beforeAll(async () => {
  ({ cloud, deps } = await startDeployedCloud());
  const handler = createOnRefreshEventHandler(deploymentOf(cloud).depsOf("on-refresh-event"), { logger });
  handle = (event) => handler(event, lambdaContext("on-refresh-event"));
});
afterAll(async () => {
  await cloud?.stop();
});

describe("on-refresh-event", () => {
  it.each(Object.keys(samples))(
    "reads the sample %s and leaves a refresh Phoenix did not start alone",
    async (file) => {
      const seq = lastSeq(cloud);
      const result = await handle(samples[file]);
      expect(result).toMatchObject({
        status: "observed",
        phoenix: false,
        group: (samples[file]!.detail as { AutoScalingGroupName: string }).AutoScalingGroupName,
      });
      expect(mutatingCallsSince(cloud, seq)).toEqual([]);
    },
  );

  it("records the events of a refresh Phoenix started in the group's audit trail", async () => {
    const sample = structuredClone(samples["docs-failed.json"]!) as { detail: Record<string, string> };
    await recordPhoenixRefresh(deps, {
      group: "my-auto-scaling-group",
      refreshId: sample.detail.InstanceRefreshId!,
      imageId: "ami-0123456789abcdef0",
      execution: "exec-1",
      launchTemplateId: "lt-1",
      version: "2",
      startedAt: new Date().toISOString(),
    });
    expect(await handle(sample)).toMatchObject({ status: "observed", phoenix: true, event: "Failed" });
    await handle(sample); // a redelivery leaves one record
    const records = (await deps.audit.history("group/my-auto-scaling-group")).filter(
      (r) => r.action === "refresh-event",
    );
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      execution: "exec-1",
      imageId: "ami-0123456789abcdef0",
      reason: expect.stringContaining("Failed"),
    });
  });

  it("rejects what is not an instance refresh event, doing nothing", async () => {
    const error = vi.spyOn(logger, "error");
    const seq = lastSeq(cloud);
    const wrong = { ...samples["docs-started.json"], source: "aws.ec2" };
    expect(await handle(wrong)).toMatchObject({
      status: "rejected",
      error: expect.stringContaining("source"),
    });
    expect(await handle({ ...samples["docs-started.json"], detail: {} })).toMatchObject({
      status: "rejected",
    });
    expect(await handle(null)).toMatchObject({ status: "rejected" });
    expect(error).toHaveBeenCalledTimes(3);
    expect(cloud.context.callLog.since(seq)).toEqual([]);
  });
});
