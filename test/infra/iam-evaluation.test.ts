import { describe, expect, it } from "vitest";
import type { PolicyContext } from "../../build/iam/context.js";
import { functionPolicy } from "../../build/iam/policy.js";
import type { PhoenixFunction } from "../../src/catalog.js";
import { parsePolicy } from "../../src/policy/index.js";
import { isManaged } from "../../src/rollout/core/group.js";
import { ACCOUNT, type Call, decide, grantsPhoenixAccount } from "./iam-simulator.js";
import { readRepository, testContext } from "./support.js";

// The policies the stack deploys (functionPolicy, the same the graph holds), evaluated by an
// independent IAM evaluator against the request context AWS builds for each call: the resources
// the Service Authorization Reference lists for the action, their tags at the time of the call,
// the request's tags and tag keys, iam:PassedToService. Issue #13, items 1–6.

const REGION = "eu-west-1";
const ec2 = (resource: string, account = ACCOUNT) => `arn:aws:ec2:${REGION}:${account}:${resource}`;
const image = (id: string) => `arn:aws:ec2:${REGION}::image/${id}`;
const snapshot = (id: string) => `arn:aws:ec2:${REGION}::snapshot/${id}`;
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const group = (name: string) =>
  `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:6d3c0f2e-1111-2222-3333-444455556666:autoScalingGroupName/${name}`;
const OUT_OF_THE_BOX = testContext({}, []);
const LAUNCH_TEMPLATE = ec2("launch-template/lt-0123456789abcdef0");

const policyOf = (name: PhoenixFunction, ctx: PolicyContext = OUT_OF_THE_BOX) =>
  functionPolicy(name, ctx, readRepository);
const decideFor = (name: PhoenixFunction, call: Call, ctx?: PolicyContext) =>
  decide(policyOf(name, ctx), call, `phoenix-test-Fn${name}Role-abcdefgh`);

describe("1. what counts as phoenix:managed is the same for the planner and for IAM", () => {
  it.each([["true"], ["True"], [" true "], ["TRUE"], ["false"], [""]])(
    "phoenix:managed=%j",
    async (value) => {
      const tags = { "phoenix:managed": value, "phoenix:image-family": "web" };
      const planned = isManaged({ tags });
      for (const action of ["autoscaling:StartInstanceRefresh", "autoscaling:UpdateAutoScalingGroup"]) {
        const decision = await decideFor("rollout-group", {
          action,
          resources: [{ arn: group("web-frontend"), tags }],
        });
        expect(decision === "Allowed", `${action}: planner says managed=${planned}, IAM ${decision}`).toBe(
          planned,
        );
      }
    },
  );
});

/** What Auto Scaling checks against the caller when a refresh points a group at a template. */
function launchCheck(options: { subnetAccount?: string; roleTags?: Record<string, string> } = {}): Call[] {
  const subnetAccount = options.subnetAccount ?? ACCOUNT;
  const context = { "ec2:LaunchTemplate": LAUNCH_TEMPLATE };
  return [
    {
      action: "ec2:RunInstances",
      context,
      resources: [
        { arn: ec2("instance/i-0aaaaaaaaaaaaaaa1") },
        { arn: ec2("network-interface/eni-0aaaaaaaaaaaaaaa1") },
        { arn: ec2("volume/vol-0aaaaaaaaaaaaaaa1") },
        { arn: ec2("security-group/sg-0aaaaaaaaaaaaaaa1"), tags: { Name: "web" } },
        {
          arn: ec2("subnet/subnet-0aaaaaaaaaaaaaaa1", subnetAccount),
          // A shared VPC's subnet: the owner shares it with this account through AWS RAM.
          ...(subnetAccount !== ACCOUNT
            ? { resourcePolicy: grantsPhoenixAccount(["ec2:RunInstances"]) }
            : {}),
        },
        { arn: image("ami-0aaaaaaaaaaaaaaa1"), tags: { "phoenix:image-family": "web" } },
        { arn: LAUNCH_TEMPLATE },
      ],
    },
    {
      action: "ec2:CreateTags",
      context: { "ec2:CreateAction": "RunInstances" },
      requestTags: { Name: "web", team: "frontend" },
      resources: [{ arn: ec2("instance/i-0aaaaaaaaaaaaaaa1") }, { arn: ec2("volume/vol-0aaaaaaaaaaaaaaa1") }],
    },
    {
      action: "iam:PassRole",
      context: { "iam:PassedToService": "ec2.amazonaws.com" },
      resources: [{ arn: role("web-instance"), tags: options.roleTags ?? { "phoenix:fleet-role": "true" } }],
    },
  ];
}

