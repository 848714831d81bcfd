import {
  getDenialReasons,
  getGrantReasons,
  type RequestAnalysis,
  runSimulation,
  type Simulation,
} from "@cloud-copilot/iam-simulate";
import type { Check, CheckResource } from "./contexts.js";
import type { RolePolicies } from "./lookups.js";
import type { DecidingStatement, DecisionRecord, ResourceDecision, RoleSession } from "./model.js";
import { assumedRoleArn } from "./model.js";
import { sarAction } from "./sar.js";

/**
 * Evaluates checks with `@cloud-copilot/iam-simulate` (the independent evaluator the project
 * uses; no IAM logic of our own here): one simulation per resource of a check, with the role's
 * identity policies (inline and attached, as IAM holds them at the time of the call), its
 * permissions boundary, and the request context AWS would build. A check is allowed only if every
 * one of its resources is, and a call only if every one of its checks is.
 */

export type Context = Record<string, string | string[]>;

/** The keys STS puts in the context of every call a role session makes. */
export function sessionContext(session: RoleSession, now: number, region: string): Context {
  return {
    "aws:PrincipalArn": session.roleArn,
    "aws:PrincipalAccount": session.accountId,
    "aws:PrincipalType": "AssumedRole",
    "aws:TokenIssueTime": new Date(session.issuedAt).toISOString(),
    "aws:CurrentTime": new Date(now).toISOString(),
    "aws:EpochTime": String(Math.floor(now / 1000)),
    "aws:RequestedRegion": region,
    // Requests reach AWS over TLS; the local endpoint's plain HTTP is not what a policy means.
    "aws:SecureTransport": "true",
    ...(session.sourceInstanceArn ? { "ec2:SourceInstanceARN": session.sourceInstanceArn } : {}),
  };
}

/** The service-specific resource-tag key AWS sets beside aws:ResourceTag. */
function serviceTagPrefix(arn: string): string | undefined {
  const service = arn.split(":")[2];
  if (service === "ec2") return "ec2:ResourceTag";
  if (service === "autoscaling") return "autoscaling:ResourceTag";
  if (service === "iam") return "iam:ResourceTag";
  if (service === "ssm") return "ssm:resourceTag";
  return undefined;
}

export function checkContext(check: Check, resource: CheckResource, base: Context): Context {
  const context: Context = { ...base, ...(check.context ?? {}), ...(resource.context ?? {}) };
  const prefix = serviceTagPrefix(resource.arn);
  for (const [key, value] of Object.entries(resource.tags ?? {})) {
    context[`aws:ResourceTag/${key}`] = value;
    if (prefix) context[`${prefix}/${key}`] = value;
  }
  if (check.requestTags) {
    for (const [key, value] of Object.entries(check.requestTags)) context[`aws:RequestTag/${key}`] = value;
    context["aws:TagKeys"] = Object.keys(check.requestTags);
  }
  if (check.tagKeys) context["aws:TagKeys"] = check.tagKeys;
  return context;
}

// A resource the call creates is authorized as `…/type/*`: only a policy resource that matches
// that literal text (`…/type/*`, `…/*`, `*`) allows it. iam-simulate reads `*` in a request's
// resource as "any resource", so the literal star is given as U+2217, which only `*` patterns match.
const LITERAL_STAR = "\u2217";

function statementOf(
  grant: { policyType: string; policyIdentifier?: string; statementId?: string; statementIndex: number },
  effect: "Allow" | "Deny",
): DecidingStatement {
  return {
    policy: grant.policyType === "resource" ? "resource" : (grant.policyIdentifier ?? grant.policyType),
    ...(grant.statementId ? { sid: grant.statementId } : {}),
    index: grant.statementIndex,
    effect,
  };
}

function resourceDecision(arn: string, overall: string, analysis: RequestAnalysis): ResourceDecision {
  if (overall === "Allowed") {
    const grant =
      getGrantReasons(analysis).find((g) => g.policyType === "identity") ?? getGrantReasons(analysis)[0];
    return { arn, decision: "Allow", ...(grant ? { statement: statementOf(grant, "Allow") } : {}) };
  }
  const denial = getDenialReasons(analysis).find((d) => d.denialType === "Explicit");
  if (overall === "ExplicitlyDenied" && denial && denial.denialType === "Explicit") {
    return {
      arn,
      decision: "Deny",
      denial: "explicit",
      statement: statementOf(
        {
          policyType: denial.policyType,
          ...(denial.policyIdentifier ? { policyIdentifier: denial.policyIdentifier } : {}),
          ...(denial.statementId ? { statementId: denial.statementId } : {}),
          statementIndex: denial.statementIndex,
        },
        "Deny",
      ),
    };
  }
  return { arn, decision: "Deny", denial: overall === "ExplicitlyDenied" ? "explicit" : "implicit" };
}

type Simulated = { decision: ResourceDecision; error?: string };

// iam-simulate is deterministic and CPU-bound (a CreateTags check takes ~15 ms: it matches the ARN
// against every resource type of the action), and runs on the gateway's one thread: the outcome of
// the same request against the same policies is remembered. Per policy set (a new set after any
// IAM write), keyed by the whole request; the clock's keys count only when a policy names them.
const MEMO_LIMIT = 5_000;
const memos = new WeakMap<object, { timeSensitive: boolean; results: Map<string, Simulated> }>();
const TIME_KEYS = ["aws:CurrentTime", "aws:EpochTime", "aws:TokenIssueTime"];

