import type { HandlerContext } from "@connectrpc/connect";
import type { CreateServiceAccountRequest, GetPrincipalDetailsRequest, ListPrincipalsRequest, ListServiceAccountsRequest, RevokeServiceAccountRequest } from "@aesp/proto/identity";
import { buildSecurityContext } from "@aesp/core";
import { callerOf, originOf } from "../context.ts";
import { msFromWire, principalToWire, principalTypeFromWire } from "../mappers.ts";
import type { GatewayDeps } from "./deps.ts";
import { assertOwnTenant } from "./tenant-guard.ts";

/** EnterpriseIdentityService: service accounts and principals of the caller's tenant. */
export function identityService(deps: GatewayDeps) {
  return {
    async createServiceAccount(req: CreateServiceAccountRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      const { principal, apiKey } = await deps.identity.createServiceAccount(caller, originOf(ctx), {
        name: req.name,
        description: req.description,
        roles: req.roles,
        permissions: req.permissions,
        expiresAt: msFromWire(req.expiresAt),
        clearance: req.metadata["clearance"] ?? "",
      });
      return {
        responseType: {
          case: "successDetails" as const,
          value: { serviceAccountId: principal.principalId, apiKey, secret: "", createdAt: BigInt(principal.createdAt), expiresAt: BigInt(principal.expiresAt ?? 0) },
        },
      };
    },
    async listServiceAccounts(req: ListServiceAccountsRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      const limit = req.limit === 0 ? 100 : req.limit;
      const records = await deps.identity.listPrincipals(caller, { type: "SERVICE_ACCOUNT", includeInactive: req.includeInactive, limit, ...(req.cursor === "" ? {} : { cursor: req.cursor }) });
      return { serviceAccounts: records.map(principalToWire), nextCursor: records.length === limit ? (records.at(-1)?.principalId ?? "") : "" };
    },
    async revokeServiceAccount(req: RevokeServiceAccountRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      const { revokedKeys } = await deps.identity.revokeServiceAccount(caller, originOf(ctx), req.serviceAccountId, req.reason);
      return { revoked: true, revokedKeys };
    },
    async listPrincipals(req: ListPrincipalsRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      const limit = req.limit === 0 ? 100 : req.limit;
      const type = principalTypeFromWire(req.principalType);
      const records = await deps.identity.listPrincipals(caller, {
        includeInactive: req.includeInactive,
        limit,
        ...(type === undefined ? {} : { type }),
        ...(req.cursor === "" ? {} : { cursor: req.cursor }),
      });
      return { principals: records.map(principalToWire), nextCursor: records.length === limit ? (records.at(-1)?.principalId ?? "") : "" };
    },
    async getPrincipalDetails(req: GetPrincipalDetailsRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      const principal = await deps.identity.getPrincipal(caller, req.principalId === "" ? caller.principalId : req.principalId);
      const snapshot = await deps.tenants.activeSnapshot(caller.tenantId);
      const effective = req.includePermissions ? [...buildSecurityContext(snapshot, principal, { tokenId: "", tokenExpiresAt: 0, claims: {} }).permissions].sort() : [];
      return { principal: principalToWire(principal), effectivePermissions: effective };
    },
  };
}
