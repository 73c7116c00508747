import { EnterpriseError } from "../errors.ts";
import type { AuditInput, AuditRecorder } from "../audit-recorder.ts";
import type { AlertNotifier, Clock, IdSource, Store, TenantStores } from "../ports.ts";
import type { ApprovalRequestRecord, PolicyRecord, PolicyRolloutMode, PolicyRolloutRecord, PolicyRolloutStatus } from "../records.ts";
import type { RequestOrigin, SecurityContext } from "../identity/security-context.ts";
import { requirePermission } from "../identity/require-permission.ts";
import { disagreementRate, shouldRollBack } from "../policy/rollout.ts";
import type { RolloutObserver } from "../policy/rollout.ts";
import type { TenantDirectory } from "../tenancy/tenant-snapshot.ts";
import type { GovernanceService } from "./approvals.ts";
import { versionsOf } from "./policy-registry.ts";

/** Rollout limits, from the `policy_rollouts` config section. */
export interface PolicyRolloutOptions {
  /** Counted calls held in memory per rollout before they are added to the stored totals. */
  readonly flushEvery: number;
}

/** What StartPolicyRollout asks for. */
export interface PolicyRolloutInput {
  readonly policyId: string;
  readonly version: number;
  readonly mode: string;
  /** 0: none by share. */
  readonly percent: number;
  readonly principals: readonly string[];
  /** 0: the default (0.05). */
  readonly threshold: number;
  /** 0: the default (100). */
  readonly minSamples: number;
  /** Epoch ms; 0: never. */
  readonly endsAt: number;
  readonly justification: string;
}

/** The metadata key of a canary's approval request naming its rollout. */
export const ROLLOUT_APPROVAL_KEY = "rollout_id";

const DEFAULT_THRESHOLD = 0.05;
const DEFAULT_MIN_SAMPLES = 100;
const MAX_PRINCIPALS = 100;
const LIVE: readonly PolicyRolloutStatus[] = ["PENDING_APPROVAL", "RUNNING"];
const STATUSES: readonly PolicyRolloutStatus[] = ["PENDING_APPROVAL", "RUNNING", "PROMOTED", "ROLLED_BACK", "STOPPED"];
const CHOSEN_PRINCIPAL = /^(role:)?[A-Za-z0-9_.@:-]{1,128}$/;

/** True while a rollout can still act or start acting. */
export function isLiveRollout(record: Pick<PolicyRolloutRecord, "status">): boolean {
  return LIVE.includes(record.status);
}

/**
 * Staged rollouts of policy versions: SHADOW (the candidate is decided next to the tenant's
 * policies and never acts) and CANARY (the candidate acts for a cohort once a governance approval
 * made it ACTIVE next to the baseline), with counters and automatic rollback.
 *
 * Rules enforced:
 * - a shadow may start for any DRAFT or PENDING_APPROVAL version (`policies:submit`); a canary
 *   only opens an approval request (`policies:submit` and `governance:request`) and runs only once
 *   an approver other than the requester approves it; nothing of a canary acts before;
 * - the candidate is newer than the ACTIVE version (the baseline); one rollout per tenant is live
 *   (PENDING_APPROVAL or RUNNING) at a time, and while it is, no other version of its policy can
 *   be activated (approvals.ts);
 * - promote (canary only) retires the baseline; stop ends the rollout and, for a canary, retires
 *   the candidate so the baseline alone acts again; both need `governance:adjudicate`;
 * - counted calls are added to the stored totals in batches with one atomic increment, and the
 *   threshold is checked on the stored totals, so several Hosts roll back on their shared count;
 *   the rollback is a security audit event and an alert;
 * - every change of state reaches every Host on its next call (the tenant's epoch advances).
 */
export class PolicyRollouts implements RolloutObserver {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #audit: AuditRecorder;
  readonly #tenants: TenantDirectory;
  readonly #governance: GovernanceService;
  readonly #alerts: AlertNotifier;
  readonly #options: PolicyRolloutOptions;
  readonly #onError: (error: unknown) => void;
  /** `tenant \0 rollout` → counts not yet added to the stored totals. */
  #pending = new Map<string, { tenantId: string; rolloutId: string; evaluated: number; disagreements: number }>();
  #flushing: Promise<void> = Promise.resolve();
  readonly #expiring = new Set<string>();

