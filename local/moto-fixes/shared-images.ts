import { randomUUID } from "node:crypto";
import { DescribeImagesCommand, DescribeLaunchTemplateVersionsCommand, EC2Client } from "@aws-sdk/client-ec2";
import type { LocalCloudContext, LocalCloudPlugin } from "../core/context.js";
import { mayLaunch, unlaunchableImage } from "../core/launch-permission.js";
import { applyEdits, childElements, elementAt, textOf } from "../core/xml-patch.js";
import { forwardToMoto } from "../gateway/forward.js";
import { inAccount } from "../gateway/moto-account.js";
import { type AwsRequest, queryList } from "../gateway/request.js";
import { type AwsResponse, awsError } from "../gateway/response.js";

/**
 * Images shared between the local cloud's accounts (local/core/accounts.ts). moto keeps each
 * account's images apart and reads launch permissions only in the owner's account, so an image a
 * tooling account shares with a member (ModifyImageAttribute, LaunchPermission UserId) never
 * shows in the member's DescribeImages. EC2 shows it there: with no ids, among the images the
 * caller may launch (unless `--owners` leaves it out), and by its id. This part answers a
 * DescribeImages that way: the caller's own answer from moto, plus the matching images other
 * local accounts share with it, each as its owner's moto describes it (the request's owners and
 * filters applied there) but without its tags, which EC2 never shares. Public images are not
 * added: moto gives every account its own copy.
 *
 * Launching: moto does not check the AMI of RunInstances at all, so any image id would launch in
 * any account. With member accounts, this part checks it as EC2 does: the image (named, or the
 * launch template's) must be the caller's own, public, or shared with it; otherwise the call
 * fails with InvalidAMIID.NotFound and nothing launches (core/launch-permission.ts, which the
 * local instance refresh asks too; other launches Auto Scaling makes inside moto are not checked).
 */
export function sharedImages(): LocalCloudPlugin {
  return (context) => {
    const clients = new Map<string, EC2Client>();
    // Per account and region: images are regional, and a request is answered in its own region.
    const clientIn = (account: string, region: string) => {
      const key = `${account}#${region}`;
      let client = clients.get(key);
      if (!client) {
        client = inAccount(new EC2Client({ ...context.internalClientConfig, region }), account);
        clients.set(key, client);
      }
      return client;
    };
    return {
      name: "shared-images",
      handlers: [
        {
          name: "shared-images",
          everyAccount: true,
          handles: (request) =>
            context.memberAccounts.length > 0 &&
            request.service === "ec2" &&
            request.action === "DescribeImages",
          handle: (request) =>
            describeWithShared(context, (account) => clientIn(account, request.region), request),
        },
        {
          name: "launch-permissions",
          everyAccount: true,
          handles: (request) =>
            context.memberAccounts.length > 0 &&
            request.service === "ec2" &&
            request.action === "RunInstances",
          handle: (request) =>
            launchIfPermitted(context, (account) => clientIn(account, request.region), request),
        },
      ],
      async stop() {
        for (const client of clients.values()) client.destroy();
      },
    };
  };
}

/** RunInstances, if the caller may launch its image (own, public or shared), else EC2's error. */
async function launchIfPermitted(
  context: Pick<LocalCloudContext, "accountId" | "memberAccounts" | "motoUrl">,
  ec2In: (account: string) => EC2Client,
  request: AwsRequest,
): Promise<AwsResponse> {
  const caller = request.account ?? context.accountId;
  const imageId = request.params.get("ImageId") ?? (await templateImage(ec2In(caller), request));
  // No image to check (a template moto cannot resolve): moto answers as it would.
  if (!imageId || (await mayLaunch([context.accountId, ...context.memberAccounts], ec2In, caller, imageId)))
    return forwardToMoto(context.motoUrl, request);
  return awsError(
    request.protocol,
    request.service,
    400,
    "InvalidAMIID.NotFound",
    unlaunchableImage(imageId),
  );
}

/** The image of the launch template a RunInstances names (its version, else the default). */
async function templateImage(ec2: EC2Client, request: AwsRequest): Promise<string | undefined> {
  const id = request.params.get("LaunchTemplate.LaunchTemplateId") ?? undefined;
  const name = request.params.get("LaunchTemplate.LaunchTemplateName") ?? undefined;
  if (!id && !name) return undefined;
  const version = request.params.get("LaunchTemplate.Version") ?? "$Default";
  try {
    const { LaunchTemplateVersions = [] } = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        ...(id ? { LaunchTemplateId: id } : { LaunchTemplateName: name }),
        Versions: [version],
      }),
    );
    return LaunchTemplateVersions[0]?.LaunchTemplateData?.ImageId;
  } catch {
    return undefined;
  }
}

