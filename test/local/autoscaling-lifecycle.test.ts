import { readFileSync } from "node:fs";
import {
  CompleteLifecycleActionCommand,
  DeleteLifecycleHookCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  DetachInstancesCommand,
  PutLifecycleHookCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetDesiredCapacityCommand,
  StartInstanceRefreshCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awsCli } from "../support/cloud.js";
import {
  type BusEnvelope,
  createGroup,
  group,
  type Harness,
  imagesOf,
  sleep,
  startHarness,
  until,
  waitForEvent,
  waitForRefresh,
} from "./autoscaling-helpers.js";

/**
 * Lifecycle hooks on the local cloud, through the Auto Scaling API only (SDK and CLI): at 200×,
 * instances boot in 60 simulated seconds (0.3 s real).
 */
const SPEED = 200;
const GROUPS = [
  "lc-api",
  "lc-scale-out",
  "lc-abandon",
  "lc-timeout",
  "lc-heartbeat",
  "lc-terminate",
  "lc-scale-in",
  "lc-detach",
  "lc-created",
  "lc-refresh",
  "lc-cli",
];
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ speed: SPEED, bootSeconds: 60, observedGroups: GROUPS });
});
afterAll(async () => h?.stop());

const LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING";
const TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING";

const sample = (name: string) =>
  JSON.parse(
    readFileSync(new URL(`../../../shared/events/ec2-lifecycle/${name}`, import.meta.url), "utf8"),
  ) as BusEnvelope;

async function states(name: string): Promise<Map<string, string>> {
  const g = await group(h, name);
  return new Map((g.Instances ?? []).map((i) => [i.InstanceId!, i.LifecycleState!]));
}

const actionEvents = (groupName: string, type: "launch" | "terminate") =>
  h.events.filter(
    (e) =>
      e["detail-type"] === `EC2 Instance-${type} Lifecycle Action` &&
      e.detail.AutoScalingGroupName === groupName,
  );

async function putHook(
  groupName: string,
  name: string,
  transition: string,
  extra: Record<string, unknown> = {},
) {
  await h.asg.send(
    new PutLifecycleHookCommand({
      AutoScalingGroupName: groupName,
      LifecycleHookName: name,
      LifecycleTransition: transition,
      ...extra,
    }),
  );
}

describe("lifecycle hooks: the hook operations", () => {
  it("puts, describes and deletes hooks with AWS's defaults, refusing bad input as AWS does", async () => {
    await createGroup(h, "lc-api", 0);
    await putHook("lc-api", "on-launch", LAUNCHING, { NotificationMetadata: "hello" });
    await putHook("lc-api", "on-terminate", TERMINATING, {
      HeartbeatTimeout: 300,
      DefaultResult: "CONTINUE",
    });
    const { LifecycleHooks = [] } = await h.asg.send(
      new DescribeLifecycleHooksCommand({ AutoScalingGroupName: "lc-api" }),
    );
    expect(LifecycleHooks).toEqual([
      {
        LifecycleHookName: "on-launch",
        AutoScalingGroupName: "lc-api",
        LifecycleTransition: LAUNCHING,
        NotificationMetadata: "hello",
        HeartbeatTimeout: 3600,
        GlobalTimeout: 172800,
        DefaultResult: "ABANDON",
      },
      {
        LifecycleHookName: "on-terminate",
        AutoScalingGroupName: "lc-api",
        LifecycleTransition: TERMINATING,
        HeartbeatTimeout: 300,
        GlobalTimeout: 30000,
        DefaultResult: "CONTINUE",
      },
    ]);
    // An update keeps what it does not name.
    await h.asg.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: "lc-api",
        LifecycleHookName: "on-terminate",
        HeartbeatTimeout: 60,
      }),
    );
    const named = await h.asg.send(
      new DescribeLifecycleHooksCommand({
        AutoScalingGroupName: "lc-api",
        LifecycleHookNames: ["on-terminate"],
      }),
    );
    expect(named.LifecycleHooks).toMatchObject([
      {
        LifecycleTransition: TERMINATING,
        HeartbeatTimeout: 60,
        GlobalTimeout: 6000,
        DefaultResult: "CONTINUE",
      },
    ]);

    const refused = (input: Record<string, unknown>) =>
      h.asg
        .send(
          new PutLifecycleHookCommand({ AutoScalingGroupName: "lc-api", LifecycleHookName: "x", ...input }),
        )
        .then(
          () => undefined,
          (e: Error) => `${e.name}: ${e.message}`,
        );
    expect(await refused({ LifecycleTransition: "autoscaling:EC2_INSTANCE_REBOOTING" })).toMatch(
      /^ValidationError/,
    );
    expect(await refused({ LifecycleTransition: LAUNCHING, HeartbeatTimeout: 10 })).toMatch(
      /^ValidationError: Heartbeat/,
    );
    expect(await refused({ LifecycleTransition: LAUNCHING, DefaultResult: "MAYBE" })).toMatch(
      /^ValidationError/,
    );
    expect(await refused({})).toMatch(/LifecycleTransition is required/);
    expect(
      await h.asg
        .send(
          new PutLifecycleHookCommand({
            AutoScalingGroupName: "lc-nope",
            LifecycleHookName: "x",
            LifecycleTransition: LAUNCHING,
          }),
        )
        .catch((e: Error) => e.message),
    ).toMatch(/not found/);

    await h.asg.send(
      new DeleteLifecycleHookCommand({ AutoScalingGroupName: "lc-api", LifecycleHookName: "on-launch" }),
    );
    const after = await h.asg.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: "lc-api" }));
    expect(after.LifecycleHooks?.map((hk) => hk.LifecycleHookName)).toEqual(["on-terminate"]);
    await expect(
      h.asg.send(
        new DeleteLifecycleHookCommand({ AutoScalingGroupName: "lc-api", LifecycleHookName: "on-launch" }),
      ),
    ).rejects.toMatchObject({ name: "ValidationError" });
  });
});