  constructor(deps: {
    store: Store;
    clock: Clock;
    ids: IdSource;
    audit: AuditRecorder;
    tenants: TenantDirectory;
    governance: GovernanceService;
    alerts: AlertNotifier;
    options: PolicyRolloutOptions;
    /** Failures of background work (flushes, expiries); they are retried on the next one. */
    onError: (error: unknown) => void;
  }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#ids = deps.ids;
    this.#audit = deps.audit;
    this.#tenants = deps.tenants;
    this.#governance = deps.governance;
    this.#alerts = deps.alerts;
    this.#options = deps.options;
    this.#onError = deps.onError;
  }

  /**
   * Starts a shadow, or opens the approval request of a canary (the rollout is PENDING_APPROVAL
   * until an approver decides it).
   * @throws EnterpriseError AUTHORIZATION_DENIED, INVALID_ARGUMENT, NOT_FOUND, INVALID_STATE_TRANSITION
   */
  async start(ctx: SecurityContext, origin: RequestOrigin, input: PolicyRolloutInput): Promise<PolicyRolloutRecord> {
    requirePermission(ctx, "policies:submit");
    const mode = parseMode(input.mode);
    if (mode === "CANARY") requirePermission(ctx, "governance:request");
    const settings = validateSettings(mode, input, this.#clock.now());
    const stores = this.#store.forTenant(ctx.tenantId);
    const versions = await versionsOf(stores, input.policyId);
    const candidate = versions.find((v) => v.version === input.version);
    if (candidate === undefined) throw new EnterpriseError("NOT_FOUND", { details: { policy_id: input.policyId.slice(0, 64), version: String(input.version) } });
    assertCandidate(mode, candidate);
    const baseline = versions.findLast((v) => v.status === "ACTIVE");
    if (baseline !== undefined && baseline.version > candidate.version) {
      throw new EnterpriseError("INVALID_STATE_TRANSITION", {
        message: "A newer version of this policy is in force; roll out a version newer than it.",
        details: { policy_id: candidate.policyId, version: String(candidate.version), active_version: String(baseline.version) },
      });
    }
    const now = this.#clock.now();
    const record: PolicyRolloutRecord = {
      tenantId: ctx.tenantId,
      rolloutId: this.#ids.newId("rol"),
      policyId: candidate.policyId,
      candidateVersion: candidate.version,
      baselineVersion: baseline?.version ?? 0,
      mode,
      ...settings,
      evaluated: 0,
      disagreements: 0,
      status: mode === "SHADOW" ? "RUNNING" : "PENDING_APPROVAL",
      approvalRequestId: "",
      startedBy: ctx.principalId,
      createdAt: now,
      startedAt: mode === "SHADOW" ? now : 0,
      endedAt: 0,
      endedBy: "",
      endReason: "",
      revision: 0,
    };
    await stores.policyRollouts.create(record).catch((error: unknown) => {
      // The partial unique index keeps one live rollout per tenant, even across Hosts.
      if (error instanceof EnterpriseError && error.code === "ALREADY_EXISTS") throw anotherLive();
      throw error;
    });
    if (mode === "SHADOW") {
      await this.#tenants.refresh(ctx.tenantId);
      await this.#audit.record(startedEvent(record, ctx.principalId, origin));
      return record;
    }
    let approval: ApprovalRequestRecord;
    try {
      approval = await this.#governance.requestApproval(ctx, origin, {
        artifactType: "POLICY",
        artifactId: `${candidate.policyId}@${candidate.version}`,
        justification: `Canary of policy ${candidate.policyId} v${candidate.version} (${describeCohort(record)}). ${input.justification}`.trim(),
        requiredApprovers: [],
        expiresAt: 0,
        metadata: { operation: "canary", [ROLLOUT_APPROVAL_KEY]: record.rolloutId, cohort: describeCohort(record) },
      });
    } catch (error) {
      await stores.policyRollouts.update({ ...record, status: "STOPPED", endedAt: now, endReason: "the approval request could not be opened" }, 0);
      throw error;
    }
    const pending = { ...record, approvalRequestId: approval.approvalRequestId, revision: 1 };
    await stores.policyRollouts.update(pending, 0);
    return pending;
  }

  /**
   * One rollout, with this Host's uncounted calls added first.
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND
   */
  async get(ctx: SecurityContext, rolloutId: string): Promise<PolicyRolloutRecord> {
    requirePermission(ctx, "policies:read");
    await this.flush();
    const record = await this.#store.forTenant(ctx.tenantId).policyRollouts.get(rolloutId);
    if (record === null) throw notFound(rolloutId);
    return record;
  }

  /**
   * The tenant's rollouts in id order, optionally of one status or policy.
   * @throws EnterpriseError AUTHORIZATION_DENIED, INVALID_ARGUMENT (unknown status)
   */
  async list(ctx: SecurityContext, filter: { status?: string; policyId?: string; limit?: number; cursor?: string }): Promise<{ rollouts: PolicyRolloutRecord[]; nextCursor: string }> {
    requirePermission(ctx, "policies:read");
    const status = filter.status === undefined || filter.status === "" ? undefined : filter.status.toUpperCase();
    if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "status", expected: STATUSES.join("|") } });
    }
    await this.flush();
    const limit = Math.min(Math.max(filter.limit === undefined || filter.limit === 0 ? 100 : filter.limit, 1), 500);
    const page = await this.#store.forTenant(ctx.tenantId).policyRollouts.list({
      limit: limit + 1,
      ...(status === undefined ? {} : { status: status as PolicyRolloutStatus }),
      ...(filter.policyId === undefined || filter.policyId === "" ? {} : { policyId: filter.policyId }),
      ...(filter.cursor === undefined || filter.cursor === "" ? {} : { cursor: filter.cursor }),
    });
    const rollouts = page.slice(0, limit);
    return { rollouts, nextCursor: page.length > limit ? (rollouts.at(-1)?.rolloutId ?? "") : "" };
  }

  /**
   * Makes a RUNNING canary's candidate act for everyone: the baseline is retired.
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND, INVALID_STATE_TRANSITION
   */
  async promote(ctx: SecurityContext, origin: RequestOrigin, rolloutId: string, reason: string): Promise<PolicyRolloutRecord> {
    requirePermission(ctx, "governance:adjudicate");
    await this.flush();
    const now = this.#clock.now();
    let retired: PolicyRecord | null = null;
    const promoted = await this.#store.transaction(async (tx) => {
      const stores = tx.forTenant(ctx.tenantId);
      const record = await stores.policyRollouts.get(rolloutId);
      if (record === null) throw notFound(rolloutId);
      if (record.mode !== "CANARY" || record.status !== "RUNNING") {
        throw new EnterpriseError("INVALID_STATE_TRANSITION", {
          message: record.mode === "SHADOW" ? "A shadow never acts; stop it and request approval of the version, or start a canary." : "Only a RUNNING canary can be promoted.",
          details: { rollout_id: rolloutId, mode: record.mode, status: record.status },
        });
      }
      retired = await retireVersion(stores, record.policyId, record.baselineVersion, now);
      const next = { ...record, status: "PROMOTED" as const, endedAt: now, endedBy: ctx.principalId, endReason: clip(reason) || "promoted", revision: record.revision + 1 };
      await stores.policyRollouts.update(next, record.revision);
      return next;
    });
    await this.#tenants.refresh(ctx.tenantId);
    await Promise.all([
      this.#audit.record(endedEvent("policy.rollout_promoted", promoted, ctx.principalId, origin)),
      retiredEvent(this.#audit, retired, ctx.principalId, origin, `rollout ${rolloutId} promoted version ${promoted.candidateVersion}`),
    ]);
    return promoted;
  }

  /**
   * Ends a live rollout: a shadow stops; a canary's candidate is retired (the baseline alone acts
   * again); a canary awaiting approval has its request cancelled.
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND, INVALID_STATE_TRANSITION
   */
  async stop(ctx: SecurityContext, origin: RequestOrigin, rolloutId: string, reason: string): Promise<PolicyRolloutRecord> {
    requirePermission(ctx, "governance:adjudicate");
    await this.flush();
    const ended = await this.#end(ctx.tenantId, rolloutId, "STOPPED", ctx.principalId, clip(reason) || "stopped", origin);
    if (ended === null) {
      const record = await this.#store.forTenant(ctx.tenantId).policyRollouts.get(rolloutId);
      if (record === null) throw notFound(rolloutId);
      throw new EnterpriseError("INVALID_STATE_TRANSITION", { message: "The rollout has ended already.", details: { rollout_id: rolloutId, status: record.status } });
    }
    return ended;
  }

  /** Counts one call (hot path: memory only; the call that fills a batch starts its flush). */
  observe(tenantId: string, rolloutId: string, disagreed: boolean): void {
    if (this.#count(tenantId, rolloutId, 1, disagreed ? 1 : 0) >= this.#options.flushEvery) this.flush().catch(this.#onError);
  }

  /** Adds to this Host's pending counts; returns how many calls the rollout has pending. */
  #count(tenantId: string, rolloutId: string, evaluated: number, disagreements: number): number {
    const key = `${tenantId}\u0000${rolloutId}`;
    let entry = this.#pending.get(key);
    if (entry === undefined) this.#pending.set(key, (entry = { tenantId, rolloutId, evaluated: 0, disagreements: 0 }));
    entry.evaluated += evaluated;
    entry.disagreements += disagreements;
    return entry.evaluated;
  }

  /** Ends a rollout whose end time has passed (once per rollout on this Host). */
  expire(tenantId: string, rolloutId: string): void {
    const key = `${tenantId}\u0000${rolloutId}`;
    if (this.#expiring.has(key)) return;
    this.#expiring.add(key);
    this.#end(tenantId, rolloutId, "STOPPED", "", "the end time was reached")
      .catch(this.#onError)
      .finally(() => this.#expiring.delete(key));
  }

  /**
   * Adds every count held on this Host to the stored totals (one atomic increment per rollout)
   * and rolls back any rollout whose stored totals pass its threshold. Flushes run one at a time.
   */
  flush(): Promise<void> {
    const run = this.#flushing.then(() => this.#flushOnce());
    this.#flushing = run.catch(() => {});
    return run;
  }

  async #flushOnce(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending.values()];
    this.#pending = new Map();
    let failure: Error | null = null;
    for (const entry of batch) {
      let totals: PolicyRolloutRecord | null;
      try {
        totals = await this.#store.forTenant(entry.tenantId).policyRollouts.addCounts(entry.rolloutId, entry.evaluated, entry.disagreements);
      } catch (error) {
        // Not stored: keep the counts for the next flush rather than lose them.
        this.#count(entry.tenantId, entry.rolloutId, entry.evaluated, entry.disagreements);
        failure ??= asError(error);
        continue;
      }
      try {
        if (totals !== null && shouldRollBack(totals)) await this.#rollBack(totals);
      } catch (error) {
        failure ??= asError(error);
      }
    }
    if (failure !== null) throw failure;
  }

  async #rollBack(totals: PolicyRolloutRecord): Promise<void> {
    const rate = disagreementRate(totals);
    const reason = `disagreement rate ${rate.toFixed(4)} exceeded the threshold ${totals.threshold} after ${totals.evaluated} evaluations`;
    const ended = await this.#end(totals.tenantId, totals.rolloutId, "ROLLED_BACK", "", reason);
    // Another Host rolled it back first: it raised the alert.
    if (ended === null) return;
    this.#alerts.raise({
      kind: "policy.rollout_rolled_back",
      severity: "HIGH",
      tenantId: totals.tenantId,
      principalId: "",
      title: `Policy ${totals.policyId} v${totals.candidateVersion} was rolled back by itself`,
      detail: { rollout_id: totals.rolloutId, policy_id: totals.policyId, mode: totals.mode, reason },
      raisedAt: this.#clock.now(),
    });
  }

  /** Ends a live rollout; null when it was not live (someone ended it first). */
  async #end(tenantId: string, rolloutId: string, status: "STOPPED" | "ROLLED_BACK", by: string, reason: string, origin?: RequestOrigin): Promise<PolicyRolloutRecord | null> {
    const now = this.#clock.now();
    let retired: PolicyRecord | null = null;
    const ended = await this.#store
      .transaction(async (tx) => {
        const stores = tx.forTenant(tenantId);
        const record = await stores.policyRollouts.get(rolloutId);
        if (record === null || !isLiveRollout(record)) return null;
        if (record.mode === "CANARY" && record.status === "RUNNING") retired = await retireVersion(stores, record.policyId, record.candidateVersion, now);
        if (record.status === "PENDING_APPROVAL") await cancelApproval(stores, record, now);
        const next = { ...record, status, endedAt: now, endedBy: by, endReason: reason, revision: record.revision + 1 };
        await stores.policyRollouts.update(next, record.revision);
        return next;
      })
      .catch(async (error: unknown) => {
        // Another Host (or an operator) ended it between our read and our write: theirs stands.
        if (!(error instanceof EnterpriseError) || error.code !== "CONFLICT") throw error;
        const current = await this.#store.forTenant(tenantId).policyRollouts.get(rolloutId);
        if (current !== null && isLiveRollout(current)) throw error;
        retired = null;
        return null;
      });
    if (ended === null) return null;
    await this.#tenants.refresh(tenantId);
    const type = status === "ROLLED_BACK" ? "policy.rollout_rolled_back" : "policy.rollout_stopped";
    await Promise.all([
      this.#audit.record({ ...endedEvent(type, ended, by, origin), ...(status === "ROLLED_BACK" ? { riskScore: "HIGH" } : {}) }),
      retiredEvent(this.#audit, retired, by, origin, `rollout ${rolloutId} ${status === "ROLLED_BACK" ? "rolled back" : "stopped"}: ${reason}`),
    ]);
    return ended;
  }
}

