import { EnterpriseError } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock, Hasher, IdSource, Store } from "../ports.ts";
import type { CertificateRecord, JoinTokenRecord, RuntimeRegistrationRecord } from "../records.ts";
import { constantTimeEqual, toHex, utf8 } from "../audit/encoding.ts";
import type { RequestOrigin, SecurityContext } from "../identity/security-context.ts";
import { requirePermission } from "../identity/require-permission.ts";

/** Port: the Host's certificate authority (host/src/pki). */
export interface CertificateIssuer {
  issueRuntimeCertificate(input: { tenantId: string; runtimeId: string; publicKeyPem: string; validitySeconds: number }): Promise<{
    certificatePem: string;
    serial: string;
    spiffeId: string;
    notBefore: number;
    notAfter: number;
  }>;
  readonly caCertificatePem: string;
}

/** Port: told about revocations so live streams and handshakes stop honouring a certificate at once. */
export interface RevocationListener {
  revoked(tenantId: string, serial: string): void;
}

/** Enrolment limits, from the `runtimes` config section. */
export interface EnrollmentOptions {
  readonly joinTokenTtlSeconds: number;
  readonly maxJoinTokenTtlSeconds: number;
  readonly certificateValiditySeconds: number;
}

const runtimeIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const joinTokenPattern = /^aespjt\.([a-z0-9][a-z0-9-]{0,62})\.(jt_[A-Za-z0-9_-]{8,64})\.([A-Za-z0-9_-]{32,128})$/;

/**
 * Runtime enrolment: join tokens for certificates, and revocation.
 *
 * Rules enforced:
 * - a join token is bound to one tenant and one runtime id, is short-lived, stored only as a
 *   hash, and works once (concurrent redemptions: exactly one wins);
 * - the runtime's private key never leaves it: the Host certifies the public key it sends;
 * - the certificate names trust domain, tenant and runtime in its URI SAN and is short-lived;
 * - a revoked certificate stops working on the next handshake and its live streams close.
 */
export class RuntimeEnrollment {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #hasher: Hasher;
  readonly #audit: AuditRecorder;
  readonly #issuer: CertificateIssuer;
  readonly #revocations: RevocationListener;
  readonly #options: EnrollmentOptions;

  constructor(deps: {
    store: Store;
    clock: Clock;
    ids: IdSource;
    hasher: Hasher;
    audit: AuditRecorder;
    issuer: CertificateIssuer;
    revocations: RevocationListener;
    options: EnrollmentOptions;
  }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#ids = deps.ids;
    this.#hasher = deps.hasher;
    this.#audit = deps.audit;
    this.#issuer = deps.issuer;
    this.#revocations = deps.revocations;
    this.#options = deps.options;
  }

