import { CreateTagsCommand, EC2Client, TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { restoredLine } from "../../cli/commands/release.js";
import { createOnFindingHandler } from "../../functions/on-finding.js";
import { getHold } from "../../src/containment/aws/hold-records.js";
import { getContainment } from "../../src/containment/aws/records.js";
import { approveHold } from "../../src/containment/workflow/holds.js";
import { releaseInstance } from "../../src/containment/workflow/release.js";
import {
  ACCOUNT,
  guardDutyEvent,
  lambdaContext,
  sqsEvent,
  TOR_CLIENT,
  useHarness,
} from "./support/fixtures.js";
import { READ_ACTION } from "./support/wiretap.js";

const h = useHarness({ policy: { containment: { allowSampleFindings: true } } });
let ec2: EC2Client;
let onFinding: ReturnType<typeof createOnFindingHandler>;

beforeAll(() => {
  ec2 = new EC2Client(h.cloud.context.internalClientConfig);
  onFinding = createOnFindingHandler(h.deps);
});
beforeEach(async () => {
  h.cloud.context.faults.configure({ seed: 1, rules: [] });
  await h.drainNotifications();
});

/** Successful mutating AWS calls since a wiretap mark, outside Phoenix's own tables. */
const mutationsSince = (mark: number): string[] => h.tap.mutationsSince(mark).map((c) => c.action);

/** Writes to the state table since a mark (the audit table is expected to be written). */
function stateWritesSince(mark: number): string[] {
  return h.tap
    .since(mark, { service: "dynamodb" })
    .filter((c) => !READ_ACTION.test(c.action) && JSON.stringify(c.json).includes(h.resources.stateTable))
    .map((c) => c.action);
}

const mark = () => h.tap.mark();
const deliver = (bodies: unknown[]) => h.onFinding(bodies);
const startedExecutions = () => h.containExecutions();

describe("routing", () => {
  it("notifies a medium-severity finding, once per count, and touches nothing", async () => {
    const instanceId = h.fleet.groups[1]!.instanceIds[0]!;
    const event = guardDutyEvent("trojan-ec2-droppoint-target.json", { instanceId, findingId: "medium0001" });
    const m = mark();
    const result = await deliver([event, event]);
    expect(result.batchItemFailures).toEqual([]);
    expect(mutationsSince(m)).toEqual(["Publish"]);
    const notes = await h.drainNotifications();
    expect(notes).toHaveLength(1);
    expect(notes[0]!.subject).toContain(`Finding on ${instanceId}: Trojan:EC2/DropPoint`);
    const history = await h.deps.audit.history("finding/medium0001");
    expect(history.map((r) => r.outcome)).toEqual(["notified"]);
    // A repeat with a higher count is news: notified again.
    await deliver([
      guardDutyEvent("trojan-ec2-droppoint-target.json", { instanceId, findingId: "medium0001", count: 7 }),
    ]);
    expect(await h.drainNotifications()).toHaveLength(1);
  });

  it("ignores findings on anything but an EC2 instance, with the reason audited", async () => {
    const m = mark();
    const files = [
      "credentialaccess-iamuser-anomalousbehavior.json",
      "discovery-rds-toripcaller.json",
      "pentest-s3-parrotlinux.json",
    ];
    const result = await deliver(files.map((file) => guardDutyEvent(file, { instanceId: "i-00000000" })));
    expect(result.batchItemFailures).toEqual([]);
    expect(mutationsSince(m)).toEqual([]);
    expect(await h.drainNotifications()).toEqual([]);
    const audit = await h.deps.audit.since(new Date(Date.now() - 60_000).toISOString());
    const ignored = audit.filter((r) => r.action === "route" && r.outcome === "skipped");
    expect(ignored.map((r) => r.reason).join("\n")).toMatch(/AccessKey.*not an EC2 instance/);
    expect(ignored.map((r) => r.reason).join("\n")).toMatch(/S3Bucket/);
  });

  it("ignores sample findings under the default policy", async () => {
    const instanceId = h.fleet.groups[1]!.instanceIds[0]!;
    const strict = createOnFindingHandler(h.withPolicy({}));
    const m = mark();
    const result = await strict(
      sqsEvent([guardDutyEvent(TOR_CLIENT, { instanceId, findingId: "sample0001" })]),
      lambdaContext("on-finding"),
    );
    expect(result.batchItemFailures).toEqual([]);
    expect(mutationsSince(m)).toEqual([]);
    const history = await h.deps.audit.history("finding/sample0001");
    expect(history[0]?.reason).toMatch(/sample finding/);
    expect(await getContainment(h.deps, ACCOUNT, instanceId)).toBeUndefined();
  });
});

describe("what cannot be contained", () => {
  it("refuses an unknown instance with a clear, audited error and no mutation, without retrying", async () => {
    const m = mark();
    const result = await deliver([
      guardDutyEvent(TOR_CLIENT, { instanceId: "i-0123456789abcdef0", findingId: "unknown01" }),
    ]);
    expect(result.batchItemFailures).toEqual([]);
    expect(mutationsSince(m)).toEqual([]);
    expect(stateWritesSince(m)).toEqual([]);
    const history = await h.deps.audit.history("instance/i-0123456789abcdef0");
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ action: "contain", outcome: "refused" });
    expect(history[0]!.reason).toMatch(/i-0123456789abcdef0 does not exist/);
  });

  it("refuses an instance that is already terminated", async () => {
    const instanceId = h.fleet.groups[3]!.instanceIds[0]!;
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    const m = mark();
    const result = await deliver([guardDutyEvent(TOR_CLIENT, { instanceId, findingId: "gone0001" })]);
    expect(result.batchItemFailures).toEqual([]);
    expect(mutationsSince(m)).toEqual([]);
    const history = await h.deps.audit.history(`instance/${instanceId}`);
    expect(history.at(-1)?.reason).toMatch(/is terminated: nothing to contain/);
  });

  it("audits malformed events as invalid, changes nothing, and does not ask for them again", async () => {
    const m = mark();
    const valid = guardDutyEvent(TOR_CLIENT, { instanceId: "i-00000000" }) as {
      detail: Record<string, unknown>;
    };
    const badSeverity = structuredClone(valid);
    badSeverity.detail["severity"] = "high";
    const badInstance = guardDutyEvent(TOR_CLIENT, { instanceId: "not-an-instance" });
    const bodies = [
      "{not json",
      JSON.stringify({ source: "aws.ec2", "detail-type": "EC2 Instance State-change Notification" }),
      badSeverity,
      badInstance,
      "null",
    ];
    const event = sqsEvent(bodies);
    const result = await onFinding(event, lambdaContext("on-finding"));
    expect(result.batchItemFailures).toEqual([]);
    expect(mutationsSince(m)).toEqual([]);
    for (const record of event.Records) {
      const history = await h.deps.audit.history(`event/${record.messageId}`);
      expect(history).toHaveLength(1);
      expect(history[0]).toMatchObject({ action: "validate", outcome: "refused" });
    }
    const reasons = await Promise.all(
      event.Records.map(async (r) => (await h.deps.audit.history(`event/${r.messageId}`))[0]!.reason),
    );
    expect(reasons[0]).toMatch(/not JSON/);
    expect(reasons[1]).toMatch(/not a GuardDuty finding/);
    expect(reasons[2]).toMatch(/detail\.severity/);
    expect(reasons[3]).toMatch(/instanceId/);
  });
});

