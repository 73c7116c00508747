import { isErrorCode } from "../errors.ts";
import type { PrincipalStore } from "../ports.ts";
import type { PrincipalRecord } from "../records.ts";

/**
 * The `tokensValidAfter` that revokes every token issued up to `now`. Access tokens carry `iat` in
 * whole seconds, so the cutoff is rounded up to the next second to cover this second's tokens.
 */
export function revocationCutoff(now: number): number {
  return Math.ceil((now + 1) / 1000) * 1000;
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
