import { EnterpriseError } from "../errors.ts";
import type { Clock, Store } from "../ports.ts";
import type { PrincipalRecord } from "../records.ts";
import type { RoleGraph } from "../rbac/role-graph.ts";
import type { TenantDirectory, TenantSnapshot } from "../tenancy/tenant-snapshot.ts";
import { familyRevocationId } from "./access-tokens.ts";
import type { AccessTokens } from "./access-tokens.ts";
import type { SecurityContext } from "./security-context.ts";

/**
 * Port: authenticates bearer tokens that another issuer signed (an OIDC provider's JWT access
 * tokens), mapping them to a principal of the provider's tenant.
 */
export interface ExternalBearerAuthenticator {
  /** True when the token names an issuer other than the Host (an unverified peek, only for routing). */
  handles(token: string): boolean;
  authenticate(token: string): Promise<SecurityContext>;
}

/**
 * Turns a bearer token into a {@link SecurityContext}.
 *
 * Rules enforced:
 * - the token verifies (signature, issuer, audience, expiry) — else AUTHENTICATION_FAILED / TOKEN_EXPIRED;
 * - its tenant exists and is ACTIVE — a missing tenant looks like a bad token, a suspended one is TENANT_SUSPENDED;
 * - its principal exists, is ACTIVE and not expired — revocation takes effect on the next call;
 * - the token was not revoked, by its id or by a revoke-all of its principal — checked in storage
 *   on every call, so a revocation on one Host holds on every Host at once;
 * - rights come from the principal's *current* roles, not from the token.
 */
export class Authenticator {
  readonly #tokens: AccessTokens;
  readonly #tenants: TenantDirectory;
  readonly #store: Store;
  readonly #clock: Clock;
  #external: ExternalBearerAuthenticator | null = null;

  constructor(deps: { tokens: AccessTokens; tenants: TenantDirectory; store: Store; clock: Clock }) {
    this.#tokens = deps.tokens;
    this.#tenants = deps.tenants;
    this.#store = deps.store;
    this.#clock = deps.clock;
  }

  /** Accepts bearer tokens of external issuers through `external` from now on. */
  acceptExternalBearers(external: ExternalBearerAuthenticator): void {
    this.#external = external;
  }

  /**
   * Authenticates a bearer token.
   * @throws EnterpriseError AUTHENTICATION_FAILED, TOKEN_EXPIRED, TENANT_SUSPENDED
   */
  async authenticate(bearerToken: string): Promise<SecurityContext> {
    if (this.#external?.handles(bearerToken) === true) return this.#external.authenticate(bearerToken);
    const claims = await this.#tokens.verify(bearerToken);
    const revocationIds = claims.family === undefined ? [claims.jti] : [claims.jti, familyRevocationId(claims.family)];
    // currentSnapshot checks the tenant's change epoch (one read, alongside the others), so a role,
    // binding or policy change committed on any Host governs this call.
    const [snapshot, principal, revoked] = await Promise.all([
      this.#tenants.currentSnapshot(claims.tid),
      this.#tenants.principal(claims.tid, claims.sub),
      this.#store.forTenant(claims.tid).revokedTokens.isAnyRevoked(revocationIds),
    ]);
    if (snapshot === null) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "unknown_tenant" } });
    if (snapshot.tenant.status !== "ACTIVE") throw new EnterpriseError("TENANT_SUSPENDED", { tenantId: claims.tid });
    assertPrincipalUsable(principal, this.#clock.now());
    // Without a millisecond issue time, iat's floor errs towards refusing a token of the revocation's second.
    if (revoked || (claims.issuedAtMs ?? claims.iat * 1000) < principal.tokensValidAfter) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "token_revoked" } });
    const tokenClaims: Record<string, string> = { amr: claims.amr.join(" "), iat: String(claims.iat) };
    if (claims.acr !== "") tokenClaims["acr"] = claims.acr;
    if (claims.idp !== "") tokenClaims["idp"] = claims.idp;
    return buildSecurityContext(snapshot, principal, { tokenId: claims.jti, tokenExpiresAt: claims.exp * 1000, claims: tokenClaims });
  }
}

/**
 * Checks that a principal may act now.
 * @throws EnterpriseError AUTHENTICATION_FAILED when absent, not ACTIVE or expired.
 */
export function assertPrincipalUsable(principal: PrincipalRecord | null, now: number): asserts principal is PrincipalRecord {
  if (principal === null) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "unknown_principal" } });
  if (principal.status !== "ACTIVE") throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "principal_inactive" } });
  if (principal.expiresAt !== null && principal.expiresAt <= now) {
    throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "principal_expired" } });
  }
}

/** Builds the security context of a principal from the tenant's current role graph. */
export function buildSecurityContext(
  snapshot: TenantSnapshot,
  principal: PrincipalRecord,
  token: { tokenId: string; tokenExpiresAt: number; claims: Record<string, string> },
): SecurityContext {
  const roles = effectiveRoleBindings(principal, snapshot.roles);
  const permissions = new Set<string>(principal.permissions);
  for (const permission of snapshot.roles.effectivePermissions(roles)) permissions.add(permission);
  return {
    principalId: principal.principalId,
    tenantId: principal.tenantId,
    principalType: principal.type,
    displayName: principal.displayName,
    roles,
    permissions: [...permissions],
    clearance: principal.clearance,
    attributes: principal.attributes,
    claims: token.claims,
    tokenId: token.tokenId,
    tokenExpiresAt: token.tokenExpiresAt,
  };
}

/**
 * A principal's bound roles: those assigned in the Host, those its identity provider grants and,
 * given the tenant's role graph, those bound to any of its directory groups. Not expanded by
 * inheritance.
 */
export function effectiveRoleBindings(principal: PrincipalRecord, graph?: RoleGraph): readonly string[] {
  const fromGroups = graph === undefined || principal.groups.length === 0 ? [] : graph.rolesOfGroups(principal.groups);
  if (principal.syncedRoles.length === 0 && fromGroups.length === 0) return principal.roles;
  return [...new Set([...principal.roles, ...principal.syncedRoles, ...fromGroups])];
}
