import type { HandlerContext } from "@connectrpc/connect";
import type {
  AuthenticateServiceAccountRequest,
  AuthenticateUserRequest,
  GetUserPermissionsRequest,
  GetUserRolesRequest,
  RefreshTokenRequest,
  RevokeTokenRequest,
  ValidateTokenRequest,
} from "@aesp/proto/authentication";
import { EnterpriseError, buildSecurityContext, hasPermission, isErrorCode } from "@aesp/core";
import type { IssuedTokens, RequestOrigin, SecurityContext } from "@aesp/core";
import { callerOf, originOf, peerCertificateOf } from "../context.ts";
import { securityContextToWire } from "../mappers.ts";
import type { GatewayDeps } from "./deps.ts";
import { assertOwnTenant } from "./tenant-guard.ts";

/**
 * EnterpriseAuthenticationService: every way in (directory password, SAML response, OIDC ID token,
 * client certificate, API key, signed assertion), token refresh, revocation and introspection.
 */
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

  const respond = async (issued: IssuedTokens, claims: Record<string, string>) => {
    const snapshot = await deps.tenants.activeSnapshot(issued.principal.tenantId);
    const security = buildSecurityContext(snapshot, issued.principal, { tokenId: issued.tokenId, tokenExpiresAt: issued.expiresAt, claims });
    return { accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresAt: BigInt(issued.expiresAt), tokenType: "Bearer", securityContext: securityContextToWire(security) };
  };

  return {
    async authenticateUser(req: AuthenticateUserRequest, ctx: HandlerContext) {
      const origin = originOf(ctx);
      const credential = req.credential;
      let issued: IssuedTokens;
      switch (credential.case) {
        case "usernamePassword":
          issued = await directorySignIn(deps, origin, req.tenantId, credential.value.provider, credential.value.username, credential.value.password);
          break;
        case "samlToken": {
          const provider = await deps.identityProviders.resolveEnabled(req.tenantId, credential.value.provider, "saml");
          issued = await deps.externalSignIn.samlSignIn(origin, provider, deps.adapters.saml(provider), credential.value.samlResponse, deps.replayGuard);
          break;
        }
        case "oauthToken": {
          const provider = await deps.identityProviders.resolveEnabled(req.tenantId, credential.value.provider, "oidc");
          issued = await deps.externalSignIn.oidcSignIn(origin, provider, deps.adapters.oidc(provider), credential.value.idToken, deps.replayGuard);
          break;
        }
        case "certificate": {
          const presented = peerCertificateOf(ctx);
          if (presented === null) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "no_client_certificate" } });
          if (credential.value.certificatePem !== "" && !presented.matchesPem(credential.value.certificatePem)) {
            throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "certificate_not_presented_in_handshake" } });
          }
          issued = await deps.identity.authenticateCertificate(origin, req.tenantId, presented.thumbprint);
          break;
        }
        case undefined:
          throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "credential" } });
      }
      return { responseType: { case: "successDetails" as const, value: await respond(issued, {}) } };
    },

    async authenticateServiceAccount(req: AuthenticateServiceAccountRequest, ctx: HandlerContext) {
      const origin = originOf(ctx);
      let issued: IssuedTokens;
      switch (req.credential.case) {
        case "apiKey":
          // The tenant inside the key is authoritative; a mismatching tenant_id is just a failed sign-in.
          if (req.tenantId !== "" && !req.credential.value.startsWith(`aesp.${req.tenantId}.`)) {
            throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "invalid_key" } });
          }
          issued = await deps.identity.exchangeApiKey(origin, req.credential.value);
          break;
        case "clientAssertion":
          issued = await deps.identity.authenticateClientAssertion(origin, req.tenantId, req.credential.value, deps.clientAssertions, deps.replayGuard);
          break;
        case undefined: {
          // No credential in the message: the client certificate of the TLS handshake is the credential.
          const presented = peerCertificateOf(ctx);
          if (presented === null) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "credential", reason: "give api_key or client_assertion, or present a client certificate" } });
          issued = await deps.identity.authenticateCertificate(origin, req.tenantId, presented.thumbprint);
          break;
        }
      }
      const { refreshToken: _unused, ...response } = await respond(issued, {});
      return response;
    },

    async validateToken(req: ValidateTokenRequest) {
      try {
        const security = await deps.authenticator.authenticate(req.accessToken);
        return { valid: true, securityContext: securityContextToWire(security), expiresAt: BigInt(security.tokenExpiresAt), reason: "" };
      } catch (err) {
        if (isErrorCode(err, "TOKEN_EXPIRED")) return { valid: false, reason: "EXPIRED", expiresAt: 0n };
        if (isErrorCode(err, "AUTHENTICATION_FAILED", "TENANT_SUSPENDED")) {
          const reason = err.details["reason"];
          return { valid: false, reason: reason === "token_revoked" ? "REVOKED" : reason === "unknown_key_id" ? "UNKNOWN_KEY" : err.code === "TENANT_SUSPENDED" ? "TENANT_SUSPENDED" : "MALFORMED", expiresAt: 0n };
        }
        throw err;
      }
    },

    async refreshToken(req: RefreshTokenRequest, ctx: HandlerContext) {
      const issued = await deps.tokens.refresh(originOf(ctx), req.refreshToken);
      return { accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresAt: BigInt(issued.expiresAt), tokenType: "Bearer" };
    },

    async revokeToken(req: RevokeTokenRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      const origin = originOf(ctx);
      if (req.tokenTypeHint !== "" && req.tokenTypeHint !== "access_token" && req.tokenTypeHint !== "refresh_token") {
        throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "token_type_hint", expected: "access_token|refresh_token" } });
      }
      const mayRevokeOthers = hasPermission(caller, "tokens:revoke");
      if (req.token.startsWith("aesprt.")) {
        // Only the holder (or a tenant administrator) learns anything from a refresh token.
        const tenantOfToken = req.token.split(".")[1] ?? "";
        if (tenantOfToken !== caller.tenantId) return { revoked: false };
        const result = await deps.tokens.revokeRefreshToken(origin, req.token, req.reason, caller.principalId, (owner) => owner === caller.principalId || mayRevokeOthers);
        return { revoked: result.revoked };
      }
      let target: SecurityContext;
      try {
        target = await deps.authenticator.authenticate(req.token);
      } catch (err) {
        // RFC 7009: an invalid, expired or already revoked token is not an error.
        if (isErrorCode(err, "AUTHENTICATION_FAILED", "TOKEN_EXPIRED", "TENANT_SUSPENDED")) return { revoked: false };
        throw err;
      }
      if (target.tenantId !== caller.tenantId || target.tokenId === "") return { revoked: false };
      if (target.principalId !== caller.principalId && !mayRevokeOthers) throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { required_permission: "tokens:revoke" } });
      const revoked = await deps.tokens.revokeAccessToken(origin, { tenantId: target.tenantId, principalId: target.principalId, tokenId: target.tokenId, expiresAt: target.tokenExpiresAt }, req.reason, caller.principalId);
      return { revoked };
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
}

/** Signs in with a directory password, throttled per account and per source address. */
async function directorySignIn(deps: GatewayDeps, origin: RequestOrigin, tenantId: string, providerId: string, username: string, password: string): Promise<IssuedTokens> {
  const providers = (await deps.identityProviders.listEnabled(tenantId).catch(() => [])).filter((p) => p.kind === "ldap");
  const chosen = providerId === "" ? (providers.length === 1 ? providers[0] : undefined) : providers.find((p) => p.providerId === providerId);
  if (chosen === undefined) {
    throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: providers.length > 1 ? "provider_required" : "unknown_provider" } });
  }
  return deps.externalSignIn.passwordSignIn(origin, chosen, deps.adapters.directory(chosen), username, password);
}
