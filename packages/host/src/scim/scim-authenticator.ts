/**
 * Who a SCIM request comes from: the production `authenticate` of the SCIM routes.
 *
 * Rules enforced:
 * - the bearer is a service-account API key (`aesp.<tenant>.<keyId>.<secret>`) or a Host access
 *   token; the tenant is the credential's, never anything the request says;
 * - the caller must hold `scim:provision` (built-in role `scim-provisioner`), else 403
 *   (AUTHORIZATION_DENIED), recorded as `rpc.rejected`;
 * - an API key's secret is checked by {@link IdentityService.exchangeApiKey} (the same throttle,
 *   lockout and `authn.failed` audit as any key exchange); only that slow hash check is cached,
 *   keyed by the SHA-256 of the bearer, for {@link ScimAuthenticatorOptions.cacheTtlMs};
 * - on every request, cached or not, the tenant's status, the key and the principal are read
 *   again from storage: suspending the tenant, revoking or expiring the key and disabling or
 *   revoking the service account take effect on the next SCIM request, on every Host;
 * - every refusal of a credential is audited as `authn.failed` and counted by the sign-in throttle
 *   (per key for API keys, per source address for anything else).
 */
import { createHash } from "node:crypto";
import { assertPrincipalUsable, buildSecurityContext, EnterpriseError, hasPermission, isErrorCode, parseApiKey } from "@aesp/core";
import type {
  AuditRecorder,
  Authenticator,
  Clock,
  IdentityService,
  PrincipalRecord,
  RequestOrigin,
  SignInThrottle,
  Store,
  TenantDirectory,
  ThrottleSubject,
} from "@aesp/core";

/** The permission a SCIM client needs. */
export const SCIM_PERMISSION = "scim:provision";

/** Tuning of {@link ScimAuthenticator}. */
export interface ScimAuthenticatorOptions {
  /** How long a verified API key's secret is trusted without hashing it again. Default 60 s. */
  readonly cacheTtlMs?: number;
  /** Most cached keys; the oldest is dropped beyond it. Default 10 000. */
  readonly maxCachedKeys?: number;
}

interface VerifiedKey {
  readonly tenantId: string;
  readonly principalId: string;
  readonly keyId: string;
  readonly until: number;
}

/** Authenticates and authorises SCIM clients (see the module comment for the rules). */
export class ScimAuthenticator {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #audit: AuditRecorder;
  readonly #tenants: TenantDirectory;
  readonly #identity: IdentityService;
  readonly #authenticator: Authenticator;
  readonly #throttle: SignInThrottle;
  readonly #ttlMs: number;
  readonly #maxCached: number;
  readonly #verified = new Map<string, VerifiedKey>();