/**
 * Inside the adjudication of a policy approval (approvals.ts): the canary rollout the request was
 * opened for, or null for an ordinary request. A request naming a rollout that is not waiting
 * for it (stopped, forged metadata) is refused, so it can never activate the version ordinarily.
 * @throws EnterpriseError INVALID_STATE_TRANSITION
 */
export async function canaryOfApproval(stores: TenantStores, request: ApprovalRequestRecord): Promise<PolicyRolloutRecord | null> {
  const rolloutId = request.metadata[ROLLOUT_APPROVAL_KEY];
  if (request.artifactType !== "POLICY" || rolloutId === undefined) return null;
  const rollout = await stores.policyRollouts.get(rolloutId);
  if (rollout === null || rollout.status !== "PENDING_APPROVAL" || rollout.approvalRequestId !== request.approvalRequestId) {
    throw new EnterpriseError("INVALID_STATE_TRANSITION", {
      message: "This approval was for a canary rollout that is no longer waiting for it; reject it.",
      details: { approval_request_id: request.approvalRequestId },
    });
  }
  return rollout;
}

/** The canary's new state once its approval is decided (in the adjudication's transaction); the audit event to record after. */
export async function settleCanary(stores: TenantStores, rollout: PolicyRolloutRecord, approved: boolean, by: string, at: number, reason: string): Promise<AuditInput> {
  const next: PolicyRolloutRecord = approved
    ? { ...rollout, status: "RUNNING", startedAt: at, revision: rollout.revision + 1 }
    : { ...rollout, status: "STOPPED", endedAt: at, endedBy: by, endReason: reason, revision: rollout.revision + 1 };
  await stores.policyRollouts.update(next, rollout.revision);
  return approved ? startedEvent(next, by) : endedEvent("policy.rollout_stopped", next, by);
}

