import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AssociateIamInstanceProfileCommand,
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateTagsCommand,
  DescribeAddressesCommand,
  DescribeIamInstanceProfileAssociationsCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  EC2Client,
  type Instance,
  ModifyInstanceAttributeCommand,
} from "@aws-sdk/client-ec2";
import { GetRolePolicyCommand, IAMClient, ListRolePoliciesCommand } from "@aws-sdk/client-iam";
import { beforeAll, describe, expect, it } from "vitest";
import { getContainment } from "../../src/containment/aws/records.js";
import { revocationPolicyName } from "../../src/containment/aws/revocation.js";
import { TIMELINE_STEPS } from "../../src/containment/core/timeline.js";
import { releaseInstance } from "../../src/containment/workflow/release.js";
import { containState, useHarness } from "./support/fixtures.js";
import { runContainment, runStep, STEPS } from "./support/run-steps.js";

const h = useHarness();
let ec2: EC2Client;
let iam: IAMClient;
let autoScaling: AutoScalingClient;

beforeAll(() => {
  ec2 = new EC2Client(h.cloud.context.internalClientConfig);
  iam = new IAMClient(h.cloud.context.internalClientConfig);
  autoScaling = new AutoScalingClient(h.cloud.context.internalClientConfig);
});

async function describe1(instanceId: string): Promise<Instance> {
  const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return Reservations![0]!.Instances![0]!;
}

/** What a real instance of the fleet would have and moto's Auto Scaling does not give it. */
async function equip(instanceId: string, extras: { secondInterface?: boolean; elasticIp?: boolean }) {
  const instance = await describe1(instanceId);
  if (!instance.IamInstanceProfile) {
    await ec2.send(
      new AssociateIamInstanceProfileCommand({
        InstanceId: instanceId,
        IamInstanceProfile: { Name: h.fleet.instanceProfileName },
      }),
    );
  }
  if (extras.secondInterface) {
    const { NetworkInterface } = await ec2.send(
      new CreateNetworkInterfaceCommand({
        SubnetId: instance.SubnetId,
        Groups: [h.fleet.appSecurityGroupId],
      }),
    );
    await ec2.send(
      new AttachNetworkInterfaceCommand({
        InstanceId: instanceId,
        NetworkInterfaceId: NetworkInterface!.NetworkInterfaceId,
        DeviceIndex: 1,
      }),
    );
  }
  if (extras.elasticIp) {
    const { AllocationId } = await ec2.send(new AllocateAddressCommand({ Domain: "vpc" }));
    await ec2.send(new AssociateAddressCommand({ AllocationId, InstanceId: instanceId }));
  }
  return describe1(instanceId);
}

const lastSeq = () => h.cloud.context.callLog.since(0).at(-1)?.seq ?? 0;

