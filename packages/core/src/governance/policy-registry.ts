import { EnterpriseError } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock, IdSource, Store, TenantStores } from "../ports.ts";
import type { ArtifactStatus, PolicyRecord } from "../records.ts";
import type { RequestOrigin, SecurityContext } from "../identity/security-context.ts";
import { requirePermission } from "../identity/require-permission.ts";
import { celPolicyEngine } from "../policy/cel-engine.ts";
import type { PolicyEngine } from "../policy/engine.ts";
import type { GovernanceService } from "./approvals.ts";
import { effectOf, hasErrors, POLICY_ID_PATTERN, validatePolicyDraft } from "./policy-validation.ts";
import type { PolicyDraftInput, PolicyValidationIssue, ValidationContext } from "./policy-validation.ts";

export type { PolicyDraftInput, PolicyValidationIssue } from "./policy-validation.ts";

/** Picks the policy engine of a tenant (its `policyEngine` setting; CEL by default). */
export type PolicyEngineResolver = (tenantId: string) => Promise<PolicyEngine>;

/** A stored (or, for a dry run, would-be) version with the warnings it carries. */
export interface PolicyChange {
  readonly record: PolicyRecord;
  /** Warnings only: errors refuse the change. */
  readonly issues: readonly PolicyValidationIssue[];
}

/**
 * The rule parameter that marks a deletion version. A deletion is a version
 * like any other change, so it goes through the same approval; once approved
 * (ACTIVE), every earlier version is RETIRED by the approval itself and the
 * marker, being disabled, never acts. Reads present an approved marker as
 * RETIRED: the policy as a whole is retired.
 */
export const DELETION_PARAMETER = "aesp.deletion";

const PAGE = 500;
const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 500;
const STATUSES: readonly ArtifactStatus[] = ["DRAFT", "PENDING_APPROVAL", "ACTIVE", "DEPRECATED", "RETIRED", "REJECTED"];

/** True for a version that deletes its policy. */
export function isDeletionVersion(record: PolicyRecord): boolean {
  return record.rule.parameters[DELETION_PARAMETER] === "true";
}

/** The status a reader sees: an approved deletion version stands for the policy's retirement. */
export function presentedStatus(record: PolicyRecord): ArtifactStatus {
  return record.status === "ACTIVE" && isDeletionVersion(record) ? "RETIRED" : record.status;
}

/**
 * Policy versions: validated, stored as DRAFTs, acting only after governance
 * approval (GovernanceService, artifact type POLICY, id `policy_id@version`).
 *
 * Rules enforced:
 * - nothing is stored that does not validate (ValidatePolicy's checks, with
 *   the tenant's engine): ERRORs refuse with INVALID_ARGUMENT naming the
 *   field and the position; WARNINGs are returned with the stored version;
 * - every change is a new immutable version (create: 1; update: newest + 1,
 *   with optimistic `expectedVersion` → CONFLICT); a dry run stores and audits
 *   nothing;
 * - deleting is a change too: a deletion version, put up for approval (see
 *   {@link DELETION_PARAMETER}); while one is pending or in force, updates are
 *   refused, and a deletion is refused while another version awaits approval
 *   (it could otherwise be approved after the deletion);
 * - every stored change is audited; nothing here makes a policy effective.
 */
export class PolicyRegistry {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #audit: AuditRecorder;
  readonly #engines: PolicyEngineResolver;

  /**
   * @param deps - `engines`: the policy engine of each tenant (CEL for every tenant by default);
   *   validation compiles conditions with it.
   */
  constructor(deps: { store: Store; clock: Clock; ids: IdSource; audit: AuditRecorder; engines?: PolicyEngineResolver }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#ids = deps.ids;
    this.#audit = deps.audit;
    this.#engines = deps.engines ?? (() => Promise.resolve(celPolicyEngine));
  }

  /** The engine that compiles and evaluates the tenant's policies. */
  engineFor(tenantId: string): Promise<PolicyEngine> {
    return this.#engines(tenantId);
  }

