/**
 * AMI ids are `ami-` followed by 8 (older images) or 17 lower-case hex digits. Parameter Store
 * values are free text, so a value is only trusted as an image once it has this exact shape.
 */
const AMI_ID = /^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

export function isAmiId(value: unknown): value is string {
  return typeof value === "string" && AMI_ID.test(value);
}

export type AmiIdResult = { ok: true; imageId: string } | { ok: false; error: string };

/**
 * Validates a Parameter Store value as an AMI id. Surrounding whitespace is forgiven (a value
 * pasted with a trailing newline is common); anything else is an error that quotes the value.
 */
export function parseAmiIdValue(value: unknown): AmiIdResult {
  if (typeof value !== "string")
    return { ok: false, error: `parameter value is ${typeof value}, not a string` };
  const trimmed = value.trim();
  if (isAmiId(trimmed)) return { ok: true, imageId: trimmed };
  return {
    ok: false,
    error: `parameter value ${JSON.stringify(truncate(value))} is not an AMI id (ami-<hex>)`,
  };
}

function truncate(value: string): string {
  return value.length > 64 ? `${value.slice(0, 64)}…` : value;
}
