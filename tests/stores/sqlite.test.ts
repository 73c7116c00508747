/**
 * The SQLite adapter: the store conformance suite on a file in a temporary
 * directory, plus what is specific to SQLite (pragmas, file creation,
 * migrations on reopen, the table layout).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { openStore } from "../../packages/host/src/storage/index.ts";
import { migrations as knownMigrations } from "../../packages/host/src/storage/migrations/index.ts";
import { openSqliteDatabase } from "../../packages/host/src/storage/sqlite/open.ts";
import { runStoreConformance } from "./conformance.ts";
import { principalRecord, tenantRecord } from "./fixtures.ts";

const directory = mkdtempSync(join(tmpdir(), "aesp-store-"));
after(() => rmSync(directory, { recursive: true, force: true }));

// A nested path: openStore must create the missing directories.
const conformancePath = join(directory, "conformance", "data", "aesp.db");
runStoreConformance("sqlite", () => openStore({ kind: "sqlite", path: conformancePath }), async () => {
  rmSync(join(directory, "conformance"), { recursive: true, force: true });
});

/** Tables that belong to the platform, not to a tenant. */
const PLATFORM_TABLES = new Set([
  "schema_migrations",
  "tenants",
  "key_material",
  "bootstrap",
  "audit_events",
  "audit_head",
  "audit_checkpoints",
  "audit_tree_nodes",
  "sign_in_throttle",
  "one_time_values",
  "siem_dead_letters",
]);

