/**
 * `npm run synth -- --stage <stage> [--policy <file>] [--no-bundle] [--out <file>]`: runs the SST
 * program offline (build/synth/synthesize.ts) and writes the resource graph to
 * `.phoenix/synth/<stage>.json` (or --out), then prints the path. Exit 1 with the program's own
 * message when it refuses (a bad policy, a stage too long), 2 on bad usage.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SynthError, synthesize } from "./synthesize.js";

const ROOT = resolve(import.meta.dirname, "../..");

async function main(): Promise<number> {
  let values: { stage?: string; policy?: string; out?: string; "no-bundle"?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        stage: { type: "string" },
        policy: { type: "string" },
        out: { type: "string" },
        "no-bundle": { type: "boolean" },
        help: { type: "boolean", short: "h" },
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
        "Runs sst.config.ts offline under Pulumi mocks and writes every resource it would create to\n" +
        ".phoenix/synth/<stage>.json. Nothing is deployed; no AWS account or network is used.\n",
    );
    return 0;
  }
  if (!values.stage) {
    process.stderr.write("synth: --stage <stage> is required (the stage whose resources to synthesize)\n");
    return 2;
  }
  const started = Date.now();
  try {
    const graph = await synthesize({
      root: ROOT,
      stage: values.stage,
      bundle: !values["no-bundle"],
      env: values.policy ? { PHOENIX_POLICY: undefined, PHOENIX_POLICY_FILE: resolve(values.policy) } : {},
    });
    const out = values.out ? resolve(values.out) : join(ROOT, ".phoenix/synth", `${values.stage}.json`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(graph, null, 2)}\n`);
    process.stderr.write(
      `synth: ${graph.resources.length} resources for stage ${values.stage} in ${Date.now() - started} ms\n`,
    );
    process.stdout.write(`${out}\n`);
    return 0;
  } catch (error) {
    const message = error instanceof SynthError ? error.message : ((error as Error).stack ?? String(error));
    process.stderr.write(`synth: ${message}\n`);
    return 1;
  }
}

process.exitCode = await main();
