import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { beforeAll, describe, expect, it } from "vitest";
import { COMMANDS } from "../../cli/main.js";
import { registerImage } from "../../local/core/seed.js";
import { ownSampleEvent } from "../support/sample-events.js";
import { phoenix, useCliCloud } from "./support.js";

/** Read-only commands (plan, status, audit, watch, config) and the errors every command shares. */

const world = useCliCloud();
let newWebImage: string;
let unscannedImage: string;
const dir = tmpdir();

beforeAll(async () => {
  const ec2 = new EC2Client(world.backstage);
  newWebImage = await registerImage(ec2, { family: "web", name: "golden-web-v2" });
  unscannedImage = await registerImage(ec2, {
    family: "web",
    name: "golden-web-unscanned",
    tags: { "phoenix:scan-status": "pending" },
  });
});

const run = (...argv: string[]) => phoenix(argv, world.env);

describe("help", () => {
  it("every command has --help with usage and an example", async () => {
    for (const command of COMMANDS) {
      const result = await phoenix([command.name, "--help"], {});
      expect(result.code, command.name).toBe(0);
      expect(result.stdout).toContain("Usage: phoenix");
      expect(result.stdout).toMatch(/Example:\n {2}phoenix /);
    }
    const overview = await phoenix(["--help"], {});
    for (const name of [
      "plan",
      "rollout",
      "contain",
      "release",
      "approve",
      "status",
      "watch",
      "audit",
      "config",
    ])
      expect(overview.stdout).toContain(`  ${name} `);
  });

  it("bad usage exits 2 and shows the usage", async () => {
    const result = await run("rollout", "--image", "not-an-ami");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("is not an AMI id");
    expect(result.stderr).toContain("Usage: phoenix rollout");
    expect((await run("plan", "--image", newWebImage, "--instance", "i-0123456789abcdef0")).code).toBe(2);
    expect((await run("contain", world.fleet.standaloneInstanceId)).stderr).toContain("--reason");
  });
});

