/**
 * `npm run synth -- --stage <stage> [--policy <file>] [--no-bundle] [--out <file>]`: runs the SST
 * program offline (build/synth/synthesize.ts) and writes the resource graph to
 * `.phoenix/synth/<stage>.json` (or --out), then prints the path. Exit 1 with the program's own
 * message when it refuses (a bad policy, a stage too long), 2 on bad usage.
 *
 * `--member --central-account <id> [--central-stage <stage>] [--organization-id <o-…>]
 * [--account <id>]`: the member stack instead (PHOENIX_STACK=member), as deployed into account
 * --account (default 123456789012, the mock's), to `.phoenix/synth/<stage>-member-<account>.json`.
 * With `--format cloudformation`, the member stack as one CloudFormation template for a StackSet
 * (build/synth/cloudformation.ts), to `.phoenix/synth/<stage>-member.template.json`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_ACCOUNT } from "./aws-mocks.js";
import { memberTemplate, PLACEHOLDER_ACCOUNT, TemplateError } from "./cloudformation.js";
import { SynthError, synthesize } from "./synthesize.js";

const ROOT = resolve(import.meta.dirname, "../..");

async function main(): Promise<number> {
  let values: {
    stage?: string;
    policy?: string;
    out?: string;
    "no-bundle"?: boolean;
    help?: boolean;
    member?: boolean;
    account?: string;
    "central-account"?: string;
    "central-stage"?: string;
    "organization-id"?: string;
    format?: string;
  };
  try {
    ({ values } = parseArgs({
      options: {
        stage: { type: "string" },
        policy: { type: "string" },
        out: { type: "string" },
        "no-bundle": { type: "boolean" },
        help: { type: "boolean", short: "h" },
        member: { type: "boolean" },
        account: { type: "string" },
        "central-account": { type: "string" },
        "central-stage": { type: "string" },
        "organization-id": { type: "string" },
        format: { type: "string" },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`synth: ${(error as Error).message}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(
      "Usage: npm run synth -- --stage <stage> [--policy <file>] [--no-bundle] [--out <file>]\n" +
        "       npm run synth -- --member --stage <stage> --central-account <id> [--central-stage <stage>]\n" +
        "                        [--organization-id <o-...>] [--account <member id> | --format cloudformation]\n" +
        "                        [--policy <file>] [--out <file>]\n" +
        "Runs sst.config.ts offline under Pulumi mocks and writes every resource it would create to\n" +
        ".phoenix/synth/<stage>.json (the member stack: <stage>-member-<account>.json). Nothing is\n" +
        "deployed; no AWS account or network is used.\n",
    );
    return 0;
  }
  if (!values.stage) {
    process.stderr.write("synth: --stage <stage> is required (the stage whose resources to synthesize)\n");
    return 2;
  }
  const memberOnly = ["account", "central-account", "central-stage", "organization-id", "format"] as const;
  const template = values.format === "cloudformation";
  if (values.format !== undefined && !template) {
    process.stderr.write(
      `synth: --format takes cloudformation (the member stack for a StackSet), not "${values.format}"\n`,
    );
    return 2;
  }
  if (template && values.account !== undefined) {
    process.stderr.write(
      "synth: --format cloudformation makes one template for every member account: no --account\n",
    );
    return 2;
  }
  const stray = memberOnly.filter((name) => values[name] !== undefined);
  if (!values.member && stray.length > 0) {
    process.stderr.write(`synth: ${stray.map((name) => `--${name}`).join(", ")} only with --member\n`);
    return 2;
  }
  const account = template ? PLACEHOLDER_ACCOUNT : (values.account ?? DEFAULT_ACCOUNT.account);
  if (!/^\d{12}$/.test(account)) {
    process.stderr.write(`synth: --account "${account}" is not a 12-digit account id\n`);
    return 2;
  }
  const started = Date.now();
  try {
    const graph = await synthesize({
      root: ROOT,
      stage: values.stage,
      bundle: !values["no-bundle"],
      env: {
        ...(values.policy ? { PHOENIX_POLICY: undefined, PHOENIX_POLICY_FILE: resolve(values.policy) } : {}),
        ...(values.member
          ? {
              PHOENIX_STACK: "member",
              PHOENIX_CENTRAL_ACCOUNT_ID: values["central-account"] ?? process.env.PHOENIX_CENTRAL_ACCOUNT_ID,
              PHOENIX_CENTRAL_STAGE: values["central-stage"] ?? process.env.PHOENIX_CENTRAL_STAGE,
              PHOENIX_ORGANIZATION_ID: values["organization-id"] ?? process.env.PHOENIX_ORGANIZATION_ID,
            }
          : { PHOENIX_STACK: undefined }),
      },
      ...(values.member ? { account: { ...DEFAULT_ACCOUNT, account } } : {}),
    });
    const name = template
      ? `${values.stage}-member.template`
      : values.member
        ? `${values.stage}-member-${account}`
        : values.stage;
    const out = values.out ? resolve(values.out) : join(ROOT, ".phoenix/synth", `${name}.json`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(template ? memberTemplate(graph) : graph, null, 2)}\n`);
    process.stderr.write(
      `synth: ${graph.resources.length} resources for stage ${values.stage} in ${Date.now() - started} ms\n`,
    );
    process.stdout.write(`${out}\n`);
    return 0;
  } catch (error) {
    const message =
      error instanceof SynthError || error instanceof TemplateError
        ? error.message
        : ((error as Error).stack ?? String(error));
    process.stderr.write(`synth: ${message}\n`);
    return 1;
  }
}

process.exitCode = await main();
