/** Roles bound to directory groups of one tenant. */
import type { GroupRoleBindingStore } from "@aesp/core";
import type { GroupRoleBindingRecord } from "@aesp/core";
import { guarded } from "../errors.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link GroupRoleBindingStore} over the `group_role_bindings` table, bound to one tenant. */
export class KyselyGroupRoleBindingStore extends TenantScopedStore implements GroupRoleBindingStore {
  /**
   * Binds iff the pair is not bound yet (one INSERT … ON CONFLICT DO NOTHING).
   *
   * @returns false when it was already bound; the first record stays.
   * @throws EnterpriseError INVALID_ARGUMENT (record of another tenant).
   */
  async bind(record: GroupRoleBindingRecord): Promise<boolean> {
    const tenantId = this.ownTenant(record);
    const result = await guarded(() =>
      this.context.db
        .insertInto("group_role_bindings")
        .values({ tenant_id: tenantId, group_name: record.group, role: record.role, created_at: record.createdAt, created_by: record.createdBy })
        .onConflict((conflict) => conflict.columns(["tenant_id", "group_name", "role"]).doNothing())
        .executeTakeFirst(),
    );
    return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  /** Removes the binding; false when there was none in this tenant. */
  async unbind(group: string, role: string): Promise<boolean> {
    const result = await guarded(() =>
      this.context.db.deleteFrom("group_role_bindings").where("tenant_id", "=", this.tenantId).where("group_name", "=", group).where("role", "=", role).executeTakeFirst(),
    );
    return result.numDeletedRows > 0n;
  }

  /**
   * Every binding of the tenant, ordered by group then role in code-unit order (sorted here, not
   * in SQL, so both databases agree whatever their collation).
   */
  async list(): Promise<GroupRoleBindingRecord[]> {
    const rows = await guarded(() => this.context.db.selectFrom("group_role_bindings").selectAll().where("tenant_id", "=", this.tenantId).execute());
    return rows
      .map((row) => ({ tenantId: row.tenant_id, group: row.group_name, role: row.role, createdAt: Number(row.created_at), createdBy: row.created_by }))
      .sort((a, b) => compare(a.group, b.group) || compare(a.role, b.role));
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