describe("2. refreshing a group whose template has an instance profile passes the fleet role", () => {
  it("may pass a role tagged phoenix:fleet-role=true to EC2, out of the box", async () => {
    for (const call of launchCheck())
      expect(await decideFor("rollout-group", call), call.action).toBe("Allowed");
  });

  it("may not pass an untagged role, a fleet role to another service, or one of Phoenix's own roles", async () => {
    const pass = (arn: string, tags: Record<string, string>, service = "ec2.amazonaws.com") =>
      decideFor("rollout-group", {
        action: "iam:PassRole",
        context: { "iam:PassedToService": service },
        resources: [{ arn, tags }],
      });
    expect(await pass(role("web-instance"), {})).toMatch(/Denied/);
    expect(await pass(role("web-instance"), { "phoenix:fleet-role": "True" })).toMatch(/Denied/);
    expect(
      await pass(role("web-instance"), { "phoenix:fleet-role": "true" }, "lambda.amazonaws.com"),
    ).toMatch(/Denied/);
    expect(await pass(role("phoenix-test-FnContainRevokeRole-x"), { "phoenix:fleet-role": "true" })).toMatch(
      /ExplicitlyDenied/,
    );
    expect(await pass(role("OrganizationAccountAccessRole"), { "phoenix:fleet-role": "true" })).toMatch(
      /ExplicitlyDenied/,
    );
  });

  it("may also pass the roles the deployer lists (PHOENIX_FLEET_ROLE_ARNS), untagged, to EC2 only", async () => {
    const listed = testContext({}, [role("api-*")]);
    const pass = (arn: string, service = "ec2.amazonaws.com") =>
      decideFor(
        "rollout-group",
        { action: "iam:PassRole", context: { "iam:PassedToService": service }, resources: [{ arn }] },
        listed,
      );
    expect(await pass(role("api-instance"))).toBe("Allowed");
    expect(await pass(role("api-instance"), "lambda.amazonaws.com")).toMatch(/Denied/);
    expect(await pass(role("web-instance"))).toMatch(/Denied/);
  });
});

describe("3. launches into a shared VPC", () => {
  it("may launch into a subnet another account owns and shares", async () => {
    for (const call of launchCheck({ subnetAccount: "210987654321" }))
      expect(await decideFor("rollout-group", call), call.action).toBe("Allowed");
  });

  it("isolates an instance there: its isolation groups are created in the VPC owner's VPC", async () => {
    const create = {
      action: "ec2:CreateSecurityGroup",
      requestTags: { "phoenix:role": "quarantine", Name: "phoenix-quarantine" },
      resources: [
        {
          arn: ec2("vpc/vpc-0aaaaaaaaaaaaaaa1", "210987654321"),
          resourcePolicy: grantsPhoenixAccount(["ec2:CreateSecurityGroup"]),
        },
        { arn: ec2("security-group/sg-0aaaaaaaaaaaaaaa2") },
      ],
    };
    expect(await decideFor("contain-isolate", create)).toBe("Allowed");
    expect(await decideFor("contain-isolate", { ...create, requestTags: { Name: "x" } })).toMatch(/Denied/);
  });

  it("still launches only through a launch template", async () => {
    const [run] = launchCheck({ subnetAccount: "210987654321" });
    expect(await decideFor("rollout-group", { ...run!, context: {} })).toMatch(/Denied/);
  });
});