describe("lifecycle hooks: launches", () => {
  it("holds a scale-out in Pending:Wait, emits the documented event, and continues on CONTINUE", async () => {
    await createGroup(h, "lc-scale-out", 1);
    await putHook("lc-scale-out", "warm-up", LAUNCHING, { NotificationMetadata: "additional-info" });
    const [first] = [...(await states("lc-scale-out")).keys()];
    await h.asg.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: "lc-scale-out", DesiredCapacity: 2 }),
    );
    const now = await states("lc-scale-out");
    const added = [...now.keys()].find((id) => id !== first)!;
    expect(now.get(first!)).toBe("InService");
    expect(now.get(added)).toBe("Pending:Wait");
    const { AutoScalingInstances = [] } = await h.asg.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [added] }),
    );
    expect(AutoScalingInstances[0]?.LifecycleState).toBe("Pending:Wait");

    const event = await waitForEvent(h, (e) => e.detail.EC2InstanceId === added);
    const doc = sample("asg-docs-launch-lifecycle-action.json");
    expect(event["detail-type"]).toBe(doc["detail-type"]);
    expect(event.source).toBe("aws.autoscaling");
    expect(Object.keys(event.detail).sort()).toEqual(
      [...Object.keys(doc.detail), "Origin", "Destination"].sort(),
    );
    expect(event.detail).toMatchObject({
      AutoScalingGroupName: "lc-scale-out",
      LifecycleHookName: "warm-up",
      LifecycleTransition: LAUNCHING,
      NotificationMetadata: "additional-info",
      Origin: "EC2",
      Destination: "AutoScalingGroup",
    });
    expect(event.resources[0]).toMatch(
      /^arn:aws:autoscaling:us-east-1:\d+:autoScalingGroup:.*autoScalingGroupName\/lc-scale-out$/,
    );

    // Booted long ago (simulated): still waiting, until the hook is completed.
    await sleep(600);
    expect((await states("lc-scale-out")).get(added)).toBe("Pending:Wait");
    await h.asg.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: "lc-scale-out",
        LifecycleHookName: "warm-up",
        LifecycleActionToken: String(event.detail.LifecycleActionToken),
        LifecycleActionResult: "CONTINUE",
      }),
    );
    // Pending:Proceed lasts 5 simulated seconds (25 ms here) for an instance booted already.
    expect((await states("lc-scale-out")).get(added)).toMatch(/^(Pending:Proceed|InService)$/);
    await until(
      "InService",
      () => states("lc-scale-out"),
      (s) => s.get(added) === "InService",
    );
    // Nothing waits any more.
    await expect(
      h.asg.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: "lc-scale-out",
          LifecycleHookName: "warm-up",
          InstanceId: added,
          LifecycleActionResult: "CONTINUE",
        }),
      ),
    ).rejects.toMatchObject({
      name: "ValidationError",
      message: `No active Lifecycle Action found with instance ID ${added}`,
    });
  });

  it("terminates an abandoned launch and launches another, which waits too", async () => {
    await createGroup(h, "lc-abandon", 0);
    await putHook("lc-abandon", "check", LAUNCHING);
    await h.asg.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: "lc-abandon", DesiredCapacity: 1 }),
    );
    const [first] = [...(await states("lc-abandon")).keys()];
    await h.asg.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: "lc-abandon",
        LifecycleHookName: "check",
        InstanceId: first,
        LifecycleActionResult: "ABANDON",
      }),
    );
    const next = await until(
      "a new instance",
      () => states("lc-abandon"),
      (s) => s.size === 1 && !s.has(first!),
    );
    expect([...next.values()]).toEqual(["Pending:Wait"]);
    expect((await imagesOf(h, [first!])).get(first!)?.state).toMatch(/shutting-down|terminated/);
    expect((await group(h, "lc-abandon")).DesiredCapacity).toBe(1);
    await waitForEvent(h, (e) => e.detail.EC2InstanceId === [...next.keys()][0]);
  });

  it("applies the DefaultResult when the heartbeat timeout elapses", async () => {
    await createGroup(h, "lc-timeout", 0);
    await putHook("lc-timeout", "slow", LAUNCHING, { HeartbeatTimeout: 200, DefaultResult: "CONTINUE" });
    await h.asg.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: "lc-timeout", DesiredCapacity: 1 }),
    );
    const [id] = [...(await states("lc-timeout")).keys()];
    expect((await states("lc-timeout")).get(id!)).toBe("Pending:Wait");
    // 200 s (1 s real: a loaded machine still sees Pending:Wait first) of heartbeat timeout, then
    // CONTINUE; the boot (60 s) is long done: InService.
    await until(
      "InService",
      () => states("lc-timeout"),
      (s) => s.get(id!) === "InService",
      5_000,
    );
  });

  it("restarts the heartbeat timeout on RecordLifecycleActionHeartbeat", async () => {
    await createGroup(h, "lc-heartbeat", 0);
    await putHook("lc-heartbeat", "slow", LAUNCHING, { HeartbeatTimeout: 200, DefaultResult: "CONTINUE" });
    await h.asg.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: "lc-heartbeat", DesiredCapacity: 1 }),
    );
    const started = Date.now();
    const [id] = [...(await states("lc-heartbeat")).keys()];
    await sleep(500); // 100 of the 200 simulated seconds
    await h.asg.send(
      new RecordLifecycleActionHeartbeatCommand({
        AutoScalingGroupName: "lc-heartbeat",
        LifecycleHookName: "slow",
        InstanceId: id,
      }),
    );
    await sleep(Math.max(0, 1300 - (Date.now() - started))); // 260 s: past the first deadline
    expect((await states("lc-heartbeat")).get(id!)).toBe("Pending:Wait");
    await until(
      "InService",
      () => states("lc-heartbeat"),
      (s) => s.get(id!) === "InService",
      5_000,
    );
    expect(Date.now() - started).toBeGreaterThan(1400);
  });

  it("holds the replacement DetachInstances launches", async () => {
    await createGroup(h, "lc-detach", 1);
    await putHook("lc-detach", "check", LAUNCHING);
    const [old] = [...(await states("lc-detach")).keys()];
    await h.asg.send(
      new DetachInstancesCommand({
        AutoScalingGroupName: "lc-detach",
        InstanceIds: [old!],
        ShouldDecrementDesiredCapacity: false,
      }),
    );
    const after = await states("lc-detach");
    expect(after.has(old!)).toBe(false);
    expect([...after.values()]).toEqual(["Pending:Wait"]);
  });

  it("holds the first instances of a group created with LifecycleHookSpecificationList", async () => {
    await createGroup(h, "lc-created", 2, {
      booted: false,
      LifecycleHookSpecificationList: [
        { LifecycleHookName: "bootstrap", LifecycleTransition: LAUNCHING, HeartbeatTimeout: 600 },
      ],
    });
    expect([...(await states("lc-created")).values()]).toEqual(["Pending:Wait", "Pending:Wait"]);
    const { LifecycleHooks = [] } = await h.asg.send(
      new DescribeLifecycleHooksCommand({ AutoScalingGroupName: "lc-created" }),
    );
    expect(LifecycleHooks).toMatchObject([{ LifecycleHookName: "bootstrap", HeartbeatTimeout: 600 }]);
  });
});