  constructor(
    deps: { store: Store; clock: Clock; audit: AuditRecorder; tenants: TenantDirectory; identity: IdentityService; authenticator: Authenticator; throttle: SignInThrottle },
    options: ScimAuthenticatorOptions = {},
  ) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
    this.#tenants = deps.tenants;
    this.#identity = deps.identity;
    this.#authenticator = deps.authenticator;
    this.#throttle = deps.throttle;
    this.#ttlMs = options.cacheTtlMs ?? 60_000;
    this.#maxCached = options.maxCachedKeys ?? 10_000;
  }

  /**
   * The SCIM client's tenant and principal.
   * @throws EnterpriseError AUTHENTICATION_FAILED, TOKEN_EXPIRED (401), TENANT_SUSPENDED,
   *   AUTHORIZATION_DENIED (403), ACCOUNT_LOCKED (429)
   */
  async authenticate(bearer: string, origin: RequestOrigin): Promise<{ tenantId: string; principalId: string }> {
    const principal = bearer.startsWith("aesp.") ? await this.#byApiKey(bearer, origin) : await this.#byAccessToken(bearer, origin);
    await this.#authorize(principal, origin);
    return { tenantId: principal.tenantId, principalId: principal.principalId };
  }

  async #byApiKey(bearer: string, origin: RequestOrigin): Promise<PrincipalRecord> {
    const cacheKey = createHash("sha256").update(bearer).digest("base64url");
    let entry = this.#verified.get(cacheKey);
    if (entry !== undefined && entry.until <= this.#clock.now()) {
      this.#verified.delete(cacheKey);
      entry = undefined;
    }
    if (entry === undefined) {
      // Refusals here are audited and counted by the exchange itself.
      const issued = await this.#identity.exchangeApiKey(origin, bearer);
      entry = { tenantId: issued.principal.tenantId, principalId: issued.principal.principalId, keyId: parseApiKey(bearer).keyId, until: this.#clock.now() + this.#ttlMs };
      if (this.#verified.size >= this.#maxCached) {
        const oldest = this.#verified.keys().next();
        if (oldest.done !== true) this.#verified.delete(oldest.value);
      }
      this.#verified.set(cacheKey, entry);
    }
    const subject: ThrottleSubject = { tenantId: entry.tenantId, method: "api_key", account: entry.keyId, sourceIp: origin.sourceIp };
    try {
      await this.#throttle.assertNotLocked(subject);
      const principal = await this.#currentPrincipal(entry.tenantId, entry.principalId);
      const key = await this.#store.forTenant(entry.tenantId).apiKeys.get(entry.keyId);
      const now = this.#clock.now();
      if (key === null || key.principalId !== entry.principalId || (key.revokedAt !== null && key.revokedAt <= now) || (key.expiresAt !== null && key.expiresAt <= now)) {
        throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "key_revoked_or_expired" } });
      }
      return principal;
    } catch (err) {
      this.#verified.delete(cacheKey);
      await this.#refused(err, origin, "api_key", subject, entry.tenantId, entry.principalId);
      throw err;
    }
  }

  async #byAccessToken(bearer: string, origin: RequestOrigin): Promise<PrincipalRecord> {
    const subject: ThrottleSubject = { tenantId: "", method: "bearer_token", account: "", sourceIp: origin.sourceIp };
    await this.#throttle.assertNotLocked(subject);
    try {
      const ctx = await this.#authenticator.authenticate(bearer);
      return await this.#currentPrincipal(ctx.tenantId, ctx.principalId);
    } catch (err) {
      await this.#refused(err, origin, "bearer_token", subject, "", "");
      throw err;
    }
  }

  /**
   * The principal as storage has it now, in a tenant storage says is active.
   * @throws EnterpriseError AUTHENTICATION_FAILED, TENANT_SUSPENDED
   */
  async #currentPrincipal(tenantId: string, principalId: string): Promise<PrincipalRecord> {
    const tenant = await this.#store.platform.tenants.get(tenantId);
    if (tenant === null) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "unknown_tenant" } });
    if (tenant.status !== "ACTIVE") throw new EnterpriseError("TENANT_SUSPENDED", { tenantId });
    const principal = await this.#store.forTenant(tenantId).principals.get(principalId);
    assertPrincipalUsable(principal, this.#clock.now());
    return principal;
  }

  async #authorize(principal: PrincipalRecord, origin: RequestOrigin): Promise<void> {
    // The stored epoch decides whether this Host's view of the tenant's roles is current.
    const snapshot = await this.#tenants.currentSnapshot(principal.tenantId);
    const permitted = snapshot !== null && hasPermission(buildSecurityContext(snapshot, principal, { tokenId: "", tokenExpiresAt: 0, claims: {} }), SCIM_PERMISSION);
    if (permitted) return;
    await this.#audit.record({
      eventType: "rpc.rejected",
      tenantId: principal.tenantId,
      principalId: principal.principalId,
      resource: "scim",
      action: "scim",
      outcome: "FAILURE",
      origin,
      metadata: { error_code: "AUTHORIZATION_DENIED" },
    });
    throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { required_permission: SCIM_PERMISSION }, tenantId: principal.tenantId, principalId: principal.principalId });
  }

  /** Audits a refused credential and counts it toward the lockout (suspension and expiry are no guesses). */
  async #refused(err: unknown, origin: RequestOrigin, method: string, subject: ThrottleSubject, tenantId: string, principalId: string): Promise<void> {
    if (!isErrorCode(err, "AUTHENTICATION_FAILED", "TOKEN_EXPIRED", "TENANT_SUSPENDED")) return;
    await this.#audit.record({
      eventType: "authn.failed",
      tenantId,
      principalId,
      ...(principalId === "" ? {} : { resource: `principal:${principalId}` }),
      action: "scim",
      outcome: "DENIED",
      origin,
      metadata: { method, reason: err.details["reason"] ?? err.code.toLowerCase() },
    });
    if (err.code === "AUTHENTICATION_FAILED") await this.#throttle.failed(subject, origin);
  }
}
