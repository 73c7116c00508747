/**
 * Calls held for a human approval: what a REQUIRE_APPROVAL policy decision does.
 *
 * Rules enforced:
 * - The held call opens (or joins) one approval request per *call fingerprint*: tenant,
 *   principal, contract name and version, and the arguments (canonical JSON, SHA-256). An
 *   identical retry joins the request already pending instead of opening another.
 * - The call waits, bounded: at most `governance.call_approval_wait_seconds`, never past its own
 *   deadline, and not at all once the client has gone away. It wakes at once when the decision
 *   is taken on this Host, and otherwise re-reads the request every `call_approval_poll_ms`, so
 *   a decision taken on another Host is seen too.
 * - Approved: the call goes on. An approval is used once: a retry of the same call after a
 *   timeout uses an approval given since, within `call_approval_use_seconds` of the decision;
 *   using it is a revisioned update, so two racing retries cannot both use one approval.
 * - Rejected: APPROVAL_REJECTED with the approver's comments. No decision in time:
 *   APPROVAL_REQUIRED naming the request, its approvers and how to proceed.
 * - The requester can never approve their own call (GovernanceService refuses self-approval);
 *   approvers come from the policy (`approvers` parameter: `role:<name>` or `principal:<id>`,
 *   comma-separated), else the Host's default approvers.
 */
import { EnterpriseError, toEnterpriseError } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import { toHex, utf8 } from "../audit/encoding.ts";
import type { RequestOrigin, SecurityContext } from "../identity/security-context.ts";
import type { AlertNotifier, Clock, Hasher, IdSource, Scheduler, Store } from "../ports.ts";
import type { ApprovalRequestRecord, ContractRecord } from "../records.ts";
import type { GovernanceService } from "./approvals.ts";

/** Limits of held calls, from the `governance.call_approval_*` config keys. */
export interface CallApprovalOptions {
  readonly expirySeconds: number;
  readonly waitSeconds: number;
  readonly useSeconds: number;
  readonly pollMs: number;
  /** Approvers when the policy names none. */
  readonly defaultApprovers: readonly string[];
}

/** A call the policy stage held. */
export interface HeldCall {
  readonly security: SecurityContext;
  readonly origin: RequestOrigin;
  readonly invocationId: string;
  readonly sessionId: string;
  readonly contract: ContractRecord;
  readonly args: Readonly<Record<string, unknown>>;
  /** The decision's reason and the REQUIRE_APPROVAL policies that matched. */
  readonly reason: string;
  /** Every policy the decision evaluated (named in a refusal, as for other policy refusals). */
  readonly appliedPolicies: readonly string[];
  readonly policies: readonly string[];
  /** `role:<name>` / `principal:<id>` named by those policies; empty: the defaults. */
  readonly approvers: readonly string[];
  /** The call's own deadline (epoch ms). */
  readonly deadlineMs: number;
  readonly signal: AbortSignal;
}

/** Metadata keys of a TOOL_CALL approval request. */
const CONSUMED_BY = "consumed_by_invocation";
const CONSUMED_AT = "consumed_at";
/** Looking further back than this many requests for one fingerprint is pointless. */
const HISTORY_LIMIT = 100;
/** A held call gives up this long before its deadline, so its refusal still reaches the caller. */
const DEADLINE_MARGIN_MS = 50;

/**
 * Holds calls for approval and lets them go on once approved.
 *
 * @example
 * await callApprovals.hold({ security, origin, invocationId, sessionId, contract, args, reason, policies, approvers, deadlineMs, signal });
 */
export class CallApprovals {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #hasher: Hasher;
  readonly #audit: AuditRecorder;
  readonly #scheduler: Scheduler;
  readonly #alerts: AlertNotifier | null;
  readonly #options: CallApprovalOptions;
  /** Held calls on this Host, by approval request id: aborting wakes them. */
  readonly #waiting = new Map<string, Set<AbortController>>();

