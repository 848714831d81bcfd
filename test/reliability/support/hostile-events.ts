import fc from "fast-check";

/**
 * Malformed and hostile events for Phoenix's three triggers. Each arbitrary mixes: anything at
 * all (any JSON, wrong types), near-valid events with one field broken, and valid shapes carrying
 * hostile values (huge strings, injection text, prototype keys, ids of things that do not exist).
 */
const hostileString = fc.oneof(
  fc.string(),
  fc.constantFrom(
    "",
    " ",
    "__proto__",
    "constructor",
    "i-../../etc/passwd",
    "i-0123456789abcdef0\u0000",
    "'; DROP TABLE audit; --",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an ASL placeholder, literally, is the hostile input
    "${FnOnFinding}",
    "$.detail",
    "arn:aws:ec2:us-east-1::image/ami-../../x",
    "ami-",
    "ami-00000000000000000",
    "i-00000000000000000",
    "\u202e\ud83d\ude00",
  ),
  fc.string({ minLength: 5_000, maxLength: 20_000 }),
);

const hostileNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-1, 0, 7, 9, 10, 11, 1e308, -0, Number.MAX_SAFE_INTEGER),
);
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  hostileString,
  hostileNumber,
  fc.constant(null),
  fc.constant(undefined),
);

/** Replaces a few fields of a valid object by hostile values, or deletes them. */
function breakFields<T extends Record<string, unknown>>(valid: T, paths: string[][]): fc.Arbitrary<unknown> {
  return fc
    .array(fc.tuple(fc.constantFrom(...paths), fc.option(anyValue, { nil: "DELETE" as const })), {
      minLength: 1,
      maxLength: 3,
    })
    .map((edits) => {
      const copy = structuredClone(valid) as Record<string, unknown>;
      for (const [path, value] of edits) {
        let node = copy;
        for (const key of path.slice(0, -1)) {
          const next = node[key];
          if (next === null || typeof next !== "object") node[key] = {};
          node = node[key] as Record<string, unknown>;
        }
        const last = path.at(-1)!;
        if (value === "DELETE") delete node[last];
        else node[last] = value;
      }
      return copy;
    });
}

function guardDutyShape(instanceId: string): Record<string, unknown> {
  return {
    version: "0",
    id: "6f4c1b0a-0000-4000-8000-000000000000",
    "detail-type": "GuardDuty Finding",
    source: "aws.guardduty",
    account: "123456789012",
    time: "2026-11-01T00:00:00Z",
    region: "us-east-1",
    resources: [],
    detail: {
      schemaVersion: "2.0",
      accountId: "123456789012",
      region: "us-east-1",
      id: "fuzz0000000000000000000000000000",
      type: "Backdoor:EC2/C&CActivity.B!DNS",
      resource: { resourceType: "Instance", instanceDetails: { instanceId } },
      service: {
        serviceName: "guardduty",
        resourceRole: "ACTOR",
        count: 1,
        archived: false,
        additionalInfo: {},
      },
      severity: 8,
      createdAt: "2026-11-01T00:00:00Z",
      updatedAt: "2026-11-01T00:00:00Z",
      title: "fuzz",
    },
  };
}

const FINDING_PATHS = [
  ["source"],
  ["detail-type"],
  ["detail"],
  ["detail", "id"],
  ["detail", "type"],
  ["detail", "severity"],
  ["detail", "accountId"],
  ["detail", "updatedAt"],
  ["detail", "resource"],
  ["detail", "resource", "resourceType"],
  ["detail", "resource", "instanceDetails"],
  ["detail", "resource", "instanceDetails", "instanceId"],
  ["detail", "service"],
  ["detail", "service", "count"],
  ["detail", "service", "resourceRole"],
  ["detail", "service", "archived"],
  ["detail", "service", "additionalInfo"],
];

/**
 * Bodies of on-finding's SQS records. `instanceIds` are real instances of the cloud under test:
 * a broken event may still be a valid finding (a field replaced by an acceptable value), so the
 * properties ask Phoenix's own parser and router what it may do (see `allowedEffects`).
 */
