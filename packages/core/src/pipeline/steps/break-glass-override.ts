/**
 * break-glass override (called by enforce-decision when the policy stage refuses)
 * - a call the policy stage refused (DENY, an evaluation failure, or REQUIRE_APPROVAL's gate) goes on when the caller holds a
 *   break-glass grant of this tenant that is ACTIVE, not past its `expiresAt` on the clock now, and
 *   covers this contract (no contracts named, or this one named);
 * - the tenant snapshot carries the grants, so this reads no storage (only a grant's first use
 *   writes once, to raise one alert across Hosts);
 * - the overridden decision is recorded as `break_glass.used` (security, CRITICAL) before the call
 *   goes on: the enhanced audit of break-glass;
 * - nothing else is overridden: authentication, tenant isolation, RBAC, clearance and argument
 *   validation refuse in earlier steps, capacity limits in later ones, exactly as without a grant.
 */
import type { EnterpriseError } from "../../errors.ts";
import { grantCovers } from "../../governance/break-glass.ts";
import type { GovernedCall, PipelineDeps } from "../governed-call.ts";
import { required } from "./required.ts";

/**
 * Whether the refused call may go on under a break-glass grant; when it may, the use is already
 * durably audited.
 */
export async function breakGlassOverride(call: GovernedCall, deps: PipelineDeps, refusal: EnterpriseError): Promise<boolean> {
  if (deps.breakGlass === undefined) return false;
  const snapshot = required(call.snapshot, "snapshot");
  const contract = required(call.contract, "contract");
  const now = deps.clock.now();
  const grant = snapshot.breakGlass.find((candidate) => grantCovers(candidate, call.security.principalId, contract.record.definition.name, now));
  if (grant === undefined) return false;
  await deps.breakGlass.recordUse({
    security: call.security,
    origin: call.origin,
    sessionId: call.session?.sessionId ?? call.request.sessionId,
    invocationId: call.invocationId,
    contractId: contract.record.contractId,
    grant,
    decision: required(call.decision, "decision"),
    refusal,
  });
  return true;
}