describe("lifecycle hooks: terminations", () => {
  it("holds TerminateInstanceInAutoScalingGroup in Terminating:Wait until completed", async () => {
    await createGroup(h, "lc-terminate", 2);
    await putHook("lc-terminate", "drain", TERMINATING, { NotificationMetadata: "drain-me" });
    const [victim, other] = [...(await states("lc-terminate")).keys()];
    const { Activity } = await h.asg.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: victim,
        ShouldDecrementDesiredCapacity: false,
      }),
    );
    expect(Activity).toMatchObject({
      StatusCode: "InProgress",
      Description: `Terminating EC2 instance: ${victim}`,
    });
    const during = await states("lc-terminate");
    expect(during.get(victim!)).toBe("Terminating:Wait");
    expect(during.get(other!)).toBe("InService");
    expect(during.size).toBe(3); // the replacement launches meanwhile
    expect((await group(h, "lc-terminate")).DesiredCapacity).toBe(2);
    const { AutoScalingInstances = [] } = await h.asg.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [victim!] }),
    );
    expect(AutoScalingInstances).toMatchObject([
      { InstanceId: victim, AutoScalingGroupName: "lc-terminate", LifecycleState: "Terminating:Wait" },
    ]);
    expect((await imagesOf(h, [victim!])).get(victim!)?.state).toBe("running");

    const event = await waitForEvent(h, (e) => e.detail.EC2InstanceId === victim);
    const doc = sample("asg-docs-terminate-lifecycle-action.json");
    expect(event["detail-type"]).toBe(doc["detail-type"]);
    expect(event.detail).toMatchObject({
      LifecycleHookName: "drain",
      LifecycleTransition: TERMINATING,
      NotificationMetadata: "drain-me",
      Origin: "AutoScalingGroup",
      Destination: "EC2",
    });
    await h.asg.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: "lc-terminate",
        LifecycleHookName: "drain",
        LifecycleActionToken: String(event.detail.LifecycleActionToken),
        LifecycleActionResult: "CONTINUE",
      }),
    );
    await until(
      "gone",
      () => states("lc-terminate"),
      (s) => !s.has(victim!),
    );
    expect((await imagesOf(h, [victim!])).get(victim!)?.state).toMatch(/shutting-down|terminated/);
  });

  it("holds a scale-in in Terminating:Wait and lowers desired capacity at once", async () => {
    await createGroup(h, "lc-scale-in", 3);
    // 200 s is one real second at 200×: long enough that a loaded machine still reads the wait
    // states before the timeout applies the default result (30 s, 0.15 s real, was not).
    await putHook("lc-scale-in", "drain", TERMINATING, { HeartbeatTimeout: 200, DefaultResult: "ABANDON" });
    await h.asg.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: "lc-scale-in", DesiredCapacity: 1 }),
    );
    const during = await states("lc-scale-in");
    expect([...during.values()].sort()).toEqual(["InService", "Terminating:Wait", "Terminating:Wait"]);
    expect((await group(h, "lc-scale-in")).DesiredCapacity).toBe(1);
    expect(actionEvents("lc-scale-in", "terminate").length + 2).toBeGreaterThanOrEqual(2);
    // ABANDON after 200 s (1 s real) terminates them all the same.
    const after = await until(
      "scaled in",
      () => states("lc-scale-in"),
      (s) => s.size === 1,
      5_000,
    );
    expect([...after.values()]).toEqual(["InService"]);
  });
});