describe("the contain steps on a grouped instance (two interfaces, an Elastic IP, a role)", () => {
  let target: string;
  let before: Instance;
  let finalState: Awaited<ReturnType<typeof runContainment>>;
  let callMark: number;
  let tapMark: number;
  const groupName = "web-frontend";

  beforeAll(async () => {
    target = h.fleet.groups.find((g) => g.name === groupName)!.instanceIds[0]!;
    before = await equip(target, { secondInterface: true, elasticIp: true });
    await h.drainNotifications();
    callMark = lastSeq();
    tapMark = h.tap.mark();
    finalState = await runContainment(h.deps, containState(target, { groupName }));
  });

  it("moves every interface first to the allow-all group, then to the no-rule group, before any other mutation", async () => {
    const isolation = finalState.results.isolate!;
    const enis = before.NetworkInterfaces!.map((eni) => eni.NetworkInterfaceId!).sort();
    expect(enis).toHaveLength(2);
    expect(isolation.interfaces.map((i) => i.networkInterfaceId).sort()).toEqual(enis);

    const vpc = before.VpcId!;
    const allowAll = isolation.transitionGroupIds[vpc]!;
    const noRule = isolation.quarantineGroupIds[vpc]!;
    expect(allowAll).toMatch(/^sg-/);
    expect(noRule).toMatch(/^sg-/);
    expect(allowAll).not.toBe(noRule);

    const moves = h.tap.since(tapMark, { action: "ModifyNetworkInterfaceAttribute" });
    for (const eni of enis) {
      const sequence = moves
        .filter((m) => m.params["NetworkInterfaceId"] === eni)
        .map((m) => m.params["SecurityGroupId.1"]);
      expect(sequence).toEqual([allowAll, noRule]);
    }
    // All interfaces reach allow-all before any reaches no-rule.
    const lastAllowAll = Math.max(
      ...moves.filter((m) => m.params["SecurityGroupId.1"] === allowAll).map((m) => m.seq),
    );
    const firstNoRule = Math.min(
      ...moves.filter((m) => m.params["SecurityGroupId.1"] === noRule).map((m) => m.seq),
    );
    expect(lastAllowAll).toBeLessThan(firstNoRule);

    // Before the last no-rule move, the only mutations were the isolation groups' creation and
    // the audit record of the original state.
    const isolatedSeq = Math.max(...moves.map((m) => m.seq));
    const earlier = h.tap.since(tapMark).filter((c) => c.seq < isolatedSeq && isMutating(c.action));
    const allowed = new Set([
      "CreateSecurityGroup",
      "AuthorizeSecurityGroupIngress",
      "AuthorizeSecurityGroupEgress",
      "RevokeSecurityGroupEgress",
      "ModifyNetworkInterfaceAttribute",
      "PutItem",
    ]);
    expect(earlier.filter((c) => !allowed.has(c.action))).toEqual([]);
    expect(
      earlier
        .filter((c) => c.action === "PutItem")
        .every((c) => c.json["TableName"] === h.resources.auditTable),
    ).toBe(true);

    const after = await describe1(target);
    for (const eni of after.NetworkInterfaces!) expect(eni.Groups!.map((g) => g.GroupId)).toEqual([noRule]);
    expect(after.Tags).toContainEqual({ Key: "phoenix:quarantine", Value: finalState.containment.findingId });
  });

  it("records the original groups, profile and tags before the first move", async () => {
    const history = await h.deps.audit.history(`instance/${target}`);
    const original = history.find((r) => r.action === "record-original");
    expect(original?.details?.["profileArn"]).toContain(h.fleet.instanceProfileName);
    const interfaces = original?.details?.["interfaces"] as { groupIds: string[] }[];
    expect(interfaces).toHaveLength(2);
    for (const eni of interfaces) expect(eni.groupIds).toEqual([h.fleet.appSecurityGroupId]);
    const putOriginal = h.tap
      .since(tapMark, { action: "PutItem" })
      .find((c) => JSON.stringify(c.json).includes("record-original"));
    const firstMove = h.tap.since(tapMark, { action: "ModifyNetworkInterfaceAttribute" })[0];
    expect(putOriginal!.seq).toBeLessThan(firstMove!.seq);
  });

  it("hardens the instance: termination protection, shutdown stops, volumes kept", async () => {
    const history = await h.deps.audit.history(`instance/${target}`);
    const changed = history.find((r) => r.action === "harden")?.details?.["changed"] as string[];
    expect(changed).toEqual(expect.arrayContaining(["termination-protection", "keep-volumes"]));
    const original = history.find((r) => r.action === "record-original-attributes")?.details;
    expect(original).toMatchObject({
      disableApiTermination: false,
      deleteOnTermination: { "/dev/sda1": true },
    });
    // moto launches with shutdown behaviour stop already: then it is left as it is.
    expect(changed.includes("shutdown-behavior-stop")).toBe(original?.["shutdownBehavior"] !== "stop");
    // The instance is terminated now; its volume survived because DeleteOnTermination was cleared.
    const volumeIds = finalState.results.evidence!.volumeIds;
    const { Volumes = [] } = await ec2.send(new DescribeVolumesCommand({ VolumeIds: volumeIds }));
    expect(Volumes.map((v) => v.VolumeId).sort()).toEqual([...volumeIds].sort());
  });

  it("swaps the profile, denies the instance's earlier credentials on its role only, and drops its Elastic IP", async () => {
    const revoke = finalState.results.revoke!;
    expect(revoke.roleName).toBe(h.fleet.roleName);
    // One revocation policy per role (src/containment/aws/revocation.ts), listing this instance.
    const policyName = revocationPolicyName(h.deps.resources.stateTable);
    expect(revoke.denyPolicyName).toBe(policyName);
    const { PolicyNames = [] } = await iam.send(new ListRolePoliciesCommand({ RoleName: h.fleet.roleName }));
    expect(PolicyNames).toContain(policyName);
    const { PolicyDocument } = await iam.send(
      new GetRolePolicyCommand({ RoleName: h.fleet.roleName, PolicyName: policyName }),
    );
    const document = JSON.parse(decodeURIComponent(PolicyDocument!));
    const statement = document.Statement[0];
    expect(statement.Effect).toBe("Deny");
    expect([statement.Condition.StringEquals["ec2:SourceInstanceARN"]].flat()).toContain(
      `arn:aws:ec2:us-east-1:123456789012:instance/${target}`,
    );
    expect(statement.Condition.DateLessThan["aws:TokenIssueTime"] >= revoke.tokensIssuedBefore!).toBe(true);
    expect(Date.parse(revoke.tokensIssuedBefore!)).toBeGreaterThanOrEqual(
      Date.parse(revoke.swapConfirmedAt!),
    );
    expect(Date.parse(revoke.tokensIssuedBefore!)).toBeGreaterThanOrEqual(
      Date.parse(finalState.results.isolate!.isolatedAt),
    );

    expect(revoke.disassociatedAddresses).toHaveLength(1);
    const { Addresses = [] } = await ec2.send(
      new DescribeAddressesCommand({ PublicIps: revoke.disassociatedAddresses }),
    );
    expect(Addresses[0]?.AssociationId).toBeUndefined();
    // The profile swap happened before the terminate; the audit says from what to what.
    const history = await h.deps.audit.history(`instance/${target}`);
    const profile = history.find((r) => r.action === "revoke-credentials")?.details?.["profile"] as {
      from: string;
      to: string;
    };
    expect(profile.from).toContain(h.fleet.instanceProfileName);
    expect(profile.to).toContain("phoenix-quarantine");
  });

  it("snapshots every volume, tagged with the finding, and waits for completion", async () => {
    const { Snapshots = [] } = await ec2.send(
      new DescribeSnapshotsCommand({
        Filters: [{ Name: "tag:phoenix:finding", Values: [finalState.containment.findingId] }],
      }),
    );
    const volumes = before.BlockDeviceMappings!.map((m) => m.Ebs!.VolumeId!).sort();
    expect(Snapshots.map((s) => s.VolumeId).sort()).toEqual(volumes);
    expect(Snapshots.every((s) => s.State === "completed")).toBe(true);
    expect(finalState.results.evidenceStatus?.complete).toBe(true);
  });

  it("detaches without decrementing, so the group launches a replacement and is whole again", async () => {
    const detaches = h.tap.since(tapMark, { action: "DetachInstances" });
    expect(detaches).toHaveLength(1);
    expect(detaches[0]!.params["ShouldDecrementDesiredCapacity"]).toBe("false");
    const { AutoScalingGroups = [] } = await autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
    );
    const group = AutoScalingGroups[0]!;
    const healthy = group.Instances!.filter(
      (i) => i.LifecycleState === "InService" && i.HealthStatus === "Healthy",
    );
    expect(healthy).toHaveLength(group.DesiredCapacity!);
    expect(healthy.map((i) => i.InstanceId)).not.toContain(target);
    const original = h.fleet.groups.find((g) => g.name === groupName)!.instanceIds;
    expect(healthy.some((i) => !original.includes(i.InstanceId!))).toBe(true);
  });

  it("detaches once hardened and its credentials revoked, before the evidence steps, so the group cannot terminate it meanwhile", async () => {
    // Termination protection does not bind Auto Scaling: until the instance leaves its group,
    // a refresh, a scale-in or a failed load-balancer health check could terminate it.
    const mutations = h.tap.mutationsSince(tapMark);
    const index = (action: string) => mutations.findIndex((c) => c.action === action);
    const protectedAt = mutations.findIndex(
      (c) => c.action === "ModifyInstanceAttribute" && "DisableApiTermination.Value" in c.params,
    );
    expect(protectedAt).toBeGreaterThanOrEqual(0);
    expect(index("DetachInstances")).toBeGreaterThan(protectedAt);
    expect(index("DetachInstances")).toBeGreaterThan(index("ReplaceIamInstanceProfileAssociation"));
    expect(index("DetachInstances")).toBeLessThan(index("CreateSnapshot"));
  });

  it("terminates the instance only after the evidence and the replacement, lifting protection just before", async () => {
    expect((await describe1(target)).State?.Name).toBe("terminated");
    const mutations = h.cloud.context.callLog.since(callMark).filter((c) => c.mutating && c.status < 300);
    const index = (action: string) => mutations.findIndex((c) => c.action === action);
    expect(index("TerminateInstances")).toBeGreaterThan(index("CreateSnapshot"));
    expect(index("TerminateInstances")).toBeGreaterThan(index("DetachInstances"));
    const terminateAt = index("TerminateInstances");
    expect(mutations[terminateAt - 1]?.action).toBe("ModifyInstanceAttribute");
  });

  it("keeps the whole timeline in the audit trail, and tells people", async () => {
    const history = await h.deps.audit.history(`instance/${target}`);
    const outcome = history.find((r) => r.action === "contain");
    expect(outcome?.outcome).toBe("ok");
    const timeline = outcome?.details?.["timeline"] as {
      entries: { step: string; sinceFindingMs: number }[];
    };
    expect(timeline.entries.map((e) => e.step)).toEqual([...TIMELINE_STEPS]);
    expect(timeline.entries.every((e) => e.sinceFindingMs >= 0)).toBe(true);
    expect(history.map((r) => r.action)).toEqual(
      expect.arrayContaining([
        "record-original",
        "isolate",
        "record-original-attributes",
        "harden",
        "revoke-credentials",
        "snapshot",
        "evidence-complete",
        "detach",
        "replacement-healthy",
        "dispose",
        "contain",
      ]),
    );
    const notes = await h.drainNotifications();
    expect(notes.map((n) => n.subject)).toContain(`Contained ${target} (UnauthorizedAccess:EC2/TorClient)`);
    expect(notes.find((n) => n.subject.startsWith("Contained"))?.message).toContain("replacement healthy");
  });
});

