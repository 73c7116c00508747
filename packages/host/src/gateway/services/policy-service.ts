import { performance } from "node:perf_hooks";
import type { HandlerContext } from "@connectrpc/connect";
import type {
  CreatePolicyRequest,
  DeletePolicyRequest,
  EvaluatePolicyRequest,
  GetPolicyRequest,
  GetPolicyRolloutRequest,
  ListPoliciesRequest,
  ListPolicyRolloutsRequest,
  PolicyRollout,
  PromotePolicyRolloutRequest,
  StartPolicyRolloutRequest,
  StopPolicyRolloutRequest,
  TestPolicyRequest,
  UpdatePolicyRequest,
  ValidatePolicyRequest,
} from "@aesp/proto/policy";
import { EnterpriseError, PolicySimulator, requestPolicyDeletion } from "@aesp/core";
import type { PolicyRolloutRecord } from "@aesp/core";
import { callerOf, originOf } from "../context.ts";
import { msFromWire, policyDraftFromWire, policyIssueToWire, policyReplayChangeToWire, policyToWire, policyVerdictToWire } from "../mappers.ts";
import type { GatewayDeps } from "./deps.ts";
import { assertOwnTenant } from "./tenant-guard.ts";

/** A version number on the wire: a decimal string; empty means none. */
function versionFromWire(value: string, field: string): number | undefined {
  if (value === "") return undefined;
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field, expected: "a version number, e.g. 3" } });
  return Number(value);
}

/** A rollout on the wire (invented message PolicyRollout). */
function rolloutToWire(r: PolicyRolloutRecord): PolicyRollout {
  return {
    $typeName: "aesp.v1.PolicyRollout",
    rolloutId: r.rolloutId,
    policyId: r.policyId,
    candidateVersion: String(r.candidateVersion),
    baselineVersion: String(r.baselineVersion),
    mode: r.mode,
    percent: r.percent,
    principals: [...r.principals],
    threshold: r.threshold,
    minSamples: BigInt(r.minSamples),
    endsAt: BigInt(r.endsAt),
    evaluated: BigInt(r.evaluated),
    disagreements: BigInt(r.disagreements),
    status: r.status,
    approvalRequestId: r.approvalRequestId,
    startedBy: r.startedBy,
    createdAt: BigInt(r.createdAt),
    startedAt: BigInt(r.startedAt),
    endedAt: BigInt(r.endedAt),
    endedBy: r.endedBy,
    endReason: r.endReason,
  };
}

/**
 * EnterprisePolicyService: policy versions are submitted (and deleted) as DRAFTs that act only
 * after governance approval; Evaluate, Test and Validate change nothing.
 */
