/**
 * The repository's files, for the IAM derivation (build/iam) that reads the functions' code at
 * deploy time. `sst deploy` runs sst.config.ts from the app's root.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ReadSource } from "../build/iam/used-actions";

export function repositoryRoot(): string {
  const root = process.cwd();
  if (!existsSync(join(root, "sst.config.ts"))) {
    throw new Error(`Phoenix deploy: run sst from the repository root (no sst.config.ts in ${root})`);
  }
  return root;
}

export function readRepositoryFile(root: string): ReadSource {
  return (path) => {
    const full = join(root, path);
    return existsSync(full) ? readFileSync(full, "utf8") : undefined;
  };
}
