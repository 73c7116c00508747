/**
 * Turns driver failures into catalogue errors without their text.
 *
 * SQLite and PostgreSQL messages quote SQL, constraint and table names, and
 * sometimes values; none of that may reach a caller (invariant 6). The driver
 * error survives only as `cause`, which transports never serialise.
 */
import { EnterpriseError } from "@aesp/core";
import type { ErrorCode } from "@aesp/core";

const SQLITE_CODES: Readonly<Record<string, ErrorCode>> = {
  SQLITE_CONSTRAINT_PRIMARYKEY: "ALREADY_EXISTS",
  SQLITE_CONSTRAINT_UNIQUE: "ALREADY_EXISTS",
  SQLITE_BUSY: "UNAVAILABLE",
  SQLITE_BUSY_SNAPSHOT: "UNAVAILABLE",
  SQLITE_BUSY_RECOVERY: "UNAVAILABLE",
  SQLITE_BUSY_TIMEOUT: "UNAVAILABLE",
  SQLITE_LOCKED: "UNAVAILABLE",
  SQLITE_FULL: "UNAVAILABLE",
  SQLITE_IOERR: "UNAVAILABLE",
  SQLITE_CANTOPEN: "UNAVAILABLE",
  SQLITE_READONLY: "UNAVAILABLE",
};

const NODE_NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ECONNABORTED"]);

function codeOf(err: unknown): string {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string") return err.code;
  return "";
}

/** Maps a PostgreSQL SQLSTATE to a catalogue code (classes per the PostgreSQL manual, appendix A). */
function fromSqlState(state: string): ErrorCode | undefined {
  if (state === "23505") return "ALREADY_EXISTS";
  if (state === "40001" || state === "40P01") return "CONFLICT";
  // Class 22 is "data exception": a value the column cannot hold (NUL bytes, bad encoding, overflow).
  if (state.startsWith("22")) return "INVALID_ARGUMENT";
  // Connection exceptions, insufficient resources, operator intervention (shutdown, crash recovery).
  if (state.startsWith("08") || state.startsWith("53") || state.startsWith("57P")) return "UNAVAILABLE";
  return undefined;
}

/**
 * Converts anything a driver throws into an {@link EnterpriseError}; EnterpriseErrors pass through.
 *
 * @param err - the thrown value.
 * @returns ALREADY_EXISTS for duplicate keys, CONFLICT for serialization failures,
 *   UNAVAILABLE for lost connections and lock timeouts, INVALID_ARGUMENT for values
 *   the database refuses, INTERNAL_ERROR otherwise; always with the original as `cause`.
 */
export function translateDriverError(err: unknown): EnterpriseError {
  if (err instanceof EnterpriseError) return err;
  const code = codeOf(err);
  const mapped =
    SQLITE_CODES[code] ??
    (code.startsWith("SQLITE_IOERR") ? "UNAVAILABLE" : undefined) ??
    (/^[0-9A-Z]{5}$/.test(code) ? fromSqlState(code) : undefined) ??
    (NODE_NETWORK_CODES.has(code) ? "UNAVAILABLE" : undefined) ??
    "INTERNAL_ERROR";
  // The catalogue's UNAVAILABLE text speaks of runtimes; say which dependency is down.
  if (mapped === "UNAVAILABLE") return new EnterpriseError(mapped, { message: "The database is unavailable.", cause: err });
  return new EnterpriseError(mapped, { cause: err });
}

/**
 * Runs one storage operation and translates whatever it throws.
 *
 * @param operation - the database work.
 * @throws EnterpriseError - see {@link translateDriverError}.
 */
export async function guarded<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    throw translateDriverError(err);
  }
}

/** Thrown when an optimistic update finds no row with the expected revision. */
export function conflict(details: Record<string, string>): EnterpriseError {
  return new EnterpriseError("CONFLICT", { details });
}

/** Thrown when an update names a row that does not exist in the bound tenant. */
export function notFound(details: Record<string, string>): EnterpriseError {
  return new EnterpriseError("NOT_FOUND", { details });
}
