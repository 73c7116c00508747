import { EnterpriseError } from "../errors.ts";
import type { Clock } from "../ports.ts";
import type { PrincipalRecord } from "../records.ts";
import type { TenantDirectory, TenantSnapshot } from "../tenancy/tenant-snapshot.ts";
import type { AccessTokens } from "./access-tokens.ts";
import type { SecurityContext } from "./security-context.ts";

/**
 * Turns a bearer token into a {@link SecurityContext}.
 *
 * Rules enforced:
 * - the token verifies (signature, issuer, audience, expiry) — else AUTHENTICATION_FAILED / TOKEN_EXPIRED;
 * - its tenant exists and is ACTIVE — a missing tenant looks like a bad token, a suspended one is TENANT_SUSPENDED;
 * - its principal exists, is ACTIVE and not expired — revocation takes effect on the next call;
 * - rights come from the principal's *current* roles, not from the token.
 */
export class Authenticator {
  readonly #tokens: AccessTokens;
  readonly #tenants: TenantDirectory;
  readonly #clock: Clock;

  constructor(deps: { tokens: AccessTokens; tenants: TenantDirectory; clock: Clock }) {
    this.#tokens = deps.tokens;
    this.#tenants = deps.tenants;
    this.#clock = deps.clock;
  }

  /**
   * Authenticates a bearer token.
   * @throws EnterpriseError AUTHENTICATION_FAILED, TOKEN_EXPIRED, TENANT_SUSPENDED
   */
  async authenticate(bearerToken: string): Promise<SecurityContext> {
    const claims = await this.#tokens.verify(bearerToken);
    const snapshot = await this.#tenants.snapshot(claims.tid);
    if (snapshot === null) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "unknown_tenant" } });
    if (snapshot.tenant.status !== "ACTIVE") throw new EnterpriseError("TENANT_SUSPENDED", { tenantId: claims.tid });
    const principal = await this.#tenants.principal(claims.tid, claims.sub);
    assertPrincipalUsable(principal, this.#clock.now());
    return buildSecurityContext(snapshot, principal, {
      tokenId: claims.jti,
      tokenExpiresAt: claims.exp * 1000,
      claims: { amr: claims.amr.join(" "), iat: String(claims.iat) },
    });
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
  const permissions = new Set<string>(principal.permissions);
  for (const permission of snapshot.roles.effectivePermissions(principal.roles)) permissions.add(permission);
  return {
    principalId: principal.principalId,
    tenantId: principal.tenantId,
    principalType: principal.type,
    displayName: principal.displayName,
    roles: principal.roles,
    permissions: [...permissions],
    clearance: principal.clearance,
    attributes: principal.attributes,
    claims: token.claims,
    tokenId: token.tokenId,
    tokenExpiresAt: token.tokenExpiresAt,
  };
}
