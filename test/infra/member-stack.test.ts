import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ROOT } from "./support.js";

/**
 * The member stack, synthesized offline as its deployers would run it (`npm run synth --
 * --member`): for one account (its own graph, not the central one), and as one CloudFormation
 * template for a StackSet. docs/DEPLOY.md ("Multi-account") describes both.
 */
const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "phoenix-member-"));
const policyFile = join(dir, "policy.json");
writeFileSync(
  policyFile,
  JSON.stringify({ accounts: [{ accountId: "222222222222", regions: ["eu-west-1", "us-east-1"] }] }),
);

async function synth(args: string[]): Promise<{ code: number; stderr: string; out: unknown }> {
  const out = join(dir, `${args.join("-").replace(/[^\w-]/g, "")}.json`);
  try {
    const run = await exec(
      "npx",
      [
        "tsx",
        "build/synth/main.ts",
        "--stage",
        "prod",
        "--no-bundle",
        "--policy",
        policyFile,
        "--out",
        out,
        ...args,
      ],
      { cwd: ROOT, env: { ...process.env, PHOENIX_POLICY: "", PHOENIX_POLICY_FILE: "" } },
    );
    return { code: 0, stderr: run.stderr, out: JSON.parse(readFileSync(out, "utf8")) };
  } catch (error) {
    const failed = error as { code?: number; stderr?: string };
    return { code: failed.code ?? 1, stderr: failed.stderr ?? "", out: undefined };
  }
}

const CENTRAL = ["--member", "--central-account", "123456789012"];

describe("the member stack", () => {
  it("is a graph of its own: the member role, its inline policy and the quarantine profile, nothing else", async () => {
    const { code, out } = await synth([...CENTRAL, "--account", "222222222222"]);
    expect(code).toBe(0);
    const graph = out as { resources: { type: string; inputs: Record<string, unknown> }[] };
    expect(graph.resources.map((r) => r.type).sort()).toEqual([
      "aws:iam/instanceProfile:InstanceProfile",
      "aws:iam/role:Role",
      "aws:iam/rolePolicy:RolePolicy",
    ]);
    const policy = graph.resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy")!.inputs["policy"];
    const statements = JSON.parse(String(policy)).Statement as { Sid: string; Resource?: string[] }[];
    // Scoped to the member's own account.
    const arns = statements.flatMap((s) => s.Resource ?? []).filter((arn) => arn !== "*");
    expect(arns.filter((arn) => /:\d{12}:/.test(arn) && !arn.includes(":222222222222:"))).toEqual([]);
    expect(statements.find((s) => s.Sid === "OnlyTheListedRegions")).toMatchObject({
      Condition: { StringNotEquals: { "aws:RequestedRegion": ["eu-west-1", "us-east-1"] } },
    });
  }, 60_000);

  it("refuses, naming the variable, when the central account is not given", async () => {
    const { code, stderr } = await synth(["--member", "--account", "222222222222"]);
    expect(code).toBe(1);
    expect(stderr).toContain("PHOENIX_CENTRAL_ACCOUNT_ID is not set");
  }, 60_000);

  it("becomes one CloudFormation template for every member account (a StackSet)", async () => {
    const { code, out } = await synth([
      ...CENTRAL,
      "--organization-id",
      "o-abcdefghij",
      "--format",
      "cloudformation",
    ]);
    expect(code).toBe(0);
    const template = out as {
      Parameters: Record<string, unknown>;
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    expect(Object.keys(template.Parameters).sort()).toEqual(["Regions", "RoleName"]);
    const role = template.Resources["MemberRole"]!;
    expect(role.Type).toBe("AWS::IAM::Role");
    expect(role.Properties["RoleName"]).toEqual({ Ref: "RoleName" });
    const text = JSON.stringify(template);
    // The member account is each stack's own: no placeholder left outside an Fn::Sub.
    expect(text).not.toMatch(/arn:aws:[a-z0-9-]+:[^"]*:000000000000:/);
    expect(text).toContain(`$\{AWS::AccountId}`);
    const trust = role.Properties["AssumeRolePolicyDocument"] as {
      Statement: { Principal: unknown; Condition: Record<string, Record<string, unknown>> }[];
    };
    expect(trust.Statement[0]!.Principal).toEqual({ AWS: "arn:aws:iam::123456789012:root" });
    expect(trust.Statement[0]!.Condition["StringEquals"]).toEqual({ "aws:PrincipalOrgID": "o-abcdefghij" });
    expect(trust.Statement[0]!.Condition["ArnEquals"]!["aws:PrincipalArn"]).toContain(
      "arn:aws:iam::123456789012:role/phoenix-prod-on-finding",
    );
    expect(text).toContain('"aws:RequestedRegion":{"Ref":"Regions"}');
    expect(template.Resources["QuarantineProfile"]!.Type).toBe("AWS::IAM::InstanceProfile");
    const misuse = await synth([...CENTRAL, "--format", "cloudformation", "--account", "222222222222"]);
    expect(misuse.code).toBe(2);
    expect(misuse.stderr).toContain("one template for every member account");
  }, 60_000);
});
