/**
 * Migration 4: break-glass. Emergency override grants of a tenant, and the built-in role
 * `break-glass-operator` for tenants created before this version (new tenants get it from
 * `builtInRoles`).
 *
 * At most one ACTIVE grant per principal is a partial unique index rather than a check in code, so
 * two Hosts activating for the same principal at once cannot both succeed. Table options follow
 * migrations 1 to 3: STRICT on SQLite, WITHOUT ROWID where the primary key is the table.
 */
import { sql } from "kysely";
import type { Migration } from "./migration.ts";

/** Copied, not imported: a migration must keep meaning what it meant when it first ran. */
const OPERATOR_ROLE = {
  name: "break-glass-operator",
  description: "May activate a time-limited emergency override (break-glass) of policy refusals for their own calls; every use is audited, alerted and reviewed.",
  permissions: ["break_glass:activate"],
};

/** The break_glass_grants table and the operator role of existing tenants. */
export const breakGlassSchema: Migration = {
  version: 4,
  name: "break-glass",
  async up(db, t) {
    let table = db.schema
      .createTable("break_glass_grants")
      .addColumn("tenant_id", t.text, (c) => c.notNull())
      .addColumn("grant_id", t.text, (c) => c.notNull())
      .addColumn("principal_id", t.text, (c) => c.notNull())
      .addColumn("justification", t.text, (c) => c.notNull())
      .addColumn("contracts", t.json, (c) => c.notNull())
      .addColumn("status", t.text, (c) => c.notNull())
      .addColumn("activated_at", t.bigint, (c) => c.notNull())
      .addColumn("expires_at", t.bigint, (c) => c.notNull())
      .addColumn("closed_at", t.bigint)
      .addColumn("closed_by", t.text, (c) => c.notNull())
      .addColumn("close_reason", t.text, (c) => c.notNull())
      .addColumn("first_used_at", t.bigint)
      .addColumn("review_status", t.text, (c) => c.notNull())
      .addColumn("review_due_at", t.bigint, (c) => c.notNull())
      .addColumn("reviewed_by", t.text)
      .addColumn("reviewed_at", t.bigint)
      .addColumn("review_comments", t.text, (c) => c.notNull())
      .addColumn("review_overdue_alerted_at", t.bigint)
      .addColumn("revision", t.integer, (c) => c.notNull())
      .addPrimaryKeyConstraint("break_glass_grants_pk", ["tenant_id", "grant_id"]);
    if (t.kind === "sqlite") table = table.modifyEnd(sql.raw("strict, without rowid"));
    await table.execute();
    await db.schema
      .createIndex("break_glass_grants_one_active")
      .on("break_glass_grants")
      .columns(["tenant_id", "principal_id"])
      .unique()
      .where(sql<boolean>`status = 'ACTIVE'`)
      .execute();
    await db.schema.createIndex("break_glass_grants_by_activation").on("break_glass_grants").columns(["tenant_id", "activated_at", "grant_id"]).execute();

    for (const tenant of await db.selectFrom("tenants").select(["tenant_id", "created_at"]).execute()) {
      await db
        .insertInto("roles")
        .values({
          tenant_id: tenant.tenant_id,
          name: OPERATOR_ROLE.name,
          description: OPERATOR_ROLE.description,
          permissions: JSON.stringify(OPERATOR_ROLE.permissions),
          inherits: "[]",
          built_in: t.kind === "sqlite" ? 1 : true,
          created_at: tenant.created_at,
        })
        // A tenant that already defined a role of that name keeps its own.
        .onConflict((conflict) => conflict.columns(["tenant_id", "name"]).doNothing())
        .execute();
    }
  },
};
