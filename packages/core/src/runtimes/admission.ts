import { EnterpriseError } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock, Store } from "../ports.ts";
import type { RequestOrigin } from "../identity/security-context.ts";
import type { TenantDirectory } from "../tenancy/tenant-snapshot.ts";

/** The identity proven by the runtime's TLS client certificate. */
export interface PeerIdentity {
  readonly tenantId: string;
  readonly runtimeId: string;
  readonly serial: string;
  readonly spiffeId: string;
}

/** What the runtime claims in its EnterpriseRuntimeAnnouncement. */
export interface RuntimeClaims {
  readonly runtimeId: string;
  /** Empty means "the certificate's tenant". */
  readonly tenantId: string;
  /** Empty means "the certificate's SPIFFE id". */
  readonly spiffeId: string;
  /** `name@version` entries. */
  readonly declaredContracts: readonly string[];
}

/** The admission decision for one connection. */
export interface Admission {
  readonly accepted: readonly string[];
  readonly rejections: readonly { contract: string; reason: string }[];
}

/**
 * Admits a connected runtime for the contracts it may fulfil.
 *
 * Rules enforced:
 * - the announcement must name exactly the runtime and tenant of the certificate; any
 *   mismatch rejects the whole connection and is audited as a security event;
 * - the certificate must be on record for that tenant, unrevoked and unexpired;
 * - each declared `name@version` is accepted only if that exact version is ACTIVE in the
 *   runtime's own tenant and the runtime was enrolled for that contract name;
 * - a runtime with no acceptable contract is rejected (RUNTIME_REJECTED).
 */
export class RuntimeAdmission {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #audit: AuditRecorder;
  readonly #tenants: TenantDirectory;

  constructor(deps: { store: Store; clock: Clock; audit: AuditRecorder; tenants: TenantDirectory }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
    this.#tenants = deps.tenants;
  }

  /**
   * Decides which declared contracts the runtime may serve.
   * @throws EnterpriseError CERTIFICATE_INVALID, RUNTIME_REJECTED
   */
  async admit(peer: PeerIdentity, claims: RuntimeClaims, origin: RequestOrigin): Promise<Admission> {
    const reject = async (code: "CERTIFICATE_INVALID" | "RUNTIME_REJECTED", reason: string, rejections: { contract: string; reason: string }[] = []): Promise<never> => {
      await this.#audit.record({
        eventType: "runtime.rejected",
        tenantId: peer.tenantId,
        principalId: `runtime:${peer.runtimeId}`,
        resource: `runtime:${peer.runtimeId}`,
        action: "admit",
        outcome: "DENIED",
        origin,
        riskScore: "HIGH",
        metadata: {
          reason,
          serial: peer.serial,
          claimed_runtime_id: claims.runtimeId.slice(0, 128),
          claimed_tenant_id: claims.tenantId.slice(0, 64),
          rejected: rejections.map((r) => `${r.contract}:${r.reason}`).join(",").slice(0, 1024),
        },
      });
      throw new EnterpriseError(code, {
        details: { reason, ...(rejections.length > 0 ? { rejected: rejections.map((r) => `${r.contract}:${r.reason}`).join(",").slice(0, 2048) } : {}) },
      });
    };
    if (claims.runtimeId !== peer.runtimeId) return reject("RUNTIME_REJECTED", "runtime_id_does_not_match_certificate");
    if (claims.tenantId !== "" && claims.tenantId !== peer.tenantId) return reject("RUNTIME_REJECTED", "tenant_does_not_match_certificate");
    if (claims.spiffeId !== "" && claims.spiffeId !== peer.spiffeId) return reject("RUNTIME_REJECTED", "spiffe_id_does_not_match_certificate");
    const snapshot = await this.#tenants.snapshot(peer.tenantId);
    if (snapshot === null || snapshot.tenant.status !== "ACTIVE") return reject("RUNTIME_REJECTED", "tenant_not_active");
    const stores = this.#store.forTenant(peer.tenantId);
    const certificate = await stores.certificates.get(peer.serial);
    const now = this.#clock.now();
    if (certificate === null || certificate.runtimeId !== peer.runtimeId) return reject("CERTIFICATE_INVALID", "certificate_unknown");
    if (certificate.revokedAt !== null) return reject("CERTIFICATE_INVALID", "certificate_revoked");
    if (certificate.notAfter <= now) return reject("CERTIFICATE_INVALID", "certificate_expired");
    const registration = await stores.runtimes.get(peer.runtimeId);
    if (registration === null) return reject("RUNTIME_REJECTED", "runtime_not_registered");
    const accepted: string[] = [];
    const rejections: { contract: string; reason: string }[] = [];
    for (const declared of new Set(claims.declaredContracts)) {
      const at = declared.lastIndexOf("@");
      const name = at > 0 ? declared.slice(0, at) : declared;
      const version = at > 0 ? declared.slice(at + 1) : "";
      const contract = version === "" ? undefined : snapshot.contracts.get(name)?.get(version);
      if (version === "") rejections.push({ contract: declared, reason: "version_required" });
      else if (!registration.allowedContracts.includes("*") && !registration.allowedContracts.includes(name)) rejections.push({ contract: declared, reason: "not_enrolled_for_contract" });
      else if (contract === undefined || contract.record.status !== "ACTIVE") rejections.push({ contract: declared, reason: "contract_not_active" });
      else accepted.push(declared);
    }
    if (accepted.length === 0) return reject("RUNTIME_REJECTED", "no_acceptable_contract", rejections);
    if (rejections.length > 0) {
      await this.#audit.record({
        eventType: "runtime.rejected",
        tenantId: peer.tenantId,
        principalId: `runtime:${peer.runtimeId}`,
        resource: `runtime:${peer.runtimeId}`,
        action: "admit_contracts",
        outcome: "DENIED",
        origin,
        riskScore: "MEDIUM",
        metadata: { rejected: rejections.map((r) => `${r.contract}:${r.reason}`).join(",").slice(0, 1024), serial: peer.serial },
      });
    }
    await this.#audit.record({
      eventType: "runtime.admitted",
      tenantId: peer.tenantId,
      principalId: `runtime:${peer.runtimeId}`,
      resource: `runtime:${peer.runtimeId}`,
      action: "admit",
      outcome: "SUCCESS",
      origin,
      metadata: { accepted: accepted.join(",").slice(0, 1024), serial: peer.serial },
    });
    return { accepted, rejections };
  }
}
