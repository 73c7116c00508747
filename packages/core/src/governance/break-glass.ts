/**
 * Emergency override (break-glass): a principal who holds `break_glass:activate` may, with a
 * written justification, let their own calls go on for a limited time where the policy stage would
 * refuse them. It is the exception that proves deny-by-default, so everything about it is loud:
 *
 * - activation needs `break_glass:activate` (built-in role `break-glass-operator`, never `agent`),
 *   a justification of 20..2000 characters and a duration of 1..`break_glass.max_duration_seconds`;
 *   it may be limited to named contracts of the tenant (none named: every contract);
 * - one ACTIVE grant per principal (a second activation is ALREADY_EXISTS, even across Hosts);
 * - activation, every overridden decision (`break_glass.used`), the end, the expiry and the review
 *   are audited as security events; activation and first use raise CRITICAL alerts;
 * - a grant acts only until `expiresAt`, checked against the clock on every call, whatever its stored
 *   status; the holder or an administrator (`break_glass:manage`) may end it early;
 * - every grant opens a mandatory after-the-fact review (`governance:adjudicate`, never by the
 *   holder) due `break_glass.review_due_seconds` after it ends; UNJUSTIFIED raises a HIGH alert and
 *   an overdue review a WARNING alert, once;
 * - it overrides only the policy stage: authentication, tenant isolation, RBAC, clearance, schema
 *   validation and capacity limits refuse as always (see pipeline/steps/break-glass-override.ts);
 * - every change swaps the tenant snapshot (and raises its epoch), so the next call on every Host
 *   sees it.
 */
import { EnterpriseError, toEnterpriseError } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { AlertNotifier, AlertSeverity, Clock, IdSource, Store, TenantStores } from "../ports.ts";
import type { BreakGlassGrantRecord, BreakGlassStatus } from "../records.ts";
import type { RequestOrigin, SecurityContext } from "../identity/security-context.ts";
import { hasPermission, requirePermission } from "../identity/require-permission.ts";
import type { Decision } from "../policy/index.ts";
import type { TenantDirectory } from "../tenancy/tenant-snapshot.ts";
import { CONTRACT_NAME_PATTERN } from "../contracts/index.ts";

/** Limits of break-glass, from the `break_glass` config section. */
export interface BreakGlassOptions {
  readonly maxDurationSeconds: number;
  readonly reviewDueSeconds: number;
}

export const MIN_JUSTIFICATION_CHARS = 20;
export const MAX_JUSTIFICATION_CHARS = 2000;
const MAX_CONTRACTS = 100;
const MAX_LISTED = 1000;

/** What a grant is now: a stored ACTIVE grant past its expiry is EXPIRED. */
export function effectiveStatus(grant: BreakGlassGrantRecord, now: number): BreakGlassStatus {
  return grant.status === "ACTIVE" && grant.expiresAt <= now ? "EXPIRED" : grant.status;
}

/** True when `grant` lets `principalId`'s call to `contractName` go on at `now`. */
export function grantCovers(grant: BreakGlassGrantRecord, principalId: string, contractName: string, now: number): boolean {
  return (
    effectiveStatus(grant, now) === "ACTIVE" &&
    grant.principalId === principalId &&
    (grant.contracts.length === 0 || grant.contracts.includes(contractName))
  );
}

/** One call that went on under a grant, as the pipeline reports it. */
export interface BreakGlassUse {
  readonly security: SecurityContext;
  readonly origin: RequestOrigin;
  readonly sessionId: string;
  readonly invocationId: string;
  readonly contractId: string;
  readonly grant: BreakGlassGrantRecord;
  readonly decision: Decision;
  /** The refusal the call would have had. */
  readonly refusal: EnterpriseError;
}

/** The part of the service the governed call needs. */
export interface BreakGlassUseRecorder {
  /** Records the overridden decision durably (and alerts on a grant's first use) before the call goes on. */
  recordUse(use: BreakGlassUse): Promise<void>;
}

