import { EnterpriseError } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock, IdSource, Store } from "../ports.ts";
import type { PolicyRecord, PolicyRuleDefinition } from "../records.ts";
import type { RequestOrigin, SecurityContext } from "../identity/security-context.ts";
import { requirePermission } from "../identity/require-permission.ts";
import { compilePolicy } from "../policy/index.ts";

/** What an author submits for a policy version. */
export interface PolicyDraftInput {
  readonly name: string;
  readonly description: string;
  readonly rule: PolicyRuleDefinition;
  readonly appliesTo: readonly string[];
  readonly enabled: boolean;
}

const policyIdPattern = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const appliesToPattern = /^(contract|role|tenant):[A-Za-z0-9_*.@-]{1,128}$/;

/**
 * Stores policy versions as DRAFTs; they act only after governance approval.
 *
 * Rules enforced:
 * - a policy compiles (CEL parses) before it is stored;
 * - every change is a new version; versions are immutable;
 * - nothing here makes a policy effective: see GovernanceService.
 */
export class PolicyRegistry {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #audit: AuditRecorder;

  constructor(deps: { store: Store; clock: Clock; ids: IdSource; audit: AuditRecorder }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#ids = deps.ids;
    this.#audit = deps.audit;
  }

  /**
   * Creates a new policy (version 1) or, when `policyId` names an existing one, its next version.
   * @throws EnterpriseError AUTHORIZATION_DENIED, INVALID_ARGUMENT, NOT_FOUND
   */
  async submit(ctx: SecurityContext, origin: RequestOrigin, input: PolicyDraftInput, policyId?: string): Promise<PolicyRecord> {
    requirePermission(ctx, "policies:submit");
    if (input.name.trim() === "" || input.name.length > 128) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "name" } });
    const badTarget = input.appliesTo.find((t) => !appliesToPattern.test(t));
    if (badTarget !== undefined) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "applies_to", value: badTarget.slice(0, 64) } });
    const stores = this.#store.forTenant(ctx.tenantId);
    let version = 1;
    let id = policyId ?? this.#ids.newId("pol").toLowerCase();
    if (policyId !== undefined) {
      if (!policyIdPattern.test(policyId)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "policy_id" } });
      const versions = (await stores.policies.list({ limit: 1000 })).filter((p) => p.policyId === policyId);
      if (versions.length === 0) throw new EnterpriseError("NOT_FOUND", { details: { policy_id: policyId } });
      version = Math.max(...versions.map((p) => p.version)) + 1;
      id = policyId;
    }
    const now = this.#clock.now();
    const record: PolicyRecord = {
      tenantId: ctx.tenantId,
      policyId: id,
      name: input.name,
      description: input.description.slice(0, 2000),
      version,
      rule: input.rule,
      appliesTo: [...input.appliesTo],
      enabled: input.enabled,
      status: "DRAFT",
      createdBy: ctx.principalId,
      createdAt: now,
      updatedAt: now,
      revision: 0,
    };
    compilePolicy(record);
    await stores.policies.create(record);
    await this.#audit.record({
      eventType: "policy.submitted",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `policy:${id}@${version}`,
      action: "submit",
      outcome: "SUCCESS",
      origin,
      metadata: { effect: input.rule.effect },
    });
    return record;
  }

  /** Lists policy versions of the caller's tenant. */
  async list(ctx: SecurityContext, limit: number, cursor?: string): Promise<PolicyRecord[]> {
    requirePermission(ctx, "policies:read");
    return this.#store.forTenant(ctx.tenantId).policies.list({ limit: Math.min(Math.max(limit, 1), 500), ...(cursor === undefined ? {} : { cursor }) });
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
      if (record === null) throw new EnterpriseError("NOT_FOUND", { details: { policy_id: policyId } });
      return record;
    }
    const versions = (await stores.policies.list({ limit: 1000 })).filter((p) => p.policyId === policyId);
    const newest = versions.sort((a, b) => b.version - a.version)[0];
    if (newest === undefined) throw new EnterpriseError("NOT_FOUND", { details: { policy_id: policyId } });
    return newest;
  }
}
