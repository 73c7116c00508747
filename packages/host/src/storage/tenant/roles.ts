/** Roles of one tenant, built-in and custom. */
import type { Selectable } from "kysely";
import type { RoleStore } from "@aesp/core";
import type { RoleRecord } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { RolesTable } from "../schema.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link RoleStore} over the `roles` table, bound to one tenant. */
export class KyselyRoleStore extends TenantScopedStore implements RoleStore {
  /**
   * Creates the role or replaces every field of the existing one with the same name.
   *
   * @throws EnterpriseError INVALID_ARGUMENT (record of another tenant).
   */
  async upsert(record: RoleRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    const columns = {
      description: record.description,
      permissions: this.codec.writeJson(record.permissions),
      inherits: this.codec.writeJson(record.inherits),
      built_in: this.codec.writeBoolean(record.builtIn),
      created_at: record.createdAt,
    };
    await guarded(() =>
      this.context.db
        .insertInto("roles")
        .values({ tenant_id: tenantId, name: record.name, ...columns })
        .onConflict((conflict) => conflict.columns(["tenant_id", "name"]).doUpdateSet(columns))
        .execute(),
    );
  }

  /** The role, or null when it does not exist in this tenant. */
  async get(name: string): Promise<RoleRecord | null> {
    const row = await guarded(() =>
      this.context.db.selectFrom("roles").selectAll().where("tenant_id", "=", this.tenantId).where("name", "=", name).executeTakeFirst(),
    );
    return row === undefined ? null : this.toRecord(row);
  }

  /** Every role of the tenant, ordered by name. */
  async list(): Promise<RoleRecord[]> {
    const rows = await guarded(() => this.context.db.selectFrom("roles").selectAll().where("tenant_id", "=", this.tenantId).orderBy("name").execute());
    return rows.map((row) => this.toRecord(row));
  }

  private toRecord(row: Selectable<RolesTable>): RoleRecord {
    return {
      tenantId: row.tenant_id,
      name: row.name,
      description: row.description,
      permissions: this.codec.readJson<string[]>(row.permissions),
      inherits: this.codec.readJson<string[]>(row.inherits),
      builtIn: this.codec.readBoolean(row.built_in),
      createdAt: row.created_at,
    };
  }
}
