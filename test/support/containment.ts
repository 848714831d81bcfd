import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ContainmentInput, ContainState } from "../../src/containment/core/types.js";

/** Containment inputs for tests, with no local cloud (shared by test/unit and test/containment). */
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** The account of the demo fleet and of the findings aimed at it. */
export const ACCOUNT = "123456789012";

/** workflows/contain.asl.json, as written (its function placeholders unreplaced). */
export function containTemplate(): string {
  return readFileSync(path.join(repoRoot, "workflows/contain.asl.json"), "utf8");
}

let counter = 0;

/** The execution input of a containment started by hand (what the intake would send). */
export function containState(instanceId: string, overrides: Partial<ContainmentInput> = {}): ContainState {
  const findingId = overrides.findingId ?? `f${(++counter).toString(16).padStart(31, "0")}`;
  return {
    containment: {
      containmentId: `contain_${ACCOUNT}_${instanceId}_${findingId}`,
      instanceId,
      accountId: ACCOUNT,
      findingId,
      findingType: "UnauthorizedAccess:EC2/TorClient",
      severity: 8,
      findingReceivedAt: new Date().toISOString(),
      generation: 1,
      ...overrides,
    },
    results: {},
  };
}
