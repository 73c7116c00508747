import { EnterpriseError } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock, IdSource, Store, TenantStores } from "../ports.ts";
import type { ApprovalRequestRecord, ArtifactStatus, ArtifactType } from "../records.ts";
import type { RequestOrigin, SecurityContext } from "../identity/security-context.ts";
import { requirePermission } from "../identity/require-permission.ts";
import { assertTransition } from "../contracts/index.ts";
import type { TenantDirectory } from "../tenancy/tenant-snapshot.ts";
import { versionsOf } from "./policy-registry.ts";
import { assertNoLiveRollout, canaryOfApproval, settleCanary } from "./policy-rollouts.ts";
import type { AuditInput } from "../audit-recorder.ts";

/** Governance limits, from the `governance` config section. */
export interface GovernanceOptions {
  readonly defaultExpirySeconds: number;
  /** Approvers used when a request names none: roles as `role:<name>`. */
  readonly defaultApprovers: readonly string[];
}

/** Reads and moves a governed artifact through its lifecycle, inside the caller's transaction. */
interface ArtifactAccess {
  status(stores: TenantStores, artifactId: string): Promise<ArtifactStatus | null>;
  /** `keepActive`: a canary's activation, which leaves the ACTIVE version in force (policy-rollouts.ts). */
  move(stores: TenantStores, artifactId: string, to: ArtifactStatus, by: string, at: number, keepActive?: boolean): Promise<void>;
  readonly auditPrefix: string;
  /** Whether a decision changes the tenant's snapshot (and so is followed by `<prefix>.activated|rejected`). */
  readonly changesTenant: boolean;
}

const artifacts: Record<ArtifactType, ArtifactAccess> = {
  TOOL_CONTRACT: {
    auditPrefix: "contract",
    changesTenant: true,
    async status(stores, id) {
      return (await stores.contracts.get(id))?.status ?? null;
    },
    async move(stores, id, to, by, at) {
      const current = await stores.contracts.get(id);
      if (current === null) throw new EnterpriseError("NOT_FOUND");
      assertTransition(current.status, to);
      const approved = to === "ACTIVE" ? { approvedBy: by, approvedAt: at } : {};
      await stores.contracts.update({ ...current, ...approved, status: to, updatedAt: at, revision: current.revision + 1 }, current.revision);
    },
  },
  POLICY: {
    auditPrefix: "policy",
    changesTenant: true,
    async status(stores, id) {
      const [policyId, version] = splitVersioned(id);
      return (await stores.policies.get(policyId, version))?.status ?? null;
    },
    async move(stores, id, to, _by, at, keepActive = false) {
      const [policyId, version] = splitVersioned(id);
      const current = await stores.policies.get(policyId, version);
      if (current === null) throw new EnterpriseError("NOT_FOUND");
      assertTransition(current.status, to);
      if (to === "ACTIVE") {
        if (!keepActive) await assertNoLiveRollout(stores, policyId);
        const versions = await versionsOf(stores, policyId);
        // Approving an older version after a newer one would silently undo the newer change
        // (or a deletion already in force).
        const newer = versions.find((v) => v.version > version && v.status === "ACTIVE");
        if (newer !== undefined) {
          throw new EnterpriseError("INVALID_STATE_TRANSITION", {
            message: "A newer version of this policy is in force; reject this request and submit a new version instead.",
            details: { policy_id: policyId, version: String(version), active_version: String(newer.version) },
          });
        }
        // One ACTIVE version per policy: activating a version retires the previous one (except a
        // canary's, which acts next to it until the rollout is promoted or ends).
        for (const other of keepActive ? [] : versions.filter((v) => v.status === "ACTIVE" && v.version < version)) {
          await stores.policies.update({ ...other, status: "RETIRED", updatedAt: at, revision: other.revision + 1 }, other.revision);
        }
      }
      await stores.policies.update({ ...current, status: to, updatedAt: at, revision: current.revision + 1 }, current.revision);
    },
  },
  // A call held by a REQUIRE_APPROVAL policy: the request is the whole artifact (see call-approvals.ts).
  TOOL_CALL: {
    auditPrefix: "tool_call",
    changesTenant: false,
    status() {
      return Promise.resolve(null);
    },
    move() {
      return Promise.resolve();
    },
  },
};

function splitVersioned(id: string): [string, number] {
  const at = id.lastIndexOf("@");
  const version = Number.parseInt(id.slice(at + 1), 10);
  if (at <= 0 || !Number.isSafeInteger(version)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "artifact_id" } });
  return [id.slice(0, at), version];
}

