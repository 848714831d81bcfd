import { describe, expect, it } from "vitest";
import { PolicyError, parsePolicy } from "../../../src/policy/load.js";
import { rolloutRequestSchema } from "../../../src/rollout/workflow/contract.js";
import * as z from "../../../src/validation/zod.js";

/** The policy problems parsePolicy reports for an input, or [] when it is valid. */
function problems(input: unknown): string[] {
  try {
    parsePolicy(input);
    return [];
  } catch (error) {
    if (error instanceof PolicyError) return error.problems;
    throw error;
  }
}

// zod/mini ships no locale: without the English one that src/validation/zod.ts installs, every
// default message would read "Invalid input".
describe("validation messages (zod/mini with the English locale)", () => {
  it("names a too-small budget with a readable message", () => {
    expect(problems({ containment: { budgets: { perGroupMaxCount: -1 } } })).toEqual([
      "policy.containment.budgets.perGroupMaxCount: Too small: expected number to be >=0",
    ]);
  });

  it("reports wrong types, non-integers and out-of-range values in English", () => {
    expect(
      problems({
        containment: { containAtSeverity: 11, dispose: "explode" },
        rollout: { maxConcurrentGroups: 1.5, imageGate: { requireSignature: "yes" } },
        notifications: { email: "not-an-email" },
      }),
    ).toEqual([
      "policy.containment.containAtSeverity: Too big: expected number to be <=10",
      'policy.containment.dispose: Invalid option: expected one of "terminate"|"stop"',
      "policy.rollout.imageGate.requireSignature: Invalid input: expected boolean, received string",
      "policy.rollout.maxConcurrentGroups: Invalid input: expected int, received number",
      "policy.notifications.email: Invalid email address",
    ]);
  });

  it('reports an unknown policy field as "unknown field"', () => {
    expect(problems({ rollout: { refresh: { autoRolback: false } }, extra: 1 })).toEqual([
      "policy.rollout.refresh.autoRolback: unknown field",
      "policy.extra: unknown field",
    ]);
  });

  it("keeps custom messages and paths", () => {
    expect(problems({ rollout: { imageGate: { requireSignature: true } } })).toEqual([
      "policy.rollout.imageGate.signingKeyId: requireSignature is true but no signingKeyId is set",
    ]);
    const request = rolloutRequestSchema.safeParse({ imageId: "ami-1" });
    expect(request.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([
      ["family", "give a family or a list of groups"],
    ]);
  });

  it("never falls back to the locale-less message", () => {
    expect(z.string().safeParse(1).error?.issues[0]?.message).toBe(
      "Invalid input: expected string, received number",
    );
  });
});