  /**
   * Registers a runtime and creates its one-time join token (shown once).
   * @throws EnterpriseError AUTHORIZATION_DENIED, INVALID_ARGUMENT
   */
  async createJoinToken(
    ctx: SecurityContext,
    origin: RequestOrigin,
    input: { runtimeId: string; allowedContracts: readonly string[]; ttlSeconds: number },
  ): Promise<{ joinToken: string; record: JoinTokenRecord }> {
    requirePermission(ctx, "runtimes:enroll");
    if (!runtimeIdPattern.test(input.runtimeId)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "runtime_id" } });
    if (input.allowedContracts.length === 0 || input.allowedContracts.some((c) => c !== "*" && !/^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$/.test(c))) {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "allowed_contracts", expected: "contract names or *" } });
    }
    const ttl = input.ttlSeconds === 0 ? this.#options.joinTokenTtlSeconds : input.ttlSeconds;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > this.#options.maxJoinTokenTtlSeconds) {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "ttl_seconds", max: String(this.#options.maxJoinTokenTtlSeconds) } });
    }
    const now = this.#clock.now();
    const tokenId = this.#ids.newId("jt");
    const secret = this.#ids.newSecret(32);
    const joinToken = `aespjt.${ctx.tenantId}.${tokenId}.${secret}`;
    const record: JoinTokenRecord = {
      tenantId: ctx.tenantId,
      tokenId,
      secretHash: this.#digest(joinToken),
      runtimeId: input.runtimeId,
      createdBy: ctx.principalId,
      createdAt: now,
      expiresAt: now + ttl * 1000,
      usedAt: null,
    };
    const registration: RuntimeRegistrationRecord = {
      tenantId: ctx.tenantId,
      runtimeId: input.runtimeId,
      allowedContracts: [...new Set(input.allowedContracts)],
      createdBy: ctx.principalId,
      createdAt: now,
    };
    await this.#store.transaction(async (tx) => {
      const stores = tx.forTenant(ctx.tenantId);
      await stores.runtimes.upsert(registration);
      await stores.joinTokens.create(record);
    });
    await this.#audit.record({
      eventType: "runtime.join_token_created",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `runtime:${input.runtimeId}`,
      action: "create_join_token",
      outcome: "SUCCESS",
      origin,
      metadata: { token_id: tokenId, allowed_contracts: registration.allowedContracts.join(","), expires_at: String(record.expiresAt) },
    });
    return { joinToken, record };
  }

  /**
   * Exchanges a join token and a public key for a runtime certificate.
   * @throws EnterpriseError AUTHENTICATION_FAILED (any token problem), INVALID_ARGUMENT (bad key)
   */
  async enroll(origin: RequestOrigin, input: { joinToken: string; runtimeId: string; publicKeyPem: string }): Promise<CertificateRecord & { caCertificatePem: string }> {
    const match = joinTokenPattern.exec(input.joinToken);
    const fail = async (reason: string, tenantId = ""): Promise<never> => {
      await this.#audit.record({ eventType: "authn.failed", tenantId, outcome: "DENIED", origin, action: "enroll", resource: `runtime:${input.runtimeId.slice(0, 128)}`, metadata: { method: "join_token", reason } });
      throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason } });
    };
    if (match === null) return fail("malformed_join_token");
    const tenantId = match[1] as string;
    const tokenId = match[2] as string;
    if ((await this.#store.platform.tenants.get(tenantId))?.status !== "ACTIVE") return fail("unknown_token");
    const stores = this.#store.forTenant(tenantId);
    const token = await stores.joinTokens.get(tokenId);
    const now = this.#clock.now();
    if (token === null || !constantTimeEqual(token.secretHash, this.#digest(input.joinToken))) return fail("unknown_token", tenantId);
    if (token.usedAt !== null) return fail("token_already_used", tenantId);
    if (token.expiresAt <= now) return fail("token_expired", tenantId);
    if (token.runtimeId !== input.runtimeId) return fail("runtime_id_mismatch", tenantId);
    if (!(await stores.joinTokens.consume(tokenId, now))) return fail("token_already_used", tenantId);
    const certificate = await this.#issueAndStore(tenantId, token.runtimeId, input.publicKeyPem);
    await this.#audit.record({
      eventType: "runtime.enrolled",
      tenantId,
      principalId: `runtime:${token.runtimeId}`,
      resource: `runtime:${token.runtimeId}`,
      action: "enroll",
      outcome: "SUCCESS",
      origin,
      metadata: { serial: certificate.serial, spiffe_id: certificate.spiffeId, not_after: String(certificate.notAfter), token_id: tokenId },
    });
    return { ...certificate, caCertificatePem: this.#issuer.caCertificatePem };
  }

  /**
   * Issues a fresh certificate for a registered runtime's new public key (rotation before
   * expiry). Earlier certificates stay valid until they expire or are revoked.
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND, INVALID_ARGUMENT (bad key)
   */
  async renew(ctx: SecurityContext, origin: RequestOrigin, input: { runtimeId: string; publicKeyPem: string }): Promise<CertificateRecord & { caCertificatePem: string }> {
    requirePermission(ctx, "runtimes:enroll");
    const stores = this.#store.forTenant(ctx.tenantId);
    const registration = await stores.runtimes.get(input.runtimeId);
    if (registration === null) throw new EnterpriseError("NOT_FOUND", { details: { runtime_id: input.runtimeId.slice(0, 128) } });
    const certificate = await this.#issueAndStore(ctx.tenantId, registration.runtimeId, input.publicKeyPem);
    await this.#audit.record({
      eventType: "runtime.enrolled",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `runtime:${registration.runtimeId}`,
      action: "renew",
      outcome: "SUCCESS",
      origin,
      metadata: { serial: certificate.serial, spiffe_id: certificate.spiffeId, not_after: String(certificate.notAfter) },
    });
    return { ...certificate, caCertificatePem: this.#issuer.caCertificatePem };
  }

  /**
   * Revokes a certificate of the caller's tenant.
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND
   */
  async revoke(ctx: SecurityContext, origin: RequestOrigin, serial: string, reason: string): Promise<void> {
    requirePermission(ctx, "runtimes:revoke");
    const normalized = serial.toLowerCase();
    const stores = this.#store.forTenant(ctx.tenantId);
    if (!(await stores.certificates.revoke(normalized, this.#clock.now(), reason.slice(0, 256)))) {
      throw new EnterpriseError("NOT_FOUND", { details: { serial_number: normalized } });
    }
    this.#revocations.revoked(ctx.tenantId, normalized);
    await this.#audit.record({
      eventType: "certificate.revoked",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `certificate:${normalized}`,
      action: "revoke",
      outcome: "SUCCESS",
      origin,
      metadata: { reason: reason.slice(0, 256) },
    });
  }

  /** Registered runtimes of the caller's tenant. */
  async listRegistrations(ctx: SecurityContext): Promise<RuntimeRegistrationRecord[]> {
    requirePermission(ctx, "runtimes:read");
    return this.#store.forTenant(ctx.tenantId).runtimes.list();
  }

  /** Certifies a runtime's public key and records the certificate in its tenant. */
  async #issueAndStore(tenantId: string, runtimeId: string, publicKeyPem: string): Promise<CertificateRecord> {
    const issued = await this.#issuer.issueRuntimeCertificate({ tenantId, runtimeId, publicKeyPem, validitySeconds: this.#options.certificateValiditySeconds });
    const certificate: CertificateRecord = {
      tenantId,
      serial: issued.serial,
      runtimeId,
      spiffeId: issued.spiffeId,
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      certificatePem: issued.certificatePem,
      revokedAt: null,
      revocationReason: null,
    };
    await this.#store.forTenant(tenantId).certificates.create(certificate);
    return certificate;
  }

  #digest(token: string): string {
    return toHex(this.#hasher.sha256(utf8(token)));
  }
}

