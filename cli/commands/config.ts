import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { type CommandIO, EXIT, UsageError } from "../../ops/io.js";
import { printJson } from "../../ops/output.js";
import { loadPolicy, loadPolicyFile, type Policy, PolicyError } from "../../src/policy/index.js";
import { booleanFlag, JSON_FLAG, parseCommandArgs } from "../lib/args.js";
import type { Command } from "../lib/command.js";
import { closest } from "../lib/suggest.js";

/** `phoenix config check [file]`: validates a policy the way deploy and start do, offline. */
export const configCommand: Command = {
  name: "config",
  usage: "phoenix config check [policy.json] [--json]",
  example: "phoenix config check policy.json",
  async run(args, io) {
    const parsed = parseCommandArgs(args, { ...JSON_FLAG }, 2);
    const [sub, file] = parsed.positionals;
    if (sub !== "check")
      throw new UsageError(
        sub
          ? `unknown subcommand "${sub}"${closest(sub, ["check"]) ? ': did you mean "check"?' : ""}`
          : "say what to do: check",
      );
    const json = booleanFlag(parsed, "json");
    const source =
      file ?? (io.env.PHOENIX_POLICY ? "PHOENIX_POLICY" : io.env.PHOENIX_POLICY_FILE) ?? "defaults";
    const fromEnvFile = file === undefined && !io.env.PHOENIX_POLICY ? io.env.PHOENIX_POLICY_FILE : undefined;
    for (const path of [file, fromEnvFile]) {
      if (path !== undefined && !existsSync(path)) {
        const problem = `the policy file ${path} does not exist (${resolve(path)})`;
        if (json) printJson(io, { valid: false, source, exists: false, problems: [problem] });
        else io.err(`The policy file ${path} does not exist (looked for ${resolve(path)}).`);
        return EXIT.usage;
      }
    }
    let policy: Policy;
    try {
      policy = file ? loadPolicyFile(file) : loadPolicy(io.env);
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      return reportProblems(io, json, source, error.problems);
    }
    if (json) {
      printJson(io, { valid: true, source, policy });
      return EXIT.ok;
    }
    io.out(`Policy ${source} is valid. Effective values:`);
    for (const [path, value] of flatten(policy, "policy")) io.out(`  ${path} = ${JSON.stringify(value)}`);
    return EXIT.ok;
  },
};

function reportProblems(io: CommandIO, json: boolean, source: string, problems: string[]): number {
  if (json) printJson(io, { valid: false, source, problems });
  else io.err(`Policy ${source} is invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  return EXIT.usage;
}

/** Dotted paths to leaves; arrays of objects are leaves (typeOverrides reads best as one line each). */
export function flatten(value: unknown, path: string): [string, unknown][] {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return [[path, value]];
    return entries.flatMap(([key, child]) => flatten(child, `${path}.${key}`));
  }
  return [[path, value]];
}
