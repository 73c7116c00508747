/**
 * Migration 5: staged rollouts of policy versions (shadow and canary). One row per rollout; a
 * partial unique index lets at most one rollout of a tenant be PENDING_APPROVAL or RUNNING, so two
 * Hosts starting rollouts at once cannot both succeed.
 *
 * Table options follow migrations 1–3: STRICT on SQLite, WITHOUT ROWID where the primary key is
 * the table, `tenant_id` leading every tenant key.
 */
import { sql } from "kysely";
import type { Migration } from "./migration.ts";

/** The `policy_rollouts` table. */
export const policyRolloutsSchema: Migration = {
  version: 5,
  name: "policy-rollouts",
  async up(db, t) {
    let table = db.schema
      .createTable("policy_rollouts")
      .addColumn("tenant_id", t.text, (c) => c.notNull())
      .addColumn("rollout_id", t.text, (c) => c.notNull())
      .addColumn("policy_id", t.text, (c) => c.notNull())
      .addColumn("candidate_version", t.bigint, (c) => c.notNull())
      .addColumn("baseline_version", t.bigint, (c) => c.notNull())
      .addColumn("mode", t.text, (c) => c.notNull())
      .addColumn("percent", t.integer, (c) => c.notNull())
      .addColumn("principals", t.json, (c) => c.notNull())
      .addColumn("threshold_ppm", t.integer, (c) => c.notNull())
      .addColumn("min_samples", t.bigint, (c) => c.notNull())
      .addColumn("ends_at", t.bigint, (c) => c.notNull())
      .addColumn("evaluated", t.bigint, (c) => c.notNull())
      .addColumn("disagreements", t.bigint, (c) => c.notNull())
      .addColumn("status", t.text, (c) => c.notNull())
      .addColumn("approval_request_id", t.text, (c) => c.notNull())
      .addColumn("started_by", t.text, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addColumn("started_at", t.bigint, (c) => c.notNull())
      .addColumn("ended_at", t.bigint, (c) => c.notNull())
      .addColumn("ended_by", t.text, (c) => c.notNull())
      .addColumn("end_reason", t.text, (c) => c.notNull())
      .addColumn("revision", t.integer, (c) => c.notNull())
      .addPrimaryKeyConstraint("policy_rollouts_pk", ["tenant_id", "rollout_id"]);
    if (t.kind === "sqlite") table = table.modifyEnd(sql.raw("strict, without rowid"));
    await table.execute();

    await db.schema
      .createIndex("policy_rollouts_one_live")
      .on("policy_rollouts")
      .column("tenant_id")
      .unique()
      .where(sql.ref("status"), "in", ["PENDING_APPROVAL", "RUNNING"])
      .execute();
  },
};
