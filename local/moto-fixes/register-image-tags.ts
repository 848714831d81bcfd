import { CreateTagsCommand, DeregisterImageCommand, EC2Client, type Tag } from "@aws-sdk/client-ec2";
import type { LocalCloudPlugin } from "../core/context.js";
import { forwardToMoto } from "../gateway/forward.js";
import type { AwsRequest } from "../gateway/request.js";
import { awsError } from "../gateway/response.js";

/**
 * moto's RegisterImage reads only Name and Description: `--tag-specifications
 * ResourceType=image,…` is dropped, and an image tagged that way (its family, its unhealthy mark)
 * is silently untagged. EC2 tags the image as it registers it. This part lets moto register the
 * image, then tags it before answering, so the caller (and the AMI events that follow) see the
 * tags at once. If the tags cannot be written the image is deregistered: EC2 registers an image
 * with its tags or not at all. Specifications for `snapshot` are accepted and have nothing to
 * tag (moto creates no snapshots for a registered image); any other resource type is refused,
 * as EC2 does.
 */

const TAG_SPEC = /^TagSpecifications?\.(\d+)\.(?:(ResourceType)|Tags?\.(\d+)\.(Key|Value))$/;
const TAGGABLE = new Set(["image", "snapshot"]);

interface TagSpecification {
  resourceType?: string;
  tags: Tag[];
}

/** The request's TagSpecification.N.* parameters, in order. */
export function tagSpecifications(params: URLSearchParams): TagSpecification[] {
  const specs = new Map<number, { resourceType?: string; tags: Map<number, Tag> }>();
  for (const [key, value] of params) {
    const match = TAG_SPEC.exec(key);
    if (!match) continue;
    const index = Number(match[1]);
    const spec = specs.get(index) ?? { tags: new Map<number, Tag>() };
    specs.set(index, spec);
    if (match[2]) {
      spec.resourceType = value;
      continue;
    }
    const tagIndex = Number(match[3]);
    const tag = spec.tags.get(tagIndex) ?? {};
    spec.tags.set(tagIndex, tag);
    if (match[4] === "Key") tag.Key = value;
    else tag.Value = value;
  }
  return [...specs.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, spec]) => ({
      ...(spec.resourceType !== undefined ? { resourceType: spec.resourceType } : {}),
      tags: [...spec.tags.entries()].sort(([a], [b]) => a - b).map(([, tag]) => tag),
    }));
}

export function registerImageTags(): LocalCloudPlugin {
  return (context) => {
    const ec2 = new EC2Client(context.internalClientConfig);
    const handles = (request: AwsRequest) =>
      request.service === "ec2" &&
      request.action === "RegisterImage" &&
      [...request.params.keys()].some((key) => TAG_SPEC.test(key));
    return {
      name: "register-image-tags",
      handlers: [
        {
          name: "register-image-tags",
          handles,
          async handle(request) {
            const specs = tagSpecifications(request.params);
            const invalid = specs.find((s) => !s.resourceType || !TAGGABLE.has(s.resourceType));
            if (invalid) {
              return awsError(
                "query",
                "ec2",
                400,
                "InvalidParameterValue",
                invalid.resourceType
                  ? `'${invalid.resourceType}' is not a valid taggable resource type for this operation.`
                  : "Tag specification resource type must have a value",
              );
            }
            const response = await forwardToMoto(context.motoUrl, request);
            const imageId = /<imageId>([^<]+)<\/imageId>/.exec(response.body.toString("utf8"))?.[1];
            const tags = specs.filter((s) => s.resourceType === "image").flatMap((s) => s.tags);
            if (response.status !== 200 || !imageId || tags.length === 0) return response;
            try {
              await ec2.send(new CreateTagsCommand({ Resources: [imageId], Tags: tags }));
            } catch (error) {
              await ec2.send(new DeregisterImageCommand({ ImageId: imageId })).catch(() => {});
              throw error;
            }
            return response;
          },
        },
      ],
    };
  };
}
