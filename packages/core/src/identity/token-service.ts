import { EnterpriseError, isErrorCode } from "../errors.ts";
import { revocationCutoff, updatePrincipal } from "./principal-updates.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock, Hasher, IdSource, Store } from "../ports.ts";
import type { PrincipalRecord, RefreshTokenRecord } from "../records.ts";
import { constantTimeEqual, toHex, utf8 } from "../audit/encoding.ts";
import { familyRevocationId } from "./access-tokens.ts";
import type { AccessTokens } from "./access-tokens.ts";
import { assertPrincipalUsable } from "./authenticate.ts";
import type { RequestOrigin } from "./security-context.ts";

/** Token lifetimes, from the `identity` config section. */
export interface TokenOptions {
  readonly accessTokenTtlSeconds: number;
  /** Absolute lifetime of a refresh-token family (one sign-in); rotation never extends it. */
  readonly refreshTokenTtlSeconds: number;
}

/** Tokens handed to a caller after a sign-in or a refresh. */
export interface IssuedTokens {
  readonly accessToken: string;
  readonly tokenId: string;
  /** Epoch ms. */
  readonly expiresAt: number;
  /** "" when no refresh token was issued (service accounts re-present their credential instead). */
  readonly refreshToken: string;
  readonly principal: PrincipalRecord;
}

/** How a principal signed in: carried into its access tokens and audit. */
export interface SignInEvidence {
  /** RFC 8176 methods, e.g. ["pwd"], ["pwd", "mfa"]. */
  readonly amr: readonly string[];
  readonly acr: string;
  /** The identity provider, "" for Host credentials. */
  readonly providerId: string;
  /** Audit method name (`api_key`, `oidc`, `ldap`, …). */
  readonly method: string;
}

const refreshTokenPattern = /^aesprt\.([a-z0-9][a-z0-9-]{0,62})\.(rt_[A-Za-z0-9_-]{8,64})\.([A-Za-z0-9_-]{32,128})$/;

/**
 * Issues, rotates and revokes the Host's tokens.
 *
 * Rules enforced:
 * - access tokens are short-lived EdDSA JWTs; refresh tokens are opaque, stored only as hashes,
 *   single-use, and rotate on every use within a family whose absolute lifetime never grows;
 * - a refresh token presented twice revokes its whole family and is audited as a security event;
 * - a revoked access token (by id, or all of a principal's via `tokensValidAfter`) fails on the
 *   next call on every Host, because {@link Authenticator} checks storage on each call;
 * - refreshing re-checks the principal: a disabled or deprovisioned principal gets nothing.
 */
export class TokenService {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #hasher: Hasher;
  readonly #tokens: AccessTokens;
  readonly #audit: AuditRecorder;
  readonly #options: TokenOptions;

  constructor(deps: { store: Store; clock: Clock; ids: IdSource; hasher: Hasher; tokens: AccessTokens; audit: AuditRecorder; options: TokenOptions }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#ids = deps.ids;
    this.#hasher = deps.hasher;
    this.#tokens = deps.tokens;
    this.#audit = deps.audit;
    this.#options = deps.options;
  }