/**
 * Whether a version of the policy may be activated ordinarily: not while a rollout of it is live.
 * @throws EnterpriseError INVALID_STATE_TRANSITION
 */
export async function assertNoLiveRollout(stores: TenantStores, policyId: string): Promise<void> {
  const live = (await stores.policyRollouts.list({ policyId, limit: 500 })).find(isLiveRollout);
  if (live === undefined) return;
  throw new EnterpriseError("INVALID_STATE_TRANSITION", {
    message: "A rollout of this policy is live; promote or stop it before activating another version.",
    details: { policy_id: policyId, rollout_id: live.rolloutId, rollout_status: live.status },
  });
}

function parseMode(mode: string): PolicyRolloutMode {
  const upper = mode.toUpperCase();
  if (upper === "SHADOW" || upper === "CANARY") return upper;
  throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "mode", expected: "SHADOW|CANARY" } });
}

function validateSettings(mode: PolicyRolloutMode, input: PolicyRolloutInput, now: number): Pick<PolicyRolloutRecord, "percent" | "principals" | "threshold" | "minSamples" | "endsAt"> {
  const invalid = (field: string, expected: string): EnterpriseError => new EnterpriseError("INVALID_ARGUMENT", { details: { field, expected } });
  if (!Number.isInteger(input.percent) || input.percent < 0 || input.percent > 100) throw invalid("percent", "a whole percentage in 1..100 (0: none by share)");
  if (input.principals.length > MAX_PRINCIPALS) throw invalid("principals", `at most ${MAX_PRINCIPALS}`);
  for (const [index, chosen] of input.principals.entries()) {
    if (!CHOSEN_PRINCIPAL.test(chosen)) throw invalid(`principals[${index}]`, "a principal id or role:<name>");
  }
  if (mode === "CANARY" && input.percent === 0 && input.principals.length === 0) throw invalid("percent", "a canary needs a percentage in 1..100 or chosen principals");
  const threshold = input.threshold === 0 ? DEFAULT_THRESHOLD : input.threshold;
  // Stored in parts per million: anything finer would not survive the round trip.
  if (!Number.isFinite(threshold) || threshold < 0.000001 || threshold > 1) throw invalid("threshold", "a disagreement rate in (0, 1], e.g. 0.05");
  const minSamples = input.minSamples === 0 ? DEFAULT_MIN_SAMPLES : input.minSamples;
  if (!Number.isSafeInteger(minSamples) || minSamples < 1 || minSamples > 1_000_000_000) throw invalid("min_samples", "a count in 1..1000000000");
  if (!Number.isSafeInteger(input.endsAt) || input.endsAt < 0 || (input.endsAt > 0 && input.endsAt <= now)) throw invalid("ends_at", "a future time, or none");
  return { percent: input.percent, principals: [...new Set(input.principals)], threshold: Math.round(threshold * 1_000_000) / 1_000_000, minSamples, endsAt: input.endsAt };
}

