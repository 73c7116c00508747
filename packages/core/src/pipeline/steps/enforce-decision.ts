/**
 * enforce-decision
 * - an ALLOW decision lets the call go on;
 * - a DENY refuses it: POLICY_EVALUATION_FAILED when a policy failed to evaluate (fail closed),
 *   else POLICY_VIOLATION, naming the decision reason, the applied policies and the denying one;
 * - unless the caller holds a break-glass grant covering the call (see break-glass-override.ts).
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