describe("4. kms:Verify with the image pipeline's signing key", () => {
  const PIPELINE = "210987654321";
  const KEY = `arn:aws:kms:${REGION}:${PIPELINE}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
  const keyPolicy = grantsPhoenixAccount(["kms:Verify", "kms:DescribeKey"]);
  const verify = (ctx: PolicyContext, aliases: string[] = []) =>
    Promise.all(
      (["kms:Verify", "kms:DescribeKey"] as const).map((action) =>
        decideFor(
          "rollout-plan",
          {
            action,
            context: { "kms:ResourceAliases": aliases },
            resources: [{ arn: KEY, resourcePolicy: keyPolicy }],
          },
          ctx,
        ),
      ),
    );
  const gate = (signingKeyId: string) =>
    testContext({
      rollout: { imageGate: { allowedOwners: ["self", PIPELINE], requireSignature: true, signingKeyId } },
    });

  it("named by its key ARN", async () => {
    expect(await verify(gate(KEY))).toEqual(["Allowed", "Allowed"]);
  });

  it("named by its alias ARN (the alias is the pipeline account's)", async () => {
    const ctx = gate(`arn:aws:kms:${REGION}:${PIPELINE}:alias/golden-images`);
    expect(await verify(ctx, ["alias/golden-images"])).toEqual(["Allowed", "Allowed"]);
    expect(await verify(ctx, ["alias/other"])).toEqual([
      expect.stringMatching(/Denied/),
      expect.stringMatching(/Denied/),
    ]);
  });

  it("named by key id or alias name, which KMS resolves in Phoenix's own account: refused at config check", () => {
    for (const signingKeyId of ["1234abcd-12ab-34cd-56ef-1234567890ab", "alias/golden-images"]) {
      expect(() =>
        parsePolicy({
          rollout: { imageGate: { allowedOwners: [PIPELINE], requireSignature: true, signingKeyId } },
        }),
      ).toThrow(/signingKeyId: .*key ARN or alias ARN/);
    }
    // With images from this account only, a key id or alias name is unambiguous.
    expect(() =>
      parsePolicy({
        rollout: { imageGate: { requireSignature: true, signingKeyId: "alias/golden-images" } },
      }),
    ).not.toThrow();
  });
});

describe("5. iam:PutRolePolicy only on fleet roles, never on Phoenix's own or administrative roles", () => {
  const put = (name: string, tags: Record<string, string> = {}) =>
    Promise.all(
      (["iam:PutRolePolicy"] as const).map((action) =>
        decideFor("contain-revoke", { action, resources: [{ arn: role(name), tags }] }),
      ),
    ).then(([decision]) => decision);

  it("may write the revocation on a fleet role, tagged or listed", async () => {
    expect(await put("web-instance", { "phoenix:fleet-role": "true" })).toBe("Allowed");
    const listed = testContext({}, [role("api-*")]);
    expect(
      await decideFor(
        "contain-revoke",
        { action: "iam:PutRolePolicy", resources: [{ arn: role("api-instance") }] },
        listed,
      ),
    ).toBe("Allowed");
  });

  it("may not write on any other role, even one wrongly tagged as a fleet role", async () => {
    expect(await put("web-instance")).toMatch(/Denied/);
    expect(await put("OrganizationAccountAccessRole")).toMatch(/Denied/);
    for (const name of [
      "OrganizationAccountAccessRole",
      "AWSControlTowerExecution",
      "aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_0123456789abcdef",
      "cdk-hnb659fds-cfn-exec-role-123456789012-eu-west-1",
      "phoenix-test-FnContainRevokeRole-abcdefgh",
      "phoenix-prod-rollout-workflow",
    ]) {
      expect(await put(name, { "phoenix:fleet-role": "true" }), name).toMatch(/ExplicitlyDenied/);
    }
  });
});

describe("6. each function writes only its own tag keys, on the resource types it tags", () => {
  const tag = (resource: string, tags: Record<string, string>, createAction?: string): Call => ({
    action: "ec2:CreateTags",
    requestTags: tags,
    ...(createAction ? { context: { "ec2:CreateAction": createAction } } : {}),
    resources: [{ arn: resource }],
  });
  const instance = ec2("instance/i-0bbbbbbbbbbbbbbb1");

  it.each(["on-finding", "contain-admit", "contain-isolate"] as const)(
    "%s: phoenix:quarantine on the instance it isolates, nothing else",
    async (name) => {
      expect(await decideFor(name, tag(instance, { "phoenix:quarantine": "finding-1" }))).toBe("Allowed");
      expect(await decideFor(name, tag(instance, { "phoenix:protected": "false" }))).toMatch(/Denied/);
      expect(await decideFor(name, tag(instance, { "phoenix:managed": "true" }))).toMatch(/Denied/);
      expect(
        await decideFor(
          name,
          tag(ec2("volume/vol-0bbbbbbbbbbbbbbb1"), { "phoenix:quarantine": "finding-1" }),
        ),
      ).toMatch(/Denied/);
      expect(
        await decideFor(name, tag(image("ami-0bbbbbbbbbbbbbbb1"), { "phoenix:image-status": "ok" })),
      ).toMatch(/Denied/);
    },
  );

  it("contain-isolate: phoenix:role and Name on the isolation groups it creates", async () => {
    const created = ec2("security-group/sg-0bbbbbbbbbbbbbbb1");
    expect(
      await decideFor(
        "contain-isolate",
        tag(created, { "phoenix:role": "quarantine", Name: "phoenix-quarantine" }, "CreateSecurityGroup"),
      ),
    ).toBe("Allowed");
    expect(
      await decideFor(
        "contain-isolate",
        tag(created, { "phoenix:role": "quarantine", owner: "someone" }, "CreateSecurityGroup"),
      ),
    ).toMatch(/Denied/);
  });

  it("contain-evidence: its three keys on the snapshots it creates, never on the instance", async () => {
    const evidence = {
      "phoenix:finding": "finding-1",
      "phoenix:containment": "contain-1",
      "phoenix:instance": "i-0bbbbbbbbbbbbbbb1",
    };
    expect(
      await decideFor(
        "contain-evidence",
        tag(snapshot("snap-0bbbbbbbbbbbbbbb1"), evidence, "CreateSnapshot"),
      ),
    ).toBe("Allowed");
    expect(await decideFor("contain-evidence", tag(instance, { "phoenix:quarantine": "x" }))).toMatch(
      /Denied/,
    );
    expect(
      await decideFor(
        "contain-evidence",
        tag(snapshot("snap-0bbbbbbbbbbbbbbb1"), { "phoenix:protected": "true" }),
      ),
    ).toMatch(/Denied/);
  });

  it("rollout-group: only the tags of a launch, never phoenix:quarantine", async () => {
    expect(await decideFor("rollout-group", tag(instance, { "phoenix:quarantine": "x" }))).toMatch(/Denied/);
    expect(
      await decideFor("rollout-group", tag(instance, { "phoenix:quarantine": "x" }, "RunInstances")),
    ).toMatch(/Denied/);
    expect(await decideFor("rollout-group", tag(instance, { Name: "web" }, "RunInstances"))).toBe("Allowed");
  });

  it("rollout-finish: the image-status pair on images only", async () => {
    const rejected = { "phoenix:image-status": "rejected", "phoenix:image-status-reason": "rollback" };
    expect(await decideFor("rollout-finish", tag(image("ami-0bbbbbbbbbbbbbbb1"), rejected))).toBe("Allowed");
    expect(await decideFor("rollout-finish", tag(instance, { "phoenix:quarantine": "x" }))).toMatch(/Denied/);
    expect(
      await decideFor("rollout-finish", tag(image("ami-0bbbbbbbbbbbbbbb1"), { "phoenix:managed": "true" })),
    ).toMatch(/Denied/);
  });
});

describe("the containment and rollout mutations are allowed where Phoenix needs them, and held to them", () => {
  const quarantined = { "phoenix:quarantine": "finding-1" };
  const instance = { arn: ec2("instance/i-0ccccccccccccccc1"), tags: quarantined };

  it("contain-harden: termination protection and DeleteOnTermination on a quarantined instance", async () => {
    const modify = {
      action: "ec2:ModifyInstanceAttribute",
      resources: [instance, { arn: ec2("volume/vol-0ccccccccccccccc1") }],
    };
    expect(await decideFor("contain-harden", modify)).toBe("Allowed");
    expect(
      await decideFor("contain-harden", {
        ...modify,
        resources: [{ arn: ec2("instance/i-0ccccccccccccccc2") }],
      }),
    ).toMatch(/Denied/);
  });

  it("contain-revoke: the profile swap on a quarantined instance", async () => {
    expect(
      await decideFor("contain-revoke", {
        action: "ec2:ReplaceIamInstanceProfileAssociation",
        resources: [instance],
      }),
    ).toBe("Allowed");
  });

  it("contain-dispose: terminate a quarantined instance only", async () => {
    expect(
      await decideFor("contain-dispose", { action: "ec2:TerminateInstances", resources: [instance] }),
    ).toBe("Allowed");
    expect(
      await decideFor("contain-dispose", {
        action: "ec2:TerminateInstances",
        resources: [{ arn: ec2("instance/i-0ccccccccccccccc2"), tags: { "phoenix:protected": "false" } }],
      }),
    ).toMatch(/Denied/);
  });

  it("contain-evidence: a snapshot of any volume, created with its containment tag", async () => {
    expect(
      await decideFor("contain-evidence", {
        action: "ec2:CreateSnapshot",
        requestTags: { "phoenix:containment": "contain-1", "phoenix:finding": "f", "phoenix:instance": "i" },
        resources: [
          { arn: ec2("volume/vol-0ccccccccccccccc1") },
          { arn: snapshot("snap-0ccccccccccccccc1") },
        ],
      }),
    ).toBe("Allowed");
  });

  it("rollout-group: refresh and pin a managed group", async () => {
    const managed = { arn: group("web-frontend"), tags: { "phoenix:managed": "true" } };
    for (const action of ["autoscaling:StartInstanceRefresh", "autoscaling:UpdateAutoScalingGroup"])
      expect(await decideFor("rollout-group", { action, resources: [managed] })).toBe("Allowed");
  });
});
