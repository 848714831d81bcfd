import { describe, expect, it } from "vitest";
import { unconditionalGrant } from "../../../local/iam/unconditional.js";

/** local/iam/unconditional.ts: when an operation has no context builder, only an unconditional grant decides. */
const doc = (...Statement: object[]) => ({ Version: "2012-10-17", Statement });
const admin = { name: "AdministratorAccess", policy: doc({ Effect: "Allow", Action: "*", Resource: "*" }) };

describe("an operation without a request-context builder", () => {
  it("is allowed by an administrator's policy, naming it", () => {
    expect(unconditionalGrant({ identity: [admin] })).toEqual({
      policy: "AdministratorAccess",
    });
  });

  it("is not decided by a narrower grant, which may lack a permission the call implies", () => {
    const ec2 = { name: "main", policy: doc({ Effect: "Allow", Action: ["ec2:*"], Resource: ["*"] }) };
    const one = { name: "one", policy: doc({ Effect: "Allow", Action: "ec2:RunInstances", Resource: "*" }) };
    expect(unconditionalGrant({ identity: [ec2] })).toBeUndefined();
    expect(unconditionalGrant({ identity: [one] })).toBeUndefined();
  });

  it("is not decided by a grant scoped to resources, or under a condition", () => {
    const scoped = {
      name: "s",
      policy: doc({ Effect: "Allow", Action: "sns:*", Resource: "arn:aws:sns:*:*:phoenix-*" }),
    };
    const conditioned = {
      name: "c",
      policy: doc({
        Effect: "Allow",
        Action: "*",
        Resource: "*",
        Condition: { StringEquals: { "aws:RequestedRegion": "us-east-1" } },
      }),
    };
    expect(unconditionalGrant({ identity: [scoped] })).toBeUndefined();
    expect(unconditionalGrant({ identity: [conditioned] })).toBeUndefined();
  });

  it("is not allowed when there is any Deny (it may name an implied action), or a boundary does not grant it", () => {
    const deny = {
      name: "d",
      policy: doc({ Effect: "Deny", Action: "sns:Create?opic", Resource: "arn:aws:sns:*:*:secret" }),
    };
    const notAction = { name: "n", policy: doc({ Effect: "Deny", NotAction: "ec2:*", Resource: "*" }) };
    expect(unconditionalGrant({ identity: [admin, deny] })).toBeUndefined();
    expect(unconditionalGrant({ identity: [admin, notAction] })).toBeUndefined();
    const passRole = {
      name: "guard",
      policy: doc({ Effect: "Deny", Action: "iam:PassRole", Resource: "*" }),
    };
    expect(unconditionalGrant({ identity: [admin, passRole] })).toBeUndefined();
    const boundary = { name: "b", policy: doc({ Effect: "Allow", Action: "ec2:*", Resource: "*" }) };
    expect(unconditionalGrant({ identity: [admin], boundary })).toBeUndefined();
    expect(unconditionalGrant({ identity: [admin], boundary: admin })).toBeDefined();
  });
});