async function simulate(policies: PolicySet, simulation: Simulation): Promise<Simulated> {
  let memo = memos.get(policies);
  if (!memo) {
    memo = {
      timeSensitive: /CurrentTime|EpochTime|TokenIssueTime/i.test(JSON.stringify(policies)),
      results: new Map(),
    };
    memos.set(policies, memo);
  }
  const context = { ...simulation.request.contextVariables };
  if (!memo.timeSensitive) for (const key of TIME_KEYS) delete context[key];
  const key = JSON.stringify([simulation.request.action, simulation.request.resource, context]);
  const known = memo.results.get(key);
  if (known) return known;
  const outcome = await runSimulationOnce(simulation);
  if (memo.results.size >= MEMO_LIMIT) memo.results.clear();
  memo.results.set(key, outcome);
  return outcome;
}

async function runSimulationOnce(simulation: Simulation): Promise<Simulated> {
  const arn = simulation.request.resource.resource;
  const result = await runSimulation(simulation, {});
  if (result.resultType === "error") {
    return {
      decision: { arn, decision: "Deny", denial: "implicit" },
      error: `iam-simulate refused the request (${JSON.stringify(result.errors)}): denied`,
    };
  }
  const analysis = result.resultType === "single" ? result.result.analysis : result.results[0]?.analysis;
  if (!analysis) return { decision: { arn, decision: "Deny", denial: "implicit" } };
  return { decision: resourceDecision(arn, result.overallResult, analysis) };
}

export interface PolicySet {
  identity: RolePolicies["identity"];
  boundary?: RolePolicies["boundary"];
  /** A resource policy evaluated with the identity policies (a trust policy for sts:AssumeRole). */
  resourcePolicy?: unknown;
}

/** One check evaluated: a decision record (without its sequence number). */
export async function evaluateCheck(options: {
  principal: string;
  account: string;
  policies: PolicySet;
  check: Check;
  base: Context;
  call: string;
  now: number;
}): Promise<Omit<DecisionRecord, "seq">> {
  const { check, policies } = options;
  const sar = await sarAction(check.action);
  const perResource: ResourceDecision[] = [];
  let lastContext: Context = {};
  let reason: string | undefined;
  const notes: string[] = [];
  for (const resource of check.resources) {
    const context = checkContext(check, resource, options.base);
    lastContext = context;
    const evaluated = sar?.isWildcardOnly ? "*" : resource.arn.replaceAll("*", LITERAL_STAR);
    // Another account's resource (a shared subnet, an image a pipeline account shares) is allowed
    // in AWS only if its owner's resource policy or RAM share allows it too. Of those, the local
    // cloud evaluates a role's trust policy (AssumeRole's, given here as the resource policy);
    // for any other, the caller's side is evaluated and the owner's is assumed to allow.
    const owner = resource.arn.split(":")[4] || options.account;
    if (owner !== options.account && !policies.resourcePolicy) {
      notes.push(
        `${resource.arn} is account ${owner}'s: its owner's resource policy is assumed to allow (only a real account can tell)`,
      );
    }
    const simulation: Simulation = {
      request: {
        principal: options.principal,
        action: check.action,
        resource: { resource: evaluated, accountId: policies.resourcePolicy ? owner : options.account },
        contextVariables: context,
      },
      identityPolicies: policies.identity,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(policies.boundary ? { permissionBoundaryPolicies: [policies.boundary] } : {}),
      ...(policies.resourcePolicy ? { resourcePolicy: policies.resourcePolicy } : {}),
    };
    const simulated = await simulate(policies, simulation);
    if ("error" in simulated) reason = simulated.error;
    perResource.push({ ...simulated.decision, arn: resource.arn });
  }
  const refused =
    perResource.find((r) => r.decision === "Deny" && r.denial === "explicit") ??
    perResource.find((r) => r.decision === "Deny");
  const decision = refused || perResource.length === 0 ? "Deny" : "Allow";
  const decider = refused ?? perResource[0];
  if (decision === "Deny" && !reason) {
    reason =
      perResource.length === 0
        ? "no resource to authorize"
        : refused?.denial === "explicit"
          ? `explicit deny in ${refused.statement?.policy ?? "a policy"}${refused.statement?.sid ? ` (${refused.statement.sid})` : ""} on ${refused.arn}`
          : `no statement allows ${check.action} on ${refused?.arn}`;
  }
  return {
    time: new Date(options.now).toISOString(),
    principal: options.principal,
    action: check.action,
    call: options.call,
    resources: check.resources.map((r) => r.arn),
    decision,
    ...(decider?.statement ? { statement: decider.statement } : {}),
    ...(reason ? { reason } : {}),
    ...(notes.length > 0 ? { notes } : {}),
    perResource,
    context: lastContext,
  };
}

/** The error message AWS gives for a denial, naming the principal, the action and the resource. */
export function denialMessage(record: Omit<DecisionRecord, "seq">): string {
  const refused = record.perResource?.find((r) => r.decision === "Deny");
  const resource = refused?.arn ?? record.resources[0] ?? "*";
  const because =
    refused?.denial === "explicit"
      ? "with an explicit deny in an identity-based policy"
      : record.reason && !record.reason.startsWith("no statement allows")
        ? `(${record.reason})`
        : `because no identity-based policy allows the ${record.action} action`;
  return `User: ${record.principal} is not authorized to perform: ${record.action} on resource: ${resource} ${because}`;
}

export const principalOf = assumedRoleArn;