describe("containment intake", () => {
  it("holds a protected instance, notifies, and starts it only when a person approves", async () => {
    const instanceId = h.fleet.groups[2]!.instanceIds[0]!;
    await ec2.send(
      new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: "phoenix:protected", Value: "true" }] }),
    );
    const m = mark();
    const result = await deliver([guardDutyEvent(TOR_CLIENT, { instanceId, findingId: "protected01" })]);
    expect(result.batchItemFailures).toEqual([]);
    expect(mutationsSince(m)).toEqual(["Publish"]);
    const record = await getContainment(h.deps, ACCOUNT, instanceId);
    expect(record?.status).toBe("held");
    expect(record?.hold?.kind).toBe("protected");
    const hold = await getHold(h.deps, record!.hold!.id);
    expect(hold?.status).toBe("pending");
    const notes = await h.drainNotifications();
    expect(notes[0]?.kind).toBe("hold");
    expect(notes[0]?.message).toContain(record!.hold!.id);
    expect(await startedExecutions()).not.toContain(record!.executionName);

    // More findings on it join the held record; nothing starts.
    await deliver([guardDutyEvent(TOR_CLIENT, { instanceId, findingId: "protected01", count: 9 })]);
    expect((await getContainment(h.deps, ACCOUNT, instanceId))?.deliveries).toBe(2);
    expect(await h.drainNotifications()).toEqual([]);

    const approved = await approveHold(h.deps, record!.hold!.id, "user:carol");
    expect(approved.alreadyApproved).toBe(false);
    expect(await startedExecutions()).toContain(record!.executionName);
    const again = await approveHold(h.deps, record!.hold!.id, "user:dave");
    expect(again).toMatchObject({ alreadyApproved: true, executionName: record!.executionName });
    const after = await getContainment(h.deps, ACCOUNT, instanceId);
    expect(after?.status).toBe("running");
    expect(after?.executionInput.approvedBy).toBe("user:carol");
    const history = await h.deps.audit.history(`instance/${instanceId}`);
    expect(history.filter((r) => r.action === "approve-hold").map((r) => r.actor)).toEqual(["user:carol"]);
  });

  it("reports a transient failure for redelivery, and the redelivery finishes the start", async () => {
    const instanceId = h.fleet.groups[1]!.instanceIds[1]!;
    h.cloud.context.faults.configure({
      seed: 7,
      rules: [{ service: "states", action: "StartExecution", throttleRate: 1 }],
    });
    const event = sqsEvent([guardDutyEvent(TOR_CLIENT, { instanceId, findingId: "transient01" })]);
    const first = await onFinding(event, lambdaContext("on-finding"));
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0]!.messageId }]);
    expect((await getContainment(h.deps, ACCOUNT, instanceId))?.status).toBe("starting");

    h.cloud.context.faults.configure({ seed: 7, rules: [] });
    // Another finding meanwhile joins without starting (the opener's redelivery will).
    const m = mark();
    await deliver([guardDutyEvent(TOR_CLIENT, { instanceId, findingId: "transient02" })]);
    expect(h.tap.since(m, { action: "StartExecution" })).toHaveLength(0);
    const second = await onFinding(event, lambdaContext("on-finding"));
    expect(second.batchItemFailures).toEqual([]);
    const record = await getContainment(h.deps, ACCOUNT, instanceId);
    expect(record?.status).toBe("running");
    expect(await startedExecutions()).toContain(record!.executionName);
  });
});