  /**
   * Checks a policy definition without storing anything.
   * @throws EnterpriseError AUTHORIZATION_DENIED (without `policies:read` or `policies:submit`)
   */
  async validate(ctx: SecurityContext, draft: PolicyDraftInput, policyId?: string): Promise<PolicyValidationIssue[]> {
    requireAny(ctx, ["policies:read", "policies:submit"]);
    const context = await this.#context(this.#store.forTenant(ctx.tenantId));
    return validatePolicyDraft(await this.#engines(ctx.tenantId), ctx.tenantId, draft, { ...(policyId === undefined ? {} : { policyId }), context });
  }

  /**
   * Creates a policy as version 1, DRAFT. `policyId` may be chosen by the author (else the Host
   * assigns one).
   * @throws EnterpriseError AUTHORIZATION_DENIED, INVALID_ARGUMENT (with field, error, line, column), ALREADY_EXISTS
   */
  async create(ctx: SecurityContext, origin: RequestOrigin, draft: PolicyDraftInput, options: { policyId?: string; dryRun?: boolean } = {}): Promise<PolicyChange> {
    requirePermission(ctx, "policies:submit");
    const chosen = options.policyId !== undefined && options.policyId !== "" ? options.policyId : undefined;
    const stores = this.#store.forTenant(ctx.tenantId);
    const issues = validatePolicyDraft(await this.#engines(ctx.tenantId), ctx.tenantId, draft, { ...(chosen === undefined ? {} : { policyId: chosen }), context: await this.#context(stores) });
    refuseErrors(issues);
    const policyId = chosen ?? this.#ids.newId("pol").toLowerCase();
    if (chosen !== undefined && (await versionsOf(stores, chosen)).length > 0) {
      throw new EnterpriseError("ALREADY_EXISTS", { message: "A policy with this id exists; update it instead.", details: { policy_id: chosen } });
    }
    const record = this.#draftRecord(ctx, policyId, 1, draft);
    if (options.dryRun === true) return { record, issues };
    await stores.policies.create(record);
    await this.#recordSubmitted(ctx, origin, record, issues, { operation: "create" });
    return { record, issues };
  }

  /**
   * Stores the next version of a policy as a DRAFT (the whole definition is replaced).
   * @param options.expectedVersion - the version the change is based on; CONFLICT when it is not the newest.
   * @throws EnterpriseError AUTHORIZATION_DENIED, INVALID_ARGUMENT, NOT_FOUND, CONFLICT, INVALID_STATE_TRANSITION (deleted or being deleted)
   */
  async update(ctx: SecurityContext, origin: RequestOrigin, policyId: string, draft: PolicyDraftInput, options: { expectedVersion?: number; dryRun?: boolean } = {}): Promise<PolicyChange> {
    requirePermission(ctx, "policies:submit");
    const stores = this.#store.forTenant(ctx.tenantId);
    const issues = validatePolicyDraft(await this.#engines(ctx.tenantId), ctx.tenantId, draft, { policyId, context: await this.#context(stores) });
    refuseErrors(issues);
    const attempt = async (tx: TenantStores): Promise<PolicyRecord> => {
      const versions = await versionsOf(tx, policyId);
      const newest = versions.at(-1);
      if (newest === undefined) throw notFound(policyId);
      if (options.expectedVersion !== undefined && options.expectedVersion !== newest.version) {
        throw new EnterpriseError("CONFLICT", { message: "The policy changed since the version you based this update on.", details: { policy_id: policyId, expected_version: String(options.expectedVersion), newest_version: String(newest.version) } });
      }
      assertNotDeleted(newest);
      return this.#draftRecord(ctx, policyId, newest.version + 1, draft);
    };
    if (options.dryRun === true) return { record: await attempt(stores), issues };
    let based = 0;
    const record = await this.#store.transaction(async (tx) => {
      const txStores = tx.forTenant(ctx.tenantId);
      const next = await attempt(txStores);
      based = next.version - 1;
      await txStores.policies.create(next).catch((error: unknown) => {
        // Two updates raced for the same version number: the later one is told to rebase.
        if (error instanceof EnterpriseError && error.code === "ALREADY_EXISTS") throw new EnterpriseError("CONFLICT", { details: { policy_id: policyId } });
        throw error;
      });
      return next;
    });
    await this.#recordSubmitted(ctx, origin, record, issues, { operation: "update", based_on_version: String(based) });
    return { record, issues };
  }

  /**
   * Stores the deletion version of a policy (a DRAFT to put up for approval), or returns the
   * one already waiting. Use {@link requestPolicyDeletion} to also open the approval request.
   * @returns `inForce`: the policy is deleted already (nothing was stored).
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND, INVALID_STATE_TRANSITION (a version or the deletion awaits approval)
   */
  async prepareDeletion(ctx: SecurityContext, origin: RequestOrigin, policyId: string, reason: string): Promise<{ record: PolicyRecord; inForce: boolean; created: boolean }> {
    requirePermission(ctx, "policies:submit");
    let activeVersion = "";
    const outcome = await this.#store.transaction(async (tx) => {
      const txStores = tx.forTenant(ctx.tenantId);
      const versions = await versionsOf(txStores, policyId);
      const newest = versions.at(-1);
      if (newest === undefined) throw notFound(policyId);
      if (isDeletionVersion(newest)) {
        if (newest.status === "ACTIVE") return { record: newest, inForce: true, created: false };
        if (newest.status === "DRAFT") return { record: newest, inForce: false, created: false };
        if (newest.status === "PENDING_APPROVAL") {
          throw new EnterpriseError("INVALID_STATE_TRANSITION", { message: "The deletion of this policy already awaits approval.", details: { policy_id: policyId, version: String(newest.version) } });
        }
      }
      const pending = versions.find((v) => v.status === "PENDING_APPROVAL");
      if (pending !== undefined) {
        throw new EnterpriseError("INVALID_STATE_TRANSITION", {
          message: "A version of this policy awaits approval; have it adjudicated before deleting the policy.",
          details: { policy_id: policyId, pending_version: String(pending.version) },
        });
      }
      activeVersion = String(versions.findLast((v) => v.status === "ACTIVE")?.version ?? "");
      const now = this.#clock.now();
      const marker: PolicyRecord = {
        ...newest,
        version: newest.version + 1,
        description: `Deletes the policy. ${reason}`.slice(0, 2000),
        rule: { ...newest.rule, parameters: { ...newest.rule.parameters, [DELETION_PARAMETER]: "true" } },
        enabled: false,
        status: "DRAFT",
        createdBy: ctx.principalId,
        createdAt: now,
        updatedAt: now,
        revision: 0,
      };
      await txStores.policies.create(marker);
      return { record: marker, inForce: false, created: true };
    });
    if (outcome.created) {
      await this.#audit.record({
        eventType: "policy.deletion_requested",
        tenantId: ctx.tenantId,
        principalId: ctx.principalId,
        resource: `policy:${policyId}@${outcome.record.version}`,
        action: "delete",
        outcome: "SUCCESS",
        origin,
        metadata: { reason: reason.slice(0, 256), active_version: activeVersion },
      });
    }
    return outcome;
  }

  /**
   * Reads one policy version (0 = newest).
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND
   */
  async get(ctx: SecurityContext, policyId: string, version: number): Promise<PolicyRecord> {
    requirePermission(ctx, "policies:read");
    const stores = this.#store.forTenant(ctx.tenantId);
    if (version > 0) {
      const record = await stores.policies.get(policyId, version);
      if (record === null) throw notFound(policyId);
      return record;
    }
    const newest = (await versionsOf(stores, policyId)).at(-1);
    if (newest === undefined) throw notFound(policyId);
    return newest;
  }

  /** Every version of one policy, oldest first. */
  async history(ctx: SecurityContext, policyId: string): Promise<PolicyRecord[]> {
    requirePermission(ctx, "policies:read");
    const versions = await versionsOf(this.#store.forTenant(ctx.tenantId), policyId);
    if (versions.length === 0) throw notFound(policyId);
    return versions;
  }

  /**
   * Lists policies of the caller's tenant in policy-id order: the newest version of each or, with
   * `status`, the newest version in that (presented) status.
   * @returns the page and the cursor of the next one (empty on the last page).
   * @throws EnterpriseError AUTHORIZATION_DENIED, INVALID_ARGUMENT (unknown status)
   */
  async list(ctx: SecurityContext, filter: { status?: string; limit?: number; cursor?: string } = {}): Promise<{ policies: PolicyRecord[]; nextCursor: string }> {
    requirePermission(ctx, "policies:read");
    const status = filter.status === undefined || filter.status === "" ? undefined : filter.status.toUpperCase();
    if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "status", expected: STATUSES.join("|") } });
    }
    const limit = Math.min(Math.max(filter.limit === undefined || filter.limit === 0 ? DEFAULT_LIST_LIMIT : filter.limit, 1), MAX_LIST_LIMIT);
    const stores = this.#store.forTenant(ctx.tenantId);
    const chosen: PolicyRecord[] = [];
    let cursor = filter.cursor === undefined || filter.cursor === "" ? undefined : stripVersion(filter.cursor);
    let current: PolicyRecord[] = [];
    const settle = (): void => {
      const pick = current.findLast((record) => status === undefined || presentedStatus(record) === status);
      if (pick !== undefined) chosen.push(pick);
      current = [];
    };
    for (;;) {
      const page = await stores.policies.list({ limit: PAGE, ...(cursor === undefined ? {} : { cursor }) });
      for (const record of page) {
        if (current.length > 0 && current[0]?.policyId !== record.policyId) settle();
        current.push(record);
      }
      const last = page.at(-1);
      if (page.length < PAGE || last === undefined) {
        settle();
        break;
      }
      // One more policy than asked for tells there is a next page.
      if (chosen.length > limit) break;
      cursor = `${last.policyId}@${last.version}`;
    }
    const page = chosen.slice(0, limit);
    return { policies: page, nextCursor: chosen.length > limit ? (page.at(-1)?.policyId ?? "") : "" };
  }

  #draftRecord(ctx: SecurityContext, policyId: string, version: number, draft: PolicyDraftInput): PolicyRecord {
    const now = this.#clock.now();
    return {
      tenantId: ctx.tenantId,
      policyId,
      name: draft.name.trim(),
      description: draft.description,
      version,
      rule: { condition: draft.rule.condition, effect: effectOf(draft), actions: [...draft.rule.actions], parameters: { ...draft.rule.parameters } },
      appliesTo: [...draft.appliesTo],
      enabled: draft.enabled,
      status: "DRAFT",
      createdBy: ctx.principalId,
      createdAt: now,
      updatedAt: now,
      revision: 0,
    };
  }

  async #context(stores: TenantStores): Promise<ValidationContext> {
    const [contracts, roles] = await Promise.all([contractNames(stores), stores.roles.list()]);
    return { contracts, roles: new Set(roles.map((role) => role.name)) };
  }

  async #recordSubmitted(ctx: SecurityContext, origin: RequestOrigin, record: PolicyRecord, issues: readonly PolicyValidationIssue[], extra: Record<string, string>): Promise<void> {
    await this.#audit.record({
      eventType: "policy.submitted",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `policy:${record.policyId}@${record.version}`,
      action: "submit",
      outcome: "SUCCESS",
      origin,
      metadata: { effect: record.rule.effect, warnings: String(issues.length), ...extra },
    });
  }
}

