/**
 * Migration 1: every table of the first release.
 *
 * Tenant-owned tables lead their primary key with `tenant_id`, so every
 * lookup a tenant store makes is a primary-key (or tenant-prefixed index)
 * probe and no row can be addressed without its tenant. Platform tables
 * (tenants, key_material, bootstrap, audit_*) have no tenant in their key.
 * On SQLite tables are STRICT (declared types are enforced) and tenant tables
 * WITHOUT ROWID (the composite primary key is the table).
 */
import { sql } from "kysely";
import type { CreateTableBuilder, Kysely } from "kysely";
import type { Database } from "../schema.ts";
import type { ColumnTypes, Migration } from "./migration.ts";

/** SQLite table options; PostgreSQL takes none. */
function withTableOptions<T extends string, C extends string>(
  builder: CreateTableBuilder<T, C>,
  types: ColumnTypes,
  options: { withoutRowid: boolean },
): CreateTableBuilder<T, C> {
  if (types.kind !== "sqlite") return builder;
  return builder.modifyEnd(sql.raw(options.withoutRowid ? "strict, without rowid" : "strict"));
}

async function createPlatformTables(db: Kysely<Database>, t: ColumnTypes): Promise<void> {
  await withTableOptions(
    db.schema
      .createTable("tenants")
      .addColumn("tenant_id", t.text, (c) => c.primaryKey())
      .addColumn("display_name", t.text, (c) => c.notNull())
      .addColumn("status", t.text, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull()),
    t,
    { withoutRowid: true },
  ).execute();

  await withTableOptions(
    db.schema
      .createTable("key_material")
      .addColumn("key_id", t.text, (c) => c.primaryKey())
      .addColumn("purpose", t.text, (c) => c.notNull())
      .addColumn("algorithm", t.text, (c) => c.notNull())
      .addColumn("public_key_pem", t.text, (c) => c.notNull())
      .addColumn("encrypted_private_key", t.text, (c) => c.notNull())
      .addColumn("certificate_pem", t.text)
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addColumn("retired_at", t.bigint),
    t,
    { withoutRowid: true },
  ).execute();
  await db.schema.createIndex("key_material_by_purpose").on("key_material").columns(["purpose", "created_at"]).execute();

  await withTableOptions(
    db.schema
      .createTable("bootstrap")
      .addColumn("id", t.integer, (c) => c.primaryKey())
      .addColumn("token_hash", t.text, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addColumn("consumed_at", t.bigint)
      .addColumn("consumed_by", t.text)
      .addCheckConstraint("bootstrap_single_row", sql`id = 1`),
    t,
    { withoutRowid: false },
  ).execute();

  // seq is the table's rowid on SQLite (INTEGER PRIMARY KEY), so appends in
  // seq order extend the B-tree at its right edge.
  await withTableOptions(
    db.schema
      .createTable("audit_events")
      .addColumn("seq", t.bigint, (c) => c.primaryKey())
      .addColumn("event_id", t.text, (c) => c.notNull())
      .addColumn("timestamp_ms", t.bigint, (c) => c.notNull())
      .addColumn("event_type", t.text, (c) => c.notNull())
      .addColumn("tenant_id", t.text, (c) => c.notNull())
      .addColumn("principal_id", t.text, (c) => c.notNull())
      .addColumn("session_id", t.text, (c) => c.notNull())
      .addColumn("resource", t.text, (c) => c.notNull())
      .addColumn("action", t.text, (c) => c.notNull())
      .addColumn("outcome", t.text, (c) => c.notNull())
      .addColumn("source_ip", t.text, (c) => c.notNull())
      .addColumn("user_agent", t.text, (c) => c.notNull())
      .addColumn("correlation_id", t.text, (c) => c.notNull())
      .addColumn("risk_score", t.text, (c) => c.notNull())
      .addColumn("policy_violations", t.orderedJson, (c) => c.notNull())
      .addColumn("metadata", t.orderedJson, (c) => c.notNull())
      .addColumn("leaf_hash", t.text, (c) => c.notNull())
      .addColumn("chain_hash", t.text, (c) => c.notNull()),
    t,
    { withoutRowid: false },
  ).execute();
  await db.schema.createIndex("audit_events_by_tenant_seq").on("audit_events").columns(["tenant_id", "seq"]).execute();
  await db.schema.createIndex("audit_events_by_tenant_time").on("audit_events").columns(["tenant_id", "timestamp_ms"]).execute();

  await withTableOptions(
    db.schema
      .createTable("audit_head")
      .addColumn("id", t.integer, (c) => c.primaryKey())
      .addColumn("size", t.bigint, (c) => c.notNull())
      .addColumn("chain_hash", t.text, (c) => c.notNull())
      .addCheckConstraint("audit_head_single_row", sql`id = 1`),
    t,
    { withoutRowid: false },
  ).execute();
  await sql`insert into audit_head (id, size, chain_hash) values (1, 0, ${"0".repeat(64)})`.execute(db);

  await withTableOptions(
    db.schema
      .createTable("audit_checkpoints")
      .addColumn("tree_size", t.bigint, (c) => c.primaryKey())
      .addColumn("root_hash", t.text, (c) => c.notNull())
      .addColumn("chain_hash", t.text, (c) => c.notNull())
      .addColumn("signed_note", t.text, (c) => c.notNull())
      .addColumn("key_id", t.text, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull()),
    t,
    { withoutRowid: false },
  ).execute();
}

async function createTenantTables(db: Kysely<Database>, t: ColumnTypes): Promise<void> {
  const tenantTable = <T extends string>(name: T) => db.schema.createTable(name).addColumn("tenant_id", t.text, (c) => c.notNull());
  const finish = <T extends string, C extends string>(builder: CreateTableBuilder<T, C>) => withTableOptions(builder, t, { withoutRowid: true }).execute();

  await finish(
    tenantTable("principals")
      .addColumn("principal_id", t.text, (c) => c.notNull())
      .addColumn("type", t.text, (c) => c.notNull())
      .addColumn("display_name", t.text, (c) => c.notNull())
      .addColumn("description", t.text, (c) => c.notNull())
      .addColumn("roles", t.json, (c) => c.notNull())
      .addColumn("permissions", t.json, (c) => c.notNull())
      .addColumn("clearance", t.text, (c) => c.notNull())
      .addColumn("status", t.text, (c) => c.notNull())
      .addColumn("attributes", t.json, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addColumn("created_by", t.text, (c) => c.notNull())
      .addColumn("expires_at", t.bigint)
      .addColumn("revision", t.integer, (c) => c.notNull())
      .addPrimaryKeyConstraint("principals_pk", ["tenant_id", "principal_id"]),
  );

  await finish(
    tenantTable("api_keys")
      .addColumn("key_id", t.text, (c) => c.notNull())
      .addColumn("principal_id", t.text, (c) => c.notNull())
      .addColumn("secret_hash", t.text, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addColumn("expires_at", t.bigint)
      .addColumn("revoked_at", t.bigint)
      .addPrimaryKeyConstraint("api_keys_pk", ["tenant_id", "key_id"]),
  );
  await db.schema.createIndex("api_keys_by_principal").on("api_keys").columns(["tenant_id", "principal_id"]).execute();

  await finish(
    tenantTable("sessions")
      .addColumn("session_id", t.text, (c) => c.notNull())
      .addColumn("principal_id", t.text, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addColumn("expires_at", t.bigint, (c) => c.notNull())
      .addColumn("destroyed_at", t.bigint)
      .addColumn("metadata", t.json, (c) => c.notNull())
      .addPrimaryKeyConstraint("sessions_pk", ["tenant_id", "session_id"]),
  );

  await finish(
    tenantTable("contracts")
      .addColumn("contract_id", t.text, (c) => c.notNull())
      .addColumn("name", t.text, (c) => c.notNull())
      .addColumn("definition", t.orderedJson, (c) => c.notNull())
      .addColumn("status", t.text, (c) => c.notNull())
      .addColumn("created_by", t.text, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addColumn("updated_at", t.bigint, (c) => c.notNull())
      .addColumn("approved_by", t.text)
      .addColumn("approved_at", t.bigint)
      .addColumn("revision", t.integer, (c) => c.notNull())
      .addPrimaryKeyConstraint("contracts_pk", ["tenant_id", "contract_id"]),
  );
  await db.schema.createIndex("contracts_by_name").on("contracts").columns(["tenant_id", "name"]).execute();

  await finish(
    tenantTable("policies")
      .addColumn("policy_id", t.text, (c) => c.notNull())
      .addColumn("version", t.integer, (c) => c.notNull())
      .addColumn("name", t.text, (c) => c.notNull())
      .addColumn("description", t.text, (c) => c.notNull())
      .addColumn("rule", t.json, (c) => c.notNull())
      .addColumn("applies_to", t.json, (c) => c.notNull())
      .addColumn("enabled", t.boolean, (c) => c.notNull())
      .addColumn("status", t.text, (c) => c.notNull())
      .addColumn("created_by", t.text, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addColumn("updated_at", t.bigint, (c) => c.notNull())
      .addColumn("revision", t.integer, (c) => c.notNull())
      .addPrimaryKeyConstraint("policies_pk", ["tenant_id", "policy_id", "version"]),
  );

  await finish(
    tenantTable("roles")
      .addColumn("name", t.text, (c) => c.notNull())
      .addColumn("description", t.text, (c) => c.notNull())
      .addColumn("permissions", t.json, (c) => c.notNull())
      .addColumn("inherits", t.json, (c) => c.notNull())
      .addColumn("built_in", t.boolean, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addPrimaryKeyConstraint("roles_pk", ["tenant_id", "name"]),
  );

  await finish(
    tenantTable("approval_requests")
      .addColumn("approval_request_id", t.text, (c) => c.notNull())
      .addColumn("artifact_type", t.text, (c) => c.notNull())
      .addColumn("artifact_id", t.text, (c) => c.notNull())
      .addColumn("requester_id", t.text, (c) => c.notNull())
      .addColumn("justification", t.text, (c) => c.notNull())
      .addColumn("required_approvers", t.json, (c) => c.notNull())
      .addColumn("status", t.text, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addColumn("expires_at", t.bigint, (c) => c.notNull())
      .addColumn("decided_by", t.text)
      .addColumn("decided_at", t.bigint)
      .addColumn("comments", t.text, (c) => c.notNull())
      .addColumn("metadata", t.json, (c) => c.notNull())
      .addColumn("revision", t.integer, (c) => c.notNull())
      .addPrimaryKeyConstraint("approval_requests_pk", ["tenant_id", "approval_request_id"]),
  );
  await db.schema
    .createIndex("approval_requests_by_created")
    .on("approval_requests")
    .columns(["tenant_id", "created_at", "approval_request_id"])
    .execute();

  await finish(
    tenantTable("runtime_registrations")
      .addColumn("runtime_id", t.text, (c) => c.notNull())
      .addColumn("allowed_contracts", t.json, (c) => c.notNull())
      .addColumn("created_by", t.text, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addPrimaryKeyConstraint("runtime_registrations_pk", ["tenant_id", "runtime_id"]),
  );

  await finish(
    tenantTable("join_tokens")
      .addColumn("token_id", t.text, (c) => c.notNull())
      .addColumn("secret_hash", t.text, (c) => c.notNull())
      .addColumn("runtime_id", t.text, (c) => c.notNull())
      .addColumn("created_by", t.text, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addColumn("expires_at", t.bigint, (c) => c.notNull())
      .addColumn("used_at", t.bigint)
      .addPrimaryKeyConstraint("join_tokens_pk", ["tenant_id", "token_id"]),
  );

  await finish(
    tenantTable("certificates")
      .addColumn("serial", t.text, (c) => c.notNull())
      .addColumn("runtime_id", t.text, (c) => c.notNull())
      .addColumn("spiffe_id", t.text, (c) => c.notNull())
      .addColumn("not_before", t.bigint, (c) => c.notNull())
      .addColumn("not_after", t.bigint, (c) => c.notNull())
      .addColumn("certificate_pem", t.text, (c) => c.notNull())
      .addColumn("revoked_at", t.bigint)
      .addColumn("revocation_reason", t.text)
      .addPrimaryKeyConstraint("certificates_pk", ["tenant_id", "serial"]),
  );
  // Serials are unique across the Host (they name certificates in revocation lists), not only per tenant.
  await db.schema.createIndex("certificates_serial_unique").on("certificates").column("serial").unique().execute();
  await db.schema.createIndex("certificates_by_runtime").on("certificates").columns(["tenant_id", "runtime_id"]).execute();
}

/** The first schema. */
export const initialSchema: Migration = {
  version: 1,
  name: "initial-schema",
  async up(db, types) {
    await createPlatformTables(db, types);
    await createTenantTables(db, types);
  },
};
