import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type PolicyContext, policyContext } from "../../build/iam/context.js";
import type { ReadSource } from "../../build/iam/used-actions.js";
import { parsePolicy } from "../../src/policy/index.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The repository's files, as the stack reads them at deploy (stacks/source.ts). */
export const readRepository: ReadSource = (file) => {
  const full = path.join(ROOT, file);
  return existsSync(full) ? readFileSync(full, "utf8") : undefined;
};

/** An in-memory repository, for scanner cases the real code does not exercise. */
export const readFrom =
  (files: Record<string, string>): ReadSource =>
  (file) =>
    files[file];

export const FLEET_ROLE = "arn:aws:iam::123456789012:role/fleet-web";

export function testContext(policy: unknown = {}, fleetRoleArns: string[] = [FLEET_ROLE]): PolicyContext {
  return policyContext({
    partition: "aws",
    region: "eu-west-1",
    account: "123456789012",
    stage: "test",
    policy: parsePolicy(policy),
    fleetRoleArns,
  });
}
