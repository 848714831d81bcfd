import { SfnApiError } from "./errors.js";

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/**
 * One page of `items` for a List* call: `maxResults` (0 or absent means 100, AWS's default) and an
 * opaque `nextToken` that is only valid for the same listing.
 */
export function page<T>(
  items: readonly T[],
  request: { maxResults?: unknown; nextToken?: unknown },
  listing: string,
): { items: T[]; nextToken?: string } {
  const maxResults = request.maxResults === undefined ? 0 : Number(request.maxResults);
  if (!Number.isInteger(maxResults) || maxResults < 0 || maxResults > MAX_PAGE) {
    throw new SfnApiError(
      "ValidationException",
      `1 validation error detected: Value '${request.maxResults}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${MAX_PAGE}`,
    );
  }
  const size = maxResults === 0 ? DEFAULT_PAGE : maxResults;
  const start =
    request.nextToken === undefined || request.nextToken === null ? 0 : offsetOf(request.nextToken, listing);
  const end = start + size;
  return {
    items: items.slice(start, end),
    nextToken:
      end < items.length
        ? Buffer.from(JSON.stringify({ listing, offset: end })).toString("base64url")
        : undefined,
  };
}

function offsetOf(token: unknown, listing: string): number {
  try {
    const decoded = JSON.parse(Buffer.from(String(token), "base64url").toString("utf8")) as {
      listing?: unknown;
      offset?: unknown;
    };
    if (decoded.listing === listing && typeof decoded.offset === "number" && decoded.offset >= 0)
      return decoded.offset;
  } catch {
    // fall through: any token we did not issue for this listing is invalid
  }
  throw new SfnApiError("InvalidToken", `Invalid Token: '${String(token)}'`);
}
