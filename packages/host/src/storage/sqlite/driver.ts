/**
 * A Kysely driver for better-sqlite3 that never blocks the event loop on a lock.
 *
 * Kysely's own SQLite driver begins transactions DEFERRED and leaves waiting
 * to SQLite's busy handler. Both are wrong for us. A DEFERRED transaction
 * that reads and then writes can fail with SQLITE_BUSY_SNAPSHOT when another
 * connection wrote in between, and no wait helps; so every transaction here
 * begins IMMEDIATE and owns the write lock from its first statement (this is
 * also the audit append lock). SQLite's busy handler sleeps synchronously, so
 * a second connection in the same process waiting on the lock would freeze
 * the very event loop the lock holder needs to commit; so `busy_timeout` is
 * 0 and this driver waits instead, asynchronously, with backoff, up to
 * `busyTimeoutMs`.
 *
 * It also keeps prepared statements: the audit INSERT of a thousand rows is
 * compiled by SQLite once, not once per batch.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type BetterSqlite3 from "better-sqlite3";
import { CompiledQuery, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from "kysely";
import type { DatabaseConnection, DatabaseIntrospector, Dialect, DialectAdapter, Driver, Kysely, QueryCompiler, QueryResult } from "kysely";

const STATEMENT_CACHE_SIZE = 256;
const MAX_BACKOFF_MS = 20;

function isBusy(err: unknown): boolean {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string" && err.code.startsWith("SQLITE_BUSY");
}

/** The single connection of a SQLite Store, with a statement cache and asynchronous lock waits. */
class SqliteConnection implements DatabaseConnection {
  readonly #database: BetterSqlite3.Database;
  readonly #busyTimeoutMs: number;
  readonly #statements = new Map<string, BetterSqlite3.Statement>();

  constructor(database: BetterSqlite3.Database, busyTimeoutMs: number) {
    this.#database = database;
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  get inTransaction(): boolean {
    return this.#database.inTransaction;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const statement = this.#prepare(compiledQuery.sql);
    const parameters = compiledQuery.parameters;
    // Inside a transaction this connection already holds the write lock, so a
    // BUSY there is not a wait to sit out; only COMMIT may be retried (SQLite
    // keeps the transaction open when COMMIT reports BUSY).
    const retryable = !this.#database.inTransaction || /^\s*commit\b/i.test(compiledQuery.sql);
    return this.#whenNotBusy(retryable, () => {
      if (statement.reader) return { rows: statement.all(parameters) as R[] };
      const { changes } = statement.run(parameters);
      return { numAffectedRows: BigInt(changes), rows: [] };
    });
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    const statement = this.#prepare(compiledQuery.sql);
    for (const row of statement.iterate(compiledQuery.parameters)) yield { rows: [row as R] };
  }

  /** Runs `work`; while it reports SQLITE_BUSY and may be retried, waits without blocking and tries again. */
  async #whenNotBusy<T>(retryable: boolean, work: () => T): Promise<T> {
    const deadline = performance.now() + this.#busyTimeoutMs;
    let backoffMs = 1;
    for (;;) {
      try {
        return work();
      } catch (err) {
        if (!retryable || !isBusy(err) || performance.now() >= deadline) throw err;
      }
      await sleep(backoffMs);
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
    }
  }

  #prepare(text: string): BetterSqlite3.Statement {
    const cached = this.#statements.get(text);
    if (cached !== undefined) return cached;
    const statement = this.#database.prepare(text);
    if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
      const oldest = this.#statements.keys().next().value;
      if (oldest !== undefined) this.#statements.delete(oldest);
    }
    this.#statements.set(text, statement);
    return statement;
  }
}

class ImmediateSqliteDriver implements Driver {
  readonly #database: BetterSqlite3.Database;
  readonly #connection: SqliteConnection;

  constructor(database: BetterSqlite3.Database, busyTimeoutMs: number) {
    this.#database = database;
    this.#connection = new SqliteConnection(database, busyTimeoutMs);
  }

  async init(): Promise<void> {}

  // Kysely serialises users of this one connection with its own mutex,
  // because SqliteAdapter declares no support for multiple connections.
  async acquireConnection(): Promise<DatabaseConnection> {
    return this.#connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("commit"));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    // SQLite rolls back by itself on some errors (disk full, I/O); a second ROLLBACK would fail.
    if (this.#connection.inTransaction) await connection.executeQuery(CompiledQuery.raw("rollback"));
  }

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {
    if (this.#database.open) this.#database.close();
  }
}

/** Kysely's SQLite dialect with {@link ImmediateSqliteDriver} as its driver. */
export class ImmediateSqliteDialect implements Dialect {
  readonly #database: BetterSqlite3.Database;
  readonly #busyTimeoutMs: number;

  /**
   * @param database - an open, configured better-sqlite3 handle; the dialect closes it on destroy.
   * @param busyTimeoutMs - how long to wait for another connection's write lock before UNAVAILABLE.
   */
  constructor(database: BetterSqlite3.Database, busyTimeoutMs: number) {
    this.#database = database;
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#database, this.#busyTimeoutMs);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}