describe("a step run again (a retry) does nothing twice", () => {
  it("makes no AWS mutation on the second run of any step", async () => {
    const target = h.fleet.groups.find((g) => g.name === "api")!.instanceIds[0]!;
    await equip(target, { elasticIp: true });
    // With the memory-capture hook, which must not be sent twice either.
    const deps = h.withPolicy({ containment: { memoryCaptureDocument: "Phoenix-CaptureMemory" } });
    let state = containState(target, { groupName: "api" });
    const order = [
      "isolate",
      "harden",
      "revoke",
      "replace",
      "evidence",
      "evidenceStatus",
      "replacementStatus",
      "dispose",
      "report",
    ] as const;
    const firstRun: Record<string, string[]> = {};
    for (const name of order) {
      const mark = lastSeq();
      const next = await runStep(deps, state, name);
      firstRun[name] = awsMutations(mark);
      // The retry sees the same input as the first attempt did.
      const retryMark = lastSeq();
      await STEPS[name](deps, state);
      expect({ step: name, mutations: awsMutations(retryMark) }).toEqual({ step: name, mutations: [] });
      state = next;
    }
    expect(firstRun["isolate"]).toContain("ModifyNetworkInterfaceAttribute");
    expect(firstRun["evidence"]).toEqual(expect.arrayContaining(["SendCommand", "CreateSnapshot"]));
    expect(state.results.evidence?.memoryCaptureCommandId).toBeDefined();
    expect(firstRun["replace"]).toEqual(["DetachInstances"]);
    expect(firstRun["dispose"]).toEqual(["ModifyInstanceAttribute", "TerminateInstances"]);
    // The outcome was notified once, not once per attempt.
    const notes = await h.drainNotifications();
    expect(notes.filter((n) => n.subject.startsWith(`Contained ${target}`))).toHaveLength(1);
  });
});

