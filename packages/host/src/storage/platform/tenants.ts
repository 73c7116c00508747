/** The tenant registry: a platform store, never reachable through a tenant's stores. */
import type { Selectable } from "kysely";
import type { TenantStore } from "@aesp/core";
import type { TenantRecord } from "@aesp/core";
import type { StoreContext } from "../context.ts";
import { guarded } from "../errors.ts";
import type { TenantsTable } from "../schema.ts";

/** {@link TenantStore} over the `tenants` table. */
export class KyselyTenantStore implements TenantStore {
  private readonly context: StoreContext;

  /** @param context - the database handle (root or transaction). */
  constructor(context: StoreContext) {
    this.context = context;
  }

  /** @throws EnterpriseError ALREADY_EXISTS. */
  async create(record: TenantRecord): Promise<void> {
    await guarded(() =>
      this.context.db
        .insertInto("tenants")
        .values({ tenant_id: record.tenantId, display_name: record.displayName, status: record.status, created_at: record.createdAt, policy_engine: record.policyEngine })
        .execute(),
    );
  }

  /** The tenant, or null when unknown. */
  async get(tenantId: string): Promise<TenantRecord | null> {
    const row = await guarded(() => this.context.db.selectFrom("tenants").selectAll().where("tenant_id", "=", tenantId).executeTakeFirst());
    return row === undefined ? null : toRecord(row);
  }

  /** Every tenant, ordered by tenantId. */
  async list(): Promise<TenantRecord[]> {
    const rows = await guarded(() => this.context.db.selectFrom("tenants").selectAll().orderBy("tenant_id").execute());
    return rows.map(toRecord);
  }

  /** Sets the tenant's status; false when the tenant is unknown. */
  async setStatus(tenantId: string, status: TenantRecord["status"]): Promise<boolean> {
    const result = await guarded(() => this.context.db.updateTable("tenants").set({ status }).where("tenant_id", "=", tenantId).executeTakeFirst());
    return result.numUpdatedRows > 0n;
  }

  /** Sets the tenant's policy engine; false when the tenant is unknown. */
  async setPolicyEngine(tenantId: string, engine: TenantRecord["policyEngine"]): Promise<boolean> {
    const result = await guarded(() => this.context.db.updateTable("tenants").set({ policy_engine: engine }).where("tenant_id", "=", tenantId).executeTakeFirst());
    return result.numUpdatedRows > 0n;
  }
}

function toRecord(row: Selectable<TenantsTable>): TenantRecord {
  return { tenantId: row.tenant_id, displayName: row.display_name, status: row.status, createdAt: row.created_at, policyEngine: row.policy_engine };
}
