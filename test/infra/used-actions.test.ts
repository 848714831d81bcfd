import { describe, expect, it } from "vitest";
import { statementsFor, UnscopedActionError } from "../../build/iam/policy.js";
import { UnmappedCommandError } from "../../build/iam/sdk-actions.js";
import { UndeclaredTagWriteError, usedActionsOfFunction } from "../../build/iam/used-actions.js";
import { readFrom, testContext } from "./support.js";

// The scanner on small synthetic repositories: the cases Phoenix's code relies on, and the
// ones it must refuse rather than under-grant.

const entry = (body: string) => ({ "functions/on-image.ts": body });

describe("used-action derivation", () => {
  it("follows run-time imports only, and only the declarations an export reaches", () => {
    const read = readFrom({
      ...entry(`import type { Unused } from "../src/types.js";
import { type Shape, describe } from "../src/ec2.js";
import { lookup } from "../src/barrel.js";

export const handler = async () => [await describe(), await lookup()];
`),
      "src/types.ts": `import { TerminateInstancesCommand } from "@aws-sdk/client-ec2";
export const kill = () => new TerminateInstancesCommand({ InstanceIds: [] });
`,
      "src/ec2.ts": `import { DescribeInstancesCommand, StopInstancesCommand } from "@aws-sdk/client-ec2";
export type Shape = { id: string };

export async function describe() {
  return helper();
}

function helper() {
  return new DescribeInstancesCommand({});
}

export function stop() {
  return new StopInstancesCommand({ InstanceIds: [] });
}
`,
      "src/barrel.ts": `export { lookup } from "./table.js";
`,
      "src/table.ts": `import { GetCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";

export const lookup = () => new GetCommand({ TableName: "t", Key: {} });

export function write() {
  return new TransactWriteCommand({ TransactItems: [{ Put: { TableName: "t", Item: {} } }] });
}
`,
    });
    const used = usedActionsOfFunction("on-image", read);
    expect(used.actions).toEqual(["dynamodb:GetItem", "ec2:DescribeInstances"]);
    expect(used.modules).toEqual(["functions/on-image.ts", "src/barrel.ts", "src/ec2.ts", "src/table.ts"]);
    expect(used.provenance["ec2:DescribeInstances"]).toEqual(["src/ec2.ts: DescribeInstancesCommand"]);
  });

  it("maps a transaction to the item kinds it writes, or to every kind when it cannot see them", () => {
    const seen = usedActionsOfFunction(
      "on-image",
      readFrom(
        entry(`import { TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
export const handler = () =>
  new TransactWriteCommand({ TransactItems: [{ Update: { TableName: "t" } }, { ConditionCheck: { TableName: "t" } }] });
`),
      ),
    );
    expect(seen.actions).toEqual(["dynamodb:ConditionCheckItem", "dynamodb:UpdateItem"]);
    const unseen = usedActionsOfFunction(
      "on-image",
      readFrom(
        entry(`import { TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
export const handler = (items: never[]) => new TransactWriteCommand({ TransactItems: items });
`),
      ),
    );
    expect(unseen.actions).toEqual([
      "dynamodb:ConditionCheckItem",
      "dynamodb:DeleteItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    ]);
  });

  it("adds the actions AWS checks on the caller's behalf", () => {
    const used = usedActionsOfFunction(
      "on-image",
      readFrom(
        entry(`import { StartInstanceRefreshCommand } from "@aws-sdk/client-auto-scaling";
export const handler = () => new StartInstanceRefreshCommand({ AutoScalingGroupName: "g" });
`),
      ),
    );
    expect(used.actions).toEqual([
      "autoscaling:StartInstanceRefresh",
      "ec2:CreateTags",
      "ec2:RunInstances",
      "iam:PassRole",
    ]);
  });

  it("refuses what it cannot map instead of granting nothing", () => {
    const unknownCommand = readFrom(
      entry(`import { FrobnicateCommand } from "@aws-sdk/client-ec2";
export const handler = () => new FrobnicateCommand({});
`),
    );
    // The action is named after the operation; the policy builder then refuses an unreviewed one.
    expect(usedActionsOfFunction("on-image", unknownCommand).actions).toEqual(["ec2:Frobnicate"]);
    expect(() => statementsFor(["ec2:Frobnicate"], testContext(), "on-image")).toThrow(UnscopedActionError);
    const unknownPackage = readFrom(
      entry(`import { ListBucketsCommand } from "@aws-sdk/client-s3";
export const handler = () => new ListBucketsCommand({});
`),
    );
    expect(() => usedActionsOfFunction("on-image", unknownPackage)).toThrow(UnmappedCommandError);
    const paginator = readFrom(
      entry(`import { paginateDescribeInstances } from "@aws-sdk/client-ec2";
export const handler = () => paginateDescribeInstances({}, {});
`),
    );
    expect(() => usedActionsOfFunction("on-image", paginator)).toThrow(
      /sends commands the IAM scan cannot see/,
    );
    const missing = readFrom(
      entry(`import { x } from "../src/missing.js";\nexport const handler = () => x();\n`),
    );
    expect(() => usedActionsOfFunction("on-image", missing)).toThrow(/cannot resolve import/);
  });

  it("ignores commands named in comments", () => {
    const used = usedActionsOfFunction(
      "on-image",
      readFrom(
        entry(`import { DescribeImagesCommand } from "@aws-sdk/client-ec2";
// never: new TerminateInstancesCommand({})
/* nor new StopInstancesCommand({}) */
export const handler = () => new DescribeImagesCommand({});
`),
      ),
    );
    expect(used.actions).toEqual(["ec2:DescribeImages"]);
  });
  it("reads the tag writes a function declares, with keys from the constants they name", () => {
    const used = usedActionsOfFunction(
      "on-image",
      readFrom({
        ...entry(`import { mark } from "../src/mark.js";
export const handler = () => mark("i-1");
`),
        "src/tags.ts": `export const TAG_QUARANTINE = "phoenix:quarantine";
export const TAG_UNUSED = "phoenix:unused";
`,
        "src/mark.ts": `import { CreateTagsCommand } from "@aws-sdk/client-ec2";
import { declareTagWrite } from "./iam/tag-writes.js";
import { TAG_QUARANTINE as QUARANTINE } from "./tags.js";

const REASON = "phoenix:reason";
export const MARK = declareTagWrite({ resource: "instance", keys: [QUARANTINE, REASON] });
export const OTHER = declareTagWrite({ resource: "image", keys: ["phoenix:never-reached"] });

export const mark = (id: string) =>
  new CreateTagsCommand({ Resources: [id], Tags: MARK.tags({ [QUARANTINE]: "f", [REASON]: "r" }) });
`,
        "src/iam/tag-writes.ts": `export function declareTagWrite(write) {
  return write;
}
`,
      }),
    );
    expect(used.actions).toEqual(["ec2:CreateTags"]);
    expect(used.tagWrites).toEqual([
      {
        resource: "instance",
        keys: ["phoenix:quarantine", "phoenix:reason"],
        declaredIn: "src/mark.ts: MARK",
      },
    ]);
  });

  it("refuses a tag list written by hand, since CreateTags would not be granted for it", () => {
    const handMade = (body: string) =>
      readFrom(
        entry(`import { CreateSecurityGroupCommand, CreateTagsCommand } from "@aws-sdk/client-ec2";
export const handler = () => ${body};
`),
      );
    for (const body of [
      `new CreateTagsCommand({ Resources: ["i-1"], Tags: [{ Key: "phoenix:protected", Value: "false" }] })`,
      `new CreateTagsCommand(input)`,
      `new CreateSecurityGroupCommand({ GroupName: "g", TagSpecifications: [{ ResourceType: "security-group", Tags: [] }] })`,
      `new CreateTagsCommand({ Resources: ["i-1"], Tags: NOT_DECLARED.tags({}) })`,
    ]) {
      expect(() => usedActionsOfFunction("on-image", handMade(body)), body).toThrow(UndeclaredTagWriteError);
    }
  });
});
