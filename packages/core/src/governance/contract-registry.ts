import { EnterpriseError } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock, Store } from "../ports.ts";
import type { ArtifactStatus, ContractRecord, ToolContractDefinition } from "../records.ts";
import type { RequestOrigin, SecurityContext } from "../identity/security-context.ts";
import { requirePermission } from "../identity/require-permission.ts";
import { assertTransition, CompiledContract, contractId, validateContractDefinition } from "../contracts/index.ts";
import type { TenantDirectory } from "../tenancy/tenant-snapshot.ts";

/**
 * The Host-owned registry of tool contracts: the only place a contract is defined.
 *
 * Rules enforced:
 * - a submitted contract starts as DRAFT and never serves until governance makes it ACTIVE;
 * - a definition is validated in full (name, SemVer, schemas compile) before it is stored;
 * - a contract version is immutable: changes are new versions;
 * - every transition is audited.
 */
export class ContractRegistry {
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
   * Stores a new contract version as DRAFT.
   * @throws EnterpriseError AUTHORIZATION_DENIED, INVALID_ARGUMENT (with the issues), ALREADY_EXISTS
   */
  async submit(ctx: SecurityContext, origin: RequestOrigin, definition: ToolContractDefinition): Promise<ContractRecord> {
    requirePermission(ctx, "contracts:submit");
    const issues = validateContractDefinition(definition);
    if (issues.length > 0) {
      throw new EnterpriseError("INVALID_ARGUMENT", {
        message: "The contract definition is invalid.",
        details: Object.fromEntries(issues.slice(0, 20).map((issue, i) => [`issue_${i}`, `${issue.path}: ${issue.message}`])),
      });
    }
    // Compiling proves both schemas are usable before anything is stored.
    CompiledContract.compile(definition);
    const now = this.#clock.now();
    const record: ContractRecord = {
      tenantId: ctx.tenantId,
      contractId: contractId(definition.name, definition.contractVersion),
      definition,
      status: "DRAFT",
      createdBy: ctx.principalId,
      createdAt: now,
      updatedAt: now,
      approvedBy: null,
      approvedAt: null,
      revision: 0,
    };
    await this.#store.forTenant(ctx.tenantId).contracts.create(record);
    await this.#audit.record({
      eventType: "contract.submitted",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `contract:${record.contractId}`,
      action: "submit",
      outcome: "SUCCESS",
      origin,
      metadata: { classification: definition.securityClassification, risk: definition.riskAssessment },
    });
    return record;
  }

  /**
   * Reads one contract version; an empty version means the newest servable one.
   * @throws EnterpriseError AUTHORIZATION_DENIED, CONTRACT_NOT_FOUND
   */
  async get(ctx: SecurityContext, name: string, version: string): Promise<ContractRecord> {
    requirePermission(ctx, "contracts:read");
    if (version === "") {
      const snapshot = await this.#tenants.activeSnapshot(ctx.tenantId);
      const versions = snapshot.contracts.get(name);
      let newest: ContractRecord | null = null;
      for (const v of versions?.values() ?? []) if (newest === null || v.record.updatedAt > newest.updatedAt) newest = v.record;
      if (newest === null) throw new EnterpriseError("CONTRACT_NOT_FOUND", { details: { contract: name } });
      return newest;
    }
    const record = await this.#store.forTenant(ctx.tenantId).contracts.get(contractId(name, version));
    if (record === null) throw new EnterpriseError("CONTRACT_NOT_FOUND", { details: { contract: contractId(name, version) } });
    return record;
  }

  /** Lists contract versions of the caller's tenant. */
  async list(ctx: SecurityContext, filter: { name?: string; status?: ArtifactStatus; limit: number; cursor?: string }): Promise<ContractRecord[]> {
    requirePermission(ctx, "contracts:read");
    return this.#store.forTenant(ctx.tenantId).contracts.list({ ...filter, limit: Math.min(Math.max(filter.limit, 1), 500) });
  }

  /**
   * Moves an ACTIVE contract to DEPRECATED (still served) or RETIRED (no longer served).
   * @throws EnterpriseError AUTHORIZATION_DENIED, CONTRACT_NOT_FOUND, INVALID_STATE_TRANSITION, CONFLICT
   */
  async transition(ctx: SecurityContext, origin: RequestOrigin, name: string, version: string, to: "DEPRECATED" | "RETIRED", reason: string): Promise<ContractRecord> {
    requirePermission(ctx, "contracts:manage");
    const stores = this.#store.forTenant(ctx.tenantId);
    const current = await stores.contracts.get(contractId(name, version));
    if (current === null) throw new EnterpriseError("CONTRACT_NOT_FOUND", { details: { contract: contractId(name, version) } });
    assertTransition(current.status, to);
    const updated: ContractRecord = { ...current, status: to, updatedAt: this.#clock.now(), revision: current.revision + 1 };
    await stores.contracts.update(updated, current.revision);
    await this.#tenants.refresh(ctx.tenantId);
    await this.#audit.record({
      eventType: to === "DEPRECATED" ? "contract.deprecated" : "contract.retired",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `contract:${current.contractId}`,
      action: to.toLowerCase(),
      outcome: "SUCCESS",
      origin,
      metadata: { from: current.status, to, reason: reason.slice(0, 256) },
    });
    return updated;
  }
}
