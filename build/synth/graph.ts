/**
 * The resource graph the SST program declares for one stage, as `npm run synth` records it
 * (`.phoenix/synth/<stage>.json`) and as the local cloud deploys it (`GET /_phoenix/deployment`).
 * Each resource is the Pulumi type token, the logical name and the inputs the provider would be
 * sent, outputs of other resources resolved to the ids and ARNs AWS would give them.
 */
export interface SynthResource {
  /** Pulumi type token, e.g. "aws:iam/role:Role", or a component's, e.g. "sst:aws:Function". */
  type: string;
  /** The logical (Pulumi) name. */
  name: string;
  inputs: Record<string, unknown>;
}

export interface SynthGraph {
  stage: string;
  resources: SynthResource[];
}

export function resourcesOfType(graph: SynthGraph, type: string): SynthResource[] {
  return graph.resources.filter((resource) => resource.type === type);
}

/** A string input (a name, an ARN, a JSON document), or undefined. */
export function stringInput(resource: SynthResource, key: string): string | undefined {
  const value = resource.inputs[key];
  return typeof value === "string" ? value : undefined;
}
