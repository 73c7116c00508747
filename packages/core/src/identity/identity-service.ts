import { EnterpriseError, isErrorCode } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock, Hasher, IdSource, SecretHasher, Store } from "../ports.ts";
import type { ApiKeyRecord, Classification, PrincipalRecord, PrincipalType } from "../records.ts";
import { toHex, utf8 } from "../audit/encoding.ts";
import type { TenantDirectory } from "../tenancy/tenant-snapshot.ts";
import { provisionTenant } from "../tenancy/tenant-admin.ts";
import type { AccessTokens } from "./access-tokens.ts";
import { formatApiKey, parseApiKey } from "./api-keys.ts";
import { assertPrincipalUsable } from "./authenticate.ts";
import { hasPermission, requirePermission } from "./require-permission.ts";
import type { RequestOrigin, SecurityContext } from "./security-context.ts";

/** Identity limits, from the `identity` config section. */
export interface IdentityOptions {
  /** The tenant that holds platform administrators. */
  readonly platformTenantId: string;
  readonly accessTokenTtlSeconds: number;
}

/** A token handed to a caller after authentication. */
export interface IssuedToken {
  readonly accessToken: string;
  readonly expiresAt: number;
  readonly principal: PrincipalRecord;
}

const classificationLevels: readonly Classification[] = ["public", "internal", "confidential", "restricted"];

/**
 * Principals, their credentials and the bootstrap of the first administrator.
 *
 * Rules enforced:
 * - the bootstrap token is printed once, stored only as a hash, and redeemable once;
 * - API keys are stored only as slow hashes and shown once; expired or revoked keys fail;
 * - a service account never receives a role or permission its creator does not hold;
 * - every authentication, success or failure, is audited with a reason code, never the secret;
 * - access tokens are short-lived; rights are re-read from the principal on every call.
 */
export class IdentityService {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #hasher: Hasher;
  readonly #secrets: SecretHasher;
  readonly #tokens: AccessTokens;
  readonly #audit: AuditRecorder;
  readonly #tenants: TenantDirectory;
  readonly #options: IdentityOptions;

  constructor(deps: {
    store: Store;
    clock: Clock;
    ids: IdSource;
    hasher: Hasher;
    secrets: SecretHasher;
    tokens: AccessTokens;
    audit: AuditRecorder;
    tenants: TenantDirectory;
    options: IdentityOptions;
  }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#ids = deps.ids;
    this.#hasher = deps.hasher;
    this.#secrets = deps.secrets;
    this.#tokens = deps.tokens;
    this.#audit = deps.audit;
    this.#tenants = deps.tenants;
    this.#options = deps.options;
  }