export function findingBody(instanceIds: readonly string[]): fc.Arbitrary<string> {
  const instance = fc.oneof(fc.constantFrom(...instanceIds), hostileString);
  const broken = instance.chain((id) => breakFields(guardDutyShape(id), FINDING_PATHS));
  const notQualifying = fc.constantFrom(...instanceIds).chain((id) =>
    fc.oneof(
      fc.constant({
        ...guardDutyShape(id),
        detail: { ...(guardDutyShape(id).detail as object), severity: 1 },
      }),
      fc.constant({
        ...guardDutyShape(id),
        detail: {
          ...(guardDutyShape(id).detail as object),
          service: { count: 1, archived: true, resourceRole: "ACTOR", additionalInfo: { sample: true } },
        },
      }),
    ),
  );
  return fc.oneof(
    { weight: 3, arbitrary: broken.map((e) => JSON.stringify(e)) },
    { weight: 1, arbitrary: anyValue.map((v) => JSON.stringify(v) ?? "undefined") },
    { weight: 1, arbitrary: hostileString },
    { weight: 1, arbitrary: notQualifying.map((e) => JSON.stringify(e)) },
  );
}

function amiShape(imageId: string): Record<string, unknown> {
  return {
    version: "0",
    id: "fuzz",
    "detail-type": "EC2 AMI State Change",
    source: "aws.ec2",
    account: "123456789012",
    time: "2026-11-01T00:00:00Z",
    region: "us-east-1",
    resources: [`arn:aws:ec2:us-east-1::image/${imageId}`],
    detail: { RequestId: "fuzz", ImageId: imageId, State: "available", ErrorReason: "" },
  };
}

function parameterShape(name: string): Record<string, unknown> {
  return {
    version: "0",
    id: "fuzz",
    "detail-type": "Parameter Store Change",
    source: "aws.ssm",
    account: "123456789012",
    time: "2026-11-01T00:00:00Z",
    region: "us-east-1",
    resources: [`arn:aws:ssm:us-east-1:123456789012:parameter${name}`],
    detail: { operation: "Update", name, type: "String", description: "" },
  };
}

function imageBuilderShape(arn: string): Record<string, unknown> {
  return {
    version: "0",
    id: "fuzz",
    "detail-type": "EC2 Image Builder Image State Change",
    source: "aws.imagebuilder",
    account: "123456789012",
    time: "2026-11-01T00:00:00Z",
    region: "us-east-1",
    resources: [arn],
    detail: { "previous-state": { status: "TESTING" }, state: { status: "AVAILABLE" } },
  };
}

/**
 * on-image events. `imageIds` are images that must never be rolled out (untagged or failing the
 * gate): hostile events pointing at them must not start anything.
 */
export function imageEvent(imageIds: readonly string[]): fc.Arbitrary<unknown> {
  const image = fc.oneof(fc.constantFrom(...imageIds), hostileString);
  return fc.oneof(
    image.chain((id) =>
      breakFields(amiShape(id), [
        ["source"],
        ["detail-type"],
        ["detail"],
        ["detail", "ImageId"],
        ["detail", "State"],
        ["resources"],
      ]),
    ),
    image.map((id) => amiShape(id)),
    hostileString.chain((name) =>
      breakFields(parameterShape(`/phoenix/images/${name}`), [
        ["detail", "name"],
        ["detail", "operation"],
        ["resources"],
      ]),
    ),
    hostileString.chain((arn) =>
      breakFields(imageBuilderShape(arn), [["resources"], ["detail", "state"], ["detail"]]),
    ),
    anyValue,
  );
}

function refreshShape(group: string, refreshId: string): Record<string, unknown> {
  return {
    version: "0",
    id: "fuzz",
    "detail-type": "EC2 Auto Scaling Instance Refresh Started",
    source: "aws.autoscaling",
    account: "123456789012",
    time: "2026-11-01T00:00:00Z",
    region: "us-east-1",
    resources: [],
    detail: { AutoScalingGroupName: group, InstanceRefreshId: refreshId },
  };
}

export function refreshEvent(groupNames: readonly string[]): fc.Arbitrary<unknown> {
  const group = fc.oneof(fc.constantFrom(...groupNames), hostileString);
  return fc.oneof(
    fc
      .tuple(group, hostileString)
      .chain(([g, r]) =>
        breakFields(refreshShape(g, r), [
          ["source"],
          ["detail-type"],
          ["detail"],
          ["detail", "AutoScalingGroupName"],
          ["detail", "InstanceRefreshId"],
        ]),
      ),
    fc.tuple(group, hostileString).map(([g, r]) => refreshShape(g, r)),
    anyValue,
  );
}
