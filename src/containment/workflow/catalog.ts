/**
 * The Lambda functions of the contain workflow, one per step so that each gets only the
 * permissions its step needs (only dispose may terminate, only revoke touches IAM). The ASL names
 * them by placeholder, `${FnContain…}`, replaced with the function's ARN when the SST program is
 * synthesized (stacks/workflows.ts writes the final definition; no DefinitionSubstitutions) and
 * the same way by the local cloud.
 */
export const CONTAIN_FUNCTIONS = {
  FnContainAdmit: { name: "contain-admit", entry: "functions/contain-admit.ts" },
  FnContainIsolate: { name: "contain-isolate", entry: "functions/contain-isolate.ts" },
  FnContainHarden: { name: "contain-harden", entry: "functions/contain-harden.ts" },
  FnContainRevoke: { name: "contain-revoke", entry: "functions/contain-revoke.ts" },
  FnContainEvidence: { name: "contain-evidence", entry: "functions/contain-evidence.ts" },
  FnContainEvidenceStatus: { name: "contain-evidence-status", entry: "functions/contain-evidence-status.ts" },
  FnContainReplace: { name: "contain-replace", entry: "functions/contain-replace.ts" },
  FnContainReplacementStatus: {
    name: "contain-replacement-status",
    entry: "functions/contain-replacement-status.ts",
  },
  FnContainDispose: { name: "contain-dispose", entry: "functions/contain-dispose.ts" },
  FnContainReport: { name: "contain-report", entry: "functions/contain-report.ts" },
  FnContainReportFailure: { name: "contain-report-failure", entry: "functions/contain-report-failure.ts" },
} as const;

export type ContainPlaceholder = keyof typeof CONTAIN_FUNCTIONS;

const PLACEHOLDER = /\$\{([A-Za-z0-9]+)\}/g;

/** The placeholders a definition uses, in order of first use. */
export function placeholdersIn(definition: string): string[] {
  return [...new Set([...definition.matchAll(PLACEHOLDER)].map((match) => match[1]!))];
}

/**
 * The definition with every placeholder replaced, by default with the catalog's function name
 * (prefix it per stage: `name => \`phoenix-${stage}-${name}\``). Unknown placeholders are an
 * error, so a renamed function cannot leave a Task pointing nowhere.
 */
export function renderContainDefinition(
  template: string,
  functionName: (name: string, placeholder: ContainPlaceholder) => string = (name) => name,
): string {
  const unknown = placeholdersIn(template).filter((p) => !(p in CONTAIN_FUNCTIONS));
  if (unknown.length > 0)
    throw new Error(`unknown placeholder(s) in the contain workflow: ${unknown.join(", ")}`);
  return template.replace(PLACEHOLDER, (_, placeholder: ContainPlaceholder) =>
    functionName(CONTAIN_FUNCTIONS[placeholder].name, placeholder),
  );
}
