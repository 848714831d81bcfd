import { describe, expect, it } from "vitest";
import { phoenix, useCliCloud } from "./support.js";

/**
 * What an on-call engineer reaches for (issue 18): the held containments and how to approve
 * them, a finding made by hand for a local instance, the notifications the topic received, the
 * events Phoenix did not act on, and who the audit trail says acted.
 */
const world = useCliCloud();
const run = (...argv: string[]) => phoenix(argv, world.env);
const vault = () => world.fleet.groups.find((g) => g.name === "vault")!.instanceIds;
const api = () => world.fleet.groups.find((g) => g.name === "api")!.instanceIds;

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe("phoenix holds", () => {
  it("lists pending holds with the command that approves each; the command works", async () => {
    const none = await run("holds");
    expect(none.code).toBe(0);
    expect(none.stdout).toContain(
      "No containment is held for approval by Phoenix in us-east-1/123456789012.",
    );

    const instanceId = vault()[0]!;
    expect((await run("contain", instanceId, "--reason", "holds test")).code).toBe(4);
    const listed = await run("holds", "--endpoint", world.endpoint);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain("1 containment held for approval");
    const holdId = /(hold-[0-9a-f]{12})/.exec(listed.stdout)![1]!;
    expect(listed.stdout).toContain(`${holdId}  ${instanceId}  pending`);
    expect(listed.stdout).toContain("phoenix:protected=true");
    expect(listed.stdout).toContain(`approve: phoenix approve ${holdId} --endpoint ${world.endpoint}`);
    const json = (await run("holds", "--json")).json<{
      holds: { holdId: string; approveCommand: string }[];
    }>();
    expect(json.holds).toEqual([
      expect.objectContaining({ holdId, approveCommand: `phoenix approve ${holdId}` }),
    ]);

    const status = await run("status");
    expect(status.stdout).toContain("Held for approval: 1 containment");
    expect(status.stdout).toContain(`approve: phoenix approve ${holdId}`);

    // The notification people get in AWS (mail, chat) is readable locally.
    const notes = await run("local", "notifications");
    expect(notes.code).toBe(0);
    expect(notes.stdout).toContain(`Held for approval: ${instanceId}`);
    expect(notes.stdout).toContain(`Approve hold ${holdId}`);

    // The suggested command, as printed.
    const approved = await phoenix(listed.stdout.split(`approve: `)[1]!.trim().split(" ").slice(1), {
      ...world.env,
      AWS_ENDPOINT_URL: undefined,
    });
    expect(approved.code).toBe(0);
    expect((await run("holds")).stdout).toContain("No containment is held");
    expect((await run("holds", "--all")).stdout).toContain(
      `${holdId}  ${instanceId}  approved by user:tester`,
    );
  });

  it("approve without an id points at phoenix holds", async () => {
    const result = await run("approve");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("`phoenix holds` lists them");
    expect(result.stderr).toContain("drift-hold-");
  });
});

describe("phoenix local finding", () => {
  it("prints a put-events entry that names the instance and says Phoenix will contain it", async () => {
    const instanceId = api()[0]!;
    const result = await run("local", "finding", instanceId);
    expect(result.code).toBe(0);
    const [entry] = JSON.parse(result.stdout) as { Source: string; DetailType: string; Detail: string }[];
    expect(entry).toMatchObject({ Source: "aws.guardduty", DetailType: "GuardDuty Finding" });
    const detail = JSON.parse(entry!.Detail);
    expect(detail).toMatchObject({
      accountId: "123456789012",
      region: "us-east-1",
      type: "Backdoor:EC2/C&CActivity.B!DNS",
      severity: 8,
      resource: { resourceType: "Instance", instanceDetails: { instanceId } },
      service: { resourceRole: "ACTOR", additionalInfo: {} },
    });
    expect(result.stderr).toContain("# Phoenix will contain it");
    expect(result.stderr).toContain("aws events put-events --entries file://finding.json");
  });

  it("says when a finding would never reach Phoenix, and refuses bad input", async () => {
    const instanceId = api()[0]!;
    const low = await run(
      "local",
      "finding",
      instanceId,
      "--type",
      "Recon:EC2/PortProbeUnprotectedPort",
      "--severity",
      "2",
    );
    expect(low.stderr).toContain("# Phoenix will never see it");
    expect((await run("local", "finding", "i-0000000000000000f")).stderr).toContain(
      "No instance i-0000000000000000f",
    );
    expect((await run("local", "finding", instanceId, "--severity", "11")).code).toBe(2);
    expect((await run("local", "finding", instanceId, "--type", "backdoor")).stderr).toContain(
      "must be a GuardDuty finding type",
    );
    const typo = await run("local", "finding", instanceId, "--sevrity", "3");
    expect(typo.stderr).toContain("did you mean --severity?");
  });

  it("--put: a sample is ignored, and status and audit say so, with why", async () => {
    const instanceId = api()[1]!;
    const put = await run("local", "finding", instanceId, "--sample", "--put");
    expect(put.code).toBe(0);
    expect(put.stdout).toContain(`on the bus of ${world.endpoint}`);
    expect(put.stdout).toContain("sample finding");
    const status = await eventually(
      () => run("status"),
      (r) => r.stdout.includes(instanceId),
    );
    expect(status.stdout).toMatch(/Not acted on since .*: 1 event/);
    expect(status.stdout).toContain(`on ${instanceId}: ignored. This is a sample finding`);
    const json = (await run("status", "--json")).json<{ ignored: { events: { instanceId: string }[] } }>();
    expect(json.ignored.events.map((e) => e.instanceId)).toContain(instanceId);
    const audit = await run("audit", "--instance", instanceId);
    expect(audit.stdout).toContain("route skipped");
    expect(audit.stdout).toContain("(not acted on)");
    expect(audit.stdout).toContain(`that Phoenix did not act on`);
  });
});

describe("the actor", () => {
  it("is the caller's AWS identity when no login name is set, never user:unknown", async () => {
    const instanceId = world.fleet.standaloneInstanceId;
    const env = {
      ...world.env,
      PHOENIX_ACTOR: undefined,
      USER: undefined,
      USERNAME: undefined,
      LOGNAME: undefined,
    };
    const result = await phoenix(["contain", instanceId, "--reason", "actor test"], env);
    expect(result.code).toBe(0);
    const trail = (await run("audit", "--instance", instanceId, "--json")).json<{
      records: { action: string; actor: string }[];
    }>();
    const request = trail.records.find((r) => r.action === "request-containment")!;
    expect(request.actor).toMatch(/^user:arn:aws:(iam|sts)::123456789012:/);
  });
});