/** A sample event aimed at a local instance, then with its claims of account and region rewritten. */
function claiming(
  file: string,
  patch: Parameters<typeof guardDutyEvent>[1],
  claims: { account?: string; region?: string; detailRegion?: string } = {},
): Record<string, unknown> {
  const event = guardDutyEvent(file, patch);
  if (claims.account) event["account"] = claims.account;
  if (claims.region) event["region"] = claims.region;
  if (claims.detailRegion) (event["detail"] as Record<string, unknown>)["region"] = claims.detailRegion;
  return event;
}

describe("accounts and regions Phoenix does not manage", () => {
  const FOREIGN = "999999999999";

  it.each([
    [
      "another account and region",
      { accountId: FOREIGN },
      { region: "eu-west-1", detailRegion: "eu-west-1" },
    ],
    ["the envelope's account only", {}, { account: FOREIGN }],
    ["detail.region only", {}, { detailRegion: "eu-west-1" }],
    ["the envelope's region only", {}, { region: "eu-west-1" }],
  ] as const)(
    "refuses a finding for %s: no AWS call, no record, no budget, audited",
    async (_, patch, claims) => {
      const instanceId = h.fleet.groups[0]!.instanceIds[0]!;
      const findingId = `foreign${Object.keys(claims).join("")}${Object.keys(patch).join("")}`;
      const m = mark();
      const result = await deliver([claiming(TOR_CLIENT, { instanceId, findingId, ...patch }, claims)]);
      expect(result.batchItemFailures).toEqual([]);
      // Not even a read of EC2 or Auto Scaling, and nothing written but the audit record.
      expect(h.tap.since(m).filter((c) => c.service !== "dynamodb")).toEqual([]);
      expect(stateWritesSince(m)).toEqual([]);
      expect(await h.drainNotifications()).toEqual([]);
      expect(await getContainment(h.deps, ACCOUNT, instanceId)).toBeUndefined();
      expect(await getContainment(h.deps, FOREIGN, instanceId)).toBeUndefined();
      const history = await h.deps.audit.history(`finding/${findingId}`);
      expect(history).toHaveLength(1);
      expect(history[0]).toMatchObject({ action: "route", outcome: "refused" });
      const named = "accountId" in patch || "account" in claims ? FOREIGN : "eu-west-1";
      expect(history[0]!.reason).toContain(named);
      expect(history[0]!.reason).toContain("it manages account 123456789012 in us-east-1)");
      expect(history[0]!.details).toMatchObject({
        managed: [{ accountId: ACCOUNT, regions: ["us-east-1"] }],
      });
    },
  );

  it("counts the containment of a managed finding on the account Phoenix verified", async () => {
    // The instance the refused findings named: they left nothing behind, so this one starts.
    const instanceId = h.fleet.groups[0]!.instanceIds[0]!;
    const file = "unauthorizedaccess-ec2-metadatadnsrebind-target.json";
    const result = await deliver([guardDutyEvent(file, { instanceId, findingId: "rebind0001" })]);
    expect(result.batchItemFailures).toEqual([]);
    const record = await getContainment(h.deps, ACCOUNT, instanceId);
    expect(record?.status).toBe("running");
    expect(record?.accountId).toBe(ACCOUNT);
    expect(await startedExecutions()).toContain(record!.executionName);
  });
});