async function describeWithShared(
  context: Pick<LocalCloudContext, "accountId" | "memberAccounts" | "motoUrl">,
  ec2In: (account: string) => EC2Client,
  request: AwsRequest,
): Promise<AwsResponse> {
  const caller = request.account ?? context.accountId;
  const owners = [context.accountId, ...context.memberAccounts].filter((a) => a !== caller);
  // Which images each other account shares with the caller (moto filters by launch permission).
  const sharedBy = new Map<string, string>();
  await Promise.all(
    owners.map(async (owner) => {
      // Its own images only: every account has moto's public ones.
      const { Images = [] } = await ec2In(owner).send(
        new DescribeImagesCommand({ ExecutableUsers: [caller], Owners: ["self"] }),
      );
      for (const image of Images) if (!image.Public && image.ImageId) sharedBy.set(image.ImageId, owner);
    }),
  );
  if (sharedBy.size === 0 || !sharedMayMatch(request, caller)) return forwardToMoto(context.motoUrl, request);

  const requested = queryList(request.params, "ImageId");
  const ownIds = requested.filter((id) => !sharedBy.has(id));
  // The caller's own answer; when every id asked for is another account's, an empty one.
  const base =
    requested.length > 0 && ownIds.length === 0
      ? emptyAnswer()
      : bodyOf(await forwardToMoto(context.motoUrl, withParams(request, caller, { ImageId: ownIds })));
  if ("error" in base) return base.error;

  const items: string[] = [];
  for (const owner of new Set(sharedBy.values())) {
    const wanted = [...sharedBy]
      .filter(([id, by]) => by === owner && (requested.length === 0 || requested.includes(id)))
      .map(([id]) => id);
    if (wanted.length === 0) continue;
    // Without ids, so that moto applies the request's owners and filters in the owner's account
    // ("self" is the caller, never the owner); with no owners asked, the owner's own images are
    // enough (every account has moto's public ones).
    const owned: Record<string, string[]> =
      queryList(request.params, "Owner").length > 0 ? {} : { Owner: ["self"] };
    const answer = bodyOf(
      await forwardToMoto(
        context.motoUrl,
        withParams(request, owner, { ImageId: [], ExecutableBy: [], ...owned }, caller),
      ),
    );
    if ("error" in answer) return answer.error;
    const set = elementAt(answer.xml, ["DescribeImagesResponse", "imagesSet"]);
    if (!set) continue;
    for (const item of childElements(answer.xml, set.contentStart, set.contentEnd)) {
      const itemXml = answer.xml.slice(item.start, item.end);
      const id = imageIdOf(itemXml);
      if (id && wanted.includes(id)) items.push(withoutTags(itemXml));
    }
  }
  const set = elementAt(base.xml, ["DescribeImagesResponse", "imagesSet"]);
  if (!set) return base.response;
  const merged = applyEdits(base.xml, [
    set.contentStart === set.contentEnd && base.xml.slice(set.start, set.end).endsWith("/>")
      ? { start: set.start, end: set.end, text: `<imagesSet>${items.join("")}</imagesSet>` }
      : { start: set.contentEnd, end: set.contentEnd, text: items.join("") },
  ]);
  return { ...base.response, body: Buffer.from(merged) };
}

/**
 * Whether shared images can be part of this answer at all: not on a later page (they are added to
 * the first), not when only public images are asked for (`ExecutableBy all`), and not under a tag
 * filter (a shared image shows none of its owner's tags, so no tag of it can match).
 */
function sharedMayMatch(request: AwsRequest, caller: string): boolean {
  if (request.params.get("NextToken")) return false;
  const executableBy = queryList(request.params, "ExecutableBy");
  if (executableBy.length > 0 && !executableBy.some((who) => who === "self" || who === caller)) return false;
  for (const [key, value] of request.params) {
    if (/^Filter\.\d+\.Name$/.test(key) && (value.startsWith("tag:") || value === "tag-key")) return false;
  }
  return true;
}

/** EC2 does not share an image's user-defined tags: the account it is shared with sees none. */
function withoutTags(itemXml: string): string {
  const item = elementAt(itemXml, ["item"]);
  const tagSet = item
    ? childElements(itemXml, item.contentStart, item.contentEnd).find((e) => e.name === "tagSet")
    : undefined;
  return tagSet ? applyEdits(itemXml, [{ start: tagSet.start, end: tagSet.end, text: "" }]) : itemXml;
}

const imageIdOf = (itemXml: string): string | undefined =>
  textOf(itemXml, elementAt(itemXml, ["item", "imageId"]))?.trim();

function bodyOf(
  response: AwsResponse & { body: Buffer },
): { xml: string; response: AwsResponse } | { error: AwsResponse } {
  if (response.status >= 300) return { error: response };
  return { xml: response.body.toString("utf8"), response };
}

function emptyAnswer(): { xml: string; response: AwsResponse } {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${randomUUID()}</requestId><imagesSet/></DescribeImagesResponse>`;
  return { xml, response: { status: 200, headers: { "content-type": "text/xml" }, body: Buffer.from(xml) } };
}

/**
 * The request as `account` would send it: the lists named replaced (`ImageId.N`, `ExecutableBy.N`,
 * dropped when empty); the caller's `Owner.N=self` becomes the caller's id when another account answers.
 */
function withParams(
  request: AwsRequest,
  account: string,
  lists: Record<string, string[]>,
  self?: string,
): AwsRequest {
  const params = new URLSearchParams();
  for (const [key, value] of request.params) {
    const list = key.replace(/\.\d+$/, "");
    if (list in lists && key !== list) continue;
    params.append(key, self && /^Owner\.\d+$/.test(key) && value === "self" ? self : value);
  }
  for (const [list, values] of Object.entries(lists)) {
    for (const [i, value] of values.entries()) params.set(`${list}.${i + 1}`, value);
  }
  const body = Buffer.from(params.toString());
  const url = request.method === "POST" ? request.url : `${request.path}?${params.toString()}`;
  return { ...request, account, params, body: request.method === "POST" ? body : request.body, url };
}
