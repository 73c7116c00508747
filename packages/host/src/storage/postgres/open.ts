/**
 * Creates the `pg` pool a PostgreSQL Store runs on.
 */
import pg from "pg";
import { EnterpriseError } from "@aesp/core";
import { isSafeSchemaName } from "../migrations/runner.ts";

/** The OID of PostgreSQL's int8 (bigint). */
const INT8_OID = 20;

/** Parses one column value from its text form. */
type ValueParser = (value: string) => unknown;

/** Type parsers for this pool only: `pg.types` is process-global and shared with other code. */
const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary"): ValueParser => {
    // Epoch milliseconds, sequence numbers and counts all fit in 2^53; `pg`
    // would otherwise return every bigint as a string.
    if (oid === INT8_OID && format !== "binary") return (value) => Number(value);
    return (format === undefined ? pg.types.getTypeParser(oid) : pg.types.getTypeParser(oid, format)) as ValueParser;
  }) as pg.CustomTypesConfig["getTypeParser"],
};

/** How a PostgreSQL Store connects. */
export interface PostgresPoolOptions {
  connectionString: string;
  /** Tables live in this schema (created if missing); it becomes every connection's search_path. */
  schema?: string;
  /** Maximum connections. Default 10. */
  poolSize?: number;
}

/**
 * A connection pool whose connections parse bigint as number and, when
 * `schema` is given, start with `search_path` set to it.
 *
 * @throws EnterpriseError INVALID_ARGUMENT when the schema name is unusable.
 */
export function createPostgresPool(options: PostgresPoolOptions): pg.Pool {
  const { schema } = options;
  if (schema !== undefined && !isSafeSchemaName(schema)) {
    throw new EnterpriseError("INVALID_ARGUMENT", { message: "The PostgreSQL schema name is not a plain identifier.", details: { field: "schema" } });
  }
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    types: typeParsers,
    // Startup parameters, in force before the first query on every connection the pool ever
    // opens, with no extra round trip. synchronous_commit=on whatever the server's default: a
    // commit (an audit batch) returns only once its WAL is flushed to disk, which the audit log's
    // "nothing acknowledged that is not durable" rests on.
    options: `-c synchronous_commit=on${schema === undefined ? "" : ` -c search_path=${schema}`}`,
  });
  // An idle connection that dies (server restart, network) is dropped by the
  // pool and replaced on next use; without a listener the event would crash the process.
  pool.on("error", () => {});
  return pool;
}
