import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getContainment } from "../../src/containment/aws/records.js";
import { parseSessionEvent } from "../../src/sessions/core/session-event.js";
import { DeferSession, takeSession } from "../../src/sessions/workflow/intake.js";
import { awsCli } from "../support/cloud.js";
import { type PhoenixCloud, startPhoenixCloud } from "../support/phoenix-cloud.js";
import { until } from "../support/poll.js";
import { ownSampleEvent } from "../support/sample-events.js";

/**
 * Somebody logs in to a server: the CloudTrail record of the call, put on the bus with the AWS
 * CLI as CloudTrail would, through the phoenix-interactive-session rule, the session buffer and
 * on-session, against the local cloud's Auto Scaling.
 */
let pc: PhoenixCloud;
let ec2: EC2Client;
let autoScaling: AutoScalingClient;

beforeAll(async () => {
  pc = await startPhoenixCloud({ speed: 200 });
  const config = { ...pc.cloud.context.internalClientConfig, endpoint: pc.cloud.endpoint };
  ec2 = new EC2Client(config);
  autoScaling = new AutoScalingClient(config);
}, 60_000);
afterAll(async () => pc?.stop());

const instanceOf = (group: string, index = 0) =>
  pc.fleet.groups.find((g) => g.name === group)!.instanceIds[index]!;

async function putSession(
  file: string,
  instanceId: string,
  edit?: (detail: Record<string, unknown>) => void,
) {
  const event = ownSampleEvent("cloudtrail", file, instanceId);
  const detail = event.detail as Record<string, unknown>;
  // A fresh CloudTrail event id per put: each is another session.
  detail.eventID = `${detail.eventID as string}-${instanceId}`;
  edit?.(detail);
  const entry = {
    Source: event.source,
    DetailType: event["detail-type"],
    Detail: JSON.stringify(detail),
    Resources: [],
  };
  const at = path.join(tmpdir(), `phoenix-${process.pid}-${instanceId}-${file}`);
  writeFileSync(at, JSON.stringify([entry]));
  const put = (await awsCli(pc.cloud, ["events", "put-events", "--entries", `file://${at}`])) as {
    FailedEntryCount: number;
  };
  expect(put.FailedEntryCount).toBe(0);
  return String(detail.eventID);
}

async function instance(instanceId: string) {
  const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const found = Reservations?.[0]?.Instances?.[0];
  return {
    state: found?.State?.Name,
    tags: Object.fromEntries((found?.Tags ?? []).map((t) => [t.Key, t.Value])),
  };
}

async function groupInstances(name: string) {
  const { AutoScalingGroups } = await autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  const group = AutoScalingGroups?.[0];
  return { desired: group?.DesiredCapacity ?? 0, ids: (group?.Instances ?? []).map((i) => i.InstanceId!) };
}

const sessionRecord = (instanceId: string) =>
  until(
    "the session decided",
    async () =>
      (await pc.phoenix.deps.audit.history(`instance/${instanceId}`)).find((r) => r.action === "session"),
    30_000,
  );

