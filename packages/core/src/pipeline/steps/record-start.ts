/**
 * record-start
 * - the allow decision and the start of the invocation are durable in the audit log
 *   before anything is dispatched: a call never runs unrecorded;
 * - if the log cannot record, the call is refused with AUDIT_UNAVAILABLE.
 */
import type { Step } from "../governed-call.ts";
import { required } from "./required.ts";

export const recordStart: Step = {
  name: "record-start",
  async run(call, deps) {
    const contract = required(call.contract, "contract");
    const decision = required(call.decision, "decision");
    const common = {
      tenantId: call.security.tenantId,
      principalId: call.security.principalId,
      sessionId: call.request.sessionId,
      resource: `contract:${contract.record.contractId}`,
      action: "tools:invoke",
      origin: call.origin,
    } as const;
    await Promise.all([
      deps.audit.record({
        ...common,
        eventType: "authz.allowed",
        outcome: "SUCCESS",
        metadata: { invocation_id: call.invocationId, applied_policies: decision.appliedPolicies.join(","), decision_reason: decision.reason },
      }),
      deps.audit.record({
        ...common,
        eventType: "tool_call.started",
        outcome: "SUCCESS",
        metadata: { invocation_id: call.invocationId, call_id: call.request.callId, deadline_ms: String(call.deadlineMs) },
      }),
    ]);
  },
};