describe("a containment whose image could not be traced", () => {
  it("goes on, and says in its outcome, its audit trail and its notification that its image may not be counted", async () => {
    const target = h.fleet.groups.find((g) => g.name === "web-frontend")!.instanceIds[1]!;
    await h.drainNotifications();
    const { ImageId } = await describe1(target);
    const state = await runContainment(h.deps, containState(target, { groupName: "web-frontend" }), {
      traceFails: {
        Error: "ThrottlingException",
        Cause: JSON.stringify({ errorMessage: "Rate exceeded" }),
      },
    });
    expect(state.results.report).toBeDefined();
    expect(state.results.traceImage).toBeUndefined();

    const history = await h.deps.audit.history(`instance/${target}`);
    const outcome = history.find((r) => r.action === "contain");
    expect(outcome?.outcome).toBe("ok");
    expect(outcome?.reason).toContain("tracing its image failed (ThrottlingException: Rate exceeded)");
    expect(outcome?.details?.["traceError"]).toMatchObject({ Error: "ThrottlingException" });
    const traced = history.filter((r) => r.action === "trace-image");
    expect(traced).toHaveLength(1);
    expect(traced[0]).toMatchObject({ outcome: "failed", execution: state.containment.containmentId });
    expect(traced[0]?.reason).toMatch(/may not count toward containment\.poisonedImage/);
    // Nothing was recorded under the image: this containment is not one of its count.
    const underImage = await h.deps.audit.history(`image/${ImageId}`);
    expect(underImage.filter((r) => r.execution === state.containment.containmentId)).toEqual([]);

    const notes = await h.drainNotifications();
    const told = notes.find((n) => n.subject.startsWith(`Contained ${target}`));
    expect(told?.message).toContain("tracing its image failed");

    // The report run again (a retry) adds no second record.
    await STEPS.report(h.deps, state);
    const again = await h.deps.audit.history(`instance/${target}`);
    expect(again.filter((r) => r.action === "trace-image")).toHaveLength(1);
  });
});

