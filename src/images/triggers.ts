import type { Policy } from "../policy/index.js";
import * as z from "../validation/zod.js";
import { familyFromParameterName } from "./parameters.js";

/**
 * The three EventBridge events that announce a new image, reduced to what the rollout needs.
 * `ignored` events are legitimate but do not apply (logged with the reason); `invalid` ones are
 * malformed (the error names the field) and must cause no action.
 */
export type ImageTrigger =
  | { kind: "ami"; imageId: string; region: string; account: string }
  | { kind: "imagebuilder"; imageBuildVersionArn: string; region: string }
  | { kind: "parameter"; name: string; operation: ParameterOperation; region: string }
  | { kind: "ignored"; reason: string }
  | { kind: "invalid"; error: string };

export type ParameterOperation = "Create" | "Update";

export const AMI_STATE_CHANGE = "EC2 AMI State Change";
export const IMAGE_BUILDER_STATE_CHANGE = "EC2 Image Builder Image State Change";
export const PARAMETER_STORE_CHANGE = "Parameter Store Change";

/** Where each detail-type must come from: anything else claiming it is not trusted. */
const EXPECTED_SOURCE: Record<string, string> = {
  [AMI_STATE_CHANGE]: "aws.ec2",
  [IMAGE_BUILDER_STATE_CHANGE]: "aws.imagebuilder",
  [PARAMETER_STORE_CHANGE]: "aws.ssm",
};

const region = z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, "not an AWS region"));
const nonEmpty = () => z.string().check(z.minLength(1));

const envelopeSchema = z.object({
  "detail-type": nonEmpty(),
  source: nonEmpty(),
});

const amiStateSchema = z.object({ detail: z.object({ State: nonEmpty() }) });
const amiActionSchema = z.object({
  region,
  account: nonEmpty(),
  // AWS ids are hex, but the documentation's own sample is "ami-0123456789example"; DescribeImages
  // refuses a wrong id anyway, so the shape check here stays loose on purpose.
  detail: z.object({ ImageId: z.string().check(z.regex(/^ami-[0-9a-z]+$/, "not an AMI id")) }),
});

const imageBuilderStateSchema = z.object({
  detail: z.object({ state: z.object({ status: nonEmpty() }) }),
});
/** An Image Builder image *build version* ARN: .../image/<name>/<x.y.z>/<build>. */
const IMAGE_BUILD_VERSION_ARN =
  /^arn:aws[a-z-]*:imagebuilder:[a-z0-9-]+:(\d{12}|aws):image\/[^/]+\/\d+\.\d+\.\d+\/\d+$/;
const imageBuilderActionSchema = z.object({ region, resources: z.array(z.unknown()) });

const parameterSchema = z.object({
  region,
  detail: z.object({
    name: nonEmpty(),
    operation: nonEmpty(),
    exception: z.optional(z.string()),
  }),
});

/** Parses any input into an ImageTrigger. Never throws. */
export function parseImageTrigger(event: unknown, policy: Pick<Policy, "rollout">): ImageTrigger {
  try {
    return classify(event, policy);
  } catch (error) {
    // Only reachable with hostile inputs (throwing getters, proxies): still no exception escapes.
    return {
      kind: "invalid",
      error: `event could not be read: ${(error as Error)?.message ?? String(error)}`,
    };
  }
}

function classify(event: unknown, policy: Pick<Policy, "rollout">): ImageTrigger {
  if (typeof event !== "object" || event === null || Array.isArray(event)) {
    return { kind: "invalid", error: `event: expected an object, received ${describeType(event)}` };
  }
  const envelope = envelopeSchema.safeParse(event);
  if (!envelope.success) return invalid(envelope.error);
  const detailType = envelope.data["detail-type"];
  const expectedSource = EXPECTED_SOURCE[detailType];
  if (expectedSource === undefined) {
    return { kind: "ignored", reason: `detail-type "${detailType}" does not announce a new image` };
  }
  if (envelope.data.source !== expectedSource) {
    return {
      kind: "ignored",
      reason: `"${detailType}" from source "${envelope.data.source}" is not trusted (expected ${expectedSource})`,
    };
  }
  if (detailType === AMI_STATE_CHANGE) return classifyAmi(event);
  if (detailType === IMAGE_BUILDER_STATE_CHANGE) return classifyImageBuilder(event);
  return classifyParameter(event, policy);
}

// Each classifier first reads only what decides whether the event applies, so an event that
// does not apply is ignored even when fields it would have needed are absent.

function classifyAmi(event: object): ImageTrigger {
  const state = amiStateSchema.safeParse(event);
  if (!state.success) return invalid(state.error);
  if (state.data.detail.State.toLowerCase() !== "available") {
    return { kind: "ignored", reason: `AMI state is "${state.data.detail.State}", not available` };
  }
  const action = amiActionSchema.safeParse(event);
  if (!action.success) return invalid(action.error);
  return {
    kind: "ami",
    imageId: action.data.detail.ImageId,
    region: action.data.region,
    account: action.data.account,
  };
}

function classifyImageBuilder(event: object): ImageTrigger {
  const state = imageBuilderStateSchema.safeParse(event);
  if (!state.success) return invalid(state.error);
  const status = state.data.detail.state.status;
  if (status.toUpperCase() !== "AVAILABLE") {
    return { kind: "ignored", reason: `Image Builder image status is "${status}", not AVAILABLE` };
  }
  const action = imageBuilderActionSchema.safeParse(event);
  if (!action.success) return invalid(action.error);
  // The event carries no AMI id and no image ARN in detail: the image is the resource.
  const arn = action.data.resources.find(
    (resource): resource is string => typeof resource === "string" && IMAGE_BUILD_VERSION_ARN.test(resource),
  );
  if (arn === undefined) {
    return {
      kind: "invalid",
      error: "resources: no Image Builder image build version ARN (…:image/<name>/<version>/<build>)",
    };
  }
  return { kind: "imagebuilder", imageBuildVersionArn: arn, region: action.data.region };
}

function classifyParameter(event: object, policy: Pick<Policy, "rollout">): ImageTrigger {
  const parsed = parameterSchema.safeParse(event);
  if (!parsed.success) return invalid(parsed.error);
  const { name, operation, exception } = parsed.data.detail;
  if (operation !== "Create" && operation !== "Update") {
    return { kind: "ignored", reason: `parameter ${name}: operation ${operation} does not publish an image` };
  }
  // Parameter Store reports a failed aws:ec2:image validation this way: the value is not a usable AMI.
  if (exception !== undefined) {
    return { kind: "ignored", reason: `parameter ${name}: Parameter Store reported "${exception}"` };
  }
  if (familyFromParameterName(name, policy) === undefined) {
    return {
      kind: "ignored",
      reason: `parameter ${name} is not an image parameter (policy.rollout.imageParameters: ${policy.rollout.imageParameters.join(", ")})`,
    };
  }
  return { kind: "parameter", name, operation, region: parsed.data.region };
}

function invalid(error: z.core.$ZodError): ImageTrigger {
  const problems = error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.map(String).join(".") : "event";
    return `${field}: ${issue.message}`;
  });
  return { kind: "invalid", error: problems.join("; ") };
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}
