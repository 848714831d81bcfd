/**
 * The tags Phoenix writes, declared next to the calls that write them (as cloud-custodian's
 * actions declare their permissions): each declaration names the resource type it tags, its
 * keys, and the call that creates the resource when the tags are given at creation
 * (TagSpecifications). The calls build their tag lists from the declaration (`tags`,
 * `specification`), so the type checker holds the code to the declared keys; the IAM derivation
 * reads the declarations a function reaches and grants `ec2:CreateTags` for exactly those keys on
 * exactly those resource types (build/iam/scopes.ts), and refuses a tag write that does not go
 * through a declaration (build/iam/used-actions.ts).
 *
 * Written for the scan, which reads syntax, not values: a top-level
 * `const X = declareTagWrite({ resource: "…", keys: [...], atCreation: "…" })`, with string
 * literals or constants of string literals (src/tags.ts) as keys. The scan is build-time code
 * (build/iam); this module is what the functions bundle, so it imports nothing from there.
 */

/** EC2 resource types Phoenix tags (the TagSpecification ResourceType, and the ARN's type). */
export type TaggedResourceType = "instance" | "security-group" | "snapshot" | "image";

/** Calls that create a resource with its tags (the `ec2:CreateAction` condition of CreateTags). */
export type CreatingAction = "CreateSecurityGroup" | "CreateSnapshot";

export interface TagWrite<K extends string = string> {
  resource: TaggedResourceType;
  keys: readonly K[];
  /** Given as TagSpecifications of this call, on the resource it creates; else a CreateTags call. */
  atCreation?: CreatingAction;
}

export interface DeclaredTagWrite<K extends string> extends TagWrite<K> {
  /** The `Tags` of a CreateTags call: every declared key, with its value. */
  tags(values: Record<K, string>): { Key: K; Value: string }[];
  /** One entry of a creating call's `TagSpecifications`. */
  specification(values: Record<K, string>): {
    ResourceType: TaggedResourceType;
    Tags: { Key: K; Value: string }[];
  };
}

export function declareTagWrite<const K extends string>(write: TagWrite<K>): DeclaredTagWrite<K> {
  const tags = (values: Record<K, string>) => write.keys.map((Key) => ({ Key, Value: values[Key] }));
  return {
    ...write,
    tags,
    specification: (values) => ({ ResourceType: write.resource, Tags: tags(values) }),
  };
}
