/**
 * Migration 12: each tenant names its policy engine (`cel` or `cedar`). Existing tenants keep CEL,
 * the only engine before this migration.
 */
import type { Migration } from "./migration.ts";

export const tenantPolicyEngineSchema: Migration = {
  version: 12,
  name: "tenant-policy-engine",
  async up(db, t) {
    await db.schema.alterTable("tenants").addColumn("policy_engine", t.text, (c) => c.notNull().defaultTo("cel")).execute();
  },
};
