import { EnterpriseError } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock, Store } from "../ports.ts";
import type { TenantRecord } from "../records.ts";
import type { RequestOrigin, SecurityContext } from "../identity/security-context.ts";
import { requirePermission } from "../identity/require-permission.ts";
import { builtInRoles } from "../rbac/index.ts";
import type { TenantDirectory } from "./tenant-snapshot.ts";

const tenantIdPattern = /^[a-z0-9][a-z0-9-]{1,62}$/;

/** Creates a tenant with its built-in roles, in one transaction. */
export async function provisionTenant(store: Store, input: { tenantId: string; displayName: string; now: number }): Promise<TenantRecord> {
  const record: TenantRecord = { tenantId: input.tenantId, displayName: input.displayName, status: "ACTIVE", createdAt: input.now };
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
  async create(ctx: SecurityContext, origin: RequestOrigin, input: { tenantId: string; displayName: string }): Promise<TenantRecord> {
    this.#requirePlatformAdmin(ctx);
    if (!tenantIdPattern.test(input.tenantId)) {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "tenant_id", expected: "2-63 chars of a-z, 0-9 and '-', starting with a letter or digit" } });
    }
    const record = await provisionTenant(this.#store, { tenantId: input.tenantId, displayName: input.displayName.slice(0, 128) || input.tenantId, now: this.#clock.now() });
    await this.#audit.record({ eventType: "tenant.created", tenantId: record.tenantId, principalId: ctx.principalId, resource: `tenant:${record.tenantId}`, action: "create", outcome: "SUCCESS", origin, metadata: { by_tenant: ctx.tenantId } });
    return record;
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
