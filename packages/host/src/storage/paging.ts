/** Page sizes as both databases accept them. */
import { EnterpriseError } from "@aesp/core";

/**
 * A LIMIT value both databases accept: `limit` truncated to an integer, at least 0.
 *
 * @throws EnterpriseError INVALID_ARGUMENT when `limit` is not a finite number.
 */
export function pageLimit(limit: number): number {
  if (!Number.isFinite(limit)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "limit" } });
  return Math.max(0, Math.trunc(limit));
}
