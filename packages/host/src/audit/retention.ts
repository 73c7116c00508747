/**
 * Audit retention, legal holds and subject erasure: the use-cases behind the invented
 * EnterpriseAuditService RPCs and the Host's periodic sweeper.
 *
 * Rules enforced here (the pure ones live in `@aesp/core/audit` retention.ts):
 * - Every rule change, hold placed or released and erasure is itself audited before it is
 *   answered; the sweeper records `audit.retention_applied` for each tenant it pruned.
 * - A hold or erasure of another tenant cannot be named: stores are tenant-scoped, so another
 *   tenant's hold id is simply NOT_FOUND.
 * - An erasure is refused with LEGAL_HOLD_ACTIVE while an active hold covers the subject.
 * - One sweep tombstones at most `batch` events across all tenants, so a run is bounded.
 */
import { EnterpriseError } from "@aesp/core";
import type { AuditLegalHoldRecord, AuditRecorder, AuditRetentionRuleRecord, Clock, IdSource, RequestOrigin, Store } from "@aesp/core";
import { checkRetentionRule, holdCoveringSubject, retentionPlan } from "@aesp/core/audit";
import type { AuditSubjectCipher } from "./subject-cipher.ts";

/** Settings from the `audit.*` configuration. */
export interface AuditRetentionOptions {
  defaultDays: number;
  floorDays: number;
  /** Most events tombstoned per sweep, all tenants together. */
  batch: number;
}

/** Dependencies of {@link AuditRetention}. */
export interface AuditRetentionDeps {
  store: Store;
  audit: AuditRecorder;
  clock: Clock;
  ids: IdSource;
  cipher: AuditSubjectCipher;
}

/** Who acts, for audit records. */
export interface RetentionActor {
  tenantId: string;
  principalId: string;
  origin?: RequestOrigin;
}

/** What one sweep did. */
export interface SweepOutcome {
  tenants: number;
  tombstoned: number;
}

/** Retention rules, legal holds, erasure and the sweeper of one Host. */
export class AuditRetention {
  readonly #deps: AuditRetentionDeps;
  readonly #options: AuditRetentionOptions;
  #sweeping: Promise<SweepOutcome> | null = null;

  /**
   * @param deps - Store, audit recorder, clock, ids and the subject cipher.
   * @param options - Default retention, security floor and batch size.
   */
  constructor(deps: AuditRetentionDeps, options: AuditRetentionOptions) {
    this.#deps = deps;
    this.#options = options;
  }

  /** The security floor in days (`audit.security_min_retention_days`). */
  get floorDays(): number {
    return this.#options.floorDays;
  }

  /** The Host default in days (`audit.default_retention_days`; 0 keeps forever). */
  get defaultDays(): number {
    return this.#options.defaultDays;
  }

