/**
 * The refresh preferences for one image family: `rollout.refresh` with the family's override
 * (`rollout.families.<family>.refresh`) on top, field by field. The one place that merges them:
 * the schema checks the result, the planner refreshes with it. (Generic so the schema, which
 * defines the types, can use it without an import cycle.)
 */
export function familyRefresh<R extends object>(
  rollout: { refresh: R; families: Readonly<Record<string, { refresh?: Partial<R> | undefined }>> },
  family: string,
): R {
  const override = Object.hasOwn(rollout.families, family) ? rollout.families[family]?.refresh : undefined;
  if (override === undefined) return rollout.refresh;
  const defined = Object.fromEntries(Object.entries(override).filter(([, value]) => value !== undefined));
  return { ...rollout.refresh, ...defined };
}
