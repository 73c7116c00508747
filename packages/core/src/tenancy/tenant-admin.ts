import { EnterpriseError } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock, Store } from "../ports.ts";
import type { PolicyEngineId, PolicyRecord, TenantRecord } from "../records.ts";
import type { RequestOrigin, SecurityContext } from "../identity/security-context.ts";
import { requirePermission } from "../identity/require-permission.ts";
import { builtInRoles } from "../rbac/index.ts";
import type { TenantDirectory } from "./tenant-snapshot.ts";

const tenantIdPattern = /^[a-z0-9][a-z0-9-]{1,62}$/;

/** Every ACTIVE, enabled version of the tenant's policies. */
async function activePolicies(store: Store, tenantId: string): Promise<PolicyRecord[]> {
  const stores = store.forTenant(tenantId);
  const all: PolicyRecord[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await stores.policies.list({ status: "ACTIVE", limit: 500, ...(cursor === undefined ? {} : { cursor }) });
    all.push(...page.filter((record) => record.enabled));
    const last = page.at(-1);
    if (page.length < 500 || last === undefined) return all;
    cursor = `${last.policyId}@${last.version}`;
  }
}

/** Creates a tenant with its built-in roles, in one transaction. */
export async function provisionTenant(store: Store, input: { tenantId: string; displayName: string; now: number; policyEngine?: PolicyEngineId }): Promise<TenantRecord> {
  const record: TenantRecord = { tenantId: input.tenantId, displayName: input.displayName, status: "ACTIVE", createdAt: input.now, policyEngine: input.policyEngine ?? "cel" };
  await store.transaction(async (tx) => {
    await tx.platform.tenants.create(record);
    const roles = tx.forTenant(input.tenantId).roles;
    for (const role of builtInRoles(input.tenantId, input.now)) await roles.upsert(role);
  });
  return record;
}

/**
 * The Tenant Manager: creates, suspends and resumes tenants.
 *
 * Rules enforced:
 * - only a platform administrator (`tenants:manage` held in the platform tenant) may act;
 *   a tenant administrator's `*` elsewhere does not reach across tenants;
 * - tenant ids are short lower-case slugs, unique for good;
 * - a suspended tenant's principals cannot sign in or call anything.
 */
export class TenantAdmin {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #audit: AuditRecorder;
  readonly #tenants: TenantDirectory;
  readonly #platformTenantId: string;

  constructor(deps: { store: Store; clock: Clock; audit: AuditRecorder; tenants: TenantDirectory; platformTenantId: string }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
    this.#tenants = deps.tenants;
    this.#platformTenantId = deps.platformTenantId;
  }

