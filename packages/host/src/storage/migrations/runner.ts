/**
 * Applies pending migrations in one transaction, recorded in `schema_migrations`.
 *
 * Several Hosts may start at once against one database: on PostgreSQL an
 * advisory transaction lock serialises them, on SQLite the IMMEDIATE write
 * lock does; whoever comes second finds the versions recorded and applies
 * nothing. DDL is transactional on both, so a failed migration leaves no
 * half-built schema behind.
 */
import { sql } from "kysely";
import type { Kysely } from "kysely";
import { EnterpriseError } from "@aesp/core";
import type { Database } from "../schema.ts";
import type { ColumnTypes, Migration } from "./migration.ts";

/** Advisory lock key for migrations on PostgreSQL: ASCII "AESPMIG1". */
const MIGRATION_LOCK_KEY = 0x414553504d494731n;

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Whether `name` is usable as a PostgreSQL schema name without quoting
 * surprises: letters, digits and underscores, not starting with a digit, at most 63 characters.
 */
export function isSafeSchemaName(name: string): boolean {
  return SCHEMA_NAME.test(name);
}

/**
 * Brings the database to the newest schema this Host knows.
 *
 * @param db - the root Kysely instance.
 * @param types - the dialect's column types.
 * @param migrations - every migration, versions strictly increasing.
 * @param options.schema - PostgreSQL only: created if missing, before anything else.
 * @returns the versions it applied (empty when the schema was current).
 * @throws EnterpriseError UNAVAILABLE when the database was migrated by a newer Host
 *   or records a migration this Host does not know under that version.
 */
export async function migrate(
  db: Kysely<Database>,
  types: ColumnTypes,
  migrations: readonly Migration[],
  options: { schema?: string } = {},
): Promise<number[]> {
  return db.transaction().execute(async (trx) => {
    if (types.kind === "postgres") {
      await sql`select pg_advisory_xact_lock(${sql.raw(MIGRATION_LOCK_KEY.toString())})`.execute(trx);
      const { schema } = options;
      if (schema !== undefined) {
        // Look first: CREATE SCHEMA checks the CREATE privilege on the database
        // even with IF NOT EXISTS, and a DBA may have created the schema for a
        // role that lacks it.
        const existing = await sql<{ found: number }>`select 1 as found from pg_namespace where nspname = ${schema}`.execute(trx);
        if (existing.rows.length === 0) await sql`create schema ${sql.id(schema)}`.execute(trx);
      }
    }
    await trx.schema
      .createTable("schema_migrations")
      .ifNotExists()
      .addColumn("version", types.integer, (c) => c.primaryKey())
      .addColumn("name", types.text, (c) => c.notNull())
      .addColumn("applied_at", types.bigint, (c) => c.notNull())
      .execute();

    const applied = await trx.selectFrom("schema_migrations").select(["version", "name"]).orderBy("version").execute();
    const known = new Map(migrations.map((migration) => [migration.version, migration.name]));
    for (const row of applied) {
      if (known.get(row.version) !== row.name) {
        throw new EnterpriseError("UNAVAILABLE", {
          message: "The database schema was written by a different Host version; upgrade this Host before starting it.",
          details: { schema_version: String(row.version) },
        });
      }
    }

    const done = new Set(applied.map((row) => row.version));
    const appliedNow: number[] = [];
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await migration.up(trx, types);
      await trx.insertInto("schema_migrations").values({ version: migration.version, name: migration.name, applied_at: Date.now() }).execute();
      appliedNow.push(migration.version);
    }
    return appliedNow;
  });
}
