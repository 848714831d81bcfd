import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  isolateRecordKey,
  type OriginalState,
  originalRecordKey,
} from "../../src/containment/aws/isolation.js";
import { type IsolationGroups, isolationGroupsFor } from "../../src/containment/aws/isolation-groups.js";
import { getContainment } from "../../src/containment/aws/records.js";
import type { ContainState, IsolateResult } from "../../src/containment/core/types.js";
import { ASG_NAME_TAG } from "../../src/containment/workflow/intake.js";
import { ACCOUNT, findingDelivery, guardDutyEvent, TOR_CLIENT, useHarness } from "./support/fixtures.js";
import { runStep } from "./support/run-steps.js";

// The intake cuts the network as soon as it opens a containment, before the workflow runs; the
// workflow's isolate step then finds the work done, or does it when the intake could not.

const h = useHarness({ policy: { containment: { allowSampleFindings: true } } });
let ec2: EC2Client;
let groups: IsolationGroups;

beforeAll(async () => {
  ec2 = new EC2Client(h.cloud.context.internalClientConfig);
  // An earlier containment in the VPC made the two isolation groups.
  groups = await isolationGroupsFor(h.deps, [h.fleet.vpcId], { execution: "setup", findingId: "setup" });
});
beforeEach(async () => {
  h.cloud.context.faults.configure({ seed: 1, rules: [] });
  await h.drainNotifications();
});

/** A finding as GuardDuty writes it for an instance, with the instance's tags copied in. */
function findingFor(instanceId: string, findingId: string, tags: Record<string, string> = {}) {
  const event = guardDutyEvent(TOR_CLIENT, { instanceId, findingId }) as {
    detail: { resource: { instanceDetails: Record<string, unknown> } };
  };
  event.detail.resource.instanceDetails["tags"] = Object.entries(tags).map(([key, value]) => ({
    key,
    value,
  }));
  return event;
}

async function interfaceGroups(instanceId: string): Promise<string[][]> {
  const { Reservations = [] } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return (Reservations[0]?.Instances?.[0]?.NetworkInterfaces ?? []).map((eni) =>
    (eni.Groups ?? []).map((g) => g.GroupId!),
  );
}

const quarantine = () => groups.quarantine[h.fleet.vpcId]!;
const transition = () => groups.transition[h.fleet.vpcId]!;