  /**
   * Sets (days > 0) or removes (days = 0) the caller's tenant's rule for `pattern`.
   *
   * @throws EnterpriseError INVALID_ARGUMENT on a bad pattern or days, or a rule below the security floor.
   */
  async setRule(actor: RetentionActor, pattern: string, days: number): Promise<AuditRetentionRuleRecord[]> {
    checkRetentionRule(pattern, days, this.#options.floorDays);
    const store = this.#deps.store.forTenant(actor.tenantId).auditRetention;
    if (days === 0) await store.deleteRule(pattern);
    else await store.putRule({ tenantId: actor.tenantId, pattern, days, updatedAt: this.#deps.clock.now(), updatedBy: actor.principalId });
    await this.#record(actor, "audit.retention_set", `retention:${pattern}`, days === 0 ? "delete" : "set", { pattern, retention_days: String(days) });
    return store.listRules();
  }

  /** The caller's tenant's rules. */
  async listRules(tenantId: string): Promise<AuditRetentionRuleRecord[]> {
    return this.#deps.store.forTenant(tenantId).auditRetention.listRules();
  }

  /**
   * Places a legal hold in the caller's tenant.
   *
   * @throws EnterpriseError INVALID_ARGUMENT when the reason is missing or the time range is inverted.
   */
  async placeHold(actor: RetentionActor, hold: { principalId: string; fromMs: number; toMs: number; reason: string }): Promise<AuditLegalHoldRecord> {
    const reason = hold.reason.trim();
    if (reason === "" || reason.length > 500) throw new EnterpriseError("INVALID_ARGUMENT", { message: "A legal hold needs a reason (a case reference), at most 500 characters.", details: { field: "reason" } });
    if (hold.principalId.length > 200) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "principal_id" } });
    if (hold.fromMs < 0 || hold.toMs < 0 || (hold.toMs > 0 && hold.toMs <= hold.fromMs)) {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: "The hold's end must be after its start (0 leaves either open).", details: { field: "end_time" } });
    }
    const record: AuditLegalHoldRecord = {
      tenantId: actor.tenantId,
      holdId: this.#deps.ids.newId("hold"),
      principalId: hold.principalId,
      fromMs: hold.fromMs,
      toMs: hold.toMs,
      reason,
      placedBy: actor.principalId,
      placedAt: this.#deps.clock.now(),
      releasedAt: null,
      releasedBy: "",
    };
    await this.#deps.store.forTenant(actor.tenantId).auditRetention.placeHold(record);
    await this.#record(actor, "audit.legal_hold_placed", `legal_hold:${record.holdId}`, "place", {
      subject: record.principalId,
      from_ms: String(record.fromMs),
      to_ms: String(record.toMs),
      reason: reason.slice(0, 200),
    });
    return record;
  }

  /**
   * Releases a hold of the caller's tenant.
   *
   * @throws EnterpriseError NOT_FOUND when the tenant has no such hold; INVALID_STATE_TRANSITION when it was released already.
   */
  async releaseHold(actor: RetentionActor, holdId: string): Promise<AuditLegalHoldRecord> {
    const store = this.#deps.store.forTenant(actor.tenantId).auditRetention;
    const existing = await store.getHold(holdId);
    if (existing === null) throw new EnterpriseError("NOT_FOUND", { details: { field: "hold_id" } });
    if (!(await store.releaseHold(holdId, this.#deps.clock.now(), actor.principalId))) {
      throw new EnterpriseError("INVALID_STATE_TRANSITION", { message: "The legal hold was already released.", details: { field: "hold_id" } });
    }
    await this.#record(actor, "audit.legal_hold_released", `legal_hold:${holdId}`, "release", {});
    return (await store.getHold(holdId)) ?? existing;
  }

  /** The caller's tenant's holds. */
  async listHolds(tenantId: string, includeReleased: boolean): Promise<AuditLegalHoldRecord[]> {
    return this.#deps.store.forTenant(tenantId).auditRetention.listHolds(includeReleased);
  }

  /**
   * Erases a data subject of the caller's tenant: destroys their audit subject keys.
   *
   * @throws EnterpriseError NOT_FOUND when the tenant has no such principal; LEGAL_HOLD_ACTIVE
   *   (details.hold_id) when an active hold covers the subject.
   */
  async eraseSubject(actor: RetentionActor, subjectId: string): Promise<number> {
    const tenant = this.#deps.store.forTenant(actor.tenantId);
    if (subjectId === "" || (await tenant.principals.get(subjectId)) === null) throw new EnterpriseError("NOT_FOUND", { details: { field: "principal_id" } });
    const hold = holdCoveringSubject(await tenant.auditRetention.listHolds(false), subjectId);
    if (hold !== undefined) throw new EnterpriseError("LEGAL_HOLD_ACTIVE", { details: { hold_id: hold.holdId } });
    const destroyed = await this.#deps.cipher.erase(actor.tenantId, subjectId);
    await this.#record(actor, "audit.subject_erased", `principal:${subjectId}`, "erase", { keys_destroyed: String(destroyed) });
    return destroyed;
  }

  /**
   * One retention pass over every tenant, oldest events first, at most `batch` tombstones in
   * all. A pass already running is joined, not doubled.
   *
   * @param now - The time expiry is measured from (tests pass a later time to age events).
   */
  async sweep(now: number = this.#deps.clock.now()): Promise<SweepOutcome> {
    if (this.#sweeping !== null) return this.#sweeping;
    this.#sweeping = this.#sweep(now).finally(() => {
      this.#sweeping = null;
    });
    return this.#sweeping;
  }

  async #sweep(now: number): Promise<SweepOutcome> {
    let remaining = this.#options.batch;
    const outcome: SweepOutcome = { tenants: 0, tombstoned: 0 };
    for (const tenant of await this.#deps.store.platform.tenants.list()) {
      if (remaining <= 0) break;
      const scoped = this.#deps.store.forTenant(tenant.tenantId).auditRetention;
      const [rules, holds] = await Promise.all([scoped.listRules(), scoped.listHolds(false)]);
      const plan = retentionPlan({ tenantId: tenant.tenantId, rules, holds, now, defaultDays: this.#options.defaultDays, floorDays: this.#options.floorDays, limit: remaining });
      if (plan === null) continue;
      const result = await this.#deps.store.platform.auditPruning.pruneExpired(plan);
      if (result.count === 0) continue;
      remaining -= result.count;
      outcome.tenants += 1;
      outcome.tombstoned += result.count;
      await this.#deps.audit.record({
        eventType: "audit.retention_applied",
        tenantId: tenant.tenantId,
        resource: `tenant:${tenant.tenantId}`,
        action: "prune",
        outcome: "SUCCESS",
        metadata: { tombstoned: String(result.count), first_seq: String(result.firstSeq), last_seq: String(result.lastSeq) },
      });
    }
    return outcome;
  }

  async #record(actor: RetentionActor, eventType: "audit.retention_set" | "audit.legal_hold_placed" | "audit.legal_hold_released" | "audit.subject_erased", resource: string, action: string, metadata: Record<string, string>): Promise<void> {
    await this.#deps.audit.record({
      eventType,
      tenantId: actor.tenantId,
      principalId: actor.principalId,
      resource,
      action,
      outcome: "SUCCESS",
      ...(actor.origin === undefined ? {} : { origin: actor.origin }),
      metadata,
    });
  }
}
