/**
 * The authorization of one governed tool call as one pure function, for questions asked ahead of
 * the call (EnterpriseAuthorizationService.AuthorizeAction and EvaluatePolicy).
 *
 * Rules enforced, in the order and with the outcomes of the pipeline steps `check-access` and
 * `evaluate-policies` (docs/adr/0007-authorization-model.md):
 * - RBAC first (`checkContractAccess`): a refusal is `AUTHORIZATION_DENIED` with the same reason;
 * - then clearance: a contract classified above the principal's clearance is
 *   `SECURITY_CLEARANCE_INSUFFICIENT`;
 * - then the tenant's policies over the same variables: a DENY is `POLICY_VIOLATION`, or
 *   `POLICY_EVALUATION_FAILED` when a policy failed; reason and applied policies as decided;
 * - policies are evaluated only when RBAC and clearance allowed, as in the call.
 */
import type { SecurityContext } from "../identity/security-context.ts";
import type { Decision, PolicyInput, PolicySet } from "../policy/index.ts";
import type { PolicyRecord, ToolContractDefinition } from "../records.ts";
import { clearanceAllows } from "./classification.ts";
import { checkContractAccess } from "./contract-access.ts";
import type { RoleGraph } from "./role-graph.ts";

/** The action every governed call is authorized for. */
export const INVOKE_ACTION = "tools:invoke";

/** Everything one call's authorization reads. */
export interface CallAuthorizationInput {
  /** The principal as the gateway would authenticate it. */
  readonly security: SecurityContext;
  readonly roles: RoleGraph;
  readonly policies: PolicySet;
  readonly contract: ToolContractDefinition;
  readonly session: { readonly id: string; readonly createdAt: number };
  /** Arguments that passed the contract's schema. */
  readonly args: Readonly<Record<string, unknown>>;
  readonly request: { readonly timeMs: number; readonly sourceIp: string; readonly userAgent: string; readonly correlationId: string };
}

/** The error codes a call's authorization can refuse with. */
export type CallRefusalCode = "AUTHORIZATION_DENIED" | "SECURITY_CLEARANCE_INSUFFICIENT" | "POLICY_VIOLATION" | "POLICY_EVALUATION_FAILED" | "APPROVAL_REQUIRED";

/** The decision, as the governed call would reach it. */
export interface CallAuthorization {
  readonly authorized: boolean;
  /** The code the governed call would fail with; null when authorized. */
  readonly refusal: CallRefusalCode | null;
  /** The reason the call would carry (`details.reason` or `details.decision_reason`). */
  readonly reason: string;
  /** Ids of every policy evaluated (empty when RBAC or clearance refused first). */
  readonly appliedPolicies: readonly string[];
  /** Ids of matching AUDIT policies. */
  readonly auditFlags: readonly string[];
  /** The policy stage's decision, when it was reached. */
  readonly decision: Decision | null;
}

/**
 * The policy variables of a call: what the `evaluate-policies` step, AuthorizeAction and
 * EvaluatePolicy all decide over.
 *
 * @param input - The call.
 * @returns The decision input.
 */
export function callPolicyInput(input: CallAuthorizationInput): PolicyInput {
  const { security, contract } = input;
  return {
    action: INVOKE_ACTION,
    principal: {
      id: security.principalId,
      type: security.principalType,
      roles: security.roles,
      effectiveRoles: input.roles.effectiveRoles(security.roles),
      permissions: security.permissions,
      clearance: security.clearance,
      attributes: security.attributes,
      claims: security.claims,
    },
    tenant: { id: security.tenantId },
    session: { id: input.session.id, createdAt: input.session.createdAt },
    contract: {
      name: contract.name,
      version: contract.contractVersion,
      classification: contract.securityClassification,
      complianceTags: contract.complianceTags,
      risk: contract.riskAssessment,
      requiredRoles: contract.requiredRoles,
    },
    args: input.args,
    request: input.request,
  };
}

/**
 * Decides a call: RBAC, clearance, then policies.
 *
 * @param input - The call.
 * @returns The decision and, for a refusal, the code the call would fail with.
 *
 * @example
 * const answer = authorizeCall({ security, roles: snapshot.roles, policies: snapshot.policies, contract, session, args, request });
 * if (!answer.authorized) console.log(answer.refusal, answer.reason);
 */