describe("isolation at intake", () => {
  it("cuts every interface before the workflow runs, and the isolate step only confirms it", async () => {
    const group = h.fleet.groups[0]!;
    const instanceId = group.instanceIds[0]!;
    const before = await interfaceGroups(instanceId);
    expect(before.flat()).not.toContain(quarantine());

    const m = h.tap.mark();
    const result = await h.onFinding([findingFor(instanceId, "intake0001", { [ASG_NAME_TAG]: group.name })]);
    expect(result.batchItemFailures).toEqual([]);
    // Isolated when on-finding returns: every interface in the no-rule group alone.
    expect(await interfaceGroups(instanceId)).toEqual(before.map(() => [quarantine()]));
    // Through the allow-all group first, interface by interface (tracked flows become untracked).
    const moves = h.tap
      .since(m, { action: "ModifyNetworkInterfaceAttribute" })
      .map((c) => c.params["SecurityGroupId.1"]);
    expect(moves).toEqual([...before.map(() => transition()), ...before.map(() => quarantine())]);
    // The group was asked for by the name the finding carried, not after a second lookup.
    expect(h.tap.since(m, { action: "DescribeAutoScalingGroups" })).toHaveLength(1);

    const record = await getContainment(h.deps, ACCOUNT, instanceId);
    expect(record).toMatchObject({ status: "running", groupName: group.name });
    const history = await h.deps.audit.history(`instance/${instanceId}`);
    const original = history.find((r) => r.key === originalRecordKey(record!.executionName));
    expect(original?.actor).toBe("phoenix:on-finding");
    expect((original!.details as unknown as OriginalState).interfaces.map((eni) => eni.groupIds)).toEqual(
      before,
    );
    const isolated = history.find((r) => r.key === isolateRecordKey(record!.executionName));
    expect(isolated).toMatchObject({ outcome: "ok", actor: "phoenix:on-finding", details: { by: "intake" } });
    // Audited before the workflow was asked to start.
    const actions = history.map((r) => r.action);
    expect(actions.indexOf("isolate")).toBeLessThan(actions.indexOf("start-containment"));

    const afterIntake = h.tap.mark();
    const state: ContainState = { containment: record!.executionInput, results: {} };
    const step = (await runStep(h.deps, state, "isolate")).results.isolate as IsolateResult;
    expect(h.tap.since(afterIntake, { action: "ModifyNetworkInterfaceAttribute" })).toEqual([]);
    expect(h.tap.since(afterIntake, { action: "CreateTags" })).toEqual([]);
    // The step reports the intake's time and the groups release gives back, not the isolation ones.
    expect(step.isolatedAt).toBe(isolated!.details!["isolatedAt"]);
    expect(step.interfaces.map((eni) => eni.originalGroupIds)).toEqual(before);
  });

  it("finds the instance's real group when the finding's group tag is stale", async () => {
    const [real, other] = [h.fleet.groups[1]!, h.fleet.groups[0]!];
    const instanceId = real.instanceIds[0]!;
    const before = await interfaceGroups(instanceId);
    const m = h.tap.mark();
    await h.onFinding([findingFor(instanceId, "intake0002", { [ASG_NAME_TAG]: other.name })]);
    const record = await getContainment(h.deps, ACCOUNT, instanceId);
    expect(record?.groupName).toBe(real.name);
    // Asked for the suggested group, then for the one Auto Scaling says the instance is in.
    const asked = h.tap.since(m, { action: "DescribeAutoScalingGroups" });
    expect(asked.map((c) => c.params["AutoScalingGroupNames.member.1"])).toEqual([other.name, real.name]);
    expect(await interfaceGroups(instanceId)).toEqual(before.map(() => [quarantine()]));
  });

  it("cuts nothing for a held containment", async () => {
    const instanceId = h.fleet.groups[2]!.instanceIds[0]!;
    await ec2.send(
      new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: "phoenix:protected", Value: "true" }] }),
    );
    const before = await interfaceGroups(instanceId);
    const m = h.tap.mark();
    await h.onFinding([findingFor(instanceId, "intake0003")]);
    expect((await getContainment(h.deps, ACCOUNT, instanceId))?.status).toBe("held");
    expect(h.tap.since(m, { action: "ModifyNetworkInterfaceAttribute" })).toEqual([]);
    expect(await interfaceGroups(instanceId)).toEqual(before);
    // No original is recorded for a containment that did not start (approval records its own).
    const history = await h.deps.audit.history(`instance/${instanceId}`);
    expect(history.filter((r) => r.action === "record-original")).toEqual([]);
  });

  it("leaves the cut to the isolate step when the intake's attempt fails, and says so", async () => {
    const instanceId = h.fleet.standaloneInstanceId;
    const before = await interfaceGroups(instanceId);
    h.cloud.context.faults.configure({
      seed: 3,
      rules: [{ service: "ec2", action: "ModifyNetworkInterfaceAttribute", errorRate: 1 }],
    });
    const result = await h.onFinding([findingFor(instanceId, "intake0004")]);
    h.cloud.context.faults.configure({ seed: 1, rules: [] });
    // The finding is taken (not redelivered): the workflow started and will isolate.
    expect(result.batchItemFailures).toEqual([]);
    const record = await getContainment(h.deps, ACCOUNT, instanceId);
    expect(record?.status).toBe("running");
    expect(await interfaceGroups(instanceId)).toEqual(before);
    const history = await h.deps.audit.history(`instance/${instanceId}`);
    const failed = history.find((r) => r.action === "isolate" && r.outcome === "failed");
    expect(failed?.reason).toMatch(/could not cut the network .*isolate step will/);

    const state: ContainState = { containment: record!.executionInput, results: {} };
    const step = (await runStep(h.deps, state, "isolate")).results.isolate as IsolateResult;
    expect(await interfaceGroups(instanceId)).toEqual(before.map(() => [quarantine()]));
    expect(step.interfaces.map((eni) => eni.originalGroupIds)).toEqual(before);
  });

  it("never guesses a group it could not describe: the finding is redelivered, nothing is held", async () => {
    const group = h.fleet.groups[0]!;
    const instanceId = group.instanceIds[1]!;
    h.cloud.context.faults.configure({
      seed: 5,
      rules: [{ service: "autoscaling", action: "DescribeAutoScalingGroups", errorRate: 1 }],
    });
    const result = await h.onFinding([findingFor(instanceId, "intake0005", { [ASG_NAME_TAG]: group.name })]);
    h.cloud.context.faults.configure({ seed: 1, rules: [] });
    expect(result.batchItemFailures).toHaveLength(1);
    expect(await getContainment(h.deps, ACCOUNT, instanceId)).toBeUndefined();
  });

  it("records what the step changes after the intake's cut under a key of its own", async () => {
    const instanceId = h.fleet.groups[1]!.instanceIds[1]!;
    // Its group already has one containment: a budget that allows a second.
    const roomy = h.withPolicy({
      containment: { allowSampleFindings: true, budgets: { perGroupMaxCount: 5, perGroupMaxPercent: 100 } },
    });
    await findingDelivery(roomy)([findingFor(instanceId, "intake0006")]);
    const record = await getContainment(h.deps, ACCOUNT, instanceId);
    expect(record?.status).toBe("running");
    // Someone removes the mark between the intake and the step: the step writes it again.
    await ec2.send(new DeleteTagsCommand({ Resources: [instanceId], Tags: [{ Key: "phoenix:quarantine" }] }));
    const m = h.tap.mark();
    await runStep(h.deps, { containment: record!.executionInput, results: {} }, "isolate");
    expect(h.tap.since(m, { action: "CreateTags" })).toHaveLength(1);
    const keys = (await h.deps.audit.history(`instance/${instanceId}`)).map((r) => r.key);
    expect(keys).toContain(isolateRecordKey(record!.executionName));
    expect(keys).toContain(`${isolateRecordKey(record!.executionName)}#step`);
  });
});
