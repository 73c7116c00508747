/**
 * evaluate-policies (CEL)
 * - every call is evaluated against the tenant's ACTIVE policies that apply to it;
 * - DENY wins; an applicable ALLOW that does not match denies; evaluation errors fail closed;
 * - AUDIT matches never change the decision but are recorded as `policy.audit_matched`;
 * - the decision names the policies that produced it.
 */
import { EnterpriseError } from "../../errors.ts";
import type { Step } from "../governed-call.ts";
import { required } from "./required.ts";

export const evaluatePolicies: Step = {
  name: "evaluate-policies",
  async run(call, deps) {
    const snapshot = required(call.snapshot, "snapshot");
    const contract = required(call.contract, "contract");
    const session = required(call.session, "session");
    const definition = contract.record.definition;
    const decision = snapshot.policies.decide({
      action: "tools:invoke",
      principal: {
        id: call.security.principalId,
        type: call.security.principalType,
        roles: call.security.roles,
        permissions: call.security.permissions,
        clearance: call.security.clearance,
        attributes: call.security.attributes,
        claims: call.security.claims,
      },
      tenant: { id: call.security.tenantId },
      session: { id: session.sessionId, createdAt: session.createdAt },
      contract: {
        name: definition.name,
        version: definition.contractVersion,
        classification: definition.securityClassification,
        complianceTags: definition.complianceTags,
        risk: definition.riskAssessment,
        requiredRoles: definition.requiredRoles,
      },
      args: call.request.args,
      request: {
        timeMs: deps.clock.now(),
        sourceIp: call.origin.sourceIp,
        userAgent: call.origin.userAgent,
        correlationId: call.origin.correlationId,
      },
    });
    call.decision = decision;
    if (decision.auditFlags.length > 0) {
      await deps.audit.record({
        eventType: "policy.audit_matched",
        tenantId: call.security.tenantId,
        principalId: call.security.principalId,
        sessionId: session.sessionId,
        resource: `contract:${contract.record.contractId}`,
        action: "tools:invoke",
        outcome: "SUCCESS",
        origin: call.origin,
        metadata: { invocation_id: call.invocationId, policies: decision.auditFlags.join(",") },
      });
    }
    if (decision.effect === "DENY") {
      const failed = decision.errors.length > 0;
      throw new EnterpriseError(failed ? "POLICY_EVALUATION_FAILED" : "POLICY_VIOLATION", {
        details: {
          contract: contract.record.contractId,
          decision_reason: decision.reason,
          applied_policies: decision.appliedPolicies.join(","),
        },
      });
    }
  },
};
