/**
 * The row form of audit records, shared by the global log and the tenant
 * reader, and the bulk INSERTs that write them.
 */
import { CompiledQuery } from "kysely";
import type { Selectable } from "kysely";
import type { AuditRecord } from "../../../core/src/records.ts";
import type { Codec } from "./dialect.ts";
import type { AuditEventsTable } from "./schema.ts";

/** The columns of `audit_events` in the order the bulk INSERTs bind them, with their PostgreSQL types. */
const AUDIT_COLUMNS = [
  ["seq", "bigint"],
  ["event_id", "text"],
  ["timestamp_ms", "bigint"],
  ["event_type", "text"],
  ["tenant_id", "text"],
  ["principal_id", "text"],
  ["session_id", "text"],
  ["resource", "text"],
  ["action", "text"],
  ["outcome", "text"],
  ["source_ip", "text"],
  ["user_agent", "text"],
  ["correlation_id", "text"],
  ["risk_score", "text"],
  ["policy_violations", "json"],
  ["metadata", "json"],
  ["leaf_hash", "text"],
  ["chain_hash", "text"],
] as const satisfies readonly (readonly [keyof AuditEventsTable, string])[];

const COLUMN_LIST = AUDIT_COLUMNS.map(([name]) => name).join(",");

/** One record's column values, in {@link AUDIT_COLUMNS} order; JSON columns as JSON text. */
function auditValues(record: AuditRecord): unknown[] {
  return [
    record.seq,
    record.eventId,
    record.timestampMs,
    record.eventType,
    record.tenantId,
    record.principalId,
    record.sessionId,
    record.resource,
    record.action,
    record.outcome,
    record.sourceIp,
    record.userAgent,
    record.correlationId,
    record.riskScore,
    JSON.stringify(record.policyViolations),
    JSON.stringify(record.metadata),
    record.leafHash,
    record.chainHash,
  ];
}

/**
 * SQLite binds at most 32,766 parameters per statement: 1,000 rows of 18
 * columns stay well inside, and a full chunk's statement is prepared once
 * and then reused from the driver's statement cache.
 */
const SQLITE_ROWS_PER_INSERT = 1000;

/** Statement texts of recent chunk sizes (a full chunk repeats on every large batch). */
const sqliteInsertTexts = new Map<number, string>();
const SQLITE_INSERT_TEXT_CACHE_SIZE = 16;

function sqliteInsertText(rows: number): string {
  const cached = sqliteInsertTexts.get(rows);
  if (cached !== undefined) return cached;
  const tuple = `(${AUDIT_COLUMNS.map(() => "?").join(",")})`;
  const text = `insert into audit_events (${COLUMN_LIST}) values ${Array.from({ length: rows }, () => tuple).join(",")}`;
  if (sqliteInsertTexts.size >= SQLITE_INSERT_TEXT_CACHE_SIZE) {
    const oldest = sqliteInsertTexts.keys().next().value;
    if (oldest !== undefined) sqliteInsertTexts.delete(oldest);
  }
  sqliteInsertTexts.set(rows, text);
  return text;
}

/**
 * SQLite: multi-row `INSERT … VALUES (…), (…)` chunked under the parameter limit.
 *
 * @param records - a linked batch.
 */
export function sqliteAuditInserts(records: readonly AuditRecord[]): CompiledQuery[] {
  const statements: CompiledQuery[] = [];
  for (let start = 0; start < records.length; start += SQLITE_ROWS_PER_INSERT) {
    const chunk = records.slice(start, start + SQLITE_ROWS_PER_INSERT);
    statements.push(CompiledQuery.raw(sqliteInsertText(chunk.length), chunk.flatMap(auditValues)));
  }
  return statements;
}

/** Bounds one statement's message size; a column array per 10,000 rows is a few hundred kilobytes. */
const POSTGRES_ROWS_PER_INSERT = 10_000;

const POSTGRES_INSERT_TEXT =
  `insert into audit_events (${COLUMN_LIST}) ` +
  `select * from unnest(${AUDIT_COLUMNS.map(([, type], index) => `$${index + 1}::${type}[]`).join(", ")})`;

/**
 * PostgreSQL: `INSERT … SELECT * FROM unnest($1::bigint[], …)`, one array per column.
 * Measured here at about twice the rate of multi-row VALUES for the same
 * rows: PostgreSQL binds 18 parameters instead of 18 per row, and the
 * statement text is constant, so there is no parameter limit to chunk under.
 *
 * @param records - a linked batch.
 */
export function postgresAuditInserts(records: readonly AuditRecord[]): CompiledQuery[] {
  const statements: CompiledQuery[] = [];
  for (let start = 0; start < records.length; start += POSTGRES_ROWS_PER_INSERT) {
    const columns: unknown[][] = AUDIT_COLUMNS.map(() => []);
    for (const record of records.slice(start, start + POSTGRES_ROWS_PER_INSERT)) {
      auditValues(record).forEach((value, index) => columns[index]?.push(value));
    }
    statements.push(CompiledQuery.raw(POSTGRES_INSERT_TEXT, columns));
  }
  return statements;
}

/**
 * The record a row holds.
 *
 * @param row - a full `audit_events` row.
 * @param codec - the dialect's JSON decoding.
 */
export function toAuditRecord(row: Selectable<AuditEventsTable>, codec: Codec): AuditRecord {
  return {
    seq: row.seq,
    eventId: row.event_id,
    timestampMs: row.timestamp_ms,
    eventType: row.event_type,
    tenantId: row.tenant_id,
    principalId: row.principal_id,
    sessionId: row.session_id,
    resource: row.resource,
    action: row.action,
    outcome: row.outcome,
    sourceIp: row.source_ip,
    userAgent: row.user_agent,
    correlationId: row.correlation_id,
    riskScore: row.risk_score,
    policyViolations: codec.readJson<string[]>(row.policy_violations),
    metadata: codec.readJson<Record<string, string>>(row.metadata),
    leafHash: row.leaf_hash,
    chainHash: row.chain_hash,
  };
}
