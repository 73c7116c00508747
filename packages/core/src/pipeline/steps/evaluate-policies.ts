/**
 * evaluate-policies (CEL)
 * - every call is evaluated against the tenant's ACTIVE policies that apply to it;
 * - DENY wins; an applicable ALLOW that does not match denies; evaluation errors fail closed;
 * - AUDIT matches never change the decision but are recorded as `policy.audit_matched`;
 * - the decision names the policies that produced it (`applied_policies`, `decision_reason`);
 * - the decision and its inputs (secret arguments redacted) are recorded as `policy.decided`
 *   before the call goes on or is refused, so TestPolicy can replay it under other policies;
 * - during a policy rollout (policy/rollout.ts) the acting version is decided (the candidate for
 *   a canary's cohort, else the baseline) and the other one too; `policy.decided` names which
 *   acted and the rollout; a different effect is recorded as `policy.shadow_disagreement` and
 *   counted, and never changes what acts;
 * - this step only decides and records; enforce-decision acts on the decision.
 */
import { DECISION_INPUT_KEY, recordDecisionInput } from "../../governance/decision-record.ts";
import { decideWithRollout } from "../../policy/index.ts";
import type { PolicyInput, RolloutDecision } from "../../policy/index.ts";
import { callPolicyInput } from "../../rbac/call-authorization.ts";
import type { Step } from "../governed-call.ts";
import { required } from "./required.ts";

export const evaluatePolicies: Step = {
  name: "evaluate-policies",
  async run(call, deps) {
    const snapshot = required(call.snapshot, "snapshot");
    const contract = required(call.contract, "contract");
    const session = required(call.session, "session");
    const definition = contract.record.definition;
    // The same variables AuthorizeAction and EvaluatePolicy decide over (rbac/call-authorization.ts).
    const input: PolicyInput = callPolicyInput({
      security: call.security,
      roles: snapshot.roles,
      policies: snapshot.policies,
      contract: definition,
      session: { id: session.sessionId, createdAt: session.createdAt },
      args: call.request.args,
      request: { timeMs: deps.clock.now(), sourceIp: call.origin.sourceIp, userAgent: call.origin.userAgent, correlationId: call.origin.correlationId },
    });
    const rollout = snapshot.rollout ?? null;
    const staged: RolloutDecision | null = rollout === null ? null : decideWithRollout(snapshot.policies, rollout, input, input.request.timeMs);
    const decision = staged === null ? snapshot.policies.decide(input) : staged.decision;
    call.decision = decision;
    if (rollout !== null && staged !== null) {
      if (staged.expired) deps.rollouts?.expire(call.security.tenantId, rollout.record.rolloutId);
      else if (staged.counted) deps.rollouts?.observe(call.security.tenantId, rollout.record.rolloutId, staged.disagreed);
    }
    const rolloutMetadata: Record<string, string> =
      rollout === null || staged === null || staged.expired
        ? {}
        : {
            rollout_id: rollout.record.rolloutId,
            acting_version: staged.acting,
            acting_policy_version: `${rollout.record.policyId}@${staged.acting === "candidate" ? rollout.record.candidateVersion : rollout.record.baselineVersion}`,
          };
    const common = {
      tenantId: call.security.tenantId,
      principalId: call.security.principalId,
      sessionId: session.sessionId,
      resource: `contract:${contract.record.contractId}`,
      action: "tools:invoke",
      outcome: "SUCCESS",
      origin: call.origin,
    } as const;
    await Promise.all([
      deps.audit.record({
        ...common,
        eventType: "policy.decided",
        metadata: {
          invocation_id: call.invocationId,
          decision: decision.effect,
          decision_reason: decision.reason,
          applied_policies: decision.appliedPolicies.join(","),
          ...rolloutMetadata,
          [DECISION_INPUT_KEY]: recordDecisionInput(input, definition.parameters),
        },
      }),
      rollout !== null && staged?.disagreed === true && staged.other !== null
        ? deps.audit.record({
            ...common,
            eventType: "policy.shadow_disagreement",
            metadata: {
              invocation_id: call.invocationId,
              rollout_id: rollout.record.rolloutId,
              policy_id: rollout.record.policyId,
              mode: rollout.record.mode,
              acting_version: staged.acting,
              baseline_decision: (staged.acting === "baseline" ? decision : staged.other).effect,
              baseline_reason: (staged.acting === "baseline" ? decision : staged.other).reason,
              candidate_decision: (staged.acting === "candidate" ? decision : staged.other).effect,
              candidate_reason: (staged.acting === "candidate" ? decision : staged.other).reason,
            },
          })
        : undefined,
      decision.auditFlags.length > 0
        ? deps.audit.record({ ...common, eventType: "policy.audit_matched", metadata: { invocation_id: call.invocationId, policies: decision.auditFlags.join(",") } })
        : undefined,
    ]);
  },
};