describe("an instance its group terminated before the detach", () => {
  it("fails the replace step as gone, naming the group, and detaches nothing", async () => {
    const target = h.fleet.groups.find((g) => g.name === "web-backend")!.instanceIds[0]!;
    // As a refresh, a scale-in or a health replacement would, termination protection or not.
    await ec2.send(
      new ModifyInstanceAttributeCommand({ InstanceId: target, DisableApiTermination: { Value: true } }),
    );
    await autoScaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: target,
        ShouldDecrementDesiredCapacity: false,
      }),
    );
    const mark = h.tap.mark();
    await expect(
      STEPS.replace(h.deps, containState(target, { groupName: "web-backend" })),
    ).rejects.toMatchObject({
      name: "Phoenix.InstanceGone",
      message: expect.stringMatching(
        /left its Auto Scaling group web-backend and is (terminated|shutting-down)/,
      ),
    });
    expect(h.tap.since(mark, { action: "DetachInstances" })).toEqual([]);
  });
});

describe("a protected instance started by hand", () => {
  it("is refused before anything changes, unless a person approved it", async () => {
    const target = h.fleet.groups.find((g) => g.name === "web-backend")!.instanceIds[1]!;
    await ec2.send(
      new CreateTagsCommand({ Resources: [target], Tags: [{ Key: "phoenix:protected", Value: "true" }] }),
    );
    const mark = h.tap.mark();
    await expect(STEPS.isolate(h.deps, containState(target))).rejects.toMatchObject({
      name: "Phoenix.Refused",
      message: expect.stringMatching(/phoenix:protected=true/),
    });
    expect(h.tap.since(mark).filter((c) => isMutating(c.action))).toEqual([]);
  });
});

