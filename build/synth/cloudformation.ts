/**
 * The member stack as one CloudFormation template, for a service-managed StackSet that puts it
 * in every member account (docs/DEPLOY.md, "Multi-account"): the same role, trust, inline policy
 * and quarantine profile the member graph holds (`npm run synth -- --member`), with what differs
 * per account made a parameter or a pseudo parameter:
 * - the member account in ARNs: `${AWS::AccountId}` (the graph is synthesized for a placeholder
 *   account, PLACEHOLDER_ACCOUNT, which no real account can be);
 * - the role's name (`RoleName`, default phoenix-member) and the account's regions (`Regions`,
 *   the region guard's list), which the policy sets per account: a stack instance overrides them.
 * Pure: from a graph to a template.
 */
import { resourcesOfType, type SynthGraph, stringInput } from "./graph.js";

/** The account the member graph is synthesized for when it becomes a template. */
export const PLACEHOLDER_ACCOUNT = "000000000000";

const REGION_GUARD_SID = "OnlyTheListedRegions";

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TemplateError";
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** CloudFormation's pseudo parameter, as Fn::Sub writes it (a literal, not a JavaScript template). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub syntax, written out for CloudFormation
const ACCOUNT_ID = "${AWS::AccountId}";

/** A string naming the placeholder account becomes an Fn::Sub of the account id; deeply. */
function withAccount(value: Json): Json {
  if (typeof value === "string")
    return value.includes(PLACEHOLDER_ACCOUNT)
      ? { "Fn::Sub": value.replaceAll("${", "${!").replaceAll(PLACEHOLDER_ACCOUNT, ACCOUNT_ID) }
      : value;
  if (Array.isArray(value)) return value.map(withAccount);
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, withAccount(inner)]));
  return value;
}

function only(graph: SynthGraph, type: string) {
  const found = resourcesOfType(graph, type);
  if (found.length !== 1)
    throw new TemplateError(
      `the member graph has ${found.length} ${type} resources; the template expects one`,
    );
  return found[0]!;
}

export function memberTemplate(graph: SynthGraph): Record<string, Json> {
  const role = only(graph, "aws:iam/role:Role");
  const inline = only(graph, "aws:iam/rolePolicy:RolePolicy");
  const profile = only(graph, "aws:iam/instanceProfile:InstanceProfile");
  const trust = JSON.parse(stringInput(role, "assumeRolePolicy") ?? "null") as Json;
  const permissions = JSON.parse(stringInput(inline, "policy") ?? "null") as {
    Statement: { Sid?: string; Condition?: Record<string, Record<string, unknown>> }[];
  } | null;
  if (!trust || !permissions)
    throw new TemplateError("the member role has no trust policy or no inline policy");
  const guard = permissions.Statement.find((statement) => statement.Sid === REGION_GUARD_SID);
  if (!guard?.Condition?.StringNotEquals)
    throw new TemplateError(`the member policy has no ${REGION_GUARD_SID} statement`);
  guard.Condition.StringNotEquals["aws:RequestedRegion"] = { Ref: "Regions" };
  const tags = (resource: typeof role) =>
    Object.entries((resource.inputs["tags"] ?? {}) as Record<string, string>).map(([Key, Value]) => ({
      Key,
      Value,
    }));
  return {
    AWSTemplateFormatVersion: "2010-09-09",
    Description: `Phoenix member stack (stage ${graph.stage}): ${stringInput(role, "description") ?? "the role Phoenix assumes"}`,
    Parameters: {
      RoleName: {
        Type: "String",
        Default: stringInput(role, "name") ?? "phoenix-member",
        Description: "The member role's name: the policy's accounts[].roleName for this account",
      },
      Regions: {
        Type: "CommaDelimitedList",
        Description:
          "The regions the policy lists for this account (accounts[].regions); the role is denied all others",
      },
    },
    Resources: {
      MemberRole: {
        Type: "AWS::IAM::Role",
        Properties: {
          RoleName: { Ref: "RoleName" },
          Description: stringInput(role, "description") ?? "Phoenix member role",
          AssumeRolePolicyDocument: withAccount(trust),
          Policies: [
            {
              PolicyName: stringInput(inline, "name") ?? "phoenix-member",
              PolicyDocument: withAccount(permissions as unknown as Json),
            },
          ],
          Tags: tags(role),
        },
      },
      QuarantineProfile: {
        Type: "AWS::IAM::InstanceProfile",
        Properties: { InstanceProfileName: stringInput(profile, "name") ?? "phoenix-quarantine" },
      },
    },
    Outputs: {
      MemberRoleArn: { Value: { "Fn::GetAtt": ["MemberRole", "Arn"] } },
      QuarantineProfile: { Value: { Ref: "QuarantineProfile" } },
    },
  };
}
