/**
 * Migration 2: external identity. Principals learn where they come from
 * (provider, subject, login name, directory groups, synchronised roles) and
 * when their tokens were last invalidated; new tenant tables hold refresh
 * tokens, revoked access tokens, client credentials, identity providers and
 * SCIM groups; new platform tables hold sign-in throttling and one-time
 * values shared by every Host.
 *
 * Table options follow migration 1: STRICT on SQLite, WITHOUT ROWID where the
 * primary key is the table, `tenant_id` leading every tenant key.
 */
import { sql } from "kysely";
import type { CreateTableBuilder, Kysely } from "kysely";
import type { Database } from "../schema.ts";
import type { ColumnTypes, Migration } from "./migration.ts";

function withTableOptions<T extends string, C extends string>(builder: CreateTableBuilder<T, C>, types: ColumnTypes): CreateTableBuilder<T, C> {
  if (types.kind !== "sqlite") return builder;
  return builder.modifyEnd(sql.raw("strict, without rowid"));
}

async function extendPrincipals(db: Kysely<Database>, t: ColumnTypes): Promise<void> {
  // One ADD COLUMN per statement: SQLite's ALTER TABLE takes no lists.
  const add = (column: string, type: ColumnTypes["text"] | ColumnTypes["json"] | ColumnTypes["bigint"], fallback: string | number) =>
    db.schema
      .alterTable("principals")
      .addColumn(column, type, (c) => c.notNull().defaultTo(fallback))
      .execute();
  await add("user_name", t.text, "");
  await add("provider_id", t.text, "");
  await add("external_subject", t.text, "");
  await add("groups", t.json, "[]");
  await add("synced_roles", t.json, "[]");
  await add("synced_at", t.bigint, 0);
  await add("tokens_valid_after", t.bigint, 0);

  // Partial: every principal created in the Host has provider "" and subject "".
  await db.schema
    .createIndex("principals_external_subject_unique")
    .on("principals")
    .columns(["tenant_id", "provider_id", "external_subject"])
    .unique()
    .where(sql<boolean>`provider_id <> ''`)
    .execute();
  // lower(): login names match case-insensitively, and the index must serve that comparison.
  await sql`create index principals_by_user_name on principals (tenant_id, lower(user_name))`.execute(db);
}