  /**
   * On first start: creates the platform tenant and a one-time bootstrap token.
   * @returns the token to print, or null when the Host was bootstrapped before.
   */
  async initialize(): Promise<string | null> {
    const now = this.#clock.now();
    if ((await this.#store.platform.tenants.get(this.#options.platformTenantId)) === null) {
      await provisionTenant(this.#store, { tenantId: this.#options.platformTenantId, displayName: "Platform", now });
    }
    if ((await this.#store.platform.bootstrap.get()) !== null) return null;
    const token = `aespbt.${this.#ids.newSecret(32)}`;
    const created = await this.#store.platform.bootstrap.init({ tokenHash: this.#digest(token), createdAt: now, consumedAt: null, consumedBy: null });
    return created ? token : null;
  }

  /**
   * Redeems the bootstrap token: creates the first administrator and its API key.
   * @throws EnterpriseError AUTHENTICATION_FAILED when the token is wrong or already used.
   */
  async redeemBootstrap(origin: RequestOrigin, token: string, displayName: string): Promise<{ principal: PrincipalRecord; apiKey: string }> {
    const tenantId = this.#options.platformTenantId;
    const principalId = this.#ids.newId("usr");
    const consumed = await this.#store.platform.bootstrap.consume(this.#digest(token), this.#clock.now(), principalId);
    if (!consumed) {
      await this.#audit.record({ eventType: "authn.failed", tenantId: "", outcome: "DENIED", origin, action: "bootstrap", metadata: { method: "bootstrap_token", reason: "invalid_or_used" } });
      throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "invalid_or_used_bootstrap_token" } });
    }
    const principal = this.#newPrincipal(tenantId, principalId, "USER", {
      displayName: displayName.trim() === "" ? "Administrator" : displayName.trim().slice(0, 128),
      description: "Bootstrap administrator",
      roles: ["tenant-admin", "platform-admin"],
      permissions: [],
      clearance: "restricted",
      createdBy: "bootstrap",
      expiresAt: null,
    });
    await this.#store.forTenant(tenantId).principals.create(principal);
    const apiKey = await this.#createApiKey(principal, null);
    await this.#audit.record({
      eventType: "bootstrap.redeemed",
      tenantId,
      principalId,
      resource: `principal:${principalId}`,
      action: "bootstrap",
      outcome: "SUCCESS",
      origin,
    });
    return { principal, apiKey };
  }

  /**
   * Creates the first administrator of a new tenant (called by the Tenant Manager right after
   * provisioning), so the platform administrator never holds rights inside the tenant.
   */
  async createTenantAdministrator(tenantId: string, createdBy: string, origin: RequestOrigin): Promise<{ principal: PrincipalRecord; apiKey: string }> {
    const principal = this.#newPrincipal(tenantId, this.#ids.newId("usr"), "USER", {
      displayName: "Tenant administrator",
      description: `First administrator of ${tenantId}`,
      roles: ["tenant-admin"],
      permissions: [],
      clearance: "restricted",
      createdBy,
      expiresAt: null,
    });
    await this.#store.forTenant(tenantId).principals.create(principal);
    const apiKey = await this.#createApiKey(principal, null);
    await this.#audit.record({
      eventType: "principal.created",
      tenantId,
      principalId: createdBy,
      resource: `principal:${principal.principalId}`,
      action: "create_tenant_administrator",
      outcome: "SUCCESS",
      origin,
      metadata: { roles: principal.roles.join(",") },
    });
    return { principal, apiKey };
  }

  /**
   * Creates a service account with an API key (shown once).
   * @throws EnterpriseError AUTHORIZATION_DENIED (including roles beyond the creator's), INVALID_ARGUMENT
   */
  async createServiceAccount(
    ctx: SecurityContext,
    origin: RequestOrigin,
    input: { name: string; description: string; roles: readonly string[]; permissions: readonly string[]; expiresAt: number; clearance: string },
  ): Promise<{ principal: PrincipalRecord; apiKey: string }> {
    requirePermission(ctx, "principals:create");
    const name = input.name.trim();
    if (name === "" || name.length > 128) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "name" } });
    const snapshot = await this.#tenants.activeSnapshot(ctx.tenantId);
    for (const role of input.roles) {
      if (!snapshot.roles.has(role)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "roles", unknown_role: role.slice(0, 64) } });
      // Every permission the role would grant must already be the creator's.
      for (const permission of snapshot.roles.effectivePermissions([role])) {
        if (!hasPermission(ctx, permission)) throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { reason: "role_beyond_creator", role } });
      }
      if (role === "platform-admin" && !ctx.roles.includes("platform-admin")) {
        throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { reason: "role_beyond_creator", role } });
      }
    }
    for (const permission of input.permissions) {
      if (!hasPermission(ctx, permission)) throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { reason: "permission_beyond_creator", permission } });
    }
    const clearance = (input.clearance === "" ? "internal" : input.clearance) as Classification;
    if (!classificationLevels.includes(clearance)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "clearance" } });
    if (classificationLevels.indexOf(clearance) > classificationLevels.indexOf(ctx.clearance)) {
      throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { reason: "clearance_beyond_creator" } });
    }
    const now = this.#clock.now();
    if (input.expiresAt !== 0 && input.expiresAt <= now) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "expires_at" } });
    const principal = this.#newPrincipal(ctx.tenantId, this.#ids.newId("sa"), "SERVICE_ACCOUNT", {
      displayName: name,
      description: input.description.slice(0, 1000),
      roles: [...new Set(input.roles)],
      permissions: [...new Set(input.permissions)],
      clearance,
      createdBy: ctx.principalId,
      expiresAt: input.expiresAt === 0 ? null : input.expiresAt,
    });
    await this.#store.forTenant(ctx.tenantId).principals.create(principal);
    const apiKey = await this.#createApiKey(principal, principal.expiresAt);
    await this.#audit.record({
      eventType: "service_account.created",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `principal:${principal.principalId}`,
      action: "create",
      outcome: "SUCCESS",
      origin,
      metadata: { roles: principal.roles.join(","), clearance },
    });
    return { principal, apiKey };
  }

  /**
   * Exchanges an API key for a short-lived access token.
   * @throws EnterpriseError AUTHENTICATION_FAILED (one answer for every failure reason), TENANT_SUSPENDED
   */
  async exchangeApiKey(origin: RequestOrigin, apiKey: string): Promise<IssuedToken> {
    let tenantForAudit = "";
    let principalForAudit = "";
    try {
      const parsed = parseApiKey(apiKey);
      const snapshot = await this.#tenants.snapshot(parsed.tenantId);
      const key = snapshot === null ? null : await this.#store.forTenant(parsed.tenantId).apiKeys.get(parsed.keyId);
      const now = this.#clock.now();
      // Always hash, and answer alike for an unknown tenant, key or secret, so neither timing nor
      // the reason reveals which tenants or key ids exist.
      const matches = await this.#secrets.verify(parsed.secret, key?.secretHash ?? unknownKeyHash);
      if (snapshot === null || key === null || !matches) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "invalid_key" } });
      tenantForAudit = parsed.tenantId;
      if (snapshot.tenant.status !== "ACTIVE") throw new EnterpriseError("TENANT_SUSPENDED", { tenantId: parsed.tenantId });
      const stores = this.#store.forTenant(parsed.tenantId);
      principalForAudit = key.principalId;
      if (key.revokedAt !== null || (key.expiresAt !== null && key.expiresAt <= now)) {
        throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "key_revoked_or_expired" } });
      }
      const principal = await stores.principals.get(key.principalId);
      assertPrincipalUsable(principal, now);
      const issued = await this.#tokens.issue({
        principalId: principal.principalId,
        tenantId: principal.tenantId,
        principalType: principal.type,
        ttlSeconds: this.#options.accessTokenTtlSeconds,
        amr: ["pwd"],
      });
      await this.#audit.record({
        eventType: "authn.succeeded",
        tenantId: principal.tenantId,
        principalId: principal.principalId,
        resource: `principal:${principal.principalId}`,
        action: "authenticate",
        outcome: "SUCCESS",
        origin,
        metadata: { method: "api_key", key_id: key.keyId, token_id: issued.jti },
      });
      return { accessToken: issued.token, expiresAt: issued.expiresAt, principal };
    } catch (err) {
      if (!isErrorCode(err, "AUTHENTICATION_FAILED", "TENANT_SUSPENDED")) throw err;
      await this.#audit.record({
        eventType: "authn.failed",
        tenantId: tenantForAudit,
        principalId: principalForAudit,
        action: "authenticate",
        outcome: "DENIED",
        origin,
        metadata: { method: "api_key", reason: err.details["reason"] ?? err.code.toLowerCase() },
      });
      throw err;
    }
  }

  /** Lists principals of the caller's tenant. */
  async listPrincipals(ctx: SecurityContext, filter: { type?: PrincipalType; includeInactive?: boolean; limit: number; cursor?: string }): Promise<PrincipalRecord[]> {
    requirePermission(ctx, "principals:read");
    return this.#store.forTenant(ctx.tenantId).principals.list({ ...filter, limit: Math.min(Math.max(filter.limit, 1), 500) });
  }

  /**
   * Reads a principal of the caller's tenant.
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND
   */
  async getPrincipal(ctx: SecurityContext, principalId: string): Promise<PrincipalRecord> {
    if (principalId !== ctx.principalId) requirePermission(ctx, "principals:read");
    const principal = await this.#store.forTenant(ctx.tenantId).principals.get(principalId);
    if (principal === null) throw new EnterpriseError("NOT_FOUND", { details: { principal_id: principalId } });
    return principal;
  }

  /**
   * Revokes a service account: its keys stop working and its tokens fail on the next call.
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND, CONFLICT
   */
  async revokeServiceAccount(ctx: SecurityContext, origin: RequestOrigin, principalId: string, reason: string): Promise<{ revokedKeys: number }> {
    requirePermission(ctx, "principals:revoke");
    const stores = this.#store.forTenant(ctx.tenantId);
    const principal = await stores.principals.get(principalId);
    if (principal === null || principal.type !== "SERVICE_ACCOUNT") throw new EnterpriseError("NOT_FOUND", { details: { principal_id: principalId } });
    const now = this.#clock.now();
    const revokedKeys = await this.#store.transaction(async (tx) => {
      const txStores = tx.forTenant(ctx.tenantId);
      await txStores.principals.update({ ...principal, status: "REVOKED", revision: principal.revision + 1 }, principal.revision);
      return txStores.apiKeys.revokeForPrincipal(principalId, now);
    });
    this.#tenants.forgetPrincipal(ctx.tenantId, principalId);
    await this.#audit.record({
      eventType: "service_account.revoked",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `principal:${principalId}`,
      action: "revoke",
      outcome: "SUCCESS",
      origin,
      metadata: { reason: reason.slice(0, 256) },
    });
    return { revokedKeys };
  }

  #digest(token: string): string {
    return toHex(this.#hasher.sha256(utf8(token)));
  }

  #newPrincipal(
    tenantId: string,
    principalId: string,
    type: PrincipalType,
    fields: Pick<PrincipalRecord, "displayName" | "description" | "roles" | "permissions" | "clearance" | "createdBy" | "expiresAt">,
  ): PrincipalRecord {
    return { tenantId, principalId, type, status: "ACTIVE", attributes: {}, createdAt: this.#clock.now(), revision: 0, ...fields };
  }

  async #createApiKey(principal: PrincipalRecord, expiresAt: number | null): Promise<string> {
    const keyId = this.#ids.newId("key");
    const secret = this.#ids.newSecret(32);
    const record: ApiKeyRecord = {
      tenantId: principal.tenantId,
      keyId,
      principalId: principal.principalId,
      secretHash: await this.#secrets.hash(secret),
      createdAt: this.#clock.now(),
      expiresAt,
      revokedAt: null,
    };
    await this.#store.forTenant(principal.tenantId).apiKeys.create(record);
    return formatApiKey(principal.tenantId, keyId, secret);
  }
}

/** A well-formed hash that matches no secret, verified against when a key id is unknown. */
const unknownKeyHash = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
