import type { HandlerContext } from "@connectrpc/connect";
import type {
  CreateServiceAccountRequest,
  GetPrincipalAuditTrailRequest,
  GetPrincipalDetailsRequest,
  ListPrincipalsRequest,
  ListServiceAccountsRequest,
  RevokeServiceAccountRequest,
  UpdatePrincipalRolesRequest,
} from "@aesp/proto/identity";
import type { RegisterServiceAccountCredentialRequest, RotateServiceAccountSecretRequest } from "@aesp/proto/identity_provider";
import { EnterpriseError, buildSecurityContext, requirePermission } from "@aesp/core";
import type { PrincipalFilter, PrincipalStatus } from "@aesp/core";
import { callerOf, originOf } from "../context.ts";
import { auditEventToWire, msFromWire, principalToWire, principalTypeFromWire } from "../mappers.ts";
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
      const limit = req.limit === 0 ? 100 : Math.min(req.limit, 500);
      const type = principalTypeFromWire(req.principalType);
      if (req.status !== "" && !["ACTIVE", "DISABLED", "REVOKED"].includes(req.status)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "status", expected: "ACTIVE|DISABLED|REVOKED" } });
      const filter: PrincipalFilter = {
        includeInactive: req.includeInactive,
        limit,
        ...(type === undefined ? {} : { type }),
        ...(req.cursor === "" ? {} : { cursor: req.cursor }),
        ...(req.status === "" ? {} : { status: req.status as PrincipalStatus }),
        ...(req.providerId === "" ? {} : { providerId: req.providerId === "local" ? "" : req.providerId }),
        ...(req.userName === "" ? {} : { userName: req.userName }),
        ...(req.displayNamePrefix === "" ? {} : { displayNamePrefix: req.displayNamePrefix }),
        ...(req.role === "" ? {} : { role: req.role }),
      };
      const records = await deps.identity.listPrincipals(caller, filter);
      return { principals: records.map(principalToWire), nextCursor: records.length === limit ? (records.at(-1)?.principalId ?? "") : "" };
    },
    async updatePrincipalRoles(req: UpdatePrincipalRolesRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      const principal = await deps.identity.updatePrincipalRoles(caller, originOf(ctx), { principalId: req.principalId, add: req.rolesToAdd, remove: req.rolesToRemove, justification: req.justification });
      return { principal: principalToWire(principal), approvalRequestId: "" };
    },
    async getPrincipalAuditTrail(req: GetPrincipalAuditTrailRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      const principalId = req.principalId === "" ? caller.principalId : req.principalId;
      if (principalId !== caller.principalId) requirePermission(caller, "audit:read");
      const limit = Math.min(req.limit === 0 ? 100 : req.limit, 1000);
      const afterSeq = req.cursor === "" ? undefined : Number.parseInt(req.cursor, 10);
      if (afterSeq !== undefined && !Number.isSafeInteger(afterSeq)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "cursor" } });
      const records = await deps.store.forTenant(caller.tenantId).audit.query({
        limit,
        principalId,
        ...(req.startTime === 0n ? {} : { fromMs: msFromWire(req.startTime) }),
        ...(req.endTime === 0n ? {} : { toMs: msFromWire(req.endTime) }),
        ...(req.eventTypes.length === 0 ? {} : { eventTypes: [...req.eventTypes] }),
        ...(afterSeq === undefined ? {} : { afterSeq }),
      });
      const revealed = await deps.subjectCipher.reveal(records);
      return { events: revealed.map(auditEventToWire), nextCursor: records.length === limit ? String(records.at(-1)?.seq ?? "") : "" };
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

/** ServiceAccountCredentialService: key rotation, public keys and client certificates of service accounts. */
export function serviceAccountCredentialService(deps: GatewayDeps) {
  return {
    async rotateServiceAccountSecret(req: RotateServiceAccountSecretRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      const rotated = await deps.identity.rotateServiceAccountSecret(caller, originOf(ctx), req.serviceAccountId, req.overlapSeconds);
      return { apiKey: rotated.apiKey, oldKeysExpireAt: BigInt(rotated.oldKeysExpireAt), expiresAt: BigInt(rotated.expiresAt ?? 0) };
    },
    async registerServiceAccountCredential(req: RegisterServiceAccountCredentialRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      if (req.credential.case === undefined) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "credential" } });
      const record = await deps.identity.registerClientCredential(
        caller,
        originOf(ctx),
        { principalId: req.serviceAccountId, kind: req.credential.case === "publicKeyJwk" ? "public_key" : "certificate", material: req.credential.value, expiresAt: msFromWire(req.expiresAt) },
        deps.credentialInspector,
      );
      return { credentialId: record.credentialId, kind: record.kind, thumbprint: record.thumbprint, expiresAt: BigInt(record.expiresAt ?? 0) };
    },
  };
}