export function authorizeCall(input: CallAuthorizationInput): CallAuthorization {
  const { security, contract } = input;
  const access = checkContractAccess({
    principalRoles: security.roles,
    principalPermissions: security.permissions,
    graph: input.roles,
    contract: { requiredRoles: contract.requiredRoles, requiredPermissions: contract.requiredPermissions },
  });
  if (!access.allowed) return { authorized: false, refusal: "AUTHORIZATION_DENIED", reason: access.reason, appliedPolicies: [], auditFlags: [], decision: null };
  if (!clearanceAllows(security.clearance, contract.securityClassification)) {
    return {
      authorized: false,
      refusal: "SECURITY_CLEARANCE_INSUFFICIENT",
      reason: `clearance ${security.clearance} does not reach classification ${contract.securityClassification}`,
      appliedPolicies: [],
      auditFlags: [],
      decision: null,
    };
  }
  const decision = input.policies.decide(callPolicyInput(input));
  if (decision.effect === "DENY") {
    return {
      authorized: false,
      refusal: decision.errors.length > 0 ? "POLICY_EVALUATION_FAILED" : "POLICY_VIOLATION",
      reason: decision.reason,
      appliedPolicies: decision.appliedPolicies,
      auditFlags: decision.auditFlags,
      decision,
    };
  }
  if (decision.effect === "REQUIRE_APPROVAL") {
    // The call itself would be held for a human approval: not authorized as it stands.
    return { authorized: false, refusal: "APPROVAL_REQUIRED", reason: decision.reason, appliedPolicies: decision.appliedPolicies, auditFlags: decision.auditFlags, decision };
  }
  return { authorized: true, refusal: null, reason: decision.reason, appliedPolicies: decision.appliedPolicies, auditFlags: decision.auditFlags, decision };
}

/** How one applicable policy fared. */
export interface PolicyTrace {
  readonly policyId: string;
  readonly version: number;
  /** Whether its condition evaluated to true. */
  readonly matched: boolean;
  /** The rule's effect when matched; empty otherwise. */
  readonly effect: string;
  /** Why it failed to evaluate, when it did (it then denies). */
  readonly error: string;
}

/**
 * Traces each policy the decision evaluated, by deciding it alone.
 *
 * @param decision - The tenant's decision for the call.
 * @param records - The tenant's policy records (any status; only ACTIVE and enabled ones act,
 *   the highest version of each).
 * @param input - The decision input.
 * @param build - Builds a policy set with the tenant's engine (e.g. `PolicySet.build`).
 * @returns One entry per applied policy, in the decision's order. A policy whose record is gone
 *   (it changed during the request) is reported with an error.
 */
export function tracePolicies(decision: Decision, records: readonly PolicyRecord[], input: PolicyInput, build: (records: readonly PolicyRecord[]) => PolicySet): PolicyTrace[] {
  const acting = new Map<string, PolicyRecord>();
  for (const record of records) {
    if (record.status !== "ACTIVE" || !record.enabled) continue;
    const current = acting.get(record.policyId);
    if (current === undefined || record.version > current.version) acting.set(record.policyId, record);
  }
  return decision.appliedPolicies.map((policyId): PolicyTrace => {
    const record = acting.get(policyId);
    if (record === undefined) return { policyId, version: 0, matched: false, effect: "", error: "the policy changed while it was evaluated" };
    const alone = build([record]).decide(input);
    const failure = alone.errors[0];
    if (failure !== undefined) {
      const prefix = `${policyId}: `;
      return { policyId, version: record.version, matched: false, effect: "", error: failure.startsWith(prefix) ? failure.slice(prefix.length) : failure };
    }
    const effect = record.rule.effect;
    const matched = effect === "AUDIT" ? alone.auditFlags.includes(policyId) : effect === "DENY" ? alone.effect === "DENY" : effect === "REQUIRE_APPROVAL" ? alone.effect === "REQUIRE_APPROVAL" : alone.effect === "ALLOW";
    return { policyId, version: record.version, matched, effect: matched ? effect : "", error: "" };
  });
}
