/**
 * What differs between the two backends once Kysely has compiled a query:
 * how JSON and booleans travel, how JSON arrays are searched, how the audit
 * append lock is taken, and how many bind parameters one statement may carry.
 */
import { sql } from "kysely";
import type { CompiledQuery, Expression, RawBuilder, SqlBool, Transaction } from "kysely";
import type { AuditRecord } from "@aesp/core";
import { postgresAuditInserts, sqliteAuditInserts } from "./audit-rows.ts";
import type { Database } from "./schema.ts";

/** Encodes values the drivers cannot bind natively and decodes what they return. */
export interface Codec {
  /** JSON text for a JSON column. */
  writeJson(value: unknown): string;
  /** The value of a JSON column as the record field it was written from. */
  readJson<T>(column: unknown): T;
  writeBoolean(value: boolean): boolean | number;
  readBoolean(column: boolean | number): boolean;
}

/** The backend-specific half of a store. */
export interface DialectProfile {
  readonly kind: "sqlite" | "postgres";
  readonly codec: Codec;
  /**
   * A condition: the JSON array in `column` has the string `value` as an element.
   *
   * @param column - a JSON column holding an array of strings.
   * @param value - bound as a parameter, never spliced into the text.
   */
  jsonArrayContains(column: Expression<unknown>, value: string): RawBuilder<SqlBool>;
  /** The statements that insert a linked audit batch, fastest form for the dialect. */
  auditInserts(records: readonly AuditRecord[]): CompiledQuery[];
  /**
   * Serialises audit appends across every Store on the database, held until
   * the surrounding transaction ends.
   */
  lockAuditAppend(trx: Transaction<Database>): Promise<void>;
}

/** SQLite: JSON as text, booleans as 0/1; write transactions already hold the lock. */
export const sqliteProfile: DialectProfile = {
  kind: "sqlite",
  codec: {
    writeJson: (value) => JSON.stringify(value),
    // Most audit rows have no policy violations: skip the parser for the empty array (still a fresh one).
    readJson: <T>(column: unknown): T => (column === "[]" ? [] : JSON.parse(String(column))) as T,
    writeBoolean: (value) => (value ? 1 : 0),
    readBoolean: (column) => column === 1 || column === true,
  },
  jsonArrayContains: (column, value) => sql<SqlBool>`exists (select 1 from json_each(${column}) as element where element.value = ${value})`,
  auditInserts: sqliteAuditInserts,
  // Every SQLite transaction of this adapter begins IMMEDIATE (see sqlite/driver.ts),
  // so by the time an append runs it already holds the database's only write lock.
  lockAuditAppend: async () => {},
};

/**
 * The advisory lock key that serialises audit appends on PostgreSQL: the ASCII
 * bytes of "AESPAUD1" as a signed 64-bit integer. Advisory locks are per
 * database, so Hosts using different schemas of one database share it; that
 * costs some concurrency between unrelated logs, never correctness.
 */
export const AUDIT_APPEND_LOCK_KEY = 0x4145535041554431n;

/** PostgreSQL: jsonb/json (parsed by `pg`), real booleans, an advisory transaction lock. */
export const postgresProfile: DialectProfile = {
  kind: "postgres",
  codec: {
    writeJson: (value) => JSON.stringify(value),
    // `pg` parses json and jsonb columns itself.
    readJson: <T>(column: unknown): T => column as T,
    writeBoolean: (value) => value,
    readBoolean: (column) => column === true || column === 1,
  },
  // jsonb containment: `["a","b"] @> ["a"]`; the cast keeps the element a string whatever `pg` infers.
  jsonArrayContains: (column, value) => sql<SqlBool>`${column} @> jsonb_build_array(cast(${value} as text))`,
  auditInserts: postgresAuditInserts,
  lockAuditAppend: async (trx) => {
    await sql`select pg_advisory_xact_lock(${sql.raw(AUDIT_APPEND_LOCK_KEY.toString())})`.execute(trx);
  },
};