describe("lifecycle hooks: instance refresh", () => {
  it("waits for launch and terminate hooks of every replacement", async () => {
    const { templateId } = await createGroup(h, "lc-refresh", 2);
    await putHook("lc-refresh", "ready", LAUNCHING, { HeartbeatTimeout: 3600 });
    await putHook("lc-refresh", "drain", TERMINATING, { HeartbeatTimeout: 3600 });
    const { InstanceRefreshId } = await h.asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "lc-refresh",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
        Preferences: { MinHealthyPercentage: 50, InstanceWarmup: 0 },
      }),
    );
    // Nothing is completed: the refresh stays InProgress with one instance in each wait state.
    await until(
      "both wait states",
      () => states("lc-refresh"),
      (s) => [...s.values()].includes("Pending:Wait") && [...s.values()].includes("Terminating:Wait"),
    );
    await sleep(800); // 160 s simulated: past the 120 s health timeout had it run from launch
    expect((await waitForRefresh(h, "lc-refresh", InstanceRefreshId!, () => true)).Status).toBe("InProgress");

    // A hook handler: completes every action it sees for this group, as a Lambda on the rule would.
    const completed = new Set<string>();
    let handling = true;
    const handler = (async () => {
      while (handling) {
        for (const e of h.events) {
          const token = String(e.detail.LifecycleActionToken ?? "");
          if (e.detail.AutoScalingGroupName !== "lc-refresh" || !token || completed.has(token)) continue;
          completed.add(token);
          await h.asg.send(
            new CompleteLifecycleActionCommand({
              AutoScalingGroupName: "lc-refresh",
              LifecycleHookName: String(e.detail.LifecycleHookName),
              LifecycleActionToken: token,
              LifecycleActionResult: "CONTINUE",
            }),
          );
        }
        await sleep(30);
      }
    })();
    const done = await waitForRefresh(h, "lc-refresh", InstanceRefreshId!);
    handling = false;
    await handler;
    expect(done.Status).toBe("Successful");
    const ids = ((await group(h, "lc-refresh")).Instances ?? []).map((i) => i.InstanceId!);
    expect(ids).toHaveLength(2);
    expect([...(await imagesOf(h, ids)).values()].map((i) => i.image)).toEqual([h.images.new, h.images.new]);
    expect(actionEvents("lc-refresh", "launch")).toHaveLength(2);
    expect(actionEvents("lc-refresh", "terminate")).toHaveLength(2);
  });
});