function assertCandidate(mode: PolicyRolloutMode, candidate: PolicyRecord): void {
  const allowed = mode === "SHADOW" ? ["DRAFT", "PENDING_APPROVAL"] : ["DRAFT"];
  if (allowed.includes(candidate.status)) return;
  throw new EnterpriseError("INVALID_STATE_TRANSITION", {
    message:
      mode === "SHADOW"
        ? "Only a version that is not in force (DRAFT or PENDING_APPROVAL) can be shadowed."
        : "A canary puts a DRAFT version up for approval; this version is not a DRAFT (store a new version, or have its pending approval decided).",
    details: { policy_id: candidate.policyId, version: String(candidate.version), status: candidate.status },
  });
}

async function retireVersion(stores: TenantStores, policyId: string, version: number, at: number): Promise<PolicyRecord | null> {
  if (version === 0) return null;
  const record = await stores.policies.get(policyId, version);
  if (record === null || record.status !== "ACTIVE") return null;
  const retired = { ...record, status: "RETIRED" as const, updatedAt: at, revision: record.revision + 1 };
  await stores.policies.update(retired, record.revision);
  return retired;
}

/** A stopped canary's pending approval is cancelled and its version returns to DRAFT. */
async function cancelApproval(stores: TenantStores, rollout: PolicyRolloutRecord, at: number): Promise<void> {
  const request = rollout.approvalRequestId === "" ? null : await stores.approvals.get(rollout.approvalRequestId);
  if (request === null || request.status !== "PENDING") return;
  await stores.approvals.update({ ...request, status: "CANCELLED", decidedAt: at, comments: "the canary rollout was stopped", revision: request.revision + 1 }, request.revision);
  const version = await stores.policies.get(rollout.policyId, rollout.candidateVersion);
  if (version?.status === "PENDING_APPROVAL") await stores.policies.update({ ...version, status: "DRAFT", updatedAt: at, revision: version.revision + 1 }, version.revision);
}