describe("an instance that is only the TARGET", () => {
  it("notifies a severity-8 EMR port probe and does not contain it", async () => {
    const instanceId = h.fleet.groups[0]!.instanceIds[1]!;
    const file = "recon-ec2-portprobeemrunprotectedport-target.json";
    const m = mark();
    const result = await deliver([guardDutyEvent(file, { instanceId, findingId: "emrprobe01" })]);
    expect(result.batchItemFailures).toEqual([]);
    expect(mutationsSince(m)).toEqual(["Publish"]);
    expect(h.tap.since(m, { action: "StartExecution" })).toEqual([]);
    expect(await getContainment(h.deps, ACCOUNT, instanceId)).toBeUndefined();
    const history = await h.deps.audit.history("finding/emrprobe01");
    expect(history.map((r) => r.outcome)).toEqual(["notified"]);
    expect(history[0]!.reason).toMatch(/only the TARGET.*containment\.containTargetTypes/);
    const notes = await h.drainNotifications();
    expect(notes[0]?.subject).toContain("Recon:EC2/PortProbeEMRUnprotectedPort");
  });
});

describe("release of a held containment", () => {
  it("knows the instance is running, says so, and audits it", async () => {
    const instanceId = h.fleet.standaloneInstanceId;
    await ec2.send(
      new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: "phoenix:protected", Value: "true" }] }),
    );
    await deliver([guardDutyEvent(TOR_CLIENT, { instanceId, findingId: "heldrelease1" })]);
    expect((await getContainment(h.deps, ACCOUNT, instanceId))?.status).toBe("held");
    await h.drainNotifications();

    const m = mark();
    const released = await releaseInstance(h.deps, instanceId, "user:alice");
    expect(released).toMatchObject({ instanceExists: true, previousStatus: "held", restored: [] });
    // A hold changed nothing, so nothing is put back.
    expect(mutationsSince(m)).toEqual([]);
    const line = restoredLine(released);
    expect(line).not.toContain("no longer exists");
    expect(line).toContain("held");
    const record = (await h.deps.audit.history(`instance/${instanceId}`)).find((r) => r.action === "release");
    expect(record).toMatchObject({ actor: "user:alice", reason: "hold dismissed" });
    expect(record?.details).toMatchObject({ instanceExists: true, previousStatus: "held", restored: [] });
    expect((await getContainment(h.deps, ACCOUNT, instanceId))?.status).toBe("released");
  });
});
