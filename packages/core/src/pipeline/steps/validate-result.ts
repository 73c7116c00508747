/**
 * validate-result
 * - a successful result is checked against the contract's return type before it can reach
 *   the caller; a violation is RESULT_VALIDATION_FAILED to the caller and a security event
 *   (`tool_call.result_rejected`) in audit;
 * - for streaming contracts the chunks were checked as they arrived; the final result
 *   carries no content to check.
 */
import type { Step } from "../governed-call.ts";
import { required } from "./required.ts";
import { resultRejected } from "./dispatch.ts";

export const validateResult: Step = {
  name: "validate-result",
  async run(call, deps) {
    const outcome = required(call.outcome, "outcome");
    const contract = required(call.contract, "contract");
    if (outcome.kind !== "success" || call.request.stream) return;
    const issues = contract.compiled.validateResult(outcome.content);
    if (issues.length === 0) return;
    await deps.audit.record({
      eventType: "tool_call.result_rejected",
      tenantId: call.security.tenantId,
      principalId: call.security.principalId,
      sessionId: call.request.sessionId,
      resource: `contract:${contract.record.contractId}`,
      action: "tools:invoke",
      outcome: "FAILURE",
      origin: call.origin,
      riskScore: "HIGH",
      metadata: {
        invocation_id: call.invocationId,
        runtime_id: call.runtime?.runtimeId ?? "",
        first_issue: `${issues[0]?.path || "/"}: ${issues[0]?.message ?? ""}`,
      },
    });
    throw resultRejected(contract.record.contractId, issues);
  },
};