/**
 * DeletePolicy: stores the deletion version and opens its approval request (justification: the
 * reason). The policy keeps acting until an approver approves the request.
 * @returns `deleted`: the deletion is in force already; otherwise the approval request opened.
 * @throws EnterpriseError AUTHORIZATION_DENIED (needs `policies:submit` and `governance:request`),
 *   NOT_FOUND, INVALID_STATE_TRANSITION, INVALID_ARGUMENT (no reason)
 */
export async function requestPolicyDeletion(
  deps: { policies: PolicyRegistry; governance: GovernanceService },
  ctx: SecurityContext,
  origin: RequestOrigin,
  input: { policyId: string; reason: string },
): Promise<{ deleted: boolean; record: PolicyRecord; approvalRequestId: string }> {
  requirePermission(ctx, "policies:submit");
  requirePermission(ctx, "governance:request");
  if (input.reason.trim() === "") throw new EnterpriseError("INVALID_ARGUMENT", { message: "Say why the policy is deleted (recorded in audit and shown to the approver).", details: { field: "reason" } });
  const prepared = await deps.policies.prepareDeletion(ctx, origin, input.policyId, input.reason);
  if (prepared.inForce) return { deleted: true, record: prepared.record, approvalRequestId: "" };
  const approval = await deps.governance.requestApproval(ctx, origin, {
    artifactType: "POLICY",
    artifactId: `${prepared.record.policyId}@${prepared.record.version}`,
    justification: `Delete policy ${prepared.record.policyId}: ${input.reason}`,
    requiredApprovers: [],
    expiresAt: 0,
    metadata: { operation: "delete" },
  });
  return { deleted: false, record: { ...prepared.record, status: "PENDING_APPROVAL" }, approvalRequestId: approval.approvalRequestId };
}

