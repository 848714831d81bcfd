import { createHash } from "node:crypto";
import {
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplateVersionsCommand,
  type EC2Client,
  type LaunchTemplateVersion,
} from "@aws-sdk/client-ec2";
import type { LaunchTemplateInUse } from "../group.js";

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
  if (launchTemplateId === undefined || source.VersionNumber === undefined) {
    throw new Error(
      `launch template ${template.id ?? template.name} version ${template.version}: no id or number`,
    );
  }
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
): Promise<LaunchTemplateVersion> {
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
  return found;
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
