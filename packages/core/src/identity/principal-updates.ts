import { isErrorCode } from "../errors.ts";
import type { PrincipalStore } from "../ports.ts";
import type { PrincipalRecord } from "../records.ts";

/**
 * The `tokensValidAfter` that revokes every token issued up to `now`. The Host's access tokens
 * carry their issue time in milliseconds (`iat_ms`), so a token issued in the very next
 * millisecond (a reactivated user signing in again) is valid; tokens that only carry `iat` in
 * whole seconds are compared by its floor, which refuses those of the revocation's own second.
 */
export function revocationCutoff(now: number): number {
  return now + 1;
}

/**
 * Applies `change` to a principal's current record, re-reading and re-applying when a concurrent
 * update wins the revision check (a few times, then CONFLICT propagates).
 * @param change - the new record, or null when nothing needs to change.
 * @returns false when the principal does not exist.
 */
export async function updatePrincipal(principals: PrincipalStore, principalId: string, change: (current: PrincipalRecord) => PrincipalRecord | null): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    const current = await principals.get(principalId);
    if (current === null) return false;
    const next = change(current);
    try {
      if (next !== null) await principals.update(next, current.revision);
      return true;
    } catch (err) {
      if (!isErrorCode(err, "CONFLICT") || attempt >= 3) throw err;
    }
  }
}
