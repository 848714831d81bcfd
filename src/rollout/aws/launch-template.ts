import { createHash } from "node:crypto";
import {
  type AutoScalingClient,
  type MixedInstancesPolicy,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplateVersionsCommand,
  type EC2Client,
  type LaunchTemplateVersion,
} from "@aws-sdk/client-ec2";
import type { LaunchTemplateInUse } from "../core/group.js";

export interface TemplateVersionForImage {
  launchTemplateId: string;
  launchTemplateName?: string;
  /** Always a number: instance refresh rollback does not work with $Latest/$Default. */
  version: string;
  /** The numbered version the new one was made from (the one the group used). */
  sourceVersion: string;
  /** False when an existing version already had the image (a retry, or a template shared by groups). */
  created: boolean;
}

/**
 * The ClientToken of a new version: derived from the template, the source version and the image,
 * so a retried call is the same request to EC2 (same token, same parameters) and returns the same
 * version instead of a second one. Groups that share a template get the one version, as they should.
 */
export function launchTemplateClientToken(
  templateId: string,
  sourceVersion: string,
  imageId: string,
): string {
  const digest = createHash("sha256").update(`${templateId}|${sourceVersion}|${imageId}`).digest("hex");
  return `phoenix-${digest.slice(0, 40)}`;
}

export function phoenixVersionDescription(imageId: string, sourceVersion: string): string {
  return `phoenix: ${imageId} from version ${sourceVersion}`;
}

/** The version a Phoenix-made version for `imageId` was made from, read back from its description. */
export function phoenixSourceOf(version: LaunchTemplateVersion, imageId: string): string | undefined {
  const match = /^phoenix: (ami-[0-9a-z]+) from version (\d+)$/.exec(version.VersionDescription ?? "");
  return match && match[1] === imageId && version.LaunchTemplateData?.ImageId === imageId
    ? match[2]
    : undefined;
}

export interface VersionPin {
  launchTemplateId: string;
  /** As the group named it: $Latest or $Default. */
  from: string;
  /** The number it is pinned to: what the group launched until now. */
  version: string;
  /** Set when $Latest already named a version Phoenix made for this image (an earlier attempt). */
  undid?: string;
}

/**
 * The numbered version a group on `$Latest`/`$Default` launches today, to pin it to before a new
 * version exists. Creating a version moves `$Latest` at once, so a group left on it would launch
 * the untested image on every scale-out or replacement, outside any refresh; and AWS refuses
 * AutoRollback for such a group. Pinned to the same content, the group launches exactly what it
 * did, and the refresh (which can roll back) is the only way the new image reaches it. If
 * `$Latest` already names a version Phoenix made for this image (a run before this rule), the
 * pin goes to the version that one was made from: what the group ran before Phoenix touched it.
 */
export async function versionToPin(
  ec2: EC2Client,
  template: Pick<LaunchTemplateInUse, "id" | "name" | "version">,
  imageId: string,
): Promise<VersionPin> {
  const named = await describeVersion(ec2, template, template.version);
  const source = phoenixSourceOf(named, imageId);
  return {
    launchTemplateId: named.LaunchTemplateId,
    from: template.version,
    version: source ?? String(named.VersionNumber),
    ...(source !== undefined ? { undid: String(named.VersionNumber) } : {}),
  };
}

/** Points the group at the pinned number (UpdateAutoScalingGroup: the same value again is a no-op). */
export async function pinGroupVersion(
  autoScaling: AutoScalingClient,
  group: string,
  pin: VersionPin,
  mixedInstancesPolicy?: Record<string, unknown>,
): Promise<void> {
  const template = { LaunchTemplateId: pin.launchTemplateId, Version: pin.version };
  await autoScaling.send(
    new UpdateAutoScalingGroupCommand({
      AutoScalingGroupName: group,
      ...(mixedInstancesPolicy === undefined
        ? { LaunchTemplate: template }
        : { MixedInstancesPolicy: withTemplate(mixedInstancesPolicy, template) }),
    }),
  );
}

/**
 * A mixed group's policy with another template version in it, all else as it was. A mixed group
 * names its template inside the policy, and Auto Scaling replaces the whole policy with the one
 * given (UpdateAutoScalingGroup, or a refresh's DesiredConfiguration on success): sending it back
 * whole is what keeps its overrides and its on-demand/spot distribution.
 */