describe("nobody logs in", () => {
  it("replaces an instance of a managed group someone opened an SSM session on, and does nothing else", async () => {
    const target = instanceOf("web-frontend");
    const before = await groupInstances("web-frontend");
    const snapshotsBefore =
      (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }))).Snapshots?.length ?? 0;
    await putSession("ssm-start-session.json", target);

    const record = await sessionRecord(target);
    expect(record).toMatchObject({
      outcome: "ok",
      actor: "phoenix:on-session",
      details: { decision: "replace", group: "web-frontend", tainted: true },
      reason: expect.stringMatching(
        /arn:aws:sts::123456789012:assumed-role\/OnCallAdmin\/alice opened a session \(ssm:StartSession\)/,
      ),
    });
    // The decision is recorded before the terminate, which has its own record after it.
    const trail = await until(
      "the terminate recorded",
      async () => {
        const records = await pc.phoenix.deps.audit.history(`instance/${target}`);
        return records.some((r) => r.action === "replace-through-group") ? records : undefined;
      },
      30_000,
    );
    const actions = trail
      .map((r) => r.action)
      .filter((a) => a === "session" || a === "replace-through-group");
    expect(actions).toEqual(["session", "replace-through-group"]);
    expect(trail.find((r) => r.action === "replace-through-group")).toMatchObject({
      outcome: "ok",
      details: { group: "web-frontend", replacement: "terminating" },
    });
    // The group replaces it: the target leaves, a new instance takes its place at the same capacity.
    const after = await until(
      "the group replaced the instance",
      async () => {
        const now = await groupInstances("web-frontend");
        return !now.ids.includes(target) && now.ids.length === before.desired ? now : undefined;
      },
      40_000,
    );
    expect(after.desired).toBe(before.desired);
    expect(after.ids.filter((id) => !before.ids.includes(id))).toHaveLength(1);
    const gone = await instance(target);
    expect(["shutting-down", "terminated"]).toContain(gone.state);
    expect(gone.tags["phoenix:tainted"]).toBe(
      "arn:aws:sts::123456789012:assumed-role/OnCallAdmin/alice, 2026-11-30T09:12:43.000Z, ssm:StartSession",
    );
    // Not a containment: no isolation, no evidence.
    expect(gone.tags["phoenix:quarantine"]).toBeUndefined();
    expect(await getContainment(pc.phoenix.deps, "123456789012", target)).toBeUndefined();
    expect(
      (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }))).Snapshots?.length ?? 0,
    ).toBe(snapshotsBefore);
  }, 90_000);

  it("only tells people about an instance of a group Phoenix does not manage", async () => {
    const target = instanceOf("web-legacy");
    await putSession("ec2-instance-connect-send-ssh-public-key.json", target);
    const record = await sessionRecord(target);
    expect(record).toMatchObject({
      outcome: "notified",
      details: { decision: "notify", tainted: false },
      reason: expect.stringMatching(/web-legacy is not tagged phoenix:managed=true/),
    });
    const still = await instance(target);
    expect(still.state).toBe("running");
    expect(still.tags["phoenix:tainted"]).toBeUndefined();
  }, 60_000);

  it("honours a break-glass tag for its bounded time: tainted, audited, not replaced", async () => {
    const target = instanceOf("api");
    const until8h = new Date(Date.now() + 8 * 3600_000).toISOString();
    await ec2.send(
      new CreateTagsCommand({ Resources: [target], Tags: [{ Key: "phoenix:break-glass", Value: until8h }] }),
    );
    await putSession("serial-console-send-ssh-public-key.json", target, (detail) => {
      detail.eventTime = new Date().toISOString();
    });
    const record = await sessionRecord(target);
    expect(record).toMatchObject({
      outcome: "held",
      details: { decision: "exempt", tainted: true, exemptUntil: new Date(until8h).toISOString() },
    });
    const still = await instance(target);
    expect(still.state).toBe("running");
    expect(still.tags["phoenix:tainted"]).toMatch(
      /arn:aws:iam::123456789012:user\/bob, .*, ec2-instance-connect:SendSerialConsoleSSHPublicKey$/,
    );
    expect((await groupInstances("api")).ids).toContain(target);
  }, 60_000);

  it("refuses a session in an account Phoenix does not manage, and reads nothing", async () => {
    const target = instanceOf("api", 1);
    const eventId = await putSession("ssm-start-session.json", target, (detail) => {
      detail.recipientAccountId = "999988887777";
    });
    const record = await until(
      "the session refused",
      async () => (await pc.phoenix.deps.audit.history(`session/${eventId}`)).at(0),
      30_000,
    );
    expect(record).toMatchObject({
      outcome: "refused",
      reason: expect.stringMatching(/999988887777.*does not manage/),
    });
    expect((await instance(target)).tags["phoenix:tainted"]).toBeUndefined();
  }, 60_000);

  it("two sessions on two instances of one group, handled at once, replace one instance; the other waits", async () => {
    const [a, b] = [instanceOf("web-backend", 0), instanceOf("web-backend", 1)];
    const sessionOn = (instanceId: string) => {
      const event = ownSampleEvent("cloudtrail", "ssm-start-session.json", instanceId);
      const detail = event.detail as Record<string, unknown>;
      detail.eventID = `concurrent-${instanceId}`;
      const parsed = parseSessionEvent(event);
      if (!parsed.ok) throw new Error(JSON.stringify(parsed));
      return parsed.session;
    };
    // Both read the group at full capacity before either terminates; the group lock decides.
    const results = await Promise.allSettled(
      [a, b].map((id) => takeSession(pc.phoenix.deps, sessionOn(id), { attempt: 1, last: false })),
    );
    const replaced = results.filter((r) => r.status === "fulfilled" && r.value.kind === "replaced");
    const deferred = results.filter((r) => r.status === "rejected" && r.reason instanceof DeferSession);
    expect([replaced.length, deferred.length]).toEqual([1, 1]);
    expect(String((deferred[0] as PromiseRejectedResult).reason.message)).toMatch(
      /is locked|healthy instances in service of 2 desired/,
    );
    const group = await groupInstances("web-backend");
    expect(group.desired).toBe(2);
    // Exactly one of the two is leaving; the other still serves.
    const states = await Promise.all([a, b].map(async (id) => (await instance(id)).state));
    expect(states.filter((state) => state === "running")).toHaveLength(1);
  }, 60_000);
});
