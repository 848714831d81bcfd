import { StartInstanceRefreshCommand } from "@aws-sdk/client-auto-scaling";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { putAlarm, setAlarmState } from "../support/cloud.js";
import {
  createGroup,
  group,
  type Harness,
  imagesOf,
  startHarness,
  waitForEvent,
  waitForRefresh,
} from "./autoscaling-helpers.js";

/**
 * Instance refresh with Preferences.AlarmSpecification: CloudWatch alarms (moto's) set from the
 * AWS CLI, as an operator or a test would. At 200×, instances boot in 60 simulated s (0.3 s).
 */
const SPEED = 200;
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ speed: SPEED, bootSeconds: 60, observedGroups: ["al-rollback", "al-fail"] });
  for (const name of ["web-5xx", "web-latency", "api-5xx"]) await putAlarm(h.cloud, name);
});
afterAll(async () => h?.stop());

const setAlarm = (name: string, state: "OK" | "ALARM") => setAlarmState(h.cloud, name, state);

const refreshTypes = (id: string) =>
  h.events
    .filter((e) => e.detail.InstanceRefreshId === id)
    .map((e) => e["detail-type"].replace("EC2 Auto Scaling Instance Refresh ", ""));

describe("instance refresh alarms", () => {
  it("refuses alarms that do not exist, and more than 10", async () => {
    const { templateId } = await createGroup(h, "al-validate", 1);
    const start = (alarms: string[]) =>
      h.asg.send(
        new StartInstanceRefreshCommand({
          AutoScalingGroupName: "al-validate",
          DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
          Preferences: { AlarmSpecification: { Alarms: alarms }, AutoRollback: true },
        }),
      );
    await expect(start(["web-5xx", "no-such-alarm"])).rejects.toMatchObject({
      name: "ValidationError",
      message: expect.stringContaining("no-such-alarm"),
    });
    await expect(start(Array.from({ length: 11 }, (_, i) => `a${i}`))).rejects.toMatchObject({
      name: "ValidationError",
      message: expect.stringContaining("at most 10"),
    });
  });

  it("rolls back when an alarm goes into ALARM at a checkpoint, naming the alarm", async () => {
    const { templateId } = await createGroup(h, "al-rollback", 2);
    const { InstanceRefreshId: id } = await h.asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "al-rollback",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
        Preferences: {
          MinHealthyPercentage: 50,
          InstanceWarmup: 0,
          CheckpointPercentages: [50, 100],
          CheckpointDelay: 3600,
          AutoRollback: true,
          AlarmSpecification: { Alarms: ["web-5xx", "web-latency"] },
        },
      }),
    );
    const paused = await waitForRefresh(h, "al-rollback", id!, (r) =>
      /Checkpoint 50% reached/.test(r.StatusReason ?? ""),
    );
    expect(paused).toMatchObject({ Status: "InProgress", PercentageComplete: 50 });
    expect(paused.Preferences?.AlarmSpecification).toEqual({ Alarms: ["web-5xx", "web-latency"] });

    await setAlarm("web-latency", "ALARM");
    const done = await waitForRefresh(h, "al-rollback", id!);
    await setAlarm("web-latency", "OK");
    expect(done.Status).toBe("RollbackSuccessful");
    expect(done.StatusReason).toContain("web-latency");
    expect(done.StatusReason).toContain("ALARM");
    expect(done.RollbackDetails).toMatchObject({
      RollbackReason: expect.stringContaining("web-latency"),
      PercentageCompleteOnRollback: 50,
    });
    expect(done.RollbackDetails?.RollbackStartTime).toBeInstanceOf(Date);
    const g = await group(h, "al-rollback");
    expect(g.LaunchTemplate?.Version).toBe("1");
    const ids = (g.Instances ?? []).map((i) => i.InstanceId!);
    expect([...(await imagesOf(h, ids)).values()].map((i) => i.image)).toEqual([h.images.old, h.images.old]);
    await waitForEvent(
      h,
      (e) => e.detail.InstanceRefreshId === id && e["detail-type"].endsWith("Rollback Succeeded"),
    );
    expect(refreshTypes(id!)).toEqual([
      "Started",
      "Checkpoint Reached",
      "Rollback Started",
      "Rollback Succeeded",
    ]);
  });

  it("fails without AutoRollback when an alarm fires while baking", async () => {
    const { templateId } = await createGroup(h, "al-fail", 1);
    const { InstanceRefreshId: id } = await h.asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "al-fail",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
        Preferences: {
          MinHealthyPercentage: 0,
          InstanceWarmup: 0,
          BakeTime: 7200,
          AlarmSpecification: { Alarms: ["api-5xx"] },
        },
      }),
    );
    await waitForRefresh(h, "al-fail", id!, (r) => r.Status === "Baking");
    await setAlarm("api-5xx", "ALARM");
    const done = await waitForRefresh(h, "al-fail", id!);
    expect(done.Status).toBe("Failed");
    expect(done.StatusReason).toContain("api-5xx");
    // Without a successful refresh, the group keeps the configuration it had.
    expect((await group(h, "al-fail")).LaunchTemplate?.Version).toBe("1");
    await waitForEvent(h, (e) => e.detail.InstanceRefreshId === id && e["detail-type"].endsWith("Failed"));
  });
});