describe("SQLite specifics", () => {
  it("opens connections in WAL mode with synchronous=FULL, foreign keys on, no blocking busy handler and a 10,000-page WAL", () => {
    const database = openSqliteDatabase(join(directory, "pragmas", "p.db"));
    try {
      assert.equal(database.pragma("journal_mode", { simple: true }), "wal");
      assert.equal(database.pragma("synchronous", { simple: true }), 2, "2 is FULL");
      assert.equal(database.pragma("foreign_keys", { simple: true }), 1);
      assert.equal(database.pragma("busy_timeout", { simple: true }), 0, "lock waits are asynchronous, in the driver");
      assert.equal(database.pragma("wal_autocheckpoint", { simple: true }), 10_000, "audit batches do not checkpoint on every commit");
    } finally {
      database.close();
    }
  });

  it("creates the file and its directory, keeps data across reopen, and migrates once", async () => {
    const path = join(directory, "reopen", "deeper", "aesp.db");
    assert.equal(existsSync(path), false);
    const first = await openStore({ kind: "sqlite", path });
    const tenant = tenantRecord();
    const principal = principalRecord(tenant.tenantId);
    await first.platform.tenants.create(tenant);
    await first.forTenant(tenant.tenantId).principals.create(principal);
    await first.close();
    assert.equal(existsSync(path), true);

    const second = await openStore({ kind: "sqlite", path });
    assert.deepEqual(await second.platform.tenants.get(tenant.tenantId), tenant);
    assert.deepEqual(await second.forTenant(tenant.tenantId).principals.get(principal.principalId), principal);
    await second.close();

    const raw = new Database(path, { readonly: true });
    try {
      const rows = raw.prepare("select version, name from schema_migrations order by version").all();
      assert.deepEqual(rows, knownMigrations.map(({ version, name }) => ({ version, name })));
    } finally {
      raw.close();
    }
  });

  it("two Stores opening a fresh file at once both start, and migrate it once", async () => {
    const path = join(directory, "race", "aesp.db");
    const [first, second] = await Promise.all([openStore({ kind: "sqlite", path }), openStore({ kind: "sqlite", path })]);
    try {
      await first.platform.tenants.create(tenantRecord({ tenantId: "race" }));
      assert.equal((await second.platform.tenants.get("race"))?.tenantId, "race");
    } finally {
      await first.close();
      await second.close();
    }
    const raw = new Database(path, { readonly: true });
    try {
      assert.deepEqual(raw.prepare("select version from schema_migrations order by version").all(), knownMigrations.map(({ version }) => ({ version })));
    } finally {
      raw.close();
    }
  });

  it("every tenant table leads its primary key with tenant_id", async () => {
    const path = join(directory, "layout", "aesp.db");
    const store = await openStore({ kind: "sqlite", path });
    await store.close();
    const raw = new Database(path, { readonly: true });
    try {
      const tables = raw.prepare("select name from sqlite_master where type = 'table' order by name").pluck().all() as string[];
      const tenantTables = tables.filter((table) => !PLATFORM_TABLES.has(table));
      assert.deepEqual(tenantTables, [
        "api_keys",
        "approval_requests",
        "audit_legal_holds",
        "audit_retention_rules",
        "audit_subject_keys",
        "break_glass_grants",
        "certificates",
        "client_credentials",
        "contracts",
        "group_role_bindings",
        "identity_providers",
        "join_tokens",
        "policies",
        "policy_rollouts",
        "principals",
        "refresh_tokens",
        "revoked_tokens",
        "roles",
        "runtime_registrations",
        "scim_group_members",
        "scim_groups",
        "sessions",
        "tenant_epochs",
      ]);
      for (const table of tenantTables) {
        const columns = raw.prepare(`select name, pk from pragma_table_info(?) where pk > 0 order by pk`).all(table) as { name: string }[];
        assert.equal(columns[0]?.name, "tenant_id", `${table}: tenant_id is the first primary-key column`);
      }
    } finally {
      raw.close();
    }
  });

  it("migration 4 gives tenants created before it the built-in break-glass-operator role, and keeps a tenant's own role of that name", async () => {
    const path = join(directory, "pre-break-glass", "aesp.db");
    await (await openStore({ kind: "sqlite", path })).close();
    // Roll the file back to what a Host before migration 4 left, with two tenants.
    const raw = new Database(path);
    raw.exec("drop table break_glass_grants; delete from schema_migrations where version = 4; delete from roles where name = 'break-glass-operator'");
    raw.prepare("insert into tenants (tenant_id, display_name, status, created_at) values (?, ?, 'ACTIVE', ?)").run("old", "Old", 1_600_000_000_000);
    raw.prepare("insert into tenants (tenant_id, display_name, status, created_at) values (?, ?, 'ACTIVE', ?)").run("custom", "Custom", 1_600_000_000_000);
    raw.prepare("insert into roles (tenant_id, name, description, permissions, inherits, built_in, created_at) values ('custom', 'break-glass-operator', 'ours', '[\"tools:list\"]', '[]', 0, 1)").run();
    raw.close();
    const store = await openStore({ kind: "sqlite", path });
    try {
      const role = await store.forTenant("old").roles.get("break-glass-operator");
      assert.deepEqual([role?.permissions, role?.builtIn, role?.createdAt], [["break_glass:activate"], true, 1_600_000_000_000]);
      const own = await store.forTenant("custom").roles.get("break-glass-operator");
      assert.deepEqual([own?.permissions, own?.builtIn, own?.description], [["tools:list"], false, "ours"]);
      assert.deepEqual(await store.forTenant("old").breakGlass.list({ limit: 10 }), []);
    } finally {
      await store.close();
    }
  });

  it("refuses a database written by a newer Host", async () => {
    const path = join(directory, "newer", "aesp.db");
    await (await openStore({ kind: "sqlite", path })).close();
    const raw = new Database(path);
    raw.prepare("insert into schema_migrations (version, name, applied_at) values (999, 'from-the-future', 0)").run();
    raw.close();
    await assert.rejects(openStore({ kind: "sqlite", path }), (err: unknown) => {
      assert.ok(err instanceof Error && "code" in err && err.code === "UNAVAILABLE");
      assert.doesNotMatch(err.message, /sqlite|schema_migrations/i);
      return true;
    });
  });

  it("an unopenable path fails with UNAVAILABLE, not a driver message", async () => {
    const blocker = join(directory, "blocker");
    await (await openStore({ kind: "sqlite", path: blocker })).close();
    // The "directory" is a file, so the database cannot be created under it.
    await assert.rejects(openStore({ kind: "sqlite", path: join(blocker, "aesp.db") }), (err: unknown) => {
      assert.ok(err instanceof Error && "code" in err);
      assert.ok(err.code === "UNAVAILABLE" || err.code === "INTERNAL_ERROR", `got ${String(err.code)}`);
      assert.doesNotMatch(err.message, /ENOTDIR|sqlite|blocker/i);
      return true;
    });
  });
});
