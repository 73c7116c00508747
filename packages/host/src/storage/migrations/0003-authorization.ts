/**
 * Migration 3: authorization. Roles can be bound to directory groups of a tenant, and every
 * tenant gets a change epoch that Hosts sharing the database read to tell whether their
 * in-memory snapshot of the tenant is stale (core `TenantDirectory.currentSnapshot`).
 *
 * Table options follow migrations 1 and 2: STRICT on SQLite, WITHOUT ROWID where the primary key
 * is the table, `tenant_id` leading every tenant key.
 */
import { sql } from "kysely";
import type { CreateTableBuilder } from "kysely";
import type { ColumnTypes, Migration } from "./migration.ts";

function withTableOptions<T extends string, C extends string>(builder: CreateTableBuilder<T, C>, types: ColumnTypes): CreateTableBuilder<T, C> {
  if (types.kind !== "sqlite") return builder;
  return builder.modifyEnd(sql.raw("strict, without rowid"));
}

/** Group role bindings and tenant change epochs. */
export const authorizationSchema: Migration = {
  version: 3,
  name: "authorization",
  async up(db, t) {
    await withTableOptions(
      db.schema
        .createTable("group_role_bindings")
        .addColumn("tenant_id", t.text, (c) => c.notNull())
        .addColumn("group_name", t.text, (c) => c.notNull())
        .addColumn("role", t.text, (c) => c.notNull())
        .addColumn("created_at", t.bigint, (c) => c.notNull())
        .addColumn("created_by", t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint("group_role_bindings_pk", ["tenant_id", "group_name", "role"]),
      t,
    ).execute();

    await withTableOptions(
      db.schema
        .createTable("tenant_epochs")
        .addColumn("tenant_id", t.text, (c) => c.notNull())
        .addColumn("epoch", t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint("tenant_epochs_pk", ["tenant_id"]),
      t,
    ).execute();
  },
};