/**
 * Approval workflows: the only way a governed artifact becomes ACTIVE.
 *
 * Rules enforced:
 * - only a DRAFT artifact can be put up for approval, and only once at a time;
 * - the adjudicator is never the requester (SELF_APPROVAL_FORBIDDEN, audited as a security event);
 * - the adjudicator must hold `governance:adjudicate` and match one of the required approvers;
 * - an expired request cannot be adjudicated; the artifact returns to DRAFT;
 * - the decision and the artifact's transition commit together, then the tenant snapshot is swapped;
 * - every step is audited.
 */
export class GovernanceService {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #audit: AuditRecorder;
  readonly #tenants: TenantDirectory;
  readonly #options: GovernanceOptions;
  readonly #listeners = new Set<(tenantId: string, request: ApprovalRequestRecord) => void>();

  constructor(deps: { store: Store; clock: Clock; ids: IdSource; audit: AuditRecorder; tenants: TenantDirectory; options: GovernanceOptions }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#ids = deps.ids;
    this.#audit = deps.audit;
    this.#tenants = deps.tenants;
    this.#options = deps.options;
  }

  /**
   * Opens an approval request for a DRAFT artifact and moves it to PENDING_APPROVAL.
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND, INVALID_STATE_TRANSITION, INVALID_ARGUMENT
   */
  async requestApproval(
    ctx: SecurityContext,
    origin: RequestOrigin,
    input: { artifactType: ArtifactType; artifactId: string; justification: string; requiredApprovers: readonly string[]; expiresAt: number; metadata: Record<string, string> },
  ): Promise<ApprovalRequestRecord> {
    requirePermission(ctx, "governance:request");
    if (input.artifactType === "TOOL_CALL") {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: "Calls are put up for approval by REQUIRE_APPROVAL policies, not by request.", details: { field: "artifact_type" } });
    }
    const access = artifacts[input.artifactType];
    const now = this.#clock.now();
    const approvers = input.requiredApprovers.length > 0 ? [...input.requiredApprovers] : [...this.#options.defaultApprovers];
    if (approvers.some((a) => !/^(role|principal):[A-Za-z0-9_.@-]{1,128}$/.test(a))) {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "required_approvers", expected: "role:<name> or principal:<id>" } });
    }
    if (approvers.includes(`principal:${ctx.principalId}`)) {
      throw new EnterpriseError("SELF_APPROVAL_FORBIDDEN", { details: { reason: "the requester cannot be a required approver" } });
    }
    const expiresAt = input.expiresAt === 0 ? now + this.#options.defaultExpirySeconds * 1000 : input.expiresAt;
    if (expiresAt <= now) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "expires_at" } });
    const record: ApprovalRequestRecord = {
      tenantId: ctx.tenantId,
      approvalRequestId: this.#ids.newId("apr"),
      artifactType: input.artifactType,
      artifactId: input.artifactId,
      requesterId: ctx.principalId,
      justification: input.justification.slice(0, 2000),
      requiredApprovers: approvers,
      status: "PENDING",
      createdAt: now,
      expiresAt,
      decidedBy: null,
      decidedAt: null,
      comments: "",
      metadata: input.metadata,
      revision: 0,
    };
    await this.#store.transaction(async (tx) => {
      const stores = tx.forTenant(ctx.tenantId);
      const status = await access.status(stores, input.artifactId);
      if (status === null) throw new EnterpriseError("NOT_FOUND", { details: { artifact_id: input.artifactId } });
      await access.move(stores, input.artifactId, "PENDING_APPROVAL", ctx.principalId, now);
      await stores.approvals.create(record);
    });
    await this.#audit.record({
      eventType: "approval.requested",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `${access.auditPrefix}:${input.artifactId}`,
      action: "request_approval",
      outcome: "SUCCESS",
      origin,
      metadata: { approval_request_id: record.approvalRequestId, artifact_type: input.artifactType, required_approvers: approvers.join(",") },
    });
    return record;
  }

  /**
   * Approves or rejects a pending request; on approval the artifact becomes ACTIVE.
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND, SELF_APPROVAL_FORBIDDEN, INVALID_STATE_TRANSITION, CONFLICT
   */
  async adjudicate(
    ctx: SecurityContext,
    origin: RequestOrigin,
    input: { approvalRequestId: string; decision: "APPROVE" | "REJECT"; comments: string },
  ): Promise<ApprovalRequestRecord> {
    requirePermission(ctx, "governance:adjudicate");
    const stores = this.#store.forTenant(ctx.tenantId);
    const request = await stores.approvals.get(input.approvalRequestId);
    if (request === null) throw new EnterpriseError("NOT_FOUND", { details: { approval_request_id: input.approvalRequestId } });
    const access = artifacts[request.artifactType];
    const resource = `${access.auditPrefix}:${request.artifactId}`;
    if (request.requesterId === ctx.principalId) {
      await this.#audit.record({
        eventType: "approval.self_approval_blocked",
        tenantId: ctx.tenantId,
        principalId: ctx.principalId,
        resource,
        action: "adjudicate",
        outcome: "DENIED",
        origin,
        riskScore: "HIGH",
        metadata: { approval_request_id: request.approvalRequestId },
      });
      throw new EnterpriseError("SELF_APPROVAL_FORBIDDEN", { tenantId: ctx.tenantId, principalId: ctx.principalId });
    }
    if (!request.requiredApprovers.some((approver) => this.#matchesApprover(ctx, approver))) {
      throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { required_approvers: request.requiredApprovers.join(",") } });
    }
    if (request.status !== "PENDING") {
      throw new EnterpriseError("INVALID_STATE_TRANSITION", { details: { status: request.status } });
    }
    const now = this.#clock.now();
    if (request.expiresAt <= now) {
      await this.#store.transaction(async (tx) => {
        const txStores = tx.forTenant(ctx.tenantId);
        await txStores.approvals.update({ ...request, status: "EXPIRED", revision: request.revision + 1 }, request.revision);
        await access.move(txStores, request.artifactId, "DRAFT", ctx.principalId, now);
        const canary = await canaryOfApproval(txStores, request).catch(() => null);
        if (canary !== null) await settleCanary(txStores, canary, false, ctx.principalId, now, "the approval request expired");
      });
      throw new EnterpriseError("INVALID_STATE_TRANSITION", { message: "The approval request has expired; request approval again.", details: { status: "EXPIRED" } });
    }
    const approved = input.decision === "APPROVE";
    const decided: ApprovalRequestRecord = {
      ...request,
      status: approved ? "APPROVED" : "REJECTED",
      decidedBy: ctx.principalId,
      decidedAt: now,
      comments: input.comments.slice(0, 2000),
      revision: request.revision + 1,
    };
    let canaryEvent: AuditInput | null = null;
    await this.#store.transaction(async (tx) => {
      const txStores = tx.forTenant(ctx.tenantId);
      await txStores.approvals.update(decided, request.revision);
      // An approval naming a canary rollout that no longer waits for it can only be rejected.
      const canary = await canaryOfApproval(txStores, request).catch((error: unknown) => {
        if (approved) throw error;
        return null;
      });
      await access.move(txStores, request.artifactId, approved ? "ACTIVE" : "REJECTED", ctx.principalId, now, canary !== null);
      if (canary !== null) canaryEvent = await settleCanary(txStores, canary, approved, ctx.principalId, now, `the approval was rejected: ${input.comments}`.slice(0, 512));
    });
    if (access.changesTenant) await this.#tenants.refresh(ctx.tenantId);
    for (const listener of this.#listeners) listener(ctx.tenantId, decided);
    if (canaryEvent !== null) await this.#audit.record({ ...(canaryEvent as AuditInput), origin });
    const metadata = { approval_request_id: request.approvalRequestId, requester_id: request.requesterId };
    await Promise.all([
      this.#audit.record({ eventType: approved ? "approval.granted" : "approval.denied", tenantId: ctx.tenantId, principalId: ctx.principalId, resource, action: "adjudicate", outcome: "SUCCESS", origin, metadata }),
      access.changesTenant && this.#audit.record({
        eventType: `${access.auditPrefix}.${approved ? "activated" : "rejected"}`,
        tenantId: ctx.tenantId,
        principalId: ctx.principalId,
        resource,
        action: approved ? "activate" : "reject",
        outcome: "SUCCESS",
        origin,
        metadata,
      }),
    ]);
    return decided;
  }

  /**
   * Calls `listener` after each decision taken on this Host (held calls wake at once instead of
   * at their next poll). @returns a function that removes the listener.
   */
  onDecided(listener: (tenantId: string, request: ApprovalRequestRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Lists approval requests of the caller's tenant, pending ones by default. */
  async list(ctx: SecurityContext, filter: { status?: ApprovalRequestRecord["status"]; artifactType?: string; limit: number; cursor?: string }): Promise<ApprovalRequestRecord[]> {
    requirePermission(ctx, "governance:read");
    return this.#store.forTenant(ctx.tenantId).approvals.list({ ...filter, limit: Math.min(Math.max(filter.limit, 1), 500) });
  }

  #matchesApprover(ctx: SecurityContext, approver: string): boolean {
    if (approver === `principal:${ctx.principalId}`) return true;
    if (!approver.startsWith("role:")) return false;
    return ctx.roles.includes(approver.slice("role:".length));
  }
}
