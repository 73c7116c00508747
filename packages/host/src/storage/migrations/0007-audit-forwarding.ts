/**
 * Migration 7: audit forwarding. SIEM deliveries that failed every retry are dead-lettered here
 * until a platform administrator replays them. A platform table (no tenant_id key): one delivery
 * batch can hold events of several tenants, as the forwarded log does.
 */
import { sql } from "kysely";
import type { Migration } from "./migration.ts";

/** The `siem_dead_letters` table. */
export const auditForwardingSchema: Migration = {
  version: 7,
  name: "audit-forwarding",
  async up(db, t) {
    let table = db.schema
      .createTable("siem_dead_letters")
      .addColumn("dead_letter_id", t.text, (c) => c.primaryKey())
      .addColumn("destination", t.text, (c) => c.notNull())
      .addColumn("payload", t.text, (c) => c.notNull())
      .addColumn("event_count", t.integer, (c) => c.notNull())
      .addColumn("first_seq", t.bigint, (c) => c.notNull())
      .addColumn("last_seq", t.bigint, (c) => c.notNull())
      .addColumn("reason", t.text, (c) => c.notNull())
      .addColumn("attempts", t.integer, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull());
    if (t.kind === "sqlite") table = table.modifyEnd(sql.raw("strict"));
    await table.execute();
    await db.schema.createIndex("siem_dead_letters_by_time").on("siem_dead_letters").columns(["destination", "created_at", "dead_letter_id"]).execute();
  },
};