/** Every version of one policy, oldest first (the store orders by policy id, then version). */
export async function versionsOf(stores: TenantStores, policyId: string): Promise<PolicyRecord[]> {
  // Ids are never anything else, and `@` would bend the cursor below.
  if (!POLICY_ID_PATTERN.test(policyId)) return [];
  const versions: PolicyRecord[] = [];
  let cursor = `${policyId}@0`;
  for (;;) {
    const page = await stores.policies.list({ limit: PAGE, cursor });
    const mine = page.filter((record) => record.policyId === policyId);
    versions.push(...mine);
    const last = mine.at(-1);
    if (mine.length < page.length || page.length < PAGE || last === undefined) return versions;
    cursor = `${policyId}@${last.version}`;
  }
}

async function contractNames(stores: TenantStores): Promise<Set<string>> {
  const names = new Set<string>();
  let cursor: string | undefined;
  for (;;) {
    const page = await stores.contracts.list({ limit: PAGE, ...(cursor === undefined ? {} : { cursor }) });
    for (const contract of page) names.add(contract.definition.name);
    const last = page.at(-1);
    if (page.length < PAGE || last === undefined) return names;
    cursor = last.contractId;
  }
}

function assertNotDeleted(newest: PolicyRecord): void {
  if (!isDeletionVersion(newest) || newest.status === "REJECTED") return;
  const inForce = newest.status === "ACTIVE";
  throw new EnterpriseError("INVALID_STATE_TRANSITION", {
    message: inForce ? "The policy is deleted." : "The policy is being deleted; adjudicate the deletion first.",
    details: { policy_id: newest.policyId, status: inForce ? "DELETED" : "DELETION_PENDING" },
  });
}