export function withTemplate(
  policy: Record<string, unknown>,
  template: { LaunchTemplateId: string; Version: string },
): MixedInstancesPolicy {
  const mixed = policy as MixedInstancesPolicy;
  return { ...mixed, LaunchTemplate: { ...mixed.LaunchTemplate, LaunchTemplateSpecification: template } };
}

/**
 * A numbered version of the group's template that runs `imageId`, everything else as in the
 * version the group uses. Reuses a version that already does (the source itself, or one Phoenix
 * made from the same source for the same image), else creates one from the source (SourceVersion
 * plus the new ImageId, with an idempotency ClientToken).
 */
export async function ensureTemplateVersion(
  ec2: EC2Client,
  template: Pick<LaunchTemplateInUse, "id" | "name" | "version">,
  imageId: string,
): Promise<TemplateVersionForImage> {
  const source = await describeVersion(ec2, template, template.version);
  const launchTemplateId = source.LaunchTemplateId;
  const sourceVersion = String(source.VersionNumber);
  const result = (version: LaunchTemplateVersion, created: boolean): TemplateVersionForImage => ({
    launchTemplateId,
    ...(source.LaunchTemplateName !== undefined ? { launchTemplateName: source.LaunchTemplateName } : {}),
    version: String(version.VersionNumber),
    sourceVersion,
    created,
  });
  if (source.LaunchTemplateData?.ImageId === imageId) return result(source, false);

  const description = phoenixVersionDescription(imageId, sourceVersion);
  const existing = await findVersion(
    ec2,
    launchTemplateId,
    source.VersionNumber,
    (version) =>
      version.LaunchTemplateData?.ImageId === imageId && version.VersionDescription === description,
  );
  if (existing !== undefined) return result(existing, false);

  const { LaunchTemplateVersion: created } = await ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: launchTemplateId,
      SourceVersion: sourceVersion,
      VersionDescription: description,
      LaunchTemplateData: { ImageId: imageId },
      ClientToken: launchTemplateClientToken(launchTemplateId, sourceVersion, imageId),
    }),
  );
  if (created?.VersionNumber === undefined) {
    throw new Error(`CreateLaunchTemplateVersion on ${launchTemplateId} returned no version number`);
  }
  return result(created, true);
}

/** One version as the group names it (a number, $Latest or $Default), resolved to its number. */
export async function describeVersion(
  ec2: EC2Client,
  template: Pick<LaunchTemplateInUse, "id" | "name">,
  version: string,
): Promise<LaunchTemplateVersion & { LaunchTemplateId: string; VersionNumber: number }> {
  const { LaunchTemplateVersions } = await ec2.send(
    new DescribeLaunchTemplateVersionsCommand({
      ...(template.id !== undefined
        ? { LaunchTemplateId: template.id }
        : { LaunchTemplateName: template.name }),
      Versions: [version],
    }),
  );
  const found = LaunchTemplateVersions?.[0];
  if (found === undefined) {
    throw new Error(`launch template ${template.id ?? template.name} has no version ${version}`);
  }
  const { LaunchTemplateId, VersionNumber } = found;
  if (LaunchTemplateId === undefined || VersionNumber === undefined) {
    throw new Error(`launch template ${template.id ?? template.name} version ${version}: no id or number`);
  }
  return { ...found, LaunchTemplateId, VersionNumber };
}

/** The first version newer than `after` that matches, paging through all of them. */
async function findVersion(
  ec2: EC2Client,
  launchTemplateId: string,
  after: number,
  matches: (version: LaunchTemplateVersion) => boolean,
): Promise<LaunchTemplateVersion | undefined> {
  let NextToken: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: launchTemplateId,
        MinVersion: String(after + 1),
        MaxResults: 200,
        NextToken,
      }),
    );
    // Filtered here rather than with an image-id filter: not every emulator applies that filter.
    const found = page.LaunchTemplateVersions?.find(
      (version) => (version.VersionNumber ?? 0) > after && matches(version),
    );
    if (found !== undefined) return found;
    NextToken = page.NextToken;
  } while (NextToken);
  return undefined;
}
