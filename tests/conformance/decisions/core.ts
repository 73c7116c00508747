/**
 * Runs a case through the core as the governed call does: the tenant snapshot is built with the
 * core's own constructors (RoleGraph, PolicySet with the chosen engine, CompiledContract), the
 * caller's SecurityContext with `buildSecurityContext`, and the decision is taken by the
 * pipeline's own steps, from `load-contract` to `evaluate-policies`, taken from
 * `governedCallSteps`. Nothing here decides: the test only reads what the steps concluded.
 */
import {
  CompiledContract,
  EnterpriseError,
  PolicySet,
  RoleGraph,
  buildSecurityContext,
  governedCallSteps,
  type AuditInput,
  type ContractRecord,
  type GovernedCall,
  type HeldCall,
  type PipelineDeps,
  type PolicyEngine,
  type PrincipalRecord,
  type ServableContract,
  type SessionRecord,
  type TenantSnapshot,
} from "@aesp/core";
import type { Observed } from "./outcome.ts";
import { contractDefinition, policyRecord, roleRecords, type ContractSpec, type DecisionCase, type EngineId, type PolicySpec, type RoleSpec } from "./schema.ts";

/** The steps that decide a call, in pipeline order (the others find, reserve, dispatch and record). */
export const DECISION_STEPS = ["load-contract", "check-access", "validate-arguments", "evaluate-policies", "enforce-decision"] as const;

const decisionSteps = (() => {
  const names = governedCallSteps.map((step) => step.name);
  const first = names.indexOf(DECISION_STEPS[0]);
  const steps = governedCallSteps.slice(first, first + DECISION_STEPS.length);
  // If the pipeline's table changes, the conformance run must be revisited, not silently skip a step.
  if (first < 0 || steps.map((step) => step.name).join(",") !== DECISION_STEPS.join(",")) {
    throw new Error(`the governed call's steps changed (${names.join(", ")}); update DECISION_STEPS in tests/conformance/decisions/core.ts`);
  }
  return steps;
})();

/** Tenant id of core runs for cases that leave it to the runner. */
export const CORE_TENANT = "conformance";

/**
 * Decides a case in the core.
 *
 * @param c - The case.
 * @param engine - The policy engine the tenant's policy set is built with.
 * @param engineId - Which condition text to use.
 * @returns What the decision steps concluded.
 */
