import { randomUUID } from "node:crypto";
import {
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import type { LocalCloudPlugin } from "../core/context.js";
import type { AwsRequest } from "../gateway/request.js";
import { type AwsResponse, awsError, xmlEscape } from "../gateway/response.js";

/**
 * moto's CreateLaunchTemplateVersion ignores SourceVersion: the new version holds only the data
 * passed with it, so a version made "from v1 with a new ImageId" loses v1's instance type,
 * security groups and instance profile, and instances refreshed onto it would too. EC2 copies
 * the source version and overrides what is passed. This part does that for the form Phoenix
 * uses (SourceVersion + a new ImageId), and honours ClientToken, which moto also ignores.
 * Other forms go to moto unchanged (the gateway forwards what no part handles).
 */
const OWN_DATA_KEYS = /^LaunchTemplateData\.ImageId$/;

export function launchTemplateSourceVersion(): LocalCloudPlugin {
  return (context) => {
    const ec2 = new EC2Client(context.internalClientConfig);
    const byClientToken = new Map<string, AwsResponse>();
    const handles = (request: AwsRequest) =>
      request.service === "ec2" &&
      request.action === "CreateLaunchTemplateVersion" &&
      request.params.has("SourceVersion") &&
      [...request.params.keys()]
        .filter((k) => k.startsWith("LaunchTemplateData."))
        .every((k) => OWN_DATA_KEYS.test(k));

    return {
      name: "launch-template-source-version",
      handlers: [
        {
          name: "launch-template-source-version",
          handles,
          async handle(request) {
            const token = request.params.get("ClientToken");
            const remembered = token ? byClientToken.get(token) : undefined;
            if (remembered) return remembered;
            const templateId = request.params.get("LaunchTemplateId") ?? undefined;
            const templateName = request.params.get("LaunchTemplateName") ?? undefined;
            const source = request.params.get("SourceVersion")!;
            let sourceData: Record<string, unknown> | undefined;
            try {
              const { LaunchTemplateVersions = [] } = await ec2.send(
                new DescribeLaunchTemplateVersionsCommand({
                  LaunchTemplateId: templateId,
                  LaunchTemplateName: templateId ? undefined : templateName,
                  Versions: [source],
                }),
              );
              sourceData = LaunchTemplateVersions[0]?.LaunchTemplateData as
                | Record<string, unknown>
                | undefined;
            } catch (error) {
              const { name, message } = error as Error;
              return awsError(
                "query",
                "ec2",
                400,
                name || "InvalidLaunchTemplateId.VersionNotFound",
                message,
              );
            }
            if (!sourceData) {
              return awsError(
                "query",
                "ec2",
                400,
                "InvalidLaunchTemplateId.VersionNotFound",
                `Could not find launch template version ${source}`,
              );
            }
            const imageId = request.params.get("LaunchTemplateData.ImageId");
            const { LaunchTemplateVersion: created } = await ec2.send(
              new CreateLaunchTemplateVersionCommand({
                LaunchTemplateId: templateId,
                LaunchTemplateName: templateId ? undefined : templateName,
                VersionDescription: request.params.get("VersionDescription") ?? undefined,
                LaunchTemplateData: { ...sourceData, ...(imageId ? { ImageId: imageId } : {}) },
              }),
            );
            const field = (name: string, value: unknown) =>
              value === undefined || value === null ? "" : `<${name}>${xmlEscape(String(value))}</${name}>`;
            const created_ = created ?? {};
            const response: AwsResponse = {
              status: 200,
              headers: { "content-type": "text/xml" },
              body:
                `<?xml version="1.0" encoding="UTF-8"?>\n<CreateLaunchTemplateVersionResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
                `<requestId>${randomUUID()}</requestId><launchTemplateVersion>` +
                field("launchTemplateId", created_.LaunchTemplateId) +
                field("launchTemplateName", created_.LaunchTemplateName) +
                field("versionNumber", created_.VersionNumber) +
                field("versionDescription", created_.VersionDescription) +
                field("defaultVersion", created_.DefaultVersion ?? false) +
                field("createTime", (created_.CreateTime ?? new Date()).toISOString()) +
                `</launchTemplateVersion></CreateLaunchTemplateVersionResponse>`,
            };
            if (token) byClientToken.set(token, response);
            return response;
          },
        },
      ],
    };
  };
}