  /**
   * Creates a tenant.
   * @throws EnterpriseError AUTHORIZATION_DENIED, INVALID_ARGUMENT, ALREADY_EXISTS
   */
  async create(ctx: SecurityContext, origin: RequestOrigin, input: { tenantId: string; displayName: string; policyEngine?: string }): Promise<TenantRecord> {
    this.#requirePlatformAdmin(ctx);
    if (!tenantIdPattern.test(input.tenantId)) {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "tenant_id", expected: "2-63 chars of a-z, 0-9 and '-', starting with a letter or digit" } });
    }
    const policyEngine = this.#engineId(input.policyEngine === undefined || input.policyEngine === "" ? "cel" : input.policyEngine);
    const record = await provisionTenant(this.#store, { tenantId: input.tenantId, displayName: input.displayName.slice(0, 128) || input.tenantId, now: this.#clock.now(), policyEngine });
    await this.#audit.record({
      eventType: "tenant.created",
      tenantId: record.tenantId,
      principalId: ctx.principalId,
      resource: `tenant:${record.tenantId}`,
      action: "create",
      outcome: "SUCCESS",
      origin,
      metadata: { by_tenant: ctx.tenantId, policy_engine: policyEngine },
    });
    return record;
  }

  /**
   * Moves a tenant to another policy engine. Conditions are written in one language, so every
   * ACTIVE, enabled policy of the tenant must compile with the new engine first; otherwise nothing
   * changes and the first policy that does not is named. Takes effect on the tenant's next call.
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND, INVALID_ARGUMENT
   */
  async setPolicyEngine(ctx: SecurityContext, origin: RequestOrigin, tenantId: string, engine: string): Promise<TenantRecord> {
    this.#requirePlatformAdmin(ctx);
    const target = this.#engineId(engine);
    const current = await this.#store.platform.tenants.get(tenantId);
    if (current === null) throw new EnterpriseError("NOT_FOUND");
    if (current.policyEngine !== target) {
      const compiler = this.#tenants.engines[target];
      const active = await activePolicies(this.#store, tenantId);
      for (const record of active) {
        try {
          compiler.compile(record);
        } catch (error) {
          throw new EnterpriseError("INVALID_ARGUMENT", {
            message: `Policy ${record.policyId} does not compile with the ${target} engine; rewrite it (or retire it) before switching.`,
            details: { field: "policy_engine", policy_id: record.policyId, version: String(record.version), error: error instanceof EnterpriseError ? (error.details["error"] ?? error.message) : "does not compile" },
          });
        }
      }
      if (!(await this.#store.platform.tenants.setPolicyEngine(tenantId, target))) throw new EnterpriseError("NOT_FOUND");
    }
    const snapshot = await this.#tenants.refresh(tenantId);
    await this.#audit.record({
      eventType: "tenant.policy_engine_changed",
      tenantId,
      principalId: ctx.principalId,
      resource: `tenant:${tenantId}`,
      action: "set_policy_engine",
      outcome: "SUCCESS",
      origin,
      metadata: { from: current.policyEngine, to: target },
    });
    if (snapshot === null) throw new EnterpriseError("NOT_FOUND");
    return snapshot.tenant;
  }

  #engineId(engine: string): PolicyEngineId {
    const known = Object.keys(this.#tenants.engines);
    if (!known.includes(engine)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "policy_engine", expected: known.join("|") } });
    return engine as PolicyEngineId;
  }

  /** Lists every tenant (platform administrators only). */
  async list(ctx: SecurityContext): Promise<TenantRecord[]> {
    this.#requirePlatformAdmin(ctx);
    return this.#store.platform.tenants.list();
  }

  /**
   * Reads a tenant: platform administrators any, others only their own.
   * @throws EnterpriseError NOT_FOUND
   */
  async get(ctx: SecurityContext, tenantId: string): Promise<TenantRecord> {
    const platform = ctx.tenantId === this.#platformTenantId && ctx.permissions.some((p) => p === "*" || p === "tenants:manage" || p === "tenants:*");
    if (!platform && tenantId !== ctx.tenantId) throw new EnterpriseError("NOT_FOUND");
    const record = await this.#store.platform.tenants.get(tenantId);
    if (record === null) throw new EnterpriseError("NOT_FOUND");
    return record;
  }

  /**
   * Suspends or resumes a tenant; takes effect on the tenant's next call.
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND, INVALID_ARGUMENT
   */
  async setStatus(ctx: SecurityContext, origin: RequestOrigin, tenantId: string, status: TenantRecord["status"]): Promise<TenantRecord> {
    this.#requirePlatformAdmin(ctx);
    if (tenantId === this.#platformTenantId) throw new EnterpriseError("INVALID_ARGUMENT", { message: "The platform tenant cannot be suspended." });
    if (!(await this.#store.platform.tenants.setStatus(tenantId, status))) throw new EnterpriseError("NOT_FOUND");
    const snapshot = await this.#tenants.refresh(tenantId);
    await this.#audit.record({
      eventType: status === "SUSPENDED" ? "tenant.suspended" : "tenant.resumed",
      tenantId,
      principalId: ctx.principalId,
      resource: `tenant:${tenantId}`,
      action: status === "SUSPENDED" ? "suspend" : "resume",
      outcome: "SUCCESS",
      origin,
    });
    if (snapshot === null) throw new EnterpriseError("NOT_FOUND");
    return snapshot.tenant;
  }

  #requirePlatformAdmin(ctx: SecurityContext): void {
    if (ctx.tenantId !== this.#platformTenantId) {
      throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { required_permission: "tenants:manage (platform tenant)" } });
    }
    requirePermission(ctx, "tenants:manage");
  }
}
