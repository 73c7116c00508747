/**
 * The shape of a schema migration and the column types it may use.
 *
 * Migrations are ordered TypeScript modules. Where SQLite and PostgreSQL
 * agree they share one definition written against {@link ColumnTypes}; where
 * they do not (table options, locking) they branch on `types.kind`.
 */
import type { Kysely } from "kysely";
import type { Database } from "../schema.ts";

/** Column types by meaning, resolved per dialect. */
export interface ColumnTypes {
  readonly kind: "sqlite" | "postgres";
  readonly text: "text";
  /** Epoch milliseconds, sequence numbers, sizes. */
  readonly bigint: "bigint" | "integer";
  readonly integer: "integer";
  readonly boolean: "boolean" | "integer";
  /** JSON whose object key order carries no meaning (jsonb on PostgreSQL). */
  readonly json: "jsonb" | "text";
  /**
   * JSON whose exact text must survive: hashed audit payloads and authored
   * contract schemas, whose property order users see. PostgreSQL's jsonb would
   * re-sort object keys; json keeps the text as written.
   */
  readonly orderedJson: "json" | "text";
}

/** Column types of SQLite STRICT tables. */
export const sqliteColumnTypes: ColumnTypes = {
  kind: "sqlite",
  text: "text",
  bigint: "integer",
  integer: "integer",
  boolean: "integer",
  json: "text",
  orderedJson: "text",
};

/** Column types of PostgreSQL. */
export const postgresColumnTypes: ColumnTypes = {
  kind: "postgres",
  text: "text",
  bigint: "bigint",
  integer: "integer",
  boolean: "boolean",
  json: "jsonb",
  orderedJson: "json",
};

/** One schema change, applied once, in version order, inside the migration transaction. */
export interface Migration {
  /** Strictly increasing from 1; recorded in `schema_migrations`. */
  readonly version: number;
  /** Kebab-case summary, recorded beside the version. */
  readonly name: string;
  up(db: Kysely<Database>, types: ColumnTypes): Promise<void>;
}
