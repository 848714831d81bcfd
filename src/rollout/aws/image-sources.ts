import { GetImageCommand } from "@aws-sdk/client-imagebuilder";
import { GetParameterCommand } from "@aws-sdk/client-ssm";
import { awsErrorCode } from "../../aws/errors.js";
import type { PhoenixDeps } from "../../deps.js";
import { parseAmiIdValue } from "../../images/ami-id.js";

/**
 * Two of the three image events do not carry the AMI id: Image Builder names a build version
 * (GetImage lists the AMIs it distributed), Parameter Store names a parameter (its value is the id).
 */

export type AmiLookup = { ok: true; imageIds: string[] } | { ok: false; reason: string };

/** The AMIs an Image Builder image distributed to this region (and account, when it says). */
export async function amisOfImageBuild(
  deps: Pick<PhoenixDeps, "clients" | "region" | "accountId">,
  imageBuildVersionArn: string,
): Promise<AmiLookup> {
  const { image } = await deps.clients.imageBuilder.send(new GetImageCommand({ imageBuildVersionArn }));
  const amis = image?.outputResources?.amis ?? [];
  const here = amis.filter(
    (ami) =>
      ami.region === deps.region &&
      ami.image !== undefined &&
      (ami.accountId === undefined || deps.accountId === "" || ami.accountId === deps.accountId),
  );
  if (here.length === 0) {
    const where = amis.map((ami) => ami.region).filter(Boolean);
    return {
      ok: false,
      reason: `Image Builder image ${imageBuildVersionArn} has no AMI in ${deps.region}${where.length ? ` (only ${where.join(", ")})` : ""}`,
    };
  }
  return { ok: true, imageIds: [...new Set(here.map((ami) => ami.image as string))] };
}

/** The AMI id a parameter holds now; a value that is no AMI id is a reason to ignore the event. */
export async function amiOfParameter(deps: Pick<PhoenixDeps, "clients">, name: string): Promise<AmiLookup> {
  try {
    const { Parameter } = await deps.clients.ssm.send(new GetParameterCommand({ Name: name }));
    const parsed = parseAmiIdValue(Parameter?.Value);
    return parsed.ok
      ? { ok: true, imageIds: [parsed.imageId] }
      : { ok: false, reason: `parameter ${name}: ${parsed.error}` };
  } catch (error) {
    // Deleted again before we looked: nothing to roll out.
    if (awsErrorCode(error) === "ParameterNotFound")
      return { ok: false, reason: `parameter ${name} no longer exists` };
    throw error;
  }
}