/** Emergency override grants: activation, end, expiry, review. See the module comment for the rules. */
export class BreakGlassService implements BreakGlassUseRecorder {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #audit: AuditRecorder;
  readonly #tenants: TenantDirectory;
  readonly #alerts: AlertNotifier;
  readonly #options: BreakGlassOptions;
  /** Grants whose first use this Host has already claimed, so later uses cost no storage write. */
  readonly #usedHere = new Set<string>();

  constructor(deps: { store: Store; clock: Clock; ids: IdSource; audit: AuditRecorder; tenants: TenantDirectory; alerts: AlertNotifier; options: BreakGlassOptions }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#ids = deps.ids;
    this.#audit = deps.audit;
    this.#tenants = deps.tenants;
    this.#alerts = deps.alerts;
    this.#options = deps.options;
  }

  /**
   * Activates a grant for the caller. A refused activation is audited too.
   * @throws EnterpriseError AUTHORIZATION_DENIED, INVALID_ARGUMENT (justification, duration_seconds,
   *   contracts), ALREADY_EXISTS (the caller holds an active grant)
   */
  async activate(
    ctx: SecurityContext,
    origin: RequestOrigin,
    input: { justification: string; durationSeconds: number; contracts?: readonly string[] },
  ): Promise<BreakGlassGrantRecord> {
    try {
      return await this.#activate(ctx, origin, input);
    } catch (thrown) {
      const error = toEnterpriseError(thrown);
      if (error.code !== "AUDIT_UNAVAILABLE") {
        await this.#audit.record({
          eventType: "break_glass.activation_refused",
          tenantId: ctx.tenantId,
          principalId: ctx.principalId,
          resource: "break_glass:new",
          action: "break_glass:activate",
          outcome: "DENIED",
          origin,
          riskScore: "HIGH",
          metadata: { error_code: error.code, ...(error.details["field"] === undefined ? {} : { field: error.details["field"] }) },
        });
      }
      throw error;
    }
  }

  async #activate(ctx: SecurityContext, origin: RequestOrigin, input: { justification: string; durationSeconds: number; contracts?: readonly string[] }): Promise<BreakGlassGrantRecord> {
    requirePermission(ctx, "break_glass:activate");
    const justification = input.justification.trim();
    if (justification.length < MIN_JUSTIFICATION_CHARS || justification.length > MAX_JUSTIFICATION_CHARS) {
      throw new EnterpriseError("INVALID_ARGUMENT", {
        message: `A break-glass justification must explain the emergency in ${MIN_JUSTIFICATION_CHARS} to ${MAX_JUSTIFICATION_CHARS} characters.`,
        details: { field: "justification", min: String(MIN_JUSTIFICATION_CHARS), max: String(MAX_JUSTIFICATION_CHARS), length: String(justification.length) },
      });
    }
    const max = this.#options.maxDurationSeconds;
    if (!Number.isSafeInteger(input.durationSeconds) || input.durationSeconds < 1 || input.durationSeconds > max) {
      throw new EnterpriseError("INVALID_ARGUMENT", {
        message: `A break-glass grant lasts 1 to ${max} seconds (break_glass.max_duration_seconds); ask for less and activate again when it expires.`,
        details: { field: "duration_seconds", min: "1", max: String(max) },
      });
    }
    const contracts = [...new Set(input.contracts ?? [])].sort();
    if (contracts.length > MAX_CONTRACTS) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "contracts", max: String(MAX_CONTRACTS) } });
    const snapshot = await this.#tenants.activeSnapshot(ctx.tenantId);
    for (const name of contracts) {
      if (!CONTRACT_NAME_PATTERN.test(name) || !snapshot.contracts.has(name)) {
        throw new EnterpriseError("INVALID_ARGUMENT", {
          message: "A break-glass grant can only be limited to contracts of your tenant that can be called (ACTIVE or DEPRECATED).",
          details: { field: "contracts", contract: name.slice(0, 64) },
        });
      }
    }

    const now = this.#clock.now();
    const expiresAt = now + input.durationSeconds * 1000;
    const record: BreakGlassGrantRecord = {
      tenantId: ctx.tenantId,
      grantId: this.#ids.newId("bgl"),
      principalId: ctx.principalId,
      justification,
      contracts,
      status: "ACTIVE",
      activatedAt: now,
      expiresAt,
      closedAt: null,
      closedBy: "",
      closeReason: "",
      firstUsedAt: null,
      reviewStatus: "PENDING",
      reviewDueAt: expiresAt + this.#options.reviewDueSeconds * 1000,
      reviewedBy: null,
      reviewedAt: null,
      reviewComments: "",
      reviewOverdueAlertedAt: null,
      revision: 1,
    };
    const expired = await this.#store.transaction(async (tx) => {
      const stores = tx.forTenant(ctx.tenantId);
      const closed: BreakGlassGrantRecord[] = [];
      for (const held of await stores.breakGlass.list({ status: "ACTIVE", principalId: ctx.principalId, limit: 10 })) {
        if (effectiveStatus(held, now) === "ACTIVE") {
          throw new EnterpriseError("ALREADY_EXISTS", {
            message: `You already hold an active break-glass grant (${held.grantId}) until ${new Date(held.expiresAt).toISOString()}; use it, or end it before activating another.`,
            details: { grant_id: held.grantId, expires_at: String(held.expiresAt) },
          });
        }
        // Expired but not yet recorded: record it now, it frees the principal's one active slot.
        closed.push(await closeExpired(stores, held));
      }
      await stores.breakGlass.create(record).catch((err: unknown) => {
        const error = toEnterpriseError(err);
        // Another Host activated for the same principal between our read and our insert.
        if (error.code === "ALREADY_EXISTS") throw new EnterpriseError("ALREADY_EXISTS", { message: "You already hold an active break-glass grant; end it before activating another." });
        throw error;
      });
      return closed;
    });
    for (const grant of expired) await this.#recordExpired(grant);
    try {
      await this.#audit.record({
        eventType: "break_glass.activated",
        tenantId: ctx.tenantId,
        principalId: ctx.principalId,
        resource: `break_glass:${record.grantId}`,
        action: "break_glass:activate",
        outcome: "SUCCESS",
        origin,
        riskScore: "CRITICAL",
        metadata: {
          grant_id: record.grantId,
          justification,
          contracts: contracts.join(","),
          expires_at: String(expiresAt),
          duration_seconds: String(input.durationSeconds),
          review_due_at: String(record.reviewDueAt),
        },
      });
    } catch (auditError) {
      // A grant nobody can see in the audit log must never act: withdraw it before refusing.
      await this.#store
        .forTenant(ctx.tenantId)
        .breakGlass.update({ ...record, status: "ENDED", closedAt: now, closeReason: "activation could not be audited" }, record.revision)
        .catch(() => undefined);
      throw auditError;
    }
    this.#raise("CRITICAL", record, "break_glass.activated", ctx.principalId, `Break-glass activated by ${ctx.displayName || ctx.principalId}`, {
      justification,
      contracts: contracts.length === 0 ? "(all contracts)" : contracts.join(","),
      expires_at: new Date(expiresAt).toISOString(),
    });
    await this.#tenants.refresh(ctx.tenantId);
    return record;
  }

  /**
   * Ends an active grant early: its holder, or a principal holding `break_glass:manage`.
   * @throws EnterpriseError NOT_FOUND, AUTHORIZATION_DENIED, INVALID_ARGUMENT (reason), INVALID_STATE_TRANSITION (not active), CONFLICT
   */
  async end(ctx: SecurityContext, origin: RequestOrigin, grantId: string, reason: string): Promise<BreakGlassGrantRecord> {
    const stores = this.#store.forTenant(ctx.tenantId);
    const grant = await stores.breakGlass.get(grantId);
    if (grant === null) throw new EnterpriseError("NOT_FOUND", { details: { grant_id: grantId.slice(0, 64) } });
    if (grant.principalId !== ctx.principalId) requirePermission(ctx, "break_glass:manage");
    const why = reason.trim();
    if (why === "" || why.length > MAX_JUSTIFICATION_CHARS) {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: "Say why the grant ends (1 to 2000 characters).", details: { field: "reason" } });
    }
    const now = this.#clock.now();
    const status = effectiveStatus(grant, now);
    if (status !== "ACTIVE") throw new EnterpriseError("INVALID_STATE_TRANSITION", { message: `The grant is already ${status.toLowerCase()}.`, details: { grant_id: grantId, status } });
    const ended: BreakGlassGrantRecord = {
      ...grant,
      status: "ENDED",
      closedAt: now,
      closedBy: ctx.principalId,
      closeReason: why,
      reviewDueAt: now + this.#options.reviewDueSeconds * 1000,
      revision: grant.revision + 1,
    };
    await stores.breakGlass.update(ended, grant.revision);
    await this.#tenants.refresh(ctx.tenantId);
    await this.#audit.record({
      eventType: "break_glass.ended",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `break_glass:${grantId}`,
      action: "break_glass:end",
      outcome: "SUCCESS",
      origin,
      riskScore: "HIGH",
      metadata: { grant_id: grantId, holder_id: grant.principalId, reason: why },
    });
    return ended;
  }

  /**
   * Records the mandatory review of a grant that has ended or expired.
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND, SELF_APPROVAL_FORBIDDEN, INVALID_ARGUMENT, INVALID_STATE_TRANSITION, CONFLICT
   */
  async review(
    ctx: SecurityContext,
    origin: RequestOrigin,
    grantId: string,
    input: { outcome: "JUSTIFIED" | "UNJUSTIFIED"; comments: string },
  ): Promise<BreakGlassGrantRecord> {
    requirePermission(ctx, "governance:adjudicate");
    const stores = this.#store.forTenant(ctx.tenantId);
    const grant = await stores.breakGlass.get(grantId);
    if (grant === null) throw new EnterpriseError("NOT_FOUND", { details: { grant_id: grantId.slice(0, 64) } });
    if (grant.principalId === ctx.principalId) {
      await this.#audit.record({
        eventType: "break_glass.self_review_blocked",
        tenantId: ctx.tenantId,
        principalId: ctx.principalId,
        resource: `break_glass:${grantId}`,
        action: "break_glass:review",
        outcome: "DENIED",
        origin,
        riskScore: "HIGH",
        metadata: { grant_id: grantId },
      });
      throw new EnterpriseError("SELF_APPROVAL_FORBIDDEN", {
        message: "The holder of a break-glass grant cannot review it; another adjudicator must.",
        tenantId: ctx.tenantId,
        principalId: ctx.principalId,
      });
    }
    if (input.outcome !== "JUSTIFIED" && input.outcome !== "UNJUSTIFIED") {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "outcome", expected: "JUSTIFIED|UNJUSTIFIED" } });
    }
    const comments = input.comments.trim();
    if (comments === "" || comments.length > MAX_JUSTIFICATION_CHARS) {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: "A review records its reasons: comments of 1 to 2000 characters.", details: { field: "comments" } });
    }
    const now = this.#clock.now();
    const status = effectiveStatus(grant, now);
    if (status === "ACTIVE") {
      throw new EnterpriseError("INVALID_STATE_TRANSITION", {
        message: "The grant is still active; review it after it ends (end it first if it must stop now).",
        details: { grant_id: grantId, status },
      });
    }
    if (grant.reviewStatus !== "PENDING") {
      throw new EnterpriseError("INVALID_STATE_TRANSITION", { message: "The grant has already been reviewed.", details: { grant_id: grantId, review_status: grant.reviewStatus } });
    }
    const reviewed: BreakGlassGrantRecord = { ...grant, reviewStatus: input.outcome, reviewedBy: ctx.principalId, reviewedAt: now, reviewComments: comments, revision: grant.revision + 1 };
    await stores.breakGlass.update(reviewed, grant.revision);
    await this.#audit.record({
      eventType: "break_glass.reviewed",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `break_glass:${grantId}`,
      action: "break_glass:review",
      outcome: "SUCCESS",
      origin,
      ...(input.outcome === "UNJUSTIFIED" ? { riskScore: "HIGH" } : {}),
      metadata: { grant_id: grantId, holder_id: grant.principalId, review_outcome: input.outcome, comments },
    });
    if (input.outcome === "UNJUSTIFIED") {
      this.#raise("HIGH", reviewed, "break_glass.reviewed", ctx.principalId, `Break-glass use by ${grant.principalId} reviewed as UNJUSTIFIED`, { comments, reviewed_by: ctx.principalId });
    }
    return reviewed;
  }

  /**
   * The tenant's grants, oldest first. Holders of `break_glass:read` or `governance:adjudicate` see
   * every grant; a holder of `break_glass:activate` only their own.
   * @throws EnterpriseError AUTHORIZATION_DENIED
   */
  async list(ctx: SecurityContext, filter: { pendingReview?: boolean; principalId?: string }): Promise<BreakGlassGrantRecord[]> {
    const seesAll = hasPermission(ctx, "break_glass:read") || hasPermission(ctx, "governance:adjudicate");
    let principalId = filter.principalId ?? "";
    if (!seesAll) {
      // An operator may look at their own grants, never at other people's.
      if (!hasPermission(ctx, "break_glass:activate") || (principalId !== "" && principalId !== ctx.principalId)) requirePermission(ctx, "break_glass:read");
      principalId = ctx.principalId;
    }
    const stores = this.#store.forTenant(ctx.tenantId);
    const grants: BreakGlassGrantRecord[] = [];
    let cursor: string | undefined;
    while (grants.length < MAX_LISTED) {
      const page = await stores.breakGlass.list({
        limit: 200,
        ...(filter.pendingReview === true ? { reviewStatus: "PENDING" as const } : {}),
        ...(principalId === "" ? {} : { principalId }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      grants.push(...page);
      if (page.length < 200) break;
      cursor = page[page.length - 1]?.grantId;
    }
    const now = this.#clock.now();
    return grants.map((grant) => (effectiveStatus(grant, now) === grant.status ? grant : { ...grant, status: "EXPIRED" }));
  }

  async recordUse(use: BreakGlassUse): Promise<void> {
    const { grant, decision, refusal } = use;
    await this.#audit.record({
      eventType: "break_glass.used",
      tenantId: use.security.tenantId,
      principalId: use.security.principalId,
      sessionId: use.sessionId,
      resource: `contract:${use.contractId}`,
      action: "tools:invoke",
      outcome: "SUCCESS",
      origin: use.origin,
      riskScore: "CRITICAL",
      policyViolations: decision.appliedPolicies,
      metadata: {
        grant_id: grant.grantId,
        invocation_id: use.invocationId,
        overridden_decision: decision.effect,
        overridden_error: refusal.code,
        decision_reason: decision.reason,
        applied_policies: decision.appliedPolicies.join(","),
        ...(decision.denyingPolicy === undefined ? {} : { denying_policy: decision.denyingPolicy }),
      },
    });
    if (grant.firstUsedAt !== null || this.#usedHere.has(grant.grantId)) return;
    this.#usedHere.add(grant.grantId);
    const first = await this.#store
      .forTenant(grant.tenantId)
      .breakGlass.markFirstUse(grant.grantId, this.#clock.now())
      // Unsure whether another Host alerted: alert again rather than risk never alerting.
      .catch(() => true);
    if (first) {
      this.#raise("CRITICAL", grant, "break_glass.used", use.security.principalId, `Break-glass grant ${grant.grantId} used for the first time`, {
        contract: use.contractId,
        invocation_id: use.invocationId,
        overridden_error: refusal.code,
        decision_reason: decision.reason,
      });
    }
  }

  /**
   * Housekeeping for the Host's periodic timer: records the expiry of every grant past its
   * `expiresAt` (once, whichever Host gets there first) and raises a WARNING alert for every review
   * past due (once per grant).
   * @returns how many expiries and overdue reviews it recorded.
   */
  async sweep(): Promise<{ expired: number; overdue: number }> {
    let expired = 0;
    let overdue = 0;
    for (const tenant of await this.#store.platform.tenants.list()) {
      const result = await this.sweepTenant(tenant.tenantId);
      expired += result.expired;
      overdue += result.overdue;
    }
    return { expired, overdue };
  }

  /** {@link BreakGlassService.sweep} for one tenant. */
  async sweepTenant(tenantId: string): Promise<{ expired: number; overdue: number }> {
    const stores = this.#store.forTenant(tenantId);
    const now = this.#clock.now();
    let expired = 0;
    for (const grant of await stores.breakGlass.list({ status: "ACTIVE", limit: 500 })) {
      if (grant.expiresAt > now) continue;
      const closed = await closeExpired(stores, grant).catch((err: unknown) => {
        // CONFLICT: another Host recorded it first.
        if (toEnterpriseError(err).code === "CONFLICT") return null;
        throw err;
      });
      if (closed === null) continue;
      await this.#recordExpired(closed);
      expired++;
    }
    if (expired > 0) await this.#tenants.refresh(tenantId);
    let overdue = 0;
    for (const grant of await stores.breakGlass.list({ reviewStatus: "PENDING", limit: 500 })) {
      if (grant.reviewDueAt > now || grant.reviewOverdueAlertedAt !== null) continue;
      const flagged = { ...grant, reviewOverdueAlertedAt: now, revision: grant.revision + 1 };
      try {
        await stores.breakGlass.update(flagged, grant.revision);
      } catch (err) {
        if (toEnterpriseError(err).code === "CONFLICT") continue;
        throw err;
      }
      await this.#audit.record({
        eventType: "break_glass.review_overdue",
        tenantId,
        principalId: "",
        resource: `break_glass:${grant.grantId}`,
        action: "break_glass:review",
        outcome: "FAILURE",
        metadata: { grant_id: grant.grantId, holder_id: grant.principalId, review_due_at: String(grant.reviewDueAt) },
      });
      this.#raise("WARNING", grant, "break_glass.review_overdue", "", `The review of break-glass grant ${grant.grantId} is overdue`, {
        holder_id: grant.principalId,
        review_due_at: new Date(grant.reviewDueAt).toISOString(),
      });
      overdue++;
    }
    return { expired, overdue };
  }

  async #recordExpired(grant: BreakGlassGrantRecord): Promise<void> {
    this.#usedHere.delete(grant.grantId);
    await this.#audit.record({
      eventType: "break_glass.expired",
      tenantId: grant.tenantId,
      principalId: grant.principalId,
      resource: `break_glass:${grant.grantId}`,
      action: "break_glass:expire",
      outcome: "SUCCESS",
      metadata: { grant_id: grant.grantId, holder_id: grant.principalId, expires_at: String(grant.expiresAt) },
    });
  }

  #raise(severity: AlertSeverity, grant: BreakGlassGrantRecord, kind: string, principalId: string, title: string, detail: Record<string, string>): void {
    this.#alerts.raise({
      kind,
      severity,
      tenantId: grant.tenantId,
      principalId,
      title,
      detail: { grant_id: grant.grantId, holder_id: grant.principalId, ...detail },
      raisedAt: this.#clock.now(),
    });
  }
}

/** Marks a stored-ACTIVE grant past its expiry as EXPIRED (closed at its expiry); CONFLICT when another writer moved it. */
async function closeExpired(stores: TenantStores, grant: BreakGlassGrantRecord): Promise<BreakGlassGrantRecord> {
  const closed: BreakGlassGrantRecord = { ...grant, status: "EXPIRED", closedAt: grant.expiresAt, closeReason: "expired", revision: grant.revision + 1 };
  await stores.breakGlass.update(closed, grant.revision);
  return closed;
}