function refuseErrors(issues: readonly PolicyValidationIssue[]): void {
  if (!hasErrors(issues)) return;
  const errors = issues.filter((issue) => issue.severity === "ERROR");
  const first = errors[0] as PolicyValidationIssue;
  throw new EnterpriseError("INVALID_ARGUMENT", {
    message: "The policy is not valid; ValidatePolicy lists every problem.",
    details: {
      field: first.field,
      error: first.message.slice(0, 512),
      ...(first.line > 0 ? { line: String(first.line), column: String(first.column) } : {}),
      errors: String(errors.length),
    },
  });
}

function requireAny(ctx: SecurityContext, permissions: readonly string[]): void {
  let denied: unknown;
  for (const permission of permissions) {
    try {
      requirePermission(ctx, permission);
      return;
    } catch (error) {
      denied = error;
    }
  }
  throw denied;
}

function notFound(policyId: string): EnterpriseError {
  return new EnterpriseError("NOT_FOUND", { details: { policy_id: policyId.slice(0, 64) } });
}

/** A cursor is a policy id; tolerate `id@version` from older clients. */
function stripVersion(cursor: string): string {
  const at = cursor.lastIndexOf("@");
  return at > 0 && /^\d+$/.test(cursor.slice(at + 1)) ? cursor.slice(0, at) : cursor;
}