export async function decideInCore(c: DecisionCase, engine: PolicyEngine, engineId: EngineId): Promise<Observed> {
  const tenantId = c.tenant ?? CORE_TENANT;
  const snapshots = new Map<string, TenantSnapshot>();
  snapshots.set(tenantId, snapshot(tenantId, c.roles, c.policies, [c.contract], engine, engineId));
  if (c.otherTenant !== null) {
    const other = c.otherTenant;
    snapshots.set(other.id, snapshot(other.id, other.roles, other.policies, other.contract === null ? [] : [other.contract], engine, engineId));
  }
  const own = snapshots.get(tenantId) as TenantSnapshot;
  const principal: PrincipalRecord = {
    tenantId,
    principalId: c.principal.id ?? "sa_conformance",
    type: c.principal.type,
    displayName: "conformance principal",
    description: "",
    roles: [...c.principal.roles],
    permissions: [...c.principal.permissions],
    clearance: c.principal.clearance,
    status: "ACTIVE",
    attributes: { ...c.principal.attributes },
    createdAt: 0,
    createdBy: "conformance",
    expiresAt: null,
    userName: "",
    providerId: "",
    externalSubject: "",
    groups: [],
    syncedRoles: [],
    syncedAt: 0,
    tokensValidAfter: 0,
    revision: 0,
  };
  // The claims the gateway's authenticator derives from a token (authenticate.ts).
  const claims: Record<string, string> = { amr: c.principal.claims.amr.join(" "), iat: String(Math.floor(c.timeMs / 1000) - 60) };
  if (c.principal.claims.acr !== "") claims["acr"] = c.principal.claims.acr;
  if (c.principal.claims.idp !== "") claims["idp"] = c.principal.claims.idp;
  const security = buildSecurityContext(own, principal, { tokenId: "tok_conformance", tokenExpiresAt: c.timeMs + 600_000, claims });
  const sessionCreatedAt = c.timeMs - c.sessionAgeSeconds * 1000;
  const session: SessionRecord = {
    tenantId,
    sessionId: "ses_conformance",
    principalId: principal.principalId,
    createdAt: sessionCreatedAt,
    expiresAt: c.timeMs + 3_600_000,
    destroyedAt: null,
    metadata: {},
  };
  const call: GovernedCall = {
    invocationId: "inv_conformance",
    security,
    origin: { sourceIp: c.sourceIp, userAgent: c.userAgent, correlationId: "cor_conformance" },
    request: { sessionId: session.sessionId, callId: "call_conformance", name: c.call.contract, contractVersion: c.call.version, args: c.args, timeoutMs: 0, stream: false },
    abort: new AbortController(),
    onChunk: null,
    receivedAt: c.timeMs,
    deadlineMs: c.timeMs + 30_000,
    session,
    snapshot: null,
    contract: null,
    decision: null,
    runtime: null,
    outcome: null,
    cleanups: [],
  };
  const recorded: AuditInput[] = [];
  // The decision steps read the clock, the audit recorder, the tenant directory and, for a held call,
  // the call approvals; a step that reads anything else fails on the missing dependency, which fails
  // the run. Nobody approves here (as on the gateway, which runs with a zero approval wait).
  const deps = {
    clock: { now: () => c.timeMs },
    audit: { record: async (input: AuditInput) => void recorded.push(input) },
    callApprovals: {
      hold: (held: HeldCall) => Promise.reject(new EnterpriseError("APPROVAL_REQUIRED", { details: { decision_reason: held.reason, why: "nobody approves in conformance runs" } })),
    },
    tenants: {
      activeSnapshot: async (id: string) => {
        const found = snapshots.get(id);
        if (found === undefined) throw new Error(`no snapshot for tenant ${id}`);
        return found;
      },
    },
  } as unknown as PipelineDeps;
  let refusal: EnterpriseError | null = null;
  try {
    for (const step of decisionSteps) await step.run(call, deps);
  } catch (error) {
    if (!(error instanceof EnterpriseError)) throw error;
    refusal = error;
  }
  const auditEvents = recorded.filter((event) => event.eventType === "policy.audit_matched");
  if (auditEvents.length > 1) throw new Error(`one call recorded ${auditEvents.length} policy.audit_matched events`);
  const auditFlags = auditEvents[0]?.metadata?.["policies"]?.split(",") ?? [];
  if (call.decision !== null && auditFlags.join(",") !== call.decision.auditFlags.join(",")) {
    throw new Error(`the audit log recorded flags [${auditFlags.join(",")}] but the decision has [${call.decision.auditFlags.join(",")}]`);
  }
  if (refusal === null) {
    return { decision: "ALLOW", error: null, reason: call.decision?.reason ?? "", appliedPolicies: call.decision?.appliedPolicies ?? [], auditFlags };
  }
  return {
    decision: "DENY",
    error: refusal.code,
    reason: refusal.details["reason"] ?? refusal.details["decision_reason"] ?? "",
    appliedPolicies: call.decision?.appliedPolicies ?? [],
    auditFlags,
  };
}

function snapshot(tenantId: string, roles: readonly RoleSpec[], policies: readonly PolicySpec[], contracts: readonly ContractSpec[], engine: PolicyEngine, engineId: EngineId): TenantSnapshot {
  const records = policies.map((p) => {
    const condition = p.conditions[engineId];
    if (condition === undefined) throw new Error(`policy ${p.id} has no ${engineId} condition`);
    return policyRecord(tenantId, p, condition);
  });
  const servable = new Map<string, Map<string, ServableContract>>();
  for (const spec of contracts) {
    const definition = contractDefinition(spec);
    const record: ContractRecord = {
      tenantId,
      contractId: `${spec.name}@${spec.version}`,
      definition,
      status: "ACTIVE",
      createdBy: "conformance",
      createdAt: 0,
      updatedAt: 0,
      approvedBy: "conformance-approver",
      approvedAt: 0,
      revision: 1,
    };
    const versions = servable.get(spec.name) ?? new Map<string, ServableContract>();
    versions.set(spec.version, { record, compiled: CompiledContract.compile(definition) });
    servable.set(spec.name, versions);
  }
  return {
    tenant: { tenantId, displayName: tenantId, status: "ACTIVE", createdAt: 0, policyEngine: engineId },
    version: 1,
    epoch: 0,
    roles: RoleGraph.build(roleRecords(tenantId, roles)),
    // As the tenant directory builds it: the ACTIVE, enabled records, with the tenant's engine.
    policies: PolicySet.build(
      records.filter((p) => p.status === "ACTIVE" && p.enabled),
      { engine },
    ),
    contracts: servable,
    breakGlass: [],
  };
}