function describeCohort(record: Pick<PolicyRolloutRecord, "percent" | "principals">): string {
  const parts = [record.percent > 0 ? `${record.percent}% of principals` : "", record.principals.length > 0 ? `chosen: ${record.principals.join(",")}` : ""].filter(Boolean);
  return parts.length === 0 ? "every principal" : parts.join("; ");
}

function rolloutMetadata(record: PolicyRolloutRecord): Record<string, string> {
  return {
    rollout_id: record.rolloutId,
    mode: record.mode,
    candidate_version: String(record.candidateVersion),
    baseline_version: String(record.baselineVersion),
    cohort: describeCohort(record),
    threshold: String(record.threshold),
    min_samples: String(record.minSamples),
  };
}

function startedEvent(record: PolicyRolloutRecord, by: string, origin?: RequestOrigin): AuditInput {
  return {
    eventType: "policy.rollout_started",
    tenantId: record.tenantId,
    principalId: by,
    resource: `policy:${record.policyId}@${record.candidateVersion}`,
    action: "start_rollout",
    outcome: "SUCCESS",
    ...(origin === undefined ? {} : { origin }),
    metadata: { ...rolloutMetadata(record), approval_request_id: record.approvalRequestId, started_by: record.startedBy },
  };
}

function endedEvent(type: "policy.rollout_promoted" | "policy.rollout_stopped" | "policy.rollout_rolled_back", record: PolicyRolloutRecord, by: string, origin?: RequestOrigin): AuditInput {
  return {
    eventType: type,
    tenantId: record.tenantId,
    principalId: by,
    resource: `policy:${record.policyId}@${record.candidateVersion}`,
    action: type.slice("policy.rollout_".length),
    outcome: "SUCCESS",
    ...(origin === undefined ? {} : { origin }),
    metadata: { ...rolloutMetadata(record), evaluated: String(record.evaluated), disagreements: String(record.disagreements), reason: record.endReason.slice(0, 256) },
  };
}

async function retiredEvent(audit: AuditRecorder, record: PolicyRecord | null, by: string, origin: RequestOrigin | undefined, reason: string): Promise<void> {
  if (record === null) return;
  await audit.record({
    eventType: "policy.retired",
    tenantId: record.tenantId,
    principalId: by,
    resource: `policy:${record.policyId}@${record.version}`,
    action: "retire",
    outcome: "SUCCESS",
    ...(origin === undefined ? {} : { origin }),
    metadata: { reason: reason.slice(0, 256) },
  });
}

function anotherLive(): EnterpriseError {
  return new EnterpriseError("INVALID_STATE_TRANSITION", {
    message: "Another policy rollout of this tenant is live; promote or stop it first (aesp policy rollout list).",
    details: { reason: "one live rollout per tenant" },
  });
}

function notFound(rolloutId: string): EnterpriseError {
  return new EnterpriseError("NOT_FOUND", { details: { rollout_id: rolloutId.slice(0, 64) } });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function clip(text: string): string {
  return text.trim().slice(0, 512);
}
