/**
 * The PostgreSQL adapter: the store conformance suite in a schema of its own
 * (`aesp_test_<random>`, dropped at the end), plus what is specific to
 * PostgreSQL (search_path isolation, bigint as number, the table layout,
 * concurrent first-time migrations).
 *
 * The server is `postgres://postgres@127.0.0.1:5432/test` unless
 * AESP_TEST_POSTGRES_URL says otherwise. An unreachable server FAILS these
 * tests; set AESP_TEST_SKIP_POSTGRES=1 to skip them deliberately.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import type { Store } from "@aesp/core";
import { openStore } from "../../packages/host/src/storage/index.ts";
import { migrations as knownMigrations } from "../../packages/host/src/storage/migrations/index.ts";
import { createPostgresPool } from "../../packages/host/src/storage/postgres/open.ts";
import { runStoreConformance } from "./conformance.ts";
import { tenantRecord } from "./fixtures.ts";

const connectionString = process.env.AESP_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const skip = process.env.AESP_TEST_SKIP_POSTGRES === "1";

/** A schema name no other run uses. */
function testSchema(): string {
  return `aesp_test_${randomBytes(6).toString("hex")}`;
}

/** The server URL without its password, for messages. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable AESP_TEST_POSTGRES_URL)";
  }
}

let reachability: Promise<void> | undefined;
let reachable = false;

/** Fails, with what to do about it, when the server cannot be reached. */
function requirePostgres(): Promise<void> {
  reachability ??= (async () => {
    const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5_000 });
    try {
      await client.connect();
      await client.query("select 1");
      reachable = true;
    } catch (err) {
      throw new Error(
        `PostgreSQL is unreachable at ${redacted(connectionString)} (${err instanceof Error ? err.message : String(err)}). ` +
          "Start it (see .ci/run), point AESP_TEST_POSTGRES_URL at a server, or set AESP_TEST_SKIP_POSTGRES=1 to skip these tests.",
        { cause: err },
      );
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return reachability;
}

/** Runs one statement on a short-lived connection of its own. */
async function adminQuery<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Drops a test schema; nothing to drop when the server was never reached. */
async function dropSchema(schema: string): Promise<void> {
  if (!reachable) return;
  await adminQuery(`drop schema if exists "${schema}" cascade`);
}

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

if (skip) {
  it("PostgreSQL store tests", { skip: "AESP_TEST_SKIP_POSTGRES=1" }, () => {});
} else {
  // A failure of its own, so the summary counts it and says why, before the cancelled suites.
  it(`PostgreSQL is reachable at ${redacted(connectionString)}`, () => requirePostgres());

  const conformanceSchema = testSchema();
  runStoreConformance(
    "postgres",
    async () => {
      await requirePostgres();
      return openStore({ kind: "postgres", connectionString, schema: conformanceSchema, poolSize: 4 });
    },
    () => dropSchema(conformanceSchema),
  );

  describe("PostgreSQL specifics", () => {
    const schema = testSchema();
    const concurrentSchema = testSchema();
    let store: Store;

    before(async () => {
      await requirePostgres();
      store = await openStore({ kind: "postgres", connectionString, schema });
    });

    after(async () => {
      await store?.close();
      await dropSchema(schema);
      await dropSchema(concurrentSchema);
    });

    it("creates its tables in its own schema only, and records the migration", async () => {
      const tables = await adminQuery<{ table_name: string }>(
        "select table_name from information_schema.tables where table_schema = $1 order by table_name",
        [schema],
      );
      assert.ok(tables.length >= 25, "every table is in the configured schema");
      const migrations = await adminQuery(`select version, name from "${schema}".schema_migrations order by version`);
      assert.deepEqual(migrations, knownMigrations.map(({ version, name }) => ({ version, name })));
    });

    it("every tenant table leads its primary key with tenant_id", async () => {
      const rows = await adminQuery<{ table_name: string; column_name: string }>(
        `select kcu.table_name, kcu.column_name
           from information_schema.table_constraints tc
           join information_schema.key_column_usage kcu
             on kcu.constraint_name = tc.constraint_name and kcu.table_schema = tc.table_schema
          where tc.table_schema = $1 and tc.constraint_type = 'PRIMARY KEY' and kcu.ordinal_position = 1
          order by kcu.table_name`,
        [schema],
      );
      const tenantTables = rows.filter((row) => !PLATFORM_TABLES.has(row.table_name));
      assert.equal(tenantTables.length, 23);
      for (const row of tenantTables) assert.equal(row.column_name, "tenant_id", `${row.table_name}: tenant_id is the first primary-key column`);
    });

    it("returns bigint columns as numbers", async () => {
      const tenant = tenantRecord({ createdAt: 8_640_000_000_000 });
      await store.platform.tenants.create(tenant);
      const read = await store.platform.tenants.get(tenant.tenantId);
      assert.equal(typeof read?.createdAt, "number");
      assert.equal(read?.createdAt, 8_640_000_000_000);
    });

    it("two Hosts migrating a fresh schema at once both start, and migrate it once", async () => {
      const [first, second] = await Promise.all([
        openStore({ kind: "postgres", connectionString, schema: concurrentSchema, poolSize: 2 }),
        openStore({ kind: "postgres", connectionString, schema: concurrentSchema, poolSize: 2 }),
      ]);
      try {
        await first.ping();
        await second.ping();
        const migrations = await adminQuery(`select version from "${concurrentSchema}".schema_migrations order by version`);
        assert.deepEqual(migrations, knownMigrations.map(({ version }) => ({ version })));
      } finally {
        await first.close();
        await second.close();
      }
    });

    it("commits synchronously (synchronous_commit=on) even for a role whose default is off", async () => {
      // A role of its own whose default is asynchronous commit; the pool must override it per connection.
      const role = `aesp_async_${randomBytes(4).toString("hex")}`;
      await adminQuery(`create role ${role} login`);
      await adminQuery(`alter role ${role} set synchronous_commit = off`);
      const url = new URL(connectionString);
      url.username = role;
      url.password = "";
      const plain = new pg.Client({ connectionString: url.toString() });
      const pool = createPostgresPool({ connectionString: url.toString(), poolSize: 1 });
      try {
        await plain.connect();
        assert.equal((await plain.query<{ synchronous_commit: string }>("show synchronous_commit")).rows[0]?.synchronous_commit, "off", "the role's default");
        assert.equal((await pool.query<{ synchronous_commit: string }>("show synchronous_commit")).rows[0]?.synchronous_commit, "on");
      } finally {
        await plain.end().catch(() => {});
        await pool.end();
        await adminQuery(`drop role ${role}`);
      }
    });

    it("refuses an unsafe schema name", async () => {
      await assert.rejects(openStore({ kind: "postgres", connectionString, schema: 'x"; drop table y; --' }), (err: unknown) => {
        assert.ok(err instanceof Error && "code" in err && err.code === "INVALID_ARGUMENT");
        return true;
      });
    });

    it("an unreachable server fails with UNAVAILABLE and no connection details", async () => {
      // Port 1 on loopback: nothing listens there, so the connection is refused at once.
      await assert.rejects(openStore({ kind: "postgres", connectionString: "postgres://postgres@127.0.0.1:1/test" }), (err: unknown) => {
        assert.ok(err instanceof Error && "code" in err && err.code === "UNAVAILABLE");
        assert.doesNotMatch(err.message, /127\.0\.0\.1|ECONNREFUSED|postgres:/);
        return true;
      });
    });
  });
}
