import { EnterpriseError, isErrorCode } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock, Hasher, IdSource, SecretHasher, Store } from "../ports.ts";
import type { ApiKeyRecord, Classification, ClientCredentialRecord, PrincipalRecord, PrincipalType } from "../records.ts";
import type { PrincipalFilter } from "../ports.ts";
import { toHex, utf8 } from "../audit/encoding.ts";
import type { TenantDirectory, TenantSnapshot } from "../tenancy/tenant-snapshot.ts";
import { provisionTenant } from "../tenancy/tenant-admin.ts";
import { formatApiKey, parseApiKey } from "./api-keys.ts";
import { assertPrincipalUsable } from "./authenticate.ts";
import { revocationCutoff, updatePrincipal } from "./principal-updates.ts";
import type { SignInThrottle } from "./sign-in-throttle.ts";
import type { IssuedTokens, TokenService } from "./token-service.ts";
import { hasPermission, requirePermission } from "./require-permission.ts";
import type { RequestOrigin, SecurityContext } from "./security-context.ts";

/** Identity limits, from the `identity` config section. */
export interface IdentityOptions {
  /** The tenant that holds platform administrators. */
  readonly platformTenantId: string;
  /** Longest overlap a rotated service-account secret may keep working. */
  readonly maxSecretOverlapSeconds: number;
}

/**
 * Port: verifies a service account's signed JWT assertion (`private_key_jwt`, RFC 7523) against
 * the public keys registered for it. Returns the assertion's `jti` and expiry for replay checks.
 * @throws EnterpriseError AUTHENTICATION_FAILED (details.reason)
 */
export interface ClientAssertionVerifier {
  /** The unverified `sub` (the service account id), to find its keys; null when malformed. */
  peekSubject(assertion: string): string | null;
  verify(assertion: string, keys: readonly ClientCredentialRecord[]): Promise<{ jti: string; expiresAt: number; credentialId: string }>;
}

/** Port: inspects credential material an administrator registers. @throws EnterpriseError INVALID_ARGUMENT */
export interface CredentialInspector {
  publicKey(jwkJson: string): Promise<{ material: string; thumbprint: string }>;
  certificate(pem: string): Promise<{ material: string; thumbprint: string; notAfter: number }>;
}

