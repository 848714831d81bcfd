/**
 * The policy a test cloud deploys with: as given, except that the drift sweep's schedule, unless
 * the test sets one, is pushed out of reach. A daily sweep is 144 s of real time at 600×: in a
 * long test it would sweep mid-rollout and add its notifications and records to what the test
 * counts. test/drift/ tests the schedule itself.
 */
export function withQuietSweep(policy: unknown): unknown {
  const given = (policy ?? {}) as { drift?: { schedule?: unknown } };
  if (given.drift?.schedule !== undefined) return policy;
  return { ...given, drift: { ...given.drift, schedule: "rate(3650 days)" } };
}