async function createTenantTables(db: Kysely<Database>, t: ColumnTypes): Promise<void> {
  const tenantTable = <T extends string>(name: T) => db.schema.createTable(name).addColumn("tenant_id", t.text, (c) => c.notNull());
  const finish = <T extends string, C extends string>(builder: CreateTableBuilder<T, C>) => withTableOptions(builder, t).execute();

  await finish(
    tenantTable("refresh_tokens")
      .addColumn("token_id", t.text, (c) => c.notNull())
      .addColumn("family_id", t.text, (c) => c.notNull())
      .addColumn("principal_id", t.text, (c) => c.notNull())
      .addColumn("secret_hash", t.text, (c) => c.notNull())
      .addColumn("amr", t.json, (c) => c.notNull())
      .addColumn("acr", t.text, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addColumn("expires_at", t.bigint, (c) => c.notNull())
      .addColumn("used_at", t.bigint)
      .addColumn("revoked_at", t.bigint)
      .addPrimaryKeyConstraint("refresh_tokens_pk", ["tenant_id", "token_id"]),
  );
  await db.schema.createIndex("refresh_tokens_by_family").on("refresh_tokens").columns(["tenant_id", "family_id"]).execute();
  await db.schema.createIndex("refresh_tokens_by_principal").on("refresh_tokens").columns(["tenant_id", "principal_id"]).execute();

  await finish(
    tenantTable("revoked_tokens")
      .addColumn("token_id", t.text, (c) => c.notNull())
      .addColumn("principal_id", t.text, (c) => c.notNull())
      .addColumn("expires_at", t.bigint, (c) => c.notNull())
      .addColumn("revoked_at", t.bigint, (c) => c.notNull())
      .addColumn("reason", t.text, (c) => c.notNull())
      .addPrimaryKeyConstraint("revoked_tokens_pk", ["tenant_id", "token_id"]),
  );

  await finish(
    tenantTable("client_credentials")
      .addColumn("credential_id", t.text, (c) => c.notNull())
      .addColumn("principal_id", t.text, (c) => c.notNull())
      .addColumn("kind", t.text, (c) => c.notNull())
      .addColumn("material", t.text, (c) => c.notNull())
      .addColumn("thumbprint", t.text, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addColumn("expires_at", t.bigint)
      .addColumn("revoked_at", t.bigint)
      .addPrimaryKeyConstraint("client_credentials_pk", ["tenant_id", "credential_id"]),
  );
  await db.schema.createIndex("client_credentials_thumbprint_unique").on("client_credentials").columns(["tenant_id", "thumbprint"]).unique().execute();
  await db.schema.createIndex("client_credentials_by_principal").on("client_credentials").columns(["tenant_id", "principal_id"]).execute();

  await finish(
    tenantTable("identity_providers")
      .addColumn("provider_id", t.text, (c) => c.notNull())
      .addColumn("kind", t.text, (c) => c.notNull())
      .addColumn("display_name", t.text, (c) => c.notNull())
      .addColumn("enabled", t.boolean, (c) => c.notNull())
      .addColumn("settings", t.json, (c) => c.notNull())
      .addColumn("mapping", t.json, (c) => c.notNull())
      .addColumn("jit_provisioning", t.boolean, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addColumn("updated_at", t.bigint, (c) => c.notNull())
      .addColumn("updated_by", t.text, (c) => c.notNull())
      .addColumn("revision", t.integer, (c) => c.notNull())
      .addPrimaryKeyConstraint("identity_providers_pk", ["tenant_id", "provider_id"]),
  );

  await finish(
    tenantTable("scim_groups")
      .addColumn("group_id", t.text, (c) => c.notNull())
      .addColumn("display_name", t.text, (c) => c.notNull())
      .addColumn("external_id", t.text, (c) => c.notNull())
      .addColumn("members", t.json, (c) => c.notNull())
      .addColumn("created_at", t.bigint, (c) => c.notNull())
      .addColumn("updated_at", t.bigint, (c) => c.notNull())
      .addColumn("revision", t.integer, (c) => c.notNull())
      .addPrimaryKeyConstraint("scim_groups_pk", ["tenant_id", "group_id"]),
  );
  await db.schema.createIndex("scim_groups_by_display_name").on("scim_groups").columns(["tenant_id", "display_name"]).execute();

  // The member index of scim_groups.members, so "groups of this principal" is an index probe.
  await finish(
    tenantTable("scim_group_members")
      .addColumn("group_id", t.text, (c) => c.notNull())
      .addColumn("principal_id", t.text, (c) => c.notNull())
      .addPrimaryKeyConstraint("scim_group_members_pk", ["tenant_id", "group_id", "principal_id"]),
  );
  await db.schema.createIndex("scim_group_members_by_principal").on("scim_group_members").columns(["tenant_id", "principal_id"]).execute();
}

async function createPlatformTables(db: Kysely<Database>, t: ColumnTypes): Promise<void> {
  await withTableOptions(
    db.schema
      .createTable("sign_in_throttle")
      .addColumn("key", t.text, (c) => c.primaryKey())
      .addColumn("failures", t.integer, (c) => c.notNull())
      .addColumn("window_started_at", t.bigint, (c) => c.notNull())
      .addColumn("locked_until", t.bigint, (c) => c.notNull()),
    t,
  ).execute();

  await withTableOptions(
    db.schema
      .createTable("one_time_values")
      .addColumn("key", t.text, (c) => c.primaryKey())
      .addColumn("value", t.text, (c) => c.notNull().defaultTo(""))
      .addColumn("expires_at", t.bigint, (c) => c.notNull()),
    t,
  ).execute();
  await db.schema.createIndex("one_time_values_by_expiry").on("one_time_values").column("expires_at").execute();
}

/** External identity: principal provenance, tokens, credentials, providers, groups, throttling. */
export const identitySchema: Migration = {
  version: 2,
  name: "identity",
  async up(db, types) {
    await extendPrincipals(db, types);
    await createTenantTables(db, types);
    await createPlatformTables(db, types);
  },
};