describe("lifecycle hooks: the AWS CLI", () => {
  it("puts a hook and completes an action by instance id", async () => {
    await createGroup(h, "lc-cli", 0);
    await awsCli(h.cloud, [
      "autoscaling",
      "put-lifecycle-hook",
      "--auto-scaling-group-name",
      "lc-cli",
      "--lifecycle-hook-name",
      "cli-hook",
      "--lifecycle-transition",
      LAUNCHING,
      // Long enough that the AWS CLI's own start-up (a second or more each call, on a loaded
      // machine) never outlasts it at ×200: the action is completed by hand below.
      "--heartbeat-timeout",
      "7200",
    ]);
    const described = (await awsCli(h.cloud, [
      "autoscaling",
      "describe-lifecycle-hooks",
      "--auto-scaling-group-name",
      "lc-cli",
    ])) as { LifecycleHooks: { HeartbeatTimeout: number }[] };
    expect(described.LifecycleHooks[0]?.HeartbeatTimeout).toBe(7200);
    await awsCli(h.cloud, [
      "autoscaling",
      "set-desired-capacity",
      "--auto-scaling-group-name",
      "lc-cli",
      "--desired-capacity",
      "1",
    ]);
    const [id] = [...(await states("lc-cli")).keys()];
    const instances = (await awsCli(h.cloud, [
      "autoscaling",
      "describe-auto-scaling-instances",
      "--instance-ids",
      id!,
    ])) as {
      AutoScalingInstances: { LifecycleState: string }[];
    };
    expect(instances.AutoScalingInstances[0]?.LifecycleState).toBe("Pending:Wait");
    await awsCli(h.cloud, [
      "autoscaling",
      "complete-lifecycle-action",
      "--auto-scaling-group-name",
      "lc-cli",
      "--lifecycle-hook-name",
      "cli-hook",
      "--instance-id",
      id!,
      "--lifecycle-action-result",
      "CONTINUE",
    ]);
    await until(
      "InService",
      () => states("lc-cli"),
      (s) => s.get(id!) === "InService",
    );
  });
});
