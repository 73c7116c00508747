import type { HandlerContext } from "@connectrpc/connect";
import type { CreateTenantRequest, GetTenantRequest, ResumeTenantRequest, SetTenantPolicyEngineRequest, SuspendTenantRequest } from "@aesp/proto/tenant";
import type { TenantRecord } from "@aesp/core";
import { callerOf, originOf } from "../context.ts";
import type { GatewayDeps } from "./deps.ts";

const tenantToWire = (t: TenantRecord) => ({ tenantId: t.tenantId, displayName: t.displayName, status: t.status, createdAtUnixMs: BigInt(t.createdAt), policyEngine: t.policyEngine });

/** TenantService: the Tenant Manager's API (platform administrators). */
export function tenantService(deps: GatewayDeps) {
  return {
    async createTenant(req: CreateTenantRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      const tenant = await deps.tenantAdmin.create(caller, originOf(ctx), { tenantId: req.tenantId, displayName: req.displayName, policyEngine: req.policyEngine });
      const admin = await deps.identity.createTenantAdministrator(tenant.tenantId, caller.principalId, originOf(ctx));
      return { tenant: tenantToWire(tenant), adminPrincipalId: admin.principal.principalId, adminApiKey: admin.apiKey };
    },
    async getTenant(req: GetTenantRequest, ctx: HandlerContext) {
      return { tenant: tenantToWire(await deps.tenantAdmin.get(callerOf(ctx), req.tenantId)) };
    },
    async listTenants(_req: unknown, ctx: HandlerContext) {
      return { tenants: (await deps.tenantAdmin.list(callerOf(ctx))).map(tenantToWire), nextCursor: "" };
    },
    async suspendTenant(req: SuspendTenantRequest, ctx: HandlerContext) {
      return { tenant: tenantToWire(await deps.tenantAdmin.setStatus(callerOf(ctx), originOf(ctx), req.tenantId, "SUSPENDED")) };
    },
    async resumeTenant(req: ResumeTenantRequest, ctx: HandlerContext) {
      return { tenant: tenantToWire(await deps.tenantAdmin.setStatus(callerOf(ctx), originOf(ctx), req.tenantId, "ACTIVE")) };
    },
    async setTenantPolicyEngine(req: SetTenantPolicyEngineRequest, ctx: HandlerContext) {
      return { tenant: tenantToWire(await deps.tenantAdmin.setPolicyEngine(callerOf(ctx), originOf(ctx), req.tenantId, req.policyEngine)) };
    },
  };
}
