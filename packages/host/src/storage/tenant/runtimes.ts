/** Runtimes a tenant has registered, with the contracts each may fulfil. */
import type { Selectable } from "kysely";
import type { RuntimeRegistrationStore } from "@aesp/core";
import type { RuntimeRegistrationRecord } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { RuntimeRegistrationsTable } from "../schema.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link RuntimeRegistrationStore} over the `runtime_registrations` table, bound to one tenant. */
export class KyselyRuntimeRegistrationStore extends TenantScopedStore implements RuntimeRegistrationStore {
  /**
   * Creates the registration or replaces every field of the existing one.
   *
   * @throws EnterpriseError INVALID_ARGUMENT (record of another tenant).
   */
  async upsert(record: RuntimeRegistrationRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    const columns = {
      allowed_contracts: this.codec.writeJson(record.allowedContracts),
      created_by: record.createdBy,
      created_at: record.createdAt,
    };
    await guarded(() =>
      this.context.db
        .insertInto("runtime_registrations")
        .values({ tenant_id: tenantId, runtime_id: record.runtimeId, ...columns })
        .onConflict((conflict) => conflict.columns(["tenant_id", "runtime_id"]).doUpdateSet(columns))
        .execute(),
    );
  }

  /** The registration, or null when the runtime is not registered in this tenant. */
  async get(runtimeId: string): Promise<RuntimeRegistrationRecord | null> {
    const row = await guarded(() =>
      this.context.db
        .selectFrom("runtime_registrations")
        .selectAll()
        .where("tenant_id", "=", this.tenantId)
        .where("runtime_id", "=", runtimeId)
        .executeTakeFirst(),
    );
    return row === undefined ? null : this.toRecord(row);
  }

  /** Every registration of the tenant, ordered by runtimeId. */
  async list(): Promise<RuntimeRegistrationRecord[]> {
    const rows = await guarded(() =>
      this.context.db.selectFrom("runtime_registrations").selectAll().where("tenant_id", "=", this.tenantId).orderBy("runtime_id").execute(),
    );
    return rows.map((row) => this.toRecord(row));
  }

  private toRecord(row: Selectable<RuntimeRegistrationsTable>): RuntimeRegistrationRecord {
    return {
      tenantId: row.tenant_id,
      runtimeId: row.runtime_id,
      allowedContracts: this.codec.readJson<string[]>(row.allowed_contracts),
      createdBy: row.created_by,
      createdAt: row.created_at,
    };
  }
}
