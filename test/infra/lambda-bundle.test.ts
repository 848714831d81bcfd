import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lambdaPlugins, withLiteralKeys } from "../../build/esbuild-plugins.mjs";
import type { LocalCloud } from "../../local/cloud.js";
import { startTestCloud } from "../support/cloud.js";
import { ROOT } from "./support.js";

// The Lambda bundles are built with plugins that rewrite what esbuild sees (build/): bundles
// built that way must still talk to AWS correctly, and must have shed what the plugins remove.

const run = promisify(execFile);
const BANNER = "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);";
let dir: string;
let cloud: LocalCloud;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "phoenix-bundle-test-"));
  cloud = await startTestCloud({ plugins: [] });
});
afterAll(async () => {
  await cloud?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function bundle(name: string, source: string): Promise<string> {
  const entry = path.join(ROOT, `.bundle-test-${name}.ts`);
  writeFileSync(entry, source);
  const outfile = path.join(dir, `${name}.mjs`);
  try {
    await build({
      entryPoints: [entry],
      outfile,
      platform: "node",
      target: "node22",
      format: "esm",
      bundle: true,
      minify: true,
      logLevel: "silent",
      mainFields: ["module", "main"],
      plugins: lambdaPlugins,
      banner: { js: BANNER },
    });
  } finally {
    rmSync(entry, { force: true });
  }
  return outfile;
}

describe("SDK schema keys written as literals", () => {
  it("replaces a computed key by its constant's string, and nothing else", () => {
    const source = [
      'const _xN = "xmlName";',
      'const _p = "__proto__";',
      'export var A$ = [3, n0, _A, 0, [_B], [[0, { [_xN]: "Id" }], [0, { [_p]: 1 }], [0, { [_unknown]: 2 }]]];',
    ].join("\n");
    const out = withLiteralKeys(source);
    expect(out).toContain('{ "xmlName": "Id" }');
    // A literal __proto__ key would set the prototype: left computed. Unknown names are left too.
    expect(out).toContain("{ [_p]: 1 }");
    expect(out).toContain("{ [_unknown]: 2 }");
  });
});

describe("a Lambda bundle built with the plugins", () => {
  it("still serialises and parses real calls, and carries only the schemas and credentials it uses", async () => {
    const outfile = await bundle(
      "sdk",
      `import { DescribeVpcsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
const ec2 = new EC2Client({});
const dynamo = new DynamoDBClient({});
const vpcs = await ec2.send(new DescribeVpcsCommand({}));
const tables = await dynamo.send(new ListTablesCommand({}));
console.log(JSON.stringify({ vpcs: vpcs.Vpcs?.length ?? -1, tables: Array.isArray(tables.TableNames) }));
`,
    );
    const text = readFileSync(outfile, "utf8");
    expect(text).not.toContain("WithdrawByoipCidr");
    expect(text).not.toMatch(/credential-provider-sso|SSOOIDC|getSSOTokenFromFile/);
    expect(text).not.toMatch(/from\s*"node:http"/);
    expect(text).toContain("getBuiltinModule");

    const env = {
      PATH: process.env.PATH ?? "",
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL: cloud.endpoint,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
    };
    const { stdout } = await run(process.execPath, [outfile], { env });
    const answer = JSON.parse(stdout.trim()) as { vpcs: number; tables: boolean };
    expect(answer.vpcs).toBeGreaterThan(0);
    expect(answer.tables).toBe(true);

    // Lambda always provides the role's credentials; without them the bundle says which are missing.
    const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _secret, ...noCredentials } = env;
    const failure = await run(process.execPath, [outfile], { env: noCredentials }).catch(
      (error: { stderr: string }) => error,
    );
    expect((failure as { stderr: string }).stderr).toMatch(
      /environment variable credentials|AWS_ACCESS_KEY_ID/,
    );
  });

  it("loads on-finding with its handler exported", async () => {
    const outfile = await bundle("on-finding", `export { handler } from "./functions/on-finding.js";\n`);
    const { stdout } = await run(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const m = await import(${JSON.stringify(outfile)}); console.log(typeof m.handler);`,
      ],
      { env: { PATH: process.env.PATH ?? "", AWS_REGION: "us-east-1", POWERTOOLS_LOG_LEVEL: "SILENT" } },
    );
    expect(stdout.trim()).toBe("function");
  });
});
