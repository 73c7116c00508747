/**
 * Storage adapters: the core's {@link Store} port over SQLite (embedded
 * default) and PostgreSQL (several Hosts), both through Kysely, both passing
 * the conformance suite in tests/stores/.
 *
 * @example
 * const store = await openStore({ kind: "sqlite", path: ".aesp/data/aesp.db" });
 * const acme = store.forTenant("acme");
 * await acme.sessions.get("ses_123");
 * await store.close();
 */
import { Kysely, PostgresDialect } from "kysely";
import type { Store } from "@aesp/core";
import { postgresProfile, sqliteProfile } from "./dialect.ts";
import { translateDriverError } from "./errors.ts";
import { KyselyStore } from "./kysely-store.ts";
import { migrate, migrations, postgresColumnTypes, sqliteColumnTypes } from "./migrations/index.ts";
import { createPostgresPool } from "./postgres/open.ts";
import type { Database } from "./schema.ts";
import { ImmediateSqliteDialect } from "./sqlite/driver.ts";
import { openSqliteDatabase } from "./sqlite/open.ts";

export { policyCursor } from "./tenant/index.ts";
export { benchAuditAppend } from "./bench-audit-append.ts";
export type { AuditAppendBenchmark, AuditAppendBenchmarkOptions } from "./bench-audit-append.ts";

/** Default wait for another connection's SQLite write lock. */
const DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5_000;

/** The embedded single-node store: one SQLite file. */
export interface SqliteStoreConfig {
  kind: "sqlite";
  /** The database file; it and its directory are created if missing. `:memory:` for a private in-memory database. */
  path: string;
  /** How long a write waits for another connection's lock before failing UNAVAILABLE. Default 5000. */
  busyTimeoutMs?: number;
}

/** The shared store of several Hosts: a PostgreSQL database. */
export interface PostgresStoreConfig {
  kind: "postgres";
  /** `postgres://user@host:port/database`. */
  connectionString: string;
  /** Keep the tables in this schema (created if missing) via every connection's search_path. */
  schema?: string;
  /** Maximum pooled connections. Default 10. */
  poolSize?: number;
}

/** Which backend to open, and where. */
export type StoreConfig = SqliteStoreConfig | PostgresStoreConfig;

/**
 * Opens a Store and brings its schema up to date before returning it.
 *
 * @param config - the backend and its location.
 * @returns a ready Store; call `close()` to release its file or pool.
 * @throws EnterpriseError UNAVAILABLE when the database cannot be opened or reached,
 *   or was migrated by a newer Host; INVALID_ARGUMENT for an unusable schema name.
 */
export async function openStore(config: StoreConfig): Promise<Store> {
  let db: Kysely<Database>;
  try {
    db =
      config.kind === "sqlite"
        ? new Kysely<Database>({
            dialect: new ImmediateSqliteDialect(openSqliteDatabase(config.path), config.busyTimeoutMs ?? DEFAULT_SQLITE_BUSY_TIMEOUT_MS),
          })
        : new Kysely<Database>({ dialect: new PostgresDialect({ pool: createPostgresPool(config) }) });
  } catch (err) {
    throw translateDriverError(err);
  }
  try {
    if (config.kind === "sqlite") {
      await migrate(db, sqliteColumnTypes, migrations);
    } else {
      await migrate(db, postgresColumnTypes, migrations, config.schema === undefined ? {} : { schema: config.schema });
    }
  } catch (err) {
    await db.destroy().catch(() => {});
    throw translateDriverError(err);
  }
  return KyselyStore.over(db, config.kind === "sqlite" ? sqliteProfile : postgresProfile);
}
