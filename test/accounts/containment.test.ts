import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DescribeInstancesCommand, DescribeSecurityGroupsCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
  CreateRoleCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  PutRolePolicyCommand,
} from "@aws-sdk/client-iam";
import { SFNClient } from "@aws-sdk/client-sfn";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memberAdministrator } from "../../local/core/accounts.js";
import { type SeededFleet, seedDemoFleet } from "../../local/core/seed.js";
import { guardDutyFinding } from "../../local/demo/finding.js";
import { getContainment } from "../../src/containment/aws/records.js";
import { phoenix } from "../cli/support.js";
import { awsCli, awsCliAs } from "../support/cloud.js";
import { waitForExecution } from "../support/executions.js";
import { type PhoenixCloud, startPhoenixCloud } from "../support/phoenix-cloud.js";
import { until } from "../support/poll.js";

/**
 * Issue 17, containment across accounts and regions, end to end on the local cloud: a central
 * Phoenix (123456789012, us-east-1) and two member accounts, fleets in eu-west-1. Findings arrive
 * as the GuardDuty administrator's bus delivers them (put on the central bus, detail.accountId
 * the member's), go through Phoenix's rules and on-finding, and the contain workflow acts in the
 * member through the member role its member stack created, with IAM enforced on every call.
 */
const CENTRAL = "123456789012";
const MEMBER = "222222222222";
const OTHER = "333333333333";
const STRANGER = "444444444444";
const REGION = "eu-west-1";

let pc: PhoenixCloud;
let sfn: SFNClient;
const fleets: Record<string, SeededFleet> = {};
type Keys = { accessKeyId: string; secretAccessKey: string; sessionToken: string };

const admin = () => ({
  endpoint: pc.cloud.endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});

async function assume(roleArn: string, by = admin()): Promise<Keys> {
  const { Credentials: c } = await new STSClient({ ...by, maxAttempts: 1 }).send(
    new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: "test" }),
  );
  return {
    accessKeyId: c!.AccessKeyId!,
    secretAccessKey: c!.SecretAccessKey!,
    sessionToken: c!.SessionToken!,
  };
}

/**
 * A person in a member account, through the role AWS Organizations creates there (as the demo
 * seeds): asked afresh at each use, since on a clock 200 times faster a session lasts minutes.
 */
const memberAdmin = (account: string, region = REGION) =>
  memberAdministrator(pc.cloud.context, account, region);

async function putFinding(accountId: string, instanceId: string, findingId: string): Promise<void> {
  const finding = guardDutyFinding({ instanceId, accountId, region: REGION });
  finding.detail["id"] = findingId;
  const entry = {
    Source: finding.source,
    DetailType: finding.detailType,
    Detail: JSON.stringify(finding.detail),
    Resources: [],
  };
  const at = path.join(tmpdir(), `phoenix-${process.pid}-${findingId}.json`);
  writeFileSync(at, JSON.stringify([entry]));
  const put = (await awsCli(pc.cloud, ["events", "put-events", "--entries", `file://${at}`])) as {
    FailedEntryCount: number;
  };
  expect(put.FailedEntryCount).toBe(0);
}

async function instance(
  config: {
    endpoint: string;
    region: string;
    credentials: Keys | { accessKeyId: string; secretAccessKey: string };
  },
  id: string,
) {
  const { Reservations = [] } = await new EC2Client(config).send(
    new DescribeInstancesCommand({ InstanceIds: [id] }),
  );
  return Reservations[0]!.Instances![0]!;
}

const isolationGroups = async (config: Parameters<typeof instance>[0]) =>
  ((await new EC2Client(config).send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [])
    .filter((g) => g.GroupName?.startsWith("phoenix-"))
    .map((g) => g.GroupName);

const POLICY = {
  accounts: [
    { accountId: MEMBER, regions: ["us-east-1", REGION] },
    { accountId: OTHER, regions: [REGION] },
  ],
  containment: { budgets: { perAccountMaxCount: 1, perGroupMaxCount: 3, perGroupMaxPercent: 100 } },
};
const policyFile = path.join(tmpdir(), `phoenix-accounts-${process.pid}.json`);
const cliEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
  AWS_REGION: "us-east-1",
  PHOENIX_RUN_DIR: path.join(tmpdir(), `phoenix-accounts-run-${process.pid}`),
};

const SMALL = [{ name: "web", family: "web", managed: true, desired: 3 }];