  constructor(deps: {
    store: Store;
    clock: Clock;
    ids: IdSource;
    hasher: Hasher;
    audit: AuditRecorder;
    governance: GovernanceService;
    scheduler: Scheduler;
    alerts?: AlertNotifier;
    options: CallApprovalOptions;
  }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#ids = deps.ids;
    this.#hasher = deps.hasher;
    this.#audit = deps.audit;
    this.#scheduler = deps.scheduler;
    this.#alerts = deps.alerts ?? null;
    this.#options = deps.options;
    deps.governance.onDecided((_tenantId, request) => {
      if (request.artifactType !== "TOOL_CALL") return;
      for (const waiter of this.#waiting.get(request.approvalRequestId) ?? []) waiter.abort();
    });
  }

  /**
   * Returns once the call is approved (using the approval), or refuses it.
   * @throws EnterpriseError APPROVAL_REQUIRED (no decision in time), APPROVAL_REJECTED, CANCELLED
   */
  async hold(call: HeldCall): Promise<ApprovalRequestRecord> {
    const stores = this.#store.forTenant(call.security.tenantId);
    const artifactId = this.fingerprint(call);
    const history = (await stores.approvals.list({ artifactType: "TOOL_CALL", artifactId, limit: HISTORY_LIMIT })).filter(
      (request) => request.requesterId === call.security.principalId,
    );
    const now = this.#clock.now();
    for (const request of history) {
      if (this.#usable(request, now)) {
        const used = await this.#use(call, request);
        if (used !== null) return used;
      }
    }
    let request = history.find((candidate) => candidate.status === "PENDING" && candidate.expiresAt > now) ?? (await this.#open(call, artifactId));
    const until = Math.min(now + this.#options.waitSeconds * 1000, call.deadlineMs - DEADLINE_MARGIN_MS);
    for (;;) {
      if (call.signal.aborted) throw toEnterpriseError(call.signal.reason);
      if (request.status === "APPROVED") {
        const used = await this.#use(call, request);
        if (used !== null) return used;
        // Another retry of the same call used this approval first.
        throw this.#required(call, request, "the approval was already used by another call");
      }
      if (request.status === "REJECTED") {
        throw new EnterpriseError("APPROVAL_REJECTED", {
          details: { decision_reason: call.reason, applied_policies: call.appliedPolicies.join(","), approval_request_id: request.approvalRequestId, decided_by: request.decidedBy ?? "", comments: request.comments.slice(0, 512) },
        });
      }
      if (request.status !== "PENDING") throw this.#required(call, request, `the approval request is ${request.status.toLowerCase()}; an identical call opens a new one`);
      const remaining = until - this.#clock.now();
      if (remaining <= 0) throw this.#required(call, request, "no decision was taken while the call waited");
      await this.#sleepUnlessDecided(request.approvalRequestId, Math.min(remaining, this.#options.pollMs), call.signal);
      request = (await stores.approvals.get(request.approvalRequestId)) ?? request;
    }
  }

  /** The fingerprint that identifies "the same call" for approval: `call:<sha256 hex>`. */
  fingerprint(call: Pick<HeldCall, "security" | "contract" | "args">): string {
    const canonical = canonicalJson({
      tenant: call.security.tenantId,
      principal: call.security.principalId,
      contract: call.contract.definition.name,
      version: call.contract.definition.contractVersion,
      args: call.args,
    });
    return `call:${toHex(this.#hasher.sha256(utf8(canonical)))}`;
  }

  #usable(request: ApprovalRequestRecord, now: number): boolean {
    return request.status === "APPROVED" && request.metadata[CONSUMED_BY] === undefined && request.decidedAt !== null && request.decidedAt + this.#options.useSeconds * 1000 > now;
  }

  /** Marks the approval used by this call; null when another call used it first. */
  async #use(call: HeldCall, request: ApprovalRequestRecord): Promise<ApprovalRequestRecord | null> {
    if (!this.#usable(request, this.#clock.now())) return null;
    const used: ApprovalRequestRecord = {
      ...request,
      metadata: { ...request.metadata, [CONSUMED_BY]: call.invocationId, [CONSUMED_AT]: String(this.#clock.now()) },
      revision: request.revision + 1,
    };
    try {
      await this.#store.forTenant(call.security.tenantId).approvals.update(used, request.revision);
    } catch (error) {
      if (error instanceof EnterpriseError && error.code === "CONFLICT") return null;
      throw error;
    }
    await this.#audit.record({
      eventType: "tool_call.approval_used",
      tenantId: call.security.tenantId,
      principalId: call.security.principalId,
      sessionId: call.sessionId,
      resource: `contract:${call.contract.contractId}`,
      action: "tools:invoke",
      outcome: "SUCCESS",
      origin: call.origin,
      metadata: { invocation_id: call.invocationId, approval_request_id: request.approvalRequestId, approved_by: request.decidedBy ?? "" },
    });
    return used;
  }

  async #open(call: HeldCall, artifactId: string): Promise<ApprovalRequestRecord> {
    const now = this.#clock.now();
    const approvers = call.approvers.length > 0 ? [...new Set(call.approvers)] : [...this.#options.defaultApprovers];
    const definition = call.contract.definition;
    const record: ApprovalRequestRecord = {
      tenantId: call.security.tenantId,
      approvalRequestId: this.#ids.newId("apr"),
      artifactType: "TOOL_CALL",
      artifactId,
      requesterId: call.security.principalId,
      justification: `Call of ${definition.name}@${definition.contractVersion} by ${call.security.principalId}: ${call.reason}`.slice(0, 2000),
      requiredApprovers: approvers,
      status: "PENDING",
      createdAt: now,
      expiresAt: now + this.#options.expirySeconds * 1000,
      decidedBy: null,
      decidedAt: null,
      comments: "",
      metadata: {
        contract: definition.name,
        contract_version: definition.contractVersion,
        contract_id: call.contract.contractId,
        session_id: call.sessionId,
        invocation_id: call.invocationId,
        policies: call.policies.join(","),
      },
      revision: 0,
    };
    await this.#store.forTenant(call.security.tenantId).approvals.create(record);
    await this.#audit.record({
      eventType: "tool_call.approval_requested",
      tenantId: call.security.tenantId,
      principalId: call.security.principalId,
      sessionId: call.sessionId,
      resource: `contract:${call.contract.contractId}`,
      action: "tools:invoke",
      outcome: "SUCCESS",
      origin: call.origin,
      metadata: { invocation_id: call.invocationId, approval_request_id: record.approvalRequestId, required_approvers: approvers.join(","), policies: call.policies.join(",") },
    });
    this.#alerts?.raise({
      kind: "tool_call.approval_requested",
      severity: "INFO",
      tenantId: call.security.tenantId,
      principalId: call.security.principalId,
      title: `Approval needed: ${definition.name} called by ${call.security.principalId}`,
      detail: { approval_request_id: record.approvalRequestId, required_approvers: approvers.join(","), policies: call.policies.join(",") },
      raisedAt: now,
    });
    return record;
  }

  #required(call: HeldCall, request: ApprovalRequestRecord, why: string): EnterpriseError {
    return new EnterpriseError("APPROVAL_REQUIRED", {
      details: {
        decision_reason: call.reason,
        applied_policies: call.appliedPolicies.join(","),
        approval_request_id: request.approvalRequestId,
        status: request.status,
        required_approvers: request.requiredApprovers.join(","),
        expires_at: String(request.expiresAt),
        use_within_seconds: String(this.#options.useSeconds),
        why,
      },
    });
  }

  async #sleepUnlessDecided(approvalRequestId: string, ms: number, callSignal: AbortSignal): Promise<void> {
    const wake = new AbortController();
    const onCallAbort = (): void => wake.abort();
    callSignal.addEventListener("abort", onCallAbort, { once: true });
    let waiters = this.#waiting.get(approvalRequestId);
    if (waiters === undefined) this.#waiting.set(approvalRequestId, (waiters = new Set()));
    waiters.add(wake);
    try {
      await this.#scheduler.sleep(ms, wake.signal);
    } finally {
      callSignal.removeEventListener("abort", onCallAbort);
      waiters.delete(wake);
      if (waiters.size === 0) this.#waiting.delete(approvalRequestId);
    }
  }
}

/** JSON with object keys sorted at every level: equal values give equal text. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner === null || typeof inner !== "object" || Array.isArray(inner)) return inner;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(inner).sort()) sorted[key] = (inner as Record<string, unknown>)[key];
    return sorted;
  });
}