  /**
   * Issues an access token, and a new refresh-token family when `withRefresh`, after a successful
   * sign-in, and records `authn.succeeded`.
   */
  async issue(principal: PrincipalRecord, evidence: SignInEvidence, origin: RequestOrigin, withRefresh: boolean, auditMetadata: Record<string, string> = {}): Promise<IssuedTokens> {
    const now = this.#clock.now();
    const familyId = withRefresh ? this.#ids.newId("rtf") : undefined;
    const access = await this.#tokens.issue({
      principalId: principal.principalId,
      tenantId: principal.tenantId,
      principalType: principal.type,
      ttlSeconds: this.#options.accessTokenTtlSeconds,
      amr: evidence.amr,
      acr: evidence.acr,
      idp: evidence.providerId,
      ...(familyId === undefined ? {} : { family: familyId }),
    });
    let refreshToken = "";
    if (familyId !== undefined) {
      refreshToken = await this.#newRefreshToken(principal, { familyId, amr: [...evidence.amr], acr: evidence.acr, expiresAt: now + this.#options.refreshTokenTtlSeconds * 1000 });
    }
    await this.#audit.record({
      eventType: "authn.succeeded",
      tenantId: principal.tenantId,
      principalId: principal.principalId,
      resource: `principal:${principal.principalId}`,
      action: "authenticate",
      outcome: "SUCCESS",
      origin,
      metadata: { method: evidence.method, token_id: access.jti, ...(evidence.providerId === "" ? {} : { provider_id: evidence.providerId }), ...auditMetadata },
    });
    return { accessToken: access.token, tokenId: access.jti, expiresAt: access.expiresAt, refreshToken, principal };
  }

  /**
   * Exchanges a refresh token for a new access token and the next refresh token of its family.
   * @throws EnterpriseError AUTHENTICATION_FAILED (unknown, expired, revoked or reused token; inactive principal), TENANT_SUSPENDED
   */
  async refresh(origin: RequestOrigin, presented: string): Promise<IssuedTokens> {
    const match = refreshTokenPattern.exec(presented);
    if (match === null) return this.#refuseRefresh(origin, "", "", "malformed");
    const [, tenantId = "", tokenId = "", secret = ""] = match;
    const tenant = await this.#store.platform.tenants.get(tenantId);
    const stores = this.#store.forTenant(tenantId);
    const record = tenant === null ? null : await stores.refreshTokens.get(tokenId);
    if (record === null || !this.#sameSecret(record.secretHash, secret)) return this.#refuseRefresh(origin, "", "", "invalid_refresh_token");
    const now = this.#clock.now();
    if (record.revokedAt !== null) return this.#refuseRefresh(origin, tenantId, record.principalId, "refresh_token_revoked");
    if (record.usedAt !== null || !(await stores.refreshTokens.markUsed(tokenId, now))) {
      // Someone already used this token: either the legitimate client or a thief has a copy. The
      // whole sign-in ends: its refresh tokens and every access token issued from it.
      const revoked = await stores.refreshTokens.revokeFamily(record.familyId, now);
      await this.#revokeFamilyAccessTokens(tenantId, record.principalId, record.familyId, "refresh token reused");
      await this.#audit.record({
        eventType: "token.reuse_detected",
        tenantId,
        principalId: record.principalId,
        resource: `principal:${record.principalId}`,
        action: "refresh",
        outcome: "DENIED",
        origin,
        metadata: { family_id: record.familyId, revoked_count: String(revoked) },
      });
      throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "refresh_token_reused" } });
    }
    if (record.expiresAt <= now) return this.#refuseRefresh(origin, tenantId, record.principalId, "refresh_token_expired");
    if (tenant?.status !== "ACTIVE") throw new EnterpriseError("TENANT_SUSPENDED", { tenantId });
    const principal = await stores.principals.get(record.principalId);
    try {
      assertPrincipalUsable(principal, now);
      if (record.createdAt < principal.tokensValidAfter) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "token_revoked" } });
    } catch (err) {
      if (isErrorCode(err, "AUTHENTICATION_FAILED")) await stores.refreshTokens.revokeFamily(record.familyId, now);
      throw err;
    }
    const access = await this.#tokens.issue({
      principalId: principal.principalId,
      tenantId,
      principalType: principal.type,
      ttlSeconds: this.#options.accessTokenTtlSeconds,
      amr: record.amr,
      acr: record.acr,
      idp: principal.providerId,
      family: record.familyId,
    });
    const refreshToken = await this.#newRefreshToken(principal, { familyId: record.familyId, amr: record.amr, acr: record.acr, expiresAt: record.expiresAt });
    await this.#audit.record({
      eventType: "token.refreshed",
      tenantId,
      principalId: principal.principalId,
      resource: `principal:${principal.principalId}`,
      action: "refresh",
      outcome: "SUCCESS",
      origin,
      metadata: { family_id: record.familyId, token_id: access.jti },
    });
    return { accessToken: access.token, tokenId: access.jti, expiresAt: access.expiresAt, refreshToken, principal };
  }

  /**
   * Revokes a refresh token and its whole family. Unknown or already-revoked tokens return false
   * (RFC 7009 semantics); `mayRevoke` decides whether the caller may revoke the owner's tokens.
   */
  async revokeRefreshToken(
    origin: RequestOrigin,
    presented: string,
    reason: string,
    actorPrincipalId: string,
    mayRevoke: (ownerPrincipalId: string) => boolean = () => true,
  ): Promise<{ revoked: boolean; tenantId: string; principalId: string }> {
    const match = refreshTokenPattern.exec(presented);
    if (match === null) return { revoked: false, tenantId: "", principalId: "" };
    const [, tenantId = "", tokenId = "", secret = ""] = match;
    const stores = this.#store.forTenant(tenantId);
    const record = (await this.#store.platform.tenants.get(tenantId)) === null ? null : await stores.refreshTokens.get(tokenId);
    if (record === null || !this.#sameSecret(record.secretHash, secret)) return { revoked: false, tenantId: "", principalId: "" };
    if (!mayRevoke(record.principalId)) throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { required_permission: "tokens:revoke" } });
    const count = await stores.refreshTokens.revokeFamily(record.familyId, this.#clock.now());
    // Ending a sign-in (logout) ends the access tokens it issued too, not only its refresh tokens.
    await this.#revokeFamilyAccessTokens(tenantId, record.principalId, record.familyId, reason);
    if (count > 0) {
      await this.#auditRevocation(origin, tenantId, record.principalId, actorPrincipalId, "refresh_token", record.familyId, reason);
    }
    return { revoked: count > 0, tenantId, principalId: record.principalId };
  }

  /** Revokes one access token until its expiry; false when it was already revoked. */
  async revokeAccessToken(origin: RequestOrigin, claims: { tenantId: string; principalId: string; tokenId: string; expiresAt: number }, reason: string, actorPrincipalId: string): Promise<boolean> {
    const revoked = await this.#store.forTenant(claims.tenantId).revokedTokens.revoke({
      tenantId: claims.tenantId,
      tokenId: claims.tokenId,
      principalId: claims.principalId,
      expiresAt: claims.expiresAt,
      revokedAt: this.#clock.now(),
      reason: reason.slice(0, 256),
    });
    if (revoked) await this.#auditRevocation(origin, claims.tenantId, claims.principalId, actorPrincipalId, "access_token", claims.tokenId, reason);
    return revoked;
  }

  /**
   * Ends every token of a principal at once: access tokens issued so far stop verifying and
   * every refresh-token family is revoked.
   * @returns how many refresh tokens were revoked.
   */
  async revokeAllForPrincipal(origin: RequestOrigin, tenantId: string, principalId: string, reason: string, actorPrincipalId: string): Promise<number> {
    const stores = this.#store.forTenant(tenantId);
    const cutoff = revocationCutoff(this.#clock.now());
    const exists = await updatePrincipal(stores.principals, principalId, (current) => (current.tokensValidAfter < cutoff ? { ...current, tokensValidAfter: cutoff } : null));
    if (!exists) return 0;
    const count = await stores.refreshTokens.revokeForPrincipal(principalId, this.#clock.now());
    await this.#auditRevocation(origin, tenantId, principalId, actorPrincipalId, "all", "", reason);
    return count;
  }

  /**
   * Marks the access tokens of a refresh-token family as revoked until the longest an access token
   * can live: they carry the family id (`fam`), checked on every call with their own id.
   */
  async #revokeFamilyAccessTokens(tenantId: string, principalId: string, familyId: string, reason: string): Promise<void> {
    const now = this.#clock.now();
    await this.#store.forTenant(tenantId).revokedTokens.revoke({
      tenantId,
      tokenId: familyRevocationId(familyId),
      principalId,
      expiresAt: now + this.#options.accessTokenTtlSeconds * 1000,
      revokedAt: now,
      reason: reason.slice(0, 256),
    });
  }

  async #newRefreshToken(principal: PrincipalRecord, family: { familyId: string; amr: string[]; acr: string; expiresAt: number }): Promise<string> {
    const tokenId = this.#ids.newId("rt");
    const secret = this.#ids.newSecret(32);
    const record: RefreshTokenRecord = {
      tenantId: principal.tenantId,
      tokenId,
      familyId: family.familyId,
      principalId: principal.principalId,
      secretHash: this.#digest(secret),
      amr: family.amr,
      acr: family.acr,
      createdAt: this.#clock.now(),
      expiresAt: family.expiresAt,
      usedAt: null,
      revokedAt: null,
    };
    await this.#store.forTenant(principal.tenantId).refreshTokens.create(record);
    return `aesprt.${principal.tenantId}.${tokenId}.${secret}`;
  }

  async #refuseRefresh(origin: RequestOrigin, tenantId: string, principalId: string, reason: string): Promise<never> {
    await this.#audit.record({
      eventType: "authn.failed",
      tenantId,
      principalId,
      action: "refresh",
      outcome: "DENIED",
      origin,
      metadata: { method: "refresh_token", reason },
    });
    throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason } });
  }

  async #auditRevocation(origin: RequestOrigin, tenantId: string, principalId: string, actor: string, kind: string, tokenId: string, reason: string): Promise<void> {
    await this.#audit.record({
      eventType: "token.revoked",
      tenantId,
      principalId: actor,
      resource: `principal:${principalId}`,
      action: "revoke",
      outcome: "SUCCESS",
      origin,
      metadata: { kind, ...(tokenId === "" ? {} : { token_id: tokenId }), reason: reason.slice(0, 256) },
    });
  }

  #digest(secret: string): string {
    return toHex(this.#hasher.sha256(utf8(secret)));
  }

  #sameSecret(storedHash: string, secret: string): boolean {
    return constantTimeEqual(this.#digest(secret), storedHash);
  }
}
