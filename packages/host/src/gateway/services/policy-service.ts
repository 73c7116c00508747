import type { HandlerContext } from "@connectrpc/connect";
import type { CreatePolicyRequest, GetPolicyRequest, ListPoliciesRequest } from "@aesp/proto/policy";
import { EnterpriseError } from "@aesp/core";
import { callerOf, originOf } from "../context.ts";
import { policyRuleFromWire, policyToWire } from "../mappers.ts";
import type { GatewayDeps } from "./deps.ts";
import { assertOwnTenant } from "./tenant-guard.ts";

/** EnterprisePolicyService: policy versions are submitted as DRAFTs and act only after approval. */
export function policyService(deps: GatewayDeps) {
  return {
    async createPolicy(req: CreatePolicyRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      if (req.policy === undefined) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "policy" } });
      if (req.dryRun) throw new EnterpriseError("UNIMPLEMENTED", { message: "dry_run is not supported by this Host version; use ValidatePolicy." });
      const record = await deps.policies.submit(
        caller,
        originOf(ctx),
        { name: req.policy.name, description: req.policy.description, rule: policyRuleFromWire(req.policy.rule), appliesTo: req.policy.appliesTo, enabled: req.policy.enabled },
        req.policy.policyId === "" ? undefined : req.policy.policyId,
      );
      return { policy: policyToWire(record), issues: [] };
    },
    async getPolicy(req: GetPolicyRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      const version = req.version === "" ? 0 : Number.parseInt(req.version, 10);
      if (!Number.isSafeInteger(version) || version < 0) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "version" } });
      return { policy: policyToWire(await deps.policies.get(caller, req.policyId, version)) };
    },
    async listPolicies(req: ListPoliciesRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      const limit = req.limit === 0 ? 100 : req.limit;
      const records = (await deps.policies.list(caller, limit, req.cursor === "" ? undefined : req.cursor)).filter((p) => req.status === "" || p.status === req.status.toUpperCase());
      return { policies: records.map(policyToWire), nextCursor: "" };
    },
  };
}
