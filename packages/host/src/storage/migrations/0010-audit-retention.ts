/**
 * Migration 10: audit retention and erasure.
 *
 * - `audit_events.tombstone`: '' on intact records; 'retention' once the sweeper removed the
 *   content (the row keeps seq, event id, time, type, tenant, outcome and both hashes).
 * - `audit_retention_rules`, `audit_legal_holds`: per-tenant rules and holds.
 * - `audit_subject_keys`: per-subject keys (wrapped by the master key) sealing personal fields;
 *   a partial unique index holds "one live key per subject" against two Hosts creating at once.
 * - An index on (tenant_id, tombstone, timestamp_ms) so a sweep reads only expired candidates.
 */
import { sql } from "kysely";
import type { Migration } from "./migration.ts";

/** Tables and columns of audit retention. */
export const auditRetentionSchema: Migration = {
  version: 10,
  name: "audit-retention",
  async up(db, t) {
    await db.schema.alterTable("audit_events").addColumn("tombstone", t.text, (c) => c.notNull().defaultTo("")).execute();
    await db.schema.createIndex("audit_events_by_tenant_retention").on("audit_events").columns(["tenant_id", "tombstone", "timestamp_ms"]).execute();

    let rules = db.schema
      .createTable("audit_retention_rules")
      .addColumn("tenant_id", t.text, (c) => c.notNull())
      .addColumn("pattern", t.text, (c) => c.notNull())
      .addColumn("days", t.integer, (c) => c.notNull())
      .addColumn("updated_at", t.bigint, (c) => c.notNull())
      .addColumn("updated_by", t.text, (c) => c.notNull())
      .addPrimaryKeyConstraint("audit_retention_rules_pk", ["tenant_id", "pattern"]);
    if (t.kind === "sqlite") rules = rules.modifyEnd(sql.raw("strict, without rowid"));
    await rules.execute();

    let holds = db.schema
      .createTable("audit_legal_holds")
      .addColumn("tenant_id", t.text, (c) => c.notNull())
      .addColumn("hold_id", t.text, (c) => c.notNull())
      .addColumn("principal_id", t.text, (c) => c.notNull())
      .addColumn("from_ms", t.bigint, (c) => c.notNull())
      .addColumn("to_ms", t.bigint, (c) => c.notNull())
      .addColumn("reason", t.text, (c) => c.notNull())
      .addColumn("placed_by", t.text, (c) => c.notNull())
      .addColumn("placed_at", t.bigint, (c) => c.notNull())
      .addColumn("released_at", t.bigint)
      .addColumn("released_by", t.text, (c) => c.notNull())
      .addPrimaryKeyConstraint("audit_legal_holds_pk", ["tenant_id", "hold_id"]);
    if (t.kind === "sqlite") holds = holds.modifyEnd(sql.raw("strict, without rowid"));
    await holds.execute();

    let keys = db.schema
      .createTable("audit_subject_keys")
      .addColumn("tenant_id", t.text, (c) => c.notNull())
      .addColumn("key_id", t.text, (c) => c.notNull())
      .addColumn("subject_id", t.text, (c) => c.notNull())
      .addColumn("wrapped_key", t.text, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addColumn("erased_at", t.bigint)
      .addPrimaryKeyConstraint("audit_subject_keys_pk", ["tenant_id", "key_id"]);
    if (t.kind === "sqlite") keys = keys.modifyEnd(sql.raw("strict, without rowid"));
    await keys.execute();
    await db.schema
      .createIndex("audit_subject_keys_one_live")
      .on("audit_subject_keys")
      .columns(["tenant_id", "subject_id"])
      .unique()
      .where(sql<boolean>`erased_at is null`)
      .execute();
  },
};