beforeAll(async () => {
  pc = await startPhoenixCloud({
    speed: 200,
    accounts: [MEMBER, OTHER],
    policy: POLICY,
  });
  writeFileSync(policyFile, JSON.stringify(POLICY));
  sfn = new SFNClient({ ...admin(), endpoint: pc.cloud.endpoint });
  for (const account of [MEMBER, OTHER]) {
    fleets[account] = await seedDemoFleet(
      { ...(await memberAdmin(account)), maxAttempts: 3 } as never,
      SMALL,
    );
  }
}, 120_000);
afterAll(async () => pc?.stop());

describe("containment in member accounts", () => {
  it("deploys the member stack into every listed account, its role trusting only Phoenix's functions", async () => {
    const health = (await (await fetch(`${pc.cloud.endpoint}/_phoenix/health`)).json()) as {
      parts: { deployment: { memberStacks: { accountId: string; roleArn: string }[] } };
    };
    expect(health.parts.deployment.memberStacks.map((m) => m.roleArn).sort()).toEqual([
      `arn:aws:iam::${MEMBER}:role/phoenix-member`,
      `arn:aws:iam::${OTHER}:role/phoenix-member`,
    ]);
    // As deployed in the member (read there as its administrator would): trusted by exact role
    // ARNs, kept to the regions the policy lists for it, and no wildcard action.
    const memberIam = new IAMClient(await memberAdmin(OTHER));
    const { Role } = await memberIam.send(new GetRoleCommand({ RoleName: "phoenix-member" }));
    const trust = JSON.parse(decodeURIComponent(Role!.AssumeRolePolicyDocument!));
    expect(trust.Statement[0].Condition.ArnEquals["aws:PrincipalArn"]).toContain(
      `arn:aws:iam::${CENTRAL}:role/phoenix-local-on-finding`,
    );
    expect(trust.Statement[0].Condition.ArnEquals["aws:PrincipalArn"]).not.toContain(
      `arn:aws:iam::${CENTRAL}:role/phoenix-local-rollout-wave`,
    );
    const { PolicyDocument } = await memberIam.send(
      new GetRolePolicyCommand({ RoleName: "phoenix-member", PolicyName: "phoenix-member" }),
    );
    const statements = JSON.parse(decodeURIComponent(PolicyDocument!)).Statement as {
      Sid: string;
      Effect: string;
      Action?: string[];
      Condition?: Record<string, Record<string, string[]>>;
    }[];
    expect(statements.find((st) => st.Sid === "OnlyTheListedRegions")?.Condition).toEqual({
      StringNotEquals: { "aws:RequestedRegion": [REGION] },
    });
    expect(statements.flatMap((st) => st.Action ?? []).filter((a) => a.includes("*"))).toEqual([]);
    // A person of the central account, even its administrator, may not assume it.
    await expect(assume(`arn:aws:iam::${MEMBER}:role/phoenix-member`)).rejects.toThrow(
      /not authorized to perform: sts:AssumeRole/,
    );
    // Nor a central role allowed sts:AssumeRole on everything, that is not one of Phoenix's functions.
    const iam = new IAMClient(admin());
    await iam.send(
      new CreateRoleCommand({
        RoleName: "phoenix-local-on-finding-imposter",
        AssumeRolePolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${CENTRAL}:root` }, Action: "sts:AssumeRole" },
          ],
        }),
      }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: "phoenix-local-on-finding-imposter",
        PolicyName: "assume-anything",
        PolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: "sts:AssumeRole", Resource: "*" }],
        }),
      }),
    );
    const imposter = await assume(`arn:aws:iam::${CENTRAL}:role/phoenix-local-on-finding-imposter`);
    const refused = await awsCliAs(pc.cloud, imposter, [
      "sts",
      "assume-role",
      "--role-arn",
      `arn:aws:iam::${MEMBER}:role/phoenix-member`,
      "--role-session-name",
      "imposter",
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/AccessDenied/);
  }, 60_000);

  it("contains a member's instance in its account and region, and nowhere else", async () => {
    const target = fleets[MEMBER]!.groups[0]!.instanceIds[0]!;
    const centralBefore = await isolationGroups(admin());
    await putFinding(MEMBER, target, "member0000000000000000000000001");
    const ended = await waitForExecution(sfn, pc.phoenix.stateMachineArns.contain, target, 90_000);
    expect(ended.status).toBe("SUCCEEDED");
    const record = await getContainment(pc.phoenix.deps, MEMBER, target);
    expect(record).toMatchObject({
      status: "succeeded",
      accountId: MEMBER,
      region: REGION,
      groupName: "web",
    });

    // In the member, in eu-west-1: isolated, marked, evidence kept, replaced and terminated.
    const contained = await instance(await memberAdmin(MEMBER), target);
    expect(contained.State?.Name).toMatch(/terminated|shutting-down/);
    expect(contained.Tags?.find((t) => t.Key === "phoenix:quarantine")?.Value).toBe(
      "member0000000000000000000000001",
    );
    expect(await isolationGroups(await memberAdmin(MEMBER))).toEqual(
      expect.arrayContaining(["phoenix-quarantine", "phoenix-isolation-transition"]),
    );
    // Nowhere else: not in the member's other region, not in the central account.
    expect(await isolationGroups(await memberAdmin(MEMBER, "us-east-1"))).toEqual([]);
    expect(await isolationGroups(admin())).toEqual(centralBefore);
    expect(await isolationGroups(await memberAdmin(OTHER))).toEqual([]);

    // The trail names the account and region; every fleet call went through the member role.
    const trail = await pc.phoenix.deps.audit.history(`instance/${target}`);
    for (const action of ["start-containment", "isolate", "revoke-credentials", "snapshot"]) {
      const entry = trail.find((r) => r.action === action);
      expect(entry, action).toMatchObject({ accountId: MEMBER, region: REGION });
    }
    expect(trail.find((r) => r.action === "contain" && r.outcome === "ok")?.accountId).toBe(MEMBER);
    const decisions = (await (
      await fetch(`${pc.cloud.endpoint}/_phoenix/iam/decisions?limit=5000`)
    ).json()) as {
      decisions: { principal: string; decision: string; call: string }[];
    };
    const asMember = decisions.decisions.filter((d) =>
      d.principal.includes(`${MEMBER}:assumed-role/phoenix-member/`),
    );
    expect(asMember.length).toBeGreaterThan(5);
    expect(asMember.filter((d) => d.decision !== "Allow")).toEqual([]);
  }, 120_000);

  it("refuses a finding from an account the policy does not list, touching nothing", async () => {
    await putFinding(STRANGER, "i-0abcdef0123456789", "stranger00000000000000000000001");
    const refused = await until(
      "the refusal record",
      async () => {
        const trail = await pc.phoenix.deps.audit.history("finding/stranger00000000000000000000001");
        return trail.find((r) => r.outcome === "refused");
      },
      30_000,
    );
    expect(refused.reason).toMatch(/account 444444444444 \(detail\.accountId\).*does not manage/);
    expect(refused.reason).toContain(`account ${MEMBER} in us-east-1, ${REGION}`);
    const { executions = [] } = await sfn.send(
      new (await import("@aws-sdk/client-sfn")).ListExecutionsCommand({
        stateMachineArn: pc.phoenix.stateMachineArns.contain,
      }),
    );
    expect(executions.filter((e) => e.name?.includes("i-0abcdef0123456789"))).toEqual([]);
  }, 60_000);

  it("counts budgets per account: a second containment in one member is held, another member's goes on", async () => {
    const second = fleets[MEMBER]!.groups[0]!.instanceIds[1]!;
    await putFinding(MEMBER, second, "member0000000000000000000000002");
    const held = await until(
      "the held containment",
      () =>
        getContainment(pc.phoenix.deps, MEMBER, second).then((r) => (r?.status === "held" ? r : undefined)),
      30_000,
    );
    expect(held.hold?.kind).toBe("budget");
    expect(
      (await instance(await memberAdmin(MEMBER), second)).Tags?.some((t) => t.Key === "phoenix:quarantine"),
    ).toBe(false);

    const elsewhere = fleets[OTHER]!.groups[0]!.instanceIds[0]!;
    await putFinding(OTHER, elsewhere, "other00000000000000000000000001");
    const ended = await waitForExecution(sfn, pc.phoenix.stateMachineArns.contain, elsewhere, 90_000);
    expect(ended.status).toBe("SUCCEEDED");
    expect((await instance(await memberAdmin(OTHER), elsewhere)).State?.Name).toMatch(
      /terminated|shutting-down/,
    );
  }, 120_000);

  it("approves and releases a member's held containment from the CLI, with --account", async () => {
    const second = fleets[MEMBER]!.groups[0]!.instanceIds[1]!;
    const held = await getContainment(pc.phoenix.deps, MEMBER, second);
    expect(held?.status).toBe("held");
    const where = ["--endpoint", pc.cloud.endpoint, "--policy", policyFile];
    const wrong = await phoenix(["approve", held!.hold!.id, "--account", OTHER, ...where], cliEnv);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`it is a hold in account ${MEMBER}, not ${OTHER}`);
    // Without --account, the record is looked for in Phoenix's own account, and said so.
    const unnamed = await phoenix(["release", second, ...where], cliEnv);
    expect(unnamed.code).toBe(1);
    expect(unnamed.stderr).toContain("needs --account");
    const released = await phoenix(["release", second, "--account", MEMBER, ...where], cliEnv);
    expect(released.stderr).toBe("");
    expect(released.code).toBe(0);
    expect(released.stdout).toContain(`Released ${second}`);
    expect((await getContainment(pc.phoenix.deps, MEMBER, second))?.status).toBe("released");
    const trail = await pc.phoenix.deps.audit.history(`instance/${second}`);
    expect(trail.find((r) => r.action === "release")).toMatchObject({ accountId: MEMBER, region: REGION });
    const audit = await phoenix(["audit", "--instance", second, ...where], cliEnv);
    expect(audit.stdout).toMatch(
      new RegExp(`instance/${second} \\(account ${MEMBER} ${REGION}\\)  release ok`),
    );
  }, 60_000);

  it("makes a member's finding with `phoenix local finding --account --region`, and says what Phoenix will do", async () => {
    const target = fleets[OTHER]!.groups[0]!.instanceIds[1]!;
    const where = ["--endpoint", pc.cloud.endpoint, "--policy", policyFile];
    const made = await phoenix(
      ["local", "finding", target, "--account", OTHER, "--region", REGION, "--json", ...where],
      cliEnv,
    );
    expect(made.code).toBe(0);
    const { entries, verdict } = made.json<{ entries: { Detail: string }[]; verdict: string }>();
    expect(JSON.parse(entries[0]!.Detail)).toMatchObject({ accountId: OTHER, region: REGION });
    // Planned on the instance as read in OTHER's eu-west-1 (it exists only there). Start or hold:
    // the budget window on a cloud whose clock runs 200 times faster is not the CLI's.
    expect(verdict).toMatch(/^(start|hold): /);
    const stranger = await phoenix(
      ["local", "finding", target, "--account", STRANGER, "--json", ...where],
      cliEnv,
    );
    expect(stranger.json<{ verdict: string }>().verdict).toMatch(/^refuse: .*account 444444444444/);
  }, 60_000);

  it("shows the member accounts' fleets on the dashboard, each group and instance with its account", async () => {
    const state = (await (await fetch(`${pc.cloud.endpoint}/_phoenix/dashboard/state`)).json()) as {
      scope: { accounts: string[]; regions: string[] };
      groups: {
        name: string;
        accountId?: string;
        region?: string;
        instances: { id: string; accountId?: string }[];
      }[];
    };
    expect(state.scope.accounts).toEqual([CENTRAL, MEMBER, OTHER]);
    expect(state.scope.regions).toEqual([REGION, "us-east-1"]);
    const memberGroup = state.groups.find((g) => g.accountId === MEMBER);
    expect(memberGroup).toMatchObject({ name: "web", region: REGION });
    expect(memberGroup!.instances.every((i) => i.accountId === MEMBER)).toBe(true);
    expect(state.groups.some((g) => g.accountId === OTHER)).toBe(true);
    // The central fleet is there too, unlabelled.
    expect(state.groups.some((g) => g.name === "web-frontend" && g.accountId === undefined)).toBe(true);
    const view = await (await fetch(`${pc.cloud.endpoint}/_phoenix/dashboard/view`)).text();
    expect(view).toContain(`${MEMBER} · ${REGION}`);
  }, 60_000);

  it("contains a member's instance from the CLI (`phoenix contain --account --region`), and refuses an unlisted account", async () => {
    const target = fleets[OTHER]!.groups[0]!.instanceIds[2]!;
    const where = ["--endpoint", pc.cloud.endpoint, "--policy", policyFile];
    const asked = await phoenix(
      [
        "contain",
        target,
        "--account",
        OTHER,
        "--region",
        REGION,
        "--reason",
        "seen by on-call",
        "--json",
        ...where,
      ],
      cliEnv,
    );
    // Started, or held by OTHER's budget (whose window on a clock 200 times faster may have passed).
    expect([0, 4]).toContain(asked.code);
    expect(["started", "held"]).toContain(asked.json<{ outcome: string }>().outcome);
    expect((await getContainment(pc.phoenix.deps, OTHER, target))?.region).toBe(REGION);
    const stranger = await phoenix(
      ["contain", target, "--account", STRANGER, "--region", REGION, "--reason", "test", ...where],
      cliEnv,
    );
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toContain("Phoenix does not manage account 444444444444");
  }, 60_000);
});
