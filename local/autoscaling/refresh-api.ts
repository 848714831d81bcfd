import type { AlarmState } from "./alarms.js";
import type { MotoFleet } from "./moto-fleet.js";
import type { RefreshEngine } from "./refresh-engine.js";
import {
  type DesiredConfiguration,
  type InstanceRefresh,
  isNumberedVersion,
  type LaunchTemplateSpec,
  RefreshApiError,
  type RefreshBook,
  type RefreshPreferences,
  templateOf,
} from "./refresh-model.js";
import { countsForUpdate, dispositionOf, preferencesProblem, withDefaults } from "./refresh-plan.js";
import type { WarmPoolRefresher } from "./refresh-warm.js";

/**
 * The four instance refresh operations with AWS's semantics and error codes, independent of the
 * wire: arguments in, data (or a RefreshApiError) out.
 */

export interface StartRefreshRequest {
  groupName?: string;
  strategy?: string;
  desiredConfiguration?: DesiredConfiguration;
  /** Set when the request asks for something the local cloud does not model. */
  unsupported?: string;
  preferences: RefreshPreferences;
}

export interface DescribeRefreshesRequest {
  groupName?: string;
  instanceRefreshIds: string[];
  maxRecords?: number;
  nextToken?: string;
}

const validation = (message: string) => new RefreshApiError("ValidationError", message);

export class InstanceRefreshApi {
  constructor(
    private readonly book: RefreshBook,
    private readonly engine: RefreshEngine,
    private readonly fleet: MotoFleet,
    private readonly alarms: (names: string[]) => Promise<Map<string, AlarmState>> = async () => new Map(),
    /** The group's warm pool, which the refresh replaces too (refresh-warm.ts). */
    private readonly warm?: Pick<WarmPoolRefresher, "has" | "countAtStart">,
  ) {}

  async start(request: StartRefreshRequest): Promise<string> {
    const group = await this.requireGroup(request.groupName);
    if (request.strategy !== undefined && request.strategy !== "Rolling") {
      throw validation(`Strategy ${request.strategy} is not supported by the local cloud; use Rolling.`);
    }
    if (request.unsupported) throw validation(request.unsupported);
    const problem = preferencesProblem(request.preferences);
    if (problem) throw validation(problem);
    await this.requireAlarms(request.preferences.AlarmSpecification?.Alarms ?? []);

    const desiredConfiguration = request.desiredConfiguration;
    const desired = templateOf(desiredConfiguration);
    if (desiredConfiguration) {
      if (group.launchConfigurationName || !group.launchTemplate) {
        throw validation(
          "The local cloud supports a DesiredConfiguration only for Auto Scaling groups that use a launch template or a mixed instances policy.",
        );
      }
      if (desiredConfiguration.LaunchTemplate && desiredConfiguration.MixedInstancesPolicy) {
        throw validation(
          "Valid requests must contain either LaunchTemplate or MixedInstancesPolicy in DesiredConfiguration, not both.",
        );
      }
      // "You cannot add a warm pool to Auto Scaling groups that have a mixed instances policy"
      // (user guide, warm pools, Limitations): nor give a pooled group one.
      if (desiredConfiguration.MixedInstancesPolicy && this.warm?.has(group.name)) {
        throw validation(
          "You cannot use a mixed instances policy with an Auto Scaling group that has a warm pool.",
        );
      }
      // A mixed group keeps its policy: its launch template is changed within it.
      if (desiredConfiguration.LaunchTemplate && group.usesMixedInstancesPolicy) {
        throw validation(
          "The Auto Scaling group uses a mixed instances policy. Specify the launch template in DesiredConfiguration.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.",
        );
      }
      if (!desired) {
        throw validation(
          "DesiredConfiguration.MixedInstancesPolicy must include LaunchTemplate.LaunchTemplateSpecification.",
        );
      }
      await this.requireLaunchTemplateVersion(desired);
    }
    if (request.preferences.AutoRollback) {
      if (!desired) {
        throw validation(
          "The request isn't valid. The AutoRollback parameter cannot be set to true when the DesiredConfiguration parameter is empty. Set AutoRollback to false or specify a desired configuration and try again.",
        );
      }
      if (!isNumberedVersion(desired.Version)) {
        throw validation(
          "AutoRollback is not supported when the desired configuration uses the $Latest or $Default launch template version. Specify a version number.",
        );
      }
      if (!isNumberedVersion(group.launchTemplate?.Version)) {
        throw validation(
          "AutoRollback is not supported when the Auto Scaling group uses the $Latest or $Default launch template version.",
        );
      }
    }
    const preferences = withDefaults(request.preferences);
    const warmInstancesToUpdate = await this.warm?.countAtStart(
      group.name,
      desired ?? group.launchTemplate,
      preferences.SkipMatching === true,
    );
    const refresh = this.book.create({
      groupName: group.name,
      preferences,
      ...(request.desiredConfiguration ? { desiredConfiguration: request.desiredConfiguration } : {}),
      ...(group.launchTemplate ? { previousLaunchTemplate: group.launchTemplate } : {}),
      ...(group.mixedInstancesPolicy ? { previousMixedPolicy: group.mixedInstancesPolicy } : {}),
      instancesToUpdate: group.instances.filter((i) => countsForUpdate(dispositionOf(i, preferences))).length,
      ...(warmInstancesToUpdate !== undefined ? { warmInstancesToUpdate } : {}),
    });
    this.engine.start(refresh, group);
    return refresh.InstanceRefreshId;
  }

