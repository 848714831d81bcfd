import { describe, expect, it } from "vitest";
import { type ReadSource, usedActionsOfFunction } from "../../../build/iam/used-actions.js";

// The IAM scan reads the syntax tree, not the layout: the same code, formatted by Biome or not
// formatted at all, must grant exactly the same actions and tag writes.

const readFrom =
  (files: Record<string, string>): ReadSource =>
  (path) =>
    files[path];

const shared = {
  "src/tags.ts": `export const TAG_QUARANTINE = "phoenix:quarantine";\n`,
  "src/iam/tag-writes.ts": `export function declareTagWrite(write) {\n  return write;\n}\n`,
  "src/lazy.ts": `import { GetCommand } from "@aws-sdk/lib-dynamodb";
export const lookup = () => new GetCommand({ TableName: "t", Key: {} });
`,
};

const biomeFormatted = readFrom({
  ...shared,
  "functions/on-image.ts": `import { describe } from "../src/ec2.js";
import { mark } from "../src/mark.js";

export const handler = async () => {
  await import("../src/lazy.js");
  return [await describe(), mark("i-1")];
};
`,
  "src/ec2.ts": `import { DescribeInstancesCommand, StopInstancesCommand } from "@aws-sdk/client-ec2";

export async function describe() {
  return new DescribeInstancesCommand({ Filters: [] });
}

export function stop() {
  return new StopInstancesCommand({ InstanceIds: [] });
}
`,
  "src/mark.ts": `import { CreateTagsCommand } from "@aws-sdk/client-ec2";
import { declareTagWrite } from "./iam/tag-writes.js";
import { TAG_QUARANTINE } from "./tags.js";

export const MARK = declareTagWrite({ resource: "instance", keys: [TAG_QUARANTINE] });

export const mark = (id: string) =>
  new CreateTagsCommand({ Resources: [id], Tags: MARK.tags({ [TAG_QUARANTINE]: "f" }) });
`,
});

const unformatted = readFrom({
  ...shared,
  // Imports split over lines, statements indented, a dynamic import over three lines.
  "functions/on-image.ts": `  import {
    describe,
  } from "../src/ec2.js"
  import
    { mark }
    from "../src/mark.js"
  export const handler = async () => { await import(
      "../src/lazy.js"
    ); return [await describe(), mark("i-1")] }
`,
  // Commands in comments and strings, a command over several lines, and a declaration that shares
  // its line with a comment: none of it may change what is reached.
  "src/ec2.ts": `    import {
      DescribeInstancesCommand, // not new TerminateInstancesCommand(
      StopInstancesCommand,
    }
    from "@aws-sdk/client-ec2";
    export async function describe() {
      const note = "new RebootInstancesCommand({}) is only text";
      return new
        DescribeInstancesCommand(
          { Filters: [] },
        );
    }
/* new FooCommand({}) */ export function stop() { return new StopInstancesCommand({ InstanceIds: [] }) }
`,
  // A whole module on one line.
  "src/mark.ts": `import { CreateTagsCommand } from "@aws-sdk/client-ec2"; import { declareTagWrite } from "./iam/tag-writes.js"; import { TAG_QUARANTINE } from "./tags.js"; export const MARK = declareTagWrite({
      resource:
        "instance",
      keys: [
        TAG_QUARANTINE,
      ],
    }); export const mark = (id: string) => new CreateTagsCommand({ Resources: [id], Tags:
      MARK.tags({ [TAG_QUARANTINE]: "f" }) });
`,
});

describe("IAM source scan", () => {
  it("finds the same commands, modules and tag writes whatever the formatting", () => {
    const expected = usedActionsOfFunction("on-image", biomeFormatted);
    expect(expected.actions).toEqual(["dynamodb:GetItem", "ec2:CreateTags", "ec2:DescribeInstances"]);
    expect(expected.modules).toEqual([
      "functions/on-image.ts",
      "src/ec2.ts",
      "src/iam/tag-writes.ts",
      "src/lazy.ts",
      "src/mark.ts",
      "src/tags.ts",
    ]);
    expect(expected.tagWrites).toEqual([
      { resource: "instance", keys: ["phoenix:quarantine"], declaredIn: "src/mark.ts: MARK" },
    ]);
    expect(usedActionsOfFunction("on-image", unformatted)).toEqual(expected);
  });

  it("names the file and line of what it cannot follow or map", () => {
    // A Phoenix module of that name exists: the command still does not come from the SDK.
    const entry = (source: string) =>
      readFrom({ "functions/on-image.ts": source, "src/foo.ts": "export class FooCommand {}\n" });
    const cases: [source: string, error: RegExp][] = [
      [
        `import { DescribeImagesCommand } from "@aws-sdk/client-ec2";\nimport {\n  x,\n} from "../src/missing.js";\nexport const handler = () => [x(), new DescribeImagesCommand({})];\n`,
        /^functions\/on-image\.ts:2: cannot resolve import "\.\.\/src\/missing\.js"/,
      ],
      [
        `import { FooCommand } from "../src/foo.js";\n\nexport const handler = () =>\n  new FooCommand({});\n`,
        /^functions\/on-image\.ts:4: new FooCommand\(…\) is not imported from an AWS SDK package/,
      ],
      [
        `export const handler = async (name: string) => {\n  return import(name);\n};\n`,
        /^functions\/on-image\.ts:2: import\(\) of a computed specifier/,
      ],
      [
        `import { DescribeImagesCommand } from "@aws-sdk/client-ec2";\nconst Command = DescribeImagesCommand;\nexport const handler = () => new Command({});\n`,
        /^functions\/on-image\.ts:2: DescribeImagesCommand is used other than in `new DescribeImagesCommand\(…\)`/,
      ],
      [
        `import * as ec2 from "@aws-sdk/client-ec2";\nexport const handler = () =>\n  ec2.paginateDescribeInstances({}, {});\n`,
        /^functions\/on-image\.ts:3: paginateDescribeInstances from @aws-sdk\/client-ec2 sends commands the IAM scan cannot see/,
      ],
      [
        `export const handler = () => {\n  return [1, 2;\n};\n`,
        /^functions\/on-image\.ts:2: .*the IAM scan reads only valid TypeScript/,
      ],
    ];
    for (const [source, error] of cases) {
      expect(() => usedActionsOfFunction("on-image", entry(source)), source).toThrow(error);
    }
  });
});
