/**
 * The row form of audit records, shared by the global log and the tenant
 * reader, and the bulk INSERTs that write them.
 */
import { CompiledQuery } from "kysely";
import type { Selectable } from "kysely";
import type { AuditRecord, AuditTombstoneReason } from "@aesp/core";
import type { Codec } from "./dialect.ts";
import type { AuditEventsTable } from "./schema.ts";

/** The columns of `audit_events` in the order the bulk INSERTs bind them. */
const AUDIT_COLUMNS = [
  "seq",
  "event_id",
  "timestamp_ms",
  "event_type",
  "tenant_id",
  "principal_id",
  "session_id",
  "resource",
  "action",
  "outcome",
  "source_ip",
  "user_agent",
  "correlation_id",
  "risk_score",
  "policy_violations",
  "metadata",
  "leaf_hash",
  "chain_hash",
] as const satisfies readonly (keyof AuditEventsTable)[];

const COLUMN_LIST = AUDIT_COLUMNS.join(",");

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
 * SQLite binds at most 32,766 parameters per statement; 1,000 rows of 18
 * columns stay well inside.
 */
const SQLITE_ROWS_PER_INSERT = 1000;

/**
 * The row counts a SQLite INSERT may have: the full chunk and powers of two
 * below it. Group commit produces batches of every size; decomposing each into
 * these shapes means at most eleven distinct statements ever exist, all
 * compiled once and reused from the driver's statement cache, instead of a
 * fresh thousand-row statement to prepare (and cache) for every batch size.
 */
const SQLITE_INSERT_SHAPES = [SQLITE_ROWS_PER_INSERT, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1];

const sqliteInsertTexts = new Map<number, string>();

function sqliteInsertText(rows: number): string {
  const cached = sqliteInsertTexts.get(rows);
  if (cached !== undefined) return cached;
  const tuple = `(${AUDIT_COLUMNS.map(() => "?").join(",")})`;
  const text = `insert into audit_events (${COLUMN_LIST}) values ${Array.from({ length: rows }, () => tuple).join(",")}`;
  sqliteInsertTexts.set(rows, text);
  return text;
}

/**
 * SQLite: multi-row `INSERT … VALUES (…), (…)`, chunked under the parameter
 * limit into the fixed shapes of {@link SQLITE_INSERT_SHAPES}.
 *
 * @param records - a linked batch.
 */
export function sqliteAuditInserts(records: readonly AuditRecord[]): CompiledQuery[] {
  const statements: CompiledQuery[] = [];
  let start = 0;
  for (const shape of SQLITE_INSERT_SHAPES) {
    while (records.length - start >= shape) {
      const chunk = records.slice(start, start + shape);
      statements.push(CompiledQuery.raw(sqliteInsertText(shape), chunk.flatMap(auditValues)));
      start += shape;
    }
  }
  return statements;
}

/** Bounds one statement's message size: 10,000 events are a few megabytes of JSON. */
const POSTGRES_ROWS_PER_INSERT = 10_000;

const POSTGRES_INSERT_TEXT =
  `insert into audit_events (${COLUMN_LIST}) ` + `select ${COLUMN_LIST} from json_populate_recordset(null::audit_events, $1::json)`;

/** One record as a JSON object keyed by column name; JSON columns nest as JSON, not as strings. */
function auditRowObject(record: AuditRecord): Record<(typeof AUDIT_COLUMNS)[number], unknown> {
  return {
    seq: record.seq,
    event_id: record.eventId,
    timestamp_ms: record.timestampMs,
    event_type: record.eventType,
    tenant_id: record.tenantId,
    principal_id: record.principalId,
    session_id: record.sessionId,
    resource: record.resource,
    action: record.action,
    outcome: record.outcome,
    source_ip: record.sourceIp,
    user_agent: record.userAgent,
    correlation_id: record.correlationId,
    risk_score: record.riskScore,
    policy_violations: record.policyViolations,
    metadata: record.metadata,
    leaf_hash: record.leafHash,
    chain_hash: record.chainHash,
  };
}

/**
 * PostgreSQL: `INSERT … SELECT … FROM json_populate_recordset(null::audit_events, $1)`,
 * the whole chunk as one JSON parameter. Measured here against multi-row
 * VALUES (18 parameters per row) and `unnest` (one array per column): about
 * twice the rate of VALUES, the same rate as `unnest` (the server is the
 * limit), and half of `unnest`'s CPU in the Host, because the client's work
 * is one native JSON.stringify instead of escaping every array element. A
 * `json` column receives the nested value's text as written, so key order
 * survives. The statement text is constant and there is no parameter limit
 * to chunk under. The explicit column list lets later columns take their defaults.
 *
 * @param records - a linked batch.
 */
export function postgresAuditInserts(records: readonly AuditRecord[]): CompiledQuery[] {
  const statements: CompiledQuery[] = [];
  for (let start = 0; start < records.length; start += POSTGRES_ROWS_PER_INSERT) {
    const chunk = records.slice(start, start + POSTGRES_ROWS_PER_INSERT).map(auditRowObject);
    statements.push(CompiledQuery.raw(POSTGRES_INSERT_TEXT, [JSON.stringify(chunk)]));
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
    // Passed on unchecked: the verifier refuses an unknown reason as a malformed record.
    ...(row.tombstone === "" || row.tombstone === undefined ? {} : { tombstone: row.tombstone as AuditTombstoneReason }),
  };
}