export function policyService(deps: GatewayDeps) {
  const simulator = new PolicySimulator({
    store: deps.store,
    clock: deps.clock,
    audit: deps.audit,
    tenants: deps.tenants,
    engines: (tenantId) => deps.policies.engineFor(tenantId),
    micros: () => performance.now() * 1000,
  });
  return {
    async createPolicy(req: CreatePolicyRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      const change = await deps.policies.create(callerOf(ctx), originOf(ctx), policyDraftFromWire(req.policy), { policyId: req.policy?.policyId ?? "", dryRun: req.dryRun });
      return { policy: policyToWire(change.record), issues: change.issues.map(policyIssueToWire) };
    },
    async updatePolicy(req: UpdatePolicyRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      const draft = policyDraftFromWire(req.policy);
      const policyId = req.policy?.policyId ?? "";
      if (policyId === "") throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "policy.policy_id" } });
      const expectedVersion = versionFromWire(req.expectedVersion, "expected_version");
      const change = await deps.policies.update(callerOf(ctx), originOf(ctx), policyId, draft, { dryRun: req.dryRun, ...(expectedVersion === undefined ? {} : { expectedVersion }) });
      return { policy: policyToWire(change.record), issues: change.issues.map(policyIssueToWire) };
    },
    async deletePolicy(req: DeletePolicyRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      const outcome = await requestPolicyDeletion({ policies: deps.policies, governance: deps.governance }, callerOf(ctx), originOf(ctx), { policyId: req.policyId, reason: req.reason });
      // false: the deletion awaits approval (the policy acts until then); true: it is in force.
      return { deleted: outcome.deleted };
    },
    async getPolicy(req: GetPolicyRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      const version = versionFromWire(req.version, "version") ?? 0;
      return { policy: policyToWire(await deps.policies.get(callerOf(ctx), req.policyId, version)) };
    },
    async listPolicies(req: ListPoliciesRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      const page = await deps.policies.list(callerOf(ctx), { status: req.status, limit: req.limit, cursor: req.cursor });
      return { policies: page.policies.map(policyToWire), nextCursor: page.nextCursor };
    },
    async evaluatePolicy(req: EvaluatePolicyRequest, ctx: HandlerContext) {
      const result = await simulator.evaluate(callerOf(ctx), originOf(ctx), req.policyId, { principalId: req.principalId, resource: req.resource, action: req.action, context: req.context });
      return { decision: policyVerdictToWire(result.verdict), evaluationTimeUs: BigInt(result.evaluationTimeUs) };
    },
    async testPolicy(req: TestPolicyRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      for (const testCase of req.cases) await assertOwnTenant(deps, ctx, testCase.securityContext?.tenantId ?? "");
      const result = await simulator.test(callerOf(ctx), originOf(ctx), {
        candidates: req.candidatePolicies.map((policy, index) => ({ policyId: policy.policyId, draft: policyDraftFromWire(policy, `candidate_policies[${index}]`) })),
        cases: req.cases.map((testCase) => {
          const sc = testCase.securityContext;
          const attributes: Record<string, string> = { ...sc?.policyContext };
          if (sc !== undefined && sc.organizationId !== "") attributes["organization_id"] = sc.organizationId;
          if (sc !== undefined && sc.businessUnit !== "") attributes["business_unit"] = sc.businessUnit;
          return {
            name: testCase.name,
            caller: { principalId: sc?.principalId ?? "", roles: [...(sc?.roles ?? [])], permissions: [...(sc?.permissions ?? [])], clearance: sc?.securityClearance ?? "", claims: { ...sc?.claims }, attributes },
            resource: testCase.resource,
            action: testCase.action,
            context: { ...testCase.context },
            expectedDecision: testCase.expectedDecision,
          };
        }),
        history: req.history === undefined ? null : { startMs: msFromWire(req.history.startTime), endMs: msFromWire(req.history.endTime), limit: req.history.limit },
      });
      return {
        caseResults: result.cases.map((c) => ({ name: c.name, decision: c.decision, decisions: c.verdicts.map(policyVerdictToWire), passed: c.passed })),
        ...(result.replay === null
          ? {}
          : {
              replay: {
                decisionsReplayed: BigInt(result.replay.decisionsReplayed),
                decisionsChanged: BigInt(result.replay.decisionsChanged),
                newlyDenied: BigInt(result.replay.newlyDenied),
                newlyAllowed: BigInt(result.replay.newlyAllowed),
                samples: result.replay.samples.map(policyReplayChangeToWire),
              },
            }),
      };
    },
    async validatePolicy(req: ValidatePolicyRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      const issues = await deps.policies.validate(callerOf(ctx), policyDraftFromWire(req.policy), req.policy?.policyId ?? "");
      return { valid: !issues.some((issue) => issue.severity === "ERROR"), issues: issues.map(policyIssueToWire) };
    },
    async startPolicyRollout(req: StartPolicyRolloutRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      const version = versionFromWire(req.version, "version");
      if (version === undefined) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "version", expected: "the version to roll out, e.g. 3" } });
      const record = await deps.rollouts.start(callerOf(ctx), originOf(ctx), {
        policyId: req.policyId,
        version,
        mode: req.mode,
        percent: req.percent,
        principals: req.principals,
        threshold: req.threshold,
        minSamples: msFromWire(req.minSamples),
        endsAt: msFromWire(req.endsAt),
        justification: req.justification,
      });
      return { rollout: rolloutToWire(record) };
    },
    async getPolicyRollout(req: GetPolicyRolloutRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      return { rollout: rolloutToWire(await deps.rollouts.get(callerOf(ctx), req.rolloutId)) };
    },
    async listPolicyRollouts(req: ListPolicyRolloutsRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      const page = await deps.rollouts.list(callerOf(ctx), { status: req.status, policyId: req.policyId, limit: req.limit, cursor: req.cursor });
      return { rollouts: page.rollouts.map(rolloutToWire), nextCursor: page.nextCursor };
    },
    async promotePolicyRollout(req: PromotePolicyRolloutRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      return { rollout: rolloutToWire(await deps.rollouts.promote(callerOf(ctx), originOf(ctx), req.rolloutId, req.reason)) };
    },
    async stopPolicyRollout(req: StopPolicyRolloutRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      return { rollout: rolloutToWire(await deps.rollouts.stop(callerOf(ctx), originOf(ctx), req.rolloutId, req.reason)) };
    },
  };
}