/** Longest lifetime accepted for a client assertion (RFC 7523 recommends short). */
const maxAssertionLifetimeMs = 10 * 60 * 1000;

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
  readonly #tokens: TokenService;
  readonly #throttle: SignInThrottle;
  readonly #audit: AuditRecorder;
  readonly #tenants: TenantDirectory;
  readonly #options: IdentityOptions;

  constructor(deps: {
    store: Store;
    clock: Clock;
    ids: IdSource;
    hasher: Hasher;
    secrets: SecretHasher;
    tokens: TokenService;
    throttle: SignInThrottle;
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
    this.#throttle = deps.throttle;
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
    this.#assertGrantable(ctx, snapshot, input.roles);
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
   * @throws EnterpriseError AUTHENTICATION_FAILED (one answer for every failure reason), TENANT_SUSPENDED, ACCOUNT_LOCKED
   */
  async exchangeApiKey(origin: RequestOrigin, apiKey: string): Promise<IssuedTokens> {
    let parsed;
    try {
      parsed = parseApiKey(apiKey);
    } catch (err) {
      await this.#auditFailure(origin, "api_key", "", "", "malformed_api_key");
      await this.#throttle.failed({ tenantId: "", method: "api_key", account: "", sourceIp: origin.sourceIp }, origin);
      throw err;
    }
    const subject = { tenantId: parsed.tenantId, method: "api_key", account: parsed.keyId, sourceIp: origin.sourceIp };
    await this.#throttle.assertNotLocked(subject);
    let tenantForAudit = "";
    let principalForAudit = "";
    try {
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
      if ((key.revokedAt !== null && key.revokedAt <= now) || (key.expiresAt !== null && key.expiresAt <= now)) {
        throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "key_revoked_or_expired" } });
      }
      const principal = await stores.principals.get(key.principalId);
      assertPrincipalUsable(principal, now);
      await this.#throttle.succeeded(subject);
      return await this.#tokens.issue(principal, { amr: ["pwd"], acr: "", providerId: "", method: "api_key" }, origin, false, { key_id: key.keyId });
    } catch (err) {
      if (!isErrorCode(err, "AUTHENTICATION_FAILED", "TENANT_SUSPENDED")) throw err;
      await this.#auditFailure(origin, "api_key", tenantForAudit, principalForAudit, err.details["reason"] ?? err.code.toLowerCase());
      if (err.code === "AUTHENTICATION_FAILED") await this.#throttle.failed(subject, origin);
      throw err;
    }
  }

  /**
   * Authenticates a service account by a JWT it signed with a registered private key
   * (`private_key_jwt`): signature, audience and expiry are checked, and each assertion is
   * accepted once (its `jti` is remembered until it expires).
   * @throws EnterpriseError AUTHENTICATION_FAILED, TENANT_SUSPENDED, ACCOUNT_LOCKED
   */
  async authenticateClientAssertion(origin: RequestOrigin, tenantId: string, assertion: string, verifier: ClientAssertionVerifier, replay: { firstUse(key: string, expiresAt: number): Promise<boolean> }): Promise<IssuedTokens> {
    const principalId = verifier.peekSubject(assertion) ?? "";
    const subject = { tenantId, method: "client_assertion", account: principalId, sourceIp: origin.sourceIp };
    await this.#throttle.assertNotLocked(subject);
    try {
      const snapshot = tenantId === "" ? null : await this.#tenants.snapshot(tenantId);
      if (snapshot === null || principalId === "") throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "invalid_assertion" } });
      const stores = this.#store.forTenant(tenantId);
      const now = this.#clock.now();
      const keys = (await stores.clientCredentials.listForPrincipal(principalId)).filter(
        (c) => c.kind === "public_key" && (c.revokedAt === null || c.revokedAt > now) && (c.expiresAt === null || c.expiresAt > now),
      );
      if (keys.length === 0) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "invalid_assertion" } });
      const verified = await verifier.verify(assertion, keys);
      if (verified.expiresAt - now > maxAssertionLifetimeMs) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "assertion_lifetime_too_long" } });
      if (!(await replay.firstUse(`jwt-assertion:${tenantId}:${principalId}:${verified.jti}`, verified.expiresAt))) {
        throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "assertion_replayed" } });
      }
      if (snapshot.tenant.status !== "ACTIVE") throw new EnterpriseError("TENANT_SUSPENDED", { tenantId });
      const principal = await stores.principals.get(principalId);
      assertPrincipalUsable(principal, now);
      if (principal.type !== "SERVICE_ACCOUNT") throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "not_a_service_account" } });
      await this.#throttle.succeeded(subject);
      return await this.#tokens.issue(principal, { amr: ["hwk"], acr: "", providerId: "", method: "client_assertion" }, origin, false, { credential_id: verified.credentialId });
    } catch (err) {
      if (!isErrorCode(err, "AUTHENTICATION_FAILED", "TENANT_SUSPENDED")) throw err;
      await this.#auditFailure(origin, "client_assertion", tenantId, principalId, err.details["reason"] ?? err.code.toLowerCase());
      if (err.code === "AUTHENTICATION_FAILED") await this.#throttle.failed(subject, origin);
      throw err;
    }
  }

  /**
   * Authenticates the principal whose pinned certificate the caller presented in the TLS handshake
   * with the gateway (the transport proves possession of the private key).
   * @param thumbprint - SHA-256 of the presented certificate's DER, hex.
   * @throws EnterpriseError AUTHENTICATION_FAILED, TENANT_SUSPENDED
   */
  async authenticateCertificate(origin: RequestOrigin, tenantId: string, thumbprint: string): Promise<IssuedTokens> {
    try {
      const snapshot = tenantId === "" ? null : await this.#tenants.snapshot(tenantId);
      const credential = snapshot === null ? null : await this.#store.forTenant(tenantId).clientCredentials.findByThumbprint(thumbprint);
      const now = this.#clock.now();
      if (snapshot === null || credential === null || credential.kind !== "certificate") throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "unknown_certificate" } });
      if ((credential.revokedAt !== null && credential.revokedAt <= now) || (credential.expiresAt !== null && credential.expiresAt <= now)) {
        throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "certificate_revoked_or_expired" } });
      }
      if (snapshot.tenant.status !== "ACTIVE") throw new EnterpriseError("TENANT_SUSPENDED", { tenantId });
      const principal = await this.#store.forTenant(tenantId).principals.get(credential.principalId);
      assertPrincipalUsable(principal, now);
      return await this.#tokens.issue(principal, { amr: ["hwk"], acr: "", providerId: "", method: "client_certificate" }, origin, false, { credential_id: credential.credentialId });
    } catch (err) {
      if (!isErrorCode(err, "AUTHENTICATION_FAILED", "TENANT_SUSPENDED")) throw err;
      await this.#auditFailure(origin, "client_certificate", tenantId, "", err.details["reason"] ?? err.code.toLowerCase());
      throw err;
    }
  }

  /**
   * Issues a new API key for a service account; its older keys keep working for `overlapSeconds`
   * so deployments can roll over without downtime, then stop.
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND, INVALID_ARGUMENT
   */
  async rotateServiceAccountSecret(ctx: SecurityContext, origin: RequestOrigin, principalId: string, overlapSeconds: number): Promise<{ apiKey: string; oldKeysExpireAt: number; expiresAt: number | null }> {
    requirePermission(ctx, "principals:revoke");
    if (!Number.isInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > this.#options.maxSecretOverlapSeconds) {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "overlap_seconds", max: String(this.#options.maxSecretOverlapSeconds) } });
    }
    const principal = await this.#activeServiceAccount(ctx, principalId);
    const now = this.#clock.now();
    const oldKeysExpireAt = now + overlapSeconds * 1000;
    // Scheduling the old keys' revocation first means a crash between the two steps leaves the
    // account with its old keys for the overlap, never with two unbounded keys.
    await this.#store.forTenant(ctx.tenantId).apiKeys.revokeForPrincipal(principalId, oldKeysExpireAt);
    const apiKey = await this.#createApiKey(principal, principal.expiresAt);
    await this.#audit.record({
      eventType: "service_account.secret_rotated",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `principal:${principalId}`,
      action: "rotate_secret",
      outcome: "SUCCESS",
      origin,
      metadata: { key_id: parseApiKey(apiKey).keyId, old_keys_expire_at: String(oldKeysExpireAt) },
    });
    return { apiKey, oldKeysExpireAt, expiresAt: principal.expiresAt };
  }

  /**
   * Registers a public key (for `private_key_jwt`) or a client certificate (for mutual TLS) for a
   * service account. Only public material is stored.
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND, INVALID_ARGUMENT, ALREADY_EXISTS (certificate already registered)
   */
  async registerClientCredential(
    ctx: SecurityContext,
    origin: RequestOrigin,
    input: { principalId: string; kind: "public_key" | "certificate"; material: string; expiresAt: number },
    inspector: CredentialInspector,
  ): Promise<ClientCredentialRecord> {
    requirePermission(ctx, "principals:create");
    await this.#activeServiceAccount(ctx, input.principalId);
    const now = this.#clock.now();
    const inspected = input.kind === "public_key" ? { ...(await inspector.publicKey(input.material)), notAfter: 0 } : await inspector.certificate(input.material);
    let expiresAt = input.expiresAt === 0 ? null : input.expiresAt;
    if (inspected.notAfter !== 0) expiresAt = Math.min(expiresAt ?? inspected.notAfter, inspected.notAfter);
    if (expiresAt !== null && expiresAt <= now) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "expires_at", reason: "already expired" } });
    const record: ClientCredentialRecord = {
      tenantId: ctx.tenantId,
      credentialId: this.#ids.newId("cred"),
      principalId: input.principalId,
      kind: input.kind,
      material: inspected.material,
      thumbprint: inspected.thumbprint,
      createdAt: now,
      expiresAt,
      revokedAt: null,
    };
    await this.#store.forTenant(ctx.tenantId).clientCredentials.create(record);
    await this.#audit.record({
      eventType: "service_account.credential_registered",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `principal:${input.principalId}`,
      action: "register_credential",
      outcome: "SUCCESS",
      origin,
      metadata: { credential_id: record.credentialId, kind: record.kind, thumbprint_id: record.thumbprint },
    });
    return record;
  }

  /**
   * Adds and removes roles a principal holds directly; effective on its next call on every Host.
   *
   * Rules enforced: the caller needs `roles:assign`; a role can be granted only when every
   * permission it carries is the caller's own (no escalation), `platform-admin` only by a platform
   * administrator; a caller cannot remove their own `tenant-admin` (no accidental lock-out).
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND, INVALID_ARGUMENT, CONFLICT
   */
  async updatePrincipalRoles(ctx: SecurityContext, origin: RequestOrigin, input: { principalId: string; add: readonly string[]; remove: readonly string[]; justification: string }): Promise<PrincipalRecord> {
    requirePermission(ctx, "roles:assign");
    if (input.add.length + input.remove.length === 0) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "roles_to_add", reason: "nothing to change" } });
    if (input.add.length + input.remove.length > 64) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "roles_to_add", reason: "at most 64 changes" } });
    const snapshot = await this.#tenants.activeSnapshot(ctx.tenantId);
    this.#assertGrantable(ctx, snapshot, input.add);
    // Taking a role away is as strong as giving it: only a caller holding everything it grants may.
    this.#assertGrantable(ctx, snapshot, input.remove.filter((role) => snapshot.roles.has(role)));
    if (input.principalId === ctx.principalId && input.remove.includes("tenant-admin")) {
      throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { reason: "cannot_remove_own_admin_role" } });
    }
    let updated: PrincipalRecord | null = null;
    const found = await updatePrincipal(this.#store.forTenant(ctx.tenantId).principals, input.principalId, (current) => {
      const roles = new Set(current.roles);
      for (const role of input.add) roles.add(role);
      for (const role of input.remove) roles.delete(role);
      updated = { ...current, roles: [...roles].sort(), revision: current.revision + 1 };
      return updated;
    });
    if (!found || updated === null) throw new EnterpriseError("NOT_FOUND", { details: { principal_id: input.principalId.slice(0, 64) } });
    this.#tenants.forgetPrincipal(ctx.tenantId, input.principalId);
    // Other Hosts cache principals briefly; the epoch makes them drop the cache on their next call.
    await this.#tenants.refresh(ctx.tenantId);
    await this.#audit.record({
      eventType: "principal.roles_updated",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `principal:${input.principalId}`,
      action: "update_roles",
      outcome: "SUCCESS",
      origin,
      metadata: { added: input.add.join(","), removed: input.remove.join(","), justification: input.justification.slice(0, 256) },
    });
    return updated;
  }

  /** Lists principals of the caller's tenant. */
  async listPrincipals(ctx: SecurityContext, filter: PrincipalFilter): Promise<PrincipalRecord[]> {
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
      await txStores.principals.update({ ...principal, status: "REVOKED", tokensValidAfter: revocationCutoff(now), revision: principal.revision + 1 }, principal.revision);
      await txStores.clientCredentials.revokeForPrincipal(principalId, now);
      await txStores.refreshTokens.revokeForPrincipal(principalId, now);
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

  async #activeServiceAccount(ctx: SecurityContext, principalId: string): Promise<PrincipalRecord> {
    const principal = await this.#store.forTenant(ctx.tenantId).principals.get(principalId);
    if (principal === null || principal.type !== "SERVICE_ACCOUNT") throw new EnterpriseError("NOT_FOUND", { details: { principal_id: principalId.slice(0, 64) } });
    if (principal.status !== "ACTIVE") throw new EnterpriseError("INVALID_STATE_TRANSITION", { details: { reason: "service_account_not_active" } });
    return principal;
  }

  #assertGrantable(ctx: SecurityContext, snapshot: TenantSnapshot, roles: readonly string[]): void {
    for (const role of roles) {
      if (!snapshot.roles.has(role)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "roles", unknown_role: role.slice(0, 64) } });
      // Every permission the role would grant must already be the caller's.
      for (const permission of snapshot.roles.effectivePermissions([role])) {
        if (!hasPermission(ctx, permission)) throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { reason: "role_beyond_creator", role } });
      }
      if (role === "platform-admin" && !ctx.roles.includes("platform-admin")) {
        throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { reason: "role_beyond_creator", role } });
      }
    }
  }

  async #auditFailure(origin: RequestOrigin, method: string, tenantId: string, principalId: string, reason: string): Promise<void> {
    await this.#audit.record({ eventType: "authn.failed", tenantId, principalId, action: "authenticate", outcome: "DENIED", origin, metadata: { method, reason } });
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
    return {
      tenantId,
      principalId,
      type,
      status: "ACTIVE",
      attributes: {},
      createdAt: this.#clock.now(),
      userName: "",
      providerId: "",
      externalSubject: "",
      groups: [],
      syncedRoles: [],
      syncedAt: 0,
      tokensValidAfter: 0,
      revision: 0,
      ...fields,
    };
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