  async describe(
    request: DescribeRefreshesRequest,
  ): Promise<{ refreshes: InstanceRefresh[]; nextToken?: string }> {
    const group = await this.requireKnownGroup(request.groupName);
    const max = request.maxRecords ?? 50;
    if (!Number.isInteger(max) || max < 1 || max > 100)
      throw validation("MaxRecords must be between 1 and 100.");
    const offset = request.nextToken === undefined ? 0 : decodeToken(request.nextToken);
    const all = this.book.list(group.name, request.instanceRefreshIds);
    const page = all.slice(offset, offset + max);
    const next = offset + max < all.length ? encodeToken(offset + max) : undefined;
    return { refreshes: page, ...(next ? { nextToken: next } : {}) };
  }

  async cancel(groupName: string | undefined): Promise<string> {
    const group = await this.requireKnownGroup(groupName);
    return this.engine.cancel(group.name);
  }

  async rollback(groupName: string | undefined): Promise<string> {
    const group = await this.requireKnownGroup(groupName);
    return this.engine.rollback(group.name);
  }

  /**
   * A group that has refreshes needs no look-up in moto: callers poll DescribeInstanceRefreshes
   * often, and moto's DescribeAutoScalingGroups is slow under load.
   */
  private async requireKnownGroup(name: string | undefined): Promise<{ name: string }> {
    if (name && this.book.list(name).length > 0) return { name };
    return this.requireGroup(name);
  }

  private async requireGroup(name: string | undefined) {
    if (!name) {
      throw validation(
        "1 validation error detected: Value null at 'autoScalingGroupName' failed to satisfy constraint: Member must not be null",
      );
    }
    const group = await this.fleet.describeGroup(name);
    if (!group) throw validation(`AutoScalingGroup name not found - AutoScalingGroup '${name}' not found`);
    return group;
  }

  /** Every alarm named must exist in CloudWatch (same account and Region) when the refresh starts. */
  private async requireAlarms(names: string[]): Promise<void> {
    if (names.length === 0) return;
    const states = await this.alarms(names);
    const missing = names.filter((n) => !states.has(n));
    if (missing.length > 0) {
      throw validation(`The following CloudWatch alarms could not be found: ${missing.join(", ")}.`);
    }
  }

  private async requireLaunchTemplateVersion(spec: LaunchTemplateSpec): Promise<void> {
    if (Boolean(spec.LaunchTemplateId) === Boolean(spec.LaunchTemplateName)) {
      throw validation(
        "Valid requests must contain either LaunchTemplateId or LaunchTemplateName, not both.",
      );
    }
    const template = await this.fleet.describeLaunchTemplate(spec);
    const named = spec.LaunchTemplateId ? `ID ${spec.LaunchTemplateId}` : `name ${spec.LaunchTemplateName}`;
    if (!template) {
      throw validation(
        `You must use a valid fully-formed launch template. The launch template with ${named} does not exist.`,
      );
    }
    const version = spec.Version ?? "$Default";
    const symbolic = /^\$(latest|default)$/i.test(version);
    if (!symbolic && !(isNumberedVersion(version) && Number(version) <= template.latestVersion)) {
      throw validation(
        `You must use a valid fully-formed launch template. The launch template with ${named} has no version ${version}.`,
      );
    }
  }
}

function encodeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString("base64url");
}

function decodeToken(token: string): number {
  try {
    const { offset } = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { offset?: unknown };
    if (typeof offset === "number" && Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // fall through
  }
  throw new RefreshApiError("InvalidNextToken", "The token provided is not valid.");
}
