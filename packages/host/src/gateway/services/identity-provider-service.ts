import type { HandlerContext } from "@connectrpc/connect";
import type { JsonObject } from "@bufbuild/protobuf";
import type {
  DeleteIdentityProviderRequest,
  GetIdentityProviderRequest,
  ListIdentityProvidersRequest,
  ListSignInMethodsRequest,
  PutIdentityProviderRequest,
  SyncIdentityProviderRequest,
} from "@aesp/proto/identity_provider";
import { EnterpriseError, requirePermission } from "@aesp/core";
import type { IdentityProviderRecord } from "@aesp/core";
import { callerOf, originOf } from "../context.ts";
import type { GatewayDeps } from "./deps.ts";
import { assertOwnTenant } from "./tenant-guard.ts";

/** IdentityProviderService: a tenant's OIDC, SAML and LDAP connections, and public sign-in discovery. */
export function identityProviderService(deps: GatewayDeps) {
  const toWire = (record: IdentityProviderRecord) => ({
    providerId: record.providerId,
    tenantId: record.tenantId,
    kind: record.kind,
    displayName: record.displayName,
    enabled: record.enabled,
    jitProvisioning: record.jitProvisioning,
    settings: record.settings as JsonObject,
    mapping: mappingToWire(record),
    createdAt: BigInt(record.createdAt),
    updatedAt: BigInt(record.updatedAt),
    updatedBy: record.updatedBy,
  });
  return {
    async putIdentityProvider(req: PutIdentityProviderRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      const provider = req.provider;
      if (provider === undefined) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "provider" } });
      const existed = await deps.store.forTenant(caller.tenantId).identityProviders.get(provider.providerId);
      const record = await deps.identityProviders.put(caller, originOf(ctx), {
        providerId: provider.providerId,
        kind: provider.kind,
        displayName: provider.displayName,
        enabled: provider.enabled,
        jitProvisioning: provider.jitProvisioning,
        settings: provider.settings ?? {},
        mapping: provider.mapping ?? {},
      });
      return { provider: toWire(record), created: existed === null };
    },
    async getIdentityProvider(req: GetIdentityProviderRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      return { provider: toWire(await deps.identityProviders.get(callerOf(ctx), req.providerId)) };
    },
    async listIdentityProviders(req: ListIdentityProvidersRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      return { providers: (await deps.identityProviders.list(callerOf(ctx))).map(toWire) };
    },
    async deleteIdentityProvider(req: DeleteIdentityProviderRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      return { deleted: await deps.identityProviders.delete(callerOf(ctx), originOf(ctx), req.providerId) };
    },
    async syncIdentityProvider(req: SyncIdentityProviderRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      requirePermission(caller, "identity_providers:manage");
      const provider = await deps.identityProviders.resolveEnabled(caller.tenantId, req.providerId, "ldap").catch(() => {
        throw new EnterpriseError("NOT_FOUND", { details: { provider_id: req.providerId.slice(0, 64), reason: "no enabled LDAP provider of that id" } });
      });
      return deps.directorySync.syncProvider(provider);
    },
    async listSignInMethods(req: ListSignInMethodsRequest) {
      const tenant = req.tenantId === "" ? null : await deps.store.platform.tenants.get(req.tenantId);
      // An unknown tenant answers like a tenant without providers: discovery reveals no tenant names.
      if (tenant === null || tenant.status !== "ACTIVE") return { methods: [] };
      const providers = await deps.identityProviders.listEnabled(tenant.tenantId);
      return {
        methods: providers.map((p) => ({
          providerId: p.providerId,
          kind: p.kind,
          displayName: p.displayName,
          issuer: p.kind === "oidc" ? stringSetting(p, "issuer", "") : "",
          clientId: p.kind === "oidc" ? stringSetting(p, "cli_client_id", stringSetting(p, "client_id", "")) : "",
          scopes: p.kind === "oidc" ? stringSetting(p, "scopes", "openid profile email") : "",
          loginUrl: p.kind === "saml" ? `${deps.publicUrl()}/saml/${p.tenantId}/${p.providerId}/login` : "",
        })),
      };
    },
  };
}

function mappingToWire(record: IdentityProviderRecord): JsonObject {
  const m = record.mapping;
  const out: JsonObject = {};
  if (m.groupsClaim !== undefined) out["groups_claim"] = m.groupsClaim;
  if (m.groupRoles !== undefined) out["group_roles"] = m.groupRoles;
  if (m.rolesClaim !== undefined) out["roles_claim"] = m.rolesClaim;
  if (m.allowedRoles !== undefined) out["allowed_roles"] = m.allowedRoles;
  if (m.defaultRoles !== undefined) out["default_roles"] = m.defaultRoles;
  if (m.clearanceClaim !== undefined) out["clearance_claim"] = m.clearanceClaim;
  if (m.defaultClearance !== undefined) out["default_clearance"] = m.defaultClearance;
  if (m.maxClearance !== undefined) out["max_clearance"] = m.maxClearance;
  if (m.attributes !== undefined) out["attributes"] = m.attributes;
  return out;
}

function stringSetting(record: IdentityProviderRecord, name: string, fallback: string): string {
  const value = record.settings[name];
  return typeof value === "string" && value !== "" ? value : fallback;
}