describe("config check", () => {
  it("prints the effective values of a valid policy, defaults filled in", async () => {
    const file = join(dir, `phoenix-policy-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ rollout: { waveBakeMinutes: 3 } }));
    const text = await phoenix(["config", "check", file], {});
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("policy.rollout.waveBakeMinutes = 3");
    expect(text.stdout).toContain("policy.containment.containAtSeverity = 7");
    const json = await phoenix(["config", "check", file, "--json"], {});
    expect(json.json<{ valid: boolean; policy: { rollout: { waveBakeMinutes: number } } }>()).toMatchObject({
      valid: true,
      policy: { rollout: { waveBakeMinutes: 3 } },
    });
  });

  it("exits 2 naming the bad field", async () => {
    const file = join(dir, `phoenix-bad-policy-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ containment: { budgets: { perGroupMaxPercent: 200 } }, extra: 1 }));
    const result = await phoenix(["config", "check", file], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("policy.containment.budgets.perGroupMaxPercent");
    expect(result.stderr).toContain("policy.extra: unknown field");
    const json = await phoenix(["config", "check", file, "--json"], {});
    expect(json.code).toBe(2);
    expect(json.json<{ valid: boolean; problems: string[] }>().valid).toBe(false);
    // The environment's policy is what the functions read: checked the same way.
    const env = await phoenix(["config", "check"], { PHOENIX_POLICY: '{"retention":{"auditDays":0}}' });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain("policy.retention.auditDays");
  });

  it("refuses refresh preferences no group could be refreshed with, as the plan would (issue 11, item 4)", async () => {
    const file = join(dir, `phoenix-checkpoint-policy-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ rollout: { refresh: { checkpointPercentages: [50] } } }));
    const result = await phoenix(["config", "check", file], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "policy.rollout.refresh.checkpointPercentages: the last checkpoint must be 100, not 50",
    );
  });
});

describe("plan changes nothing and says what would happen", () => {
  it("plans a new image of a family wave by wave", async () => {
    const ec2 = new EC2Client(world.backstage);
    const versionsBefore = await templateVersions(ec2, world.fleet.groups[0]!.launchTemplateId);
    const text = await run("plan", "--image", newWebImage);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("Image gate: passed (family web)");
    expect(text.stdout).toContain(`Execution: rollout-web-${newWebImage}`);
    expect(text.stdout).toMatch(/Wave 1\n {2}- web-frontend/);
    expect(text.stdout).toMatch(/Wave 2\n {2}- web-backend/);

    const json = await run("plan", "--image", newWebImage, "--json");
    const plan = json.json<{
      verdict: string;
      plan: { waves: { wave: number; groups: { name: string }[] }[]; excluded: unknown[] };
    }>();
    expect(plan.plan.waves.map((w) => [w.wave, w.groups.map((g) => g.name)])).toEqual([
      [1, ["web-frontend"]],
      [2, ["web-backend"]],
    ]);
    expect(plan.verdict).toBe("would refresh 2 group(s) in 2 wave(s)");
    // Nothing started, nothing written.
    const status = (await run("status", "--json")).json<{ workflows: unknown[] }>();
    expect(status.workflows).toEqual([]);
    expect(await templateVersions(ec2, world.fleet.groups[0]!.launchTemplateId)).toEqual(versionsBefore);
    expect(
      (await run("audit", "--image", newWebImage, "--json")).json<{ records: unknown[] }>().records,
    ).toEqual([]);
  });

  it("plans named groups only, and says why one cannot be rolled", async () => {
    const result = await run(
      "plan",
      "--image",
      newWebImage,
      "--group",
      "web-backend",
      "--group",
      "api",
      "--json",
    );
    const plan = result.json<{
      plan: { waves: { groups: { name: string }[] }[]; excluded: { name: string }[] };
    }>();
    expect(plan.plan.waves.flatMap((w) => w.groups.map((g) => g.name))).toEqual(["web-backend"]);
    expect(plan.plan.excluded.map((g) => g.name)).toEqual(["api"]);
  });

  it("shows the image gate's refusal", async () => {
    const result = await run("plan", "--image", unscannedImage, "--json");
    expect(result.code).toBe(0);
    const plan = result.json<{ gate: { pass: boolean; reasons: string[] } }>();
    expect(plan.gate.pass).toBe(false);
    expect(plan.gate.reasons.join(" ")).toContain("phoenix:scan-status");
  });

  it("plans a containment: steps, budgets, and a hold for a protected group", async () => {
    const standalone = await run("plan", "--instance", world.fleet.standaloneInstanceId, "--json");
    expect(standalone.code).toBe(0);
    const plan = standalone.json<{ decision: string; steps: string[]; account: { limit: number } }>();
    expect(plan.decision).toBe("start");
    expect(plan.account.limit).toBe(5);
    expect(plan.steps.find((s) => s.startsWith("Replace"))).toContain("not in an Auto Scaling group");

    const member = world.fleet.groups.find((g) => g.name === "web-frontend")!.instanceIds[0]!;
    const inGroup = (await run("plan", "--instance", member)).stdout;
    expect(inGroup).toContain("Group: web-frontend (desired 3), 0 of 1 containment slot(s) in use");
    expect(inGroup).toContain("would START the contain workflow");
    expect(inGroup).toMatch(/Replace: detach from web-frontend without decrement/);

    const vault = world.fleet.groups.find((g) => g.name === "vault")!.instanceIds[0]!;
    const held = (await run("plan", "--instance", vault, "--json")).json<{
      decision: string;
      reason: string;
    }>();
    expect(held.decision).toBe("hold");
    expect(held.reason).toContain("phoenix:protected=true");
  });

  it("plans from event files: a GuardDuty finding and an AMI state change", async () => {
    const member = world.fleet.groups.find((g) => g.name === "api")!.instanceIds[0]!;
    const findingFile = join(dir, `finding-${process.pid}.json`);
    writeFileSync(findingFile, JSON.stringify(finding(member, "Backdoor:EC2/C&CActivity.B", 8)));
    const contained = await run("plan", "--event", findingFile, "--json");
    expect(contained.code).toBe(0);
    expect(
      contained.json<{ instance: { decision: string; route: { action: string } } }>().instance,
    ).toMatchObject({
      decision: "start",
      route: { action: "contain" },
    });
    writeFileSync(findingFile, JSON.stringify(finding(member, "Recon:EC2/PortProbeUnprotectedPort", 2)));
    // Below the rule's threshold and of no type the policy names: EventBridge never delivers it
    // (PutEvents accepts it, and nothing records it), which the plan says rather than "logged".
    const logged = await run("plan", "--event", findingFile);
    expect(logged.stdout).toContain("would NOT contain, notify or record it");
    expect(logged.stdout).toContain("on-finding never sees it");
    writeFileSync(findingFile, JSON.stringify(finding(member, "Recon:EC2/PortProbeUnprotectedPort", 5)));
    const notified = await run("plan", "--event", findingFile);
    expect(notified.stdout).toContain("would NOT contain");
    expect(notified.stdout).toContain("Routing: notify");

    // An instance that is only the TARGET of a high-severity probe is notified, not contained.
    const probe = finding(member, "Recon:EC2/PortProbeEMRUnprotectedPort", 8);
    probe.detail.service.resourceRole = "TARGET";
    writeFileSync(findingFile, JSON.stringify(probe));
    const target = await run("plan", "--event", findingFile);
    expect(target.stdout).toContain("Routing: notify");
    expect(target.stdout).toContain("only the TARGET");
    expect(target.stdout).toContain("would NOT contain");

    // A finding for an account Phoenix does not manage is refused without looking the instance up.
    const foreign = finding("i-0000000000000000e", "Backdoor:EC2/C&CActivity.B", 8);
    foreign.detail.accountId = "999999999999";
    foreign.region = "eu-west-1";
    writeFileSync(findingFile, JSON.stringify(foreign));
    const refused = await run("plan", "--event", findingFile);
    expect(refused.code).toBe(0);
    expect(refused.stdout).toContain("Verdict: refuse: The finding is for account 999999999999");
    expect(refused.stdout).toContain("eu-west-1");

    const amiFile = join(dir, `ami-${process.pid}.json`);
    writeFileSync(
      amiFile,
      JSON.stringify({
        id: "e1",
        source: "aws.ec2",
        "detail-type": "EC2 AMI State Change",
        account: "123456789012",
        region: "us-east-1",
        time: new Date().toISOString(),
        resources: [],
        detail: { ImageId: newWebImage, State: "available" },
      }),
    );
    const image = await run("plan", "--event", amiFile);
    expect(image.code).toBe(0);
    expect(image.stdout).toContain(`Plan for image ${newWebImage}`);
    expect(image.stdout).toContain("would refresh 2 group(s) in 2 wave(s)");

    const unknown = await run("plan", "--instance", "i-0000000000000000f");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("does not exist");
  });

  it("plans a session event: what on-session would do, changing nothing", async () => {
    const member = world.fleet.groups.find((g) => g.name === "api")!.instanceIds[0]!;
    const file = join(dir, `session-${process.pid}.json`);
    writeFileSync(file, JSON.stringify(ownSampleEvent("cloudtrail", "ssm-start-session.json", member)));
    const plan = await run("plan", "--event", file);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain(
      `Session on ${member}: arn:aws:sts::123456789012:assumed-role/OnCallAdmin/alice (ssm:StartSession)`,
    );
    expect(plan.stdout).toMatch(/Verdict: replace: .* replaced through its group api/);
    const json = (await run("plan", "--event", file, "--json")).json<{ decision: string; group: string }>();
    expect(json).toMatchObject({ event: "session", decision: "replace", group: "api", tainted: true });
    // Nothing was marked.
    const { Reservations } = await new EC2Client(world.backstage).send(
      new DescribeInstancesCommand({ InstanceIds: [member] }),
    );
    expect(Reservations?.[0]?.Instances?.[0]?.Tags?.some((t) => t.Key === "phoenix:tainted")).toBe(false);

    writeFileSync(
      file,
      JSON.stringify(ownSampleEvent("cloudtrail", "ssm-start-session-denied.json", member)),
    );
    expect((await run("plan", "--event", file)).stdout).toContain(
      "Verdict: ignore: the call failed (AccessDenied)",
    );
  });
});

describe("status, audit, watch", () => {
  it("lists the managed groups by family and wave, with --json", async () => {
    const text = await run("status");
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("Phoenix local in us-east-1/123456789012");
    expect(text.stdout).toMatch(/web-frontend\s+web\/wave 1\s+no refresh yet/);
    const json = (await run("status", "--json")).json<{ groups: { group: string; wave: number }[] }>();
    expect(json.groups.map((g) => `${g.group}:${g.wave}`)).toEqual([
      "api:1",
      "vault:1",
      "web-frontend:1",
      "web-backend:2",
    ]);
  });

  it("audit reads the trail; --since must be a duration", async () => {
    const json = await run("audit", "--since", "1h", "--json");
    expect(json.code).toBe(0);
    expect(Array.isArray(json.json<{ records: unknown[] }>().records)).toBe(true);
    const bad = await run("audit", "--since", "yesterday");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--since must be a duration");
  });

  it("watch says when there is no such execution", async () => {
    const result = await run("watch", "rollout-web-ami-00000000");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("phoenix status");
  });
});

describe("environment errors say what to do", () => {
  it("local cloud not running: exit 3, suggests phoenix local", async () => {
    const port = await closedPort();
    const result = await phoenix(["status"], { ...world.env, AWS_ENDPOINT_URL: `http://127.0.0.1:${port}` });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("local cloud is not running");
    expect(result.stderr).toContain("npx phoenix local");
  });

  it("Phoenix not deployed for the stage: exit 3, names region/account and sst deploy", async () => {
    const result = await run("status", "--stage", "staging");
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("Phoenix is not deployed in us-east-1/123456789012");
    expect(result.stderr).toContain("phoenix-staging-rollout");
    expect(result.stderr).toContain("npx sst deploy");
  });

  it("no credentials against AWS: exit 3 before any call", async () => {
    // A profile that exists nowhere: the SDK's chain then skips the process's own keys.
    const result = await phoenix(
      ["status", "--region", "eu-west-1", "--profile", "phoenix-test-no-such-profile"],
      {
        AWS_CONFIG_FILE: "/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
        AWS_EC2_METADATA_DISABLED: "true",
        PHOENIX_STAGE: "production",
      },
    );
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("No AWS credentials found for profile phoenix-test-no-such-profile");
    expect(result.stderr).toContain("aws sso login");
  });
});

function finding(instanceId: string, type: string, severity: number) {
  const now = new Date().toISOString();
  return {
    version: "0",
    id: `evt-${type}`,
    source: "aws.guardduty",
    "detail-type": "GuardDuty Finding",
    account: "123456789012",
    region: "us-east-1",
    time: now,
    resources: [],
    detail: {
      schemaVersion: "2.0",
      accountId: "123456789012",
      region: "us-east-1",
      id: `finding-${severity}`,
      type,
      severity,
      title: type,
      createdAt: now,
      updatedAt: now,
      resource: { resourceType: "Instance", instanceDetails: { instanceId } },
      service: { count: 1, archived: false, resourceRole: "ACTOR" },
    },
  };
}

async function templateVersions(ec2: EC2Client, launchTemplateId: string): Promise<number> {
  const { LaunchTemplateVersions = [] } = await ec2.send(
    new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: launchTemplateId }),
  );
  return LaunchTemplateVersions.length;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
