import type { HandlerContext } from "@connectrpc/connect";
import type { AuthenticateServiceAccountRequest, GetUserPermissionsRequest, GetUserRolesRequest, ValidateTokenRequest } from "@aesp/proto/authentication";
import { EnterpriseError, buildSecurityContext, isErrorCode } from "@aesp/core";
import type { SecurityContext } from "@aesp/core";
import { callerOf, originOf } from "../context.ts";
import { securityContextToWire } from "../mappers.ts";
import type { GatewayDeps } from "./deps.ts";
import { assertOwnTenant } from "./tenant-guard.ts";

/** EnterpriseAuthenticationService: API key exchange and token introspection. */
export function authenticationService(deps: GatewayDeps) {
  /** Another principal's roles or permissions need `principals:read`; one's own never do. */
  const subjectOf = async (ctx: HandlerContext, principalId: string, tenantId: string): Promise<SecurityContext> => {
    await assertOwnTenant(deps, ctx, tenantId);
    const caller = callerOf(ctx);
    if (principalId === "" || principalId === caller.principalId) return caller;
    const principal = await deps.identity.getPrincipal(caller, principalId);
    const snapshot = await deps.tenants.activeSnapshot(caller.tenantId);
    return buildSecurityContext(snapshot, principal, { tokenId: "", tokenExpiresAt: 0, claims: {} });
  };
  return {
    async authenticateServiceAccount(req: AuthenticateServiceAccountRequest, ctx: HandlerContext) {
      if (req.credential.case !== "apiKey") {
        throw new EnterpriseError("UNIMPLEMENTED", { message: "Only API key credentials are supported by this Host version.", details: { credential: req.credential.case ?? "none" } });
      }
      // The tenant inside the key is authoritative; a mismatching tenant_id is just a failed sign-in.
      if (req.tenantId !== "" && !req.credential.value.startsWith(`aesp.${req.tenantId}.`)) {
        throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "invalid_key" } });
      }
      return authenticate(deps, req.credential.value, ctx);
    },
    async validateToken(req: ValidateTokenRequest) {
      try {
        const ctx = await deps.authenticator.authenticate(req.accessToken);
        return { valid: true, securityContext: securityContextToWire(ctx), expiresAt: BigInt(ctx.tokenExpiresAt), reason: "" };
      } catch (err) {
        if (isErrorCode(err, "AUTHENTICATION_FAILED", "TOKEN_EXPIRED", "TENANT_SUSPENDED")) return { valid: false, reason: err.code, expiresAt: 0n };
        throw err;
      }
    },
    async getUserRoles(req: GetUserRolesRequest, ctx: HandlerContext) {
      const subject = await subjectOf(ctx, req.principalId, req.tenantId);
      const snapshot = await deps.tenants.activeSnapshot(subject.tenantId);
      const inherited = [...snapshot.roles.effectiveRoles(subject.roles)].filter((r) => !subject.roles.includes(r));
      return { principalId: subject.principalId, roles: [...subject.roles], inheritedRoles: inherited };
    },
    async getUserPermissions(req: GetUserPermissionsRequest, ctx: HandlerContext) {
      const subject = await subjectOf(ctx, req.principalId, req.tenantId);
      return { principalId: subject.principalId, permissions: [...subject.permissions].sort() };
    },
  };

  async function authenticate(d: GatewayDeps, apiKey: string, ctx?: HandlerContext) {
    const origin = ctx === undefined ? { sourceIp: "", userAgent: "", correlationId: "" } : originOf(ctx);
    const issued = await d.identity.exchangeApiKey(origin, apiKey);
    const snapshot = await d.tenants.activeSnapshot(issued.principal.tenantId);
    const security = buildSecurityContext(snapshot, issued.principal, { tokenId: "", tokenExpiresAt: issued.expiresAt, claims: {} });
    return { accessToken: issued.accessToken, expiresAt: BigInt(issued.expiresAt), tokenType: "Bearer", securityContext: securityContextToWire(security) };
  }
}
