/**
 * enforce-decision
 * - an ALLOW decision lets the call go on;
 * - REQUIRE_APPROVAL holds the call for a human approval, bounded (CallApprovals): approved, it
 *   goes on; rejected or undecided in time, it is refused (APPROVAL_REJECTED, APPROVAL_REQUIRED);
 * - a DENY refuses it: POLICY_EVALUATION_FAILED when a policy failed to evaluate (fail closed),
 *   else POLICY_VIOLATION, naming the decision reason, the applied policies and the denying one;
 * - unless the caller holds a break-glass grant covering the call (see break-glass-override.ts),
 *   which also skips the approval of a REQUIRE_APPROVAL decision.
 */
import { EnterpriseError } from "../../errors.ts";
import type { Step } from "../governed-call.ts";
import { required } from "./required.ts";
import { breakGlassOverride } from "./break-glass-override.ts";

export const enforceDecision: Step = {
  name: "enforce-decision",
  async run(call, deps) {
    const decision = required(call.decision, "decision");
    const contract = required(call.contract, "contract");
    if (decision.effect === "ALLOW") return;
    if (decision.effect === "REQUIRE_APPROVAL") {
      const policies = decision.approvalPolicies ?? [];
      // In an emergency the approval gate is a policy refusal like any other: a covering grant skips it, audited.
      const held = new EnterpriseError("APPROVAL_REQUIRED", { details: { contract: contract.record.contractId, decision_reason: decision.reason, applied_policies: decision.appliedPolicies.join(",") } });
      if (await breakGlassOverride(call, deps, held)) return;
      await deps.callApprovals.hold({
        security: call.security,
        origin: call.origin,
        invocationId: call.invocationId,
        sessionId: call.request.sessionId,
        contract: contract.record,
        args: call.request.args,
        reason: decision.reason,
        appliedPolicies: decision.appliedPolicies,
        policies,
        approvers: required(call.snapshot, "snapshot").policies.approversOf(policies),
        deadlineMs: call.deadlineMs,
        signal: call.abort.signal,
      });
      return;
    }
    const failed = decision.errors.length > 0;
    const refusal = new EnterpriseError(failed ? "POLICY_EVALUATION_FAILED" : "POLICY_VIOLATION", {
      details: {
        contract: contract.record.contractId,
        decision_reason: decision.reason,
        applied_policies: decision.appliedPolicies.join(","),
        ...(decision.denyingPolicy === undefined ? {} : { denying_policy: decision.denyingPolicy }),
      },
    });
    if (await breakGlassOverride(call, deps, refusal)) return;
    throw refusal;
  },
};