describe("a standalone instance, then its release", () => {
  let target: string;
  let state: Awaited<ReturnType<typeof runContainment>>;
  let tapMark: number;

  beforeAll(async () => {
    target = h.fleet.standaloneInstanceId;
    await h.drainNotifications();
    tapMark = h.tap.mark();
    const initial = containState(target);
    // The record release looks for, as the intake would have opened it.
    await h.deps.clients.dynamo.send(
      new (await import("@aws-sdk/lib-dynamodb")).PutCommand({
        TableName: h.resources.stateTable,
        Item: {
          pk: `instance#123456789012#${target}`,
          sk: "containment",
          accountId: "123456789012",
          instanceId: target,
          status: "running",
          generation: 1,
          epoch: initial.containment.findingId,
          executionName: initial.containment.containmentId,
          executionInput: initial.containment,
          openedAt: new Date().toISOString(),
          openedBy: "test",
          findings: {},
          deliveries: 1,
          lastSeenAt: new Date().toISOString(),
        },
      }),
    );
    state = await runContainment(h.deps, initial);
  });

  it("isolates in four sequential EC2 calls when the groups exist", () => {
    const calls = h.tap.since(tapMark).filter((c) => c.service === "ec2");
    const lastMove = calls.findLastIndex((c) => c.action === "ModifyNetworkInterfaceAttribute");
    expect(calls.slice(0, lastMove + 1).map((c) => c.action)).toEqual([
      "DescribeInstances",
      "DescribeSecurityGroups",
      "ModifyNetworkInterfaceAttribute",
      "ModifyNetworkInterfaceAttribute",
    ]);
  });

  it("keeps it isolated and running, does not replace it, and says so", async () => {
    expect(state.results.replace).toEqual({ replaced: false });
    expect(state.results.dispose?.disposition).toBe("kept");
    expect(h.tap.since(tapMark, { action: "DetachInstances" })).toHaveLength(0);
    expect(h.tap.since(tapMark, { action: "TerminateInstances" })).toHaveLength(0);
    const instance = await describe1(target);
    expect(instance.State?.Name).toBe("running");
    expect(instance.NetworkInterfaces![0]!.Groups!.map((g) => g.GroupId)).toEqual(
      Object.values(state.results.isolate!.quarantineGroupIds),
    );
    const notes = await h.drainNotifications();
    expect(notes.map((n) => n.subject)).toContain(`Not replaced: ${target} is standalone`);
  });

  it("is released by a person: groups, profile, tags and attributes restored, deny removed", async () => {
    const result = await releaseInstance(h.deps, target, "user:alice");
    expect(result.instanceExists).toBe(true);
    const instance = await describe1(target);
    expect(instance.NetworkInterfaces![0]!.Groups!.map((g) => g.GroupId)).toEqual([
      h.fleet.appSecurityGroupId,
    ]);
    expect(instance.Tags?.some((t) => t.Key === "phoenix:quarantine")).toBe(false);
    const { IamInstanceProfileAssociations = [] } = await ec2.send(
      new DescribeIamInstanceProfileAssociationsCommand({
        Filters: [{ Name: "instance-id", Values: [target] }],
      }),
    );
    expect(IamInstanceProfileAssociations[0]?.IamInstanceProfile?.Arn).toContain(h.fleet.instanceProfileName);
    const termination = await ec2.send(
      new DescribeInstanceAttributeCommand({ InstanceId: target, Attribute: "disableApiTermination" }),
    );
    expect(termination.DisableApiTermination?.Value).toBe(false);
    // The instance is off its role's revocation policy (which goes once it lists no one).
    const policyName = revocationPolicyName(h.deps.resources.stateTable);
    const { PolicyNames = [] } = await iam.send(new ListRolePoliciesCommand({ RoleName: h.fleet.roleName }));
    if (PolicyNames.includes(policyName)) {
      const { PolicyDocument } = await iam.send(
        new GetRolePolicyCommand({ RoleName: h.fleet.roleName, PolicyName: policyName }),
      );
      expect(decodeURIComponent(PolicyDocument!)).not.toContain(`instance/${target}"`);
    }
    expect((await getContainment(h.deps, "123456789012", target))?.status).toBe("released");
    const history = await h.deps.audit.history(`instance/${target}`);
    expect(history.find((r) => r.action === "release")?.actor).toBe("user:alice");
    // Releasing twice is refused with a reason, not repeated.
    await expect(releaseInstance(h.deps, target, "user:alice")).rejects.toThrow(/already released/);
  });
});

function isMutating(action: string): boolean {
  return !/^(Describe|Get|List|Query|Scan)/.test(action);
}

function awsMutations(sinceSeq: number): string[] {
  return h.cloud.context.callLog
    .since(sinceSeq)
    .filter((c) => c.mutating && c.status < 300 && c.service !== "dynamodb")
    .map((c) => c.action);
}
