/**
 * Audit export formats: JSON Lines, CSV, CEF and OCSF, one event at a time (exports stream).
 *
 * Rules each formatter enforces:
 * - JSON Lines: each line is the event's fifteen hashed fields (exactly as {@link canonicalEventJson}
 *   reads them) plus `seq` and `leafHash`, so every line recomputes its leaf hash by itself.
 * - CSV (RFC 4180): every cell is quoted when it holds a comma, quote, CR or LF, quotes doubled;
 *   a text cell starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'` so a spreadsheet
 *   never evaluates it as a formula (OWASP CSV injection).
 * - CEF (ArcSight CEF:0): header fields escape `\` and `|`; extension values escape `\`, `=`,
 *   CR and LF; extension keys are fixed ASCII; line breaks never survive unescaped, so one event
 *   is always one line.
 * - OCSF 1.1: API Activity (6003) by default, Authentication (3002) for `authn.*`, `token.*` and
 *   API-key exchange, Authorize Session (3003) for `authz.*`; outcome → status_id, catalogue
 *   severity → severity_id, fields without an OCSF home under `unmapped`.
 *
 * Nothing here adds data: exports carry what the log stored (already redacted at recording).
 */
import type { AuditEventDraft, AuditRecord } from "../records.ts";
import { auditEventCatalogue, isAuditEventType } from "./events.ts";
import type { AuditSeverity } from "./events.ts";

/** The export formats ExportAuditLogs and `aesp audit export` accept. */
export type AuditExportFormat = "JSONL" | "CSV" | "CEF" | "OCSF";

/** Every format, for validation and help texts. */
export const AUDIT_EXPORT_FORMATS: readonly AuditExportFormat[] = ["JSONL", "CSV", "CEF", "OCSF"];

/** The media type of each format. */
export const AUDIT_EXPORT_CONTENT_TYPES: Readonly<Record<AuditExportFormat, string>> = {
  JSONL: "application/x-ndjson",
  CSV: "text/csv",
  CEF: "text/plain",
  OCSF: "application/x-ndjson",
};

/** The product named in CEF headers and OCSF metadata. */
export interface ExportProduct {
  vendor: string;
  name: string;
  version: string;
}

/** The OCSF schema version emitted. */
export const OCSF_VERSION = "1.1.0";

/** The fifteen hashed fields plus position, as one JSON object (no whitespace). */
export function jsonlLine(record: AuditRecord): string {
  return JSON.stringify(exportedEvent(record)) + "\n";
}

/**
 * The event fields as exported: exactly the hashed fields, in canonical order, then `seq` and
 * `leafHash`. Extra properties of a store record (chain hash, adapter fields) are dropped.
 */
export function exportedEvent(record: AuditRecord): AuditEventDraft & { seq: number; leafHash: string } {
  return {
    action: record.action,
    correlationId: record.correlationId,
    eventId: record.eventId,
    eventType: record.eventType,
    metadata: { ...record.metadata },
    outcome: record.outcome,
    policyViolations: [...record.policyViolations],
    principalId: record.principalId,
    resource: record.resource,
    riskScore: record.riskScore,
    sessionId: record.sessionId,
    sourceIp: record.sourceIp,
    tenantId: record.tenantId,
    timestampMs: record.timestampMs,
    userAgent: record.userAgent,
    seq: record.seq,
    leafHash: record.leafHash,
  };
}

// ------------------------------------------------------------------ CSV

const CSV_COLUMNS = [
  "seq",
  "event_id",
  "time",
  "timestamp_ms",
  "event_type",
  "severity",
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
] as const;

/** The CSV header line (CRLF-terminated, as RFC 4180 has it). */
export function csvHeader(): string {
  return CSV_COLUMNS.join(",") + "\r\n";
}

/** One event as a CSV row (CRLF-terminated). */
export function csvRow(record: AuditRecord): string {
  const cells = [
    String(record.seq),
    record.eventId,
    new Date(record.timestampMs).toISOString(),
    String(record.timestampMs),
    record.eventType,
    severityOf(record.eventType),
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
    record.policyViolations.join(";"),
    Object.keys(record.metadata).length === 0 ? "" : JSON.stringify(sortedMap(record.metadata)),
    record.leafHash,
  ];
  return cells.map(csvCell).join(",") + "\r\n";
}

/**
 * One CSV cell: formula-neutralised, then quoted when RFC 4180 requires it.
 *
 * @param value - The cell text.
 * @returns The cell as written between commas.
 */
export function csvCell(value: string): string {
  // A leading quote makes spreadsheets read the cell as text; tab and CR can also start a formula.
  const safe = /^[=+\-@\t\r]/.test(value) ? "'" + value : value;
  return /[",\r\n]/.test(safe) ? '"' + safe.replace(/"/g, '""') + '"' : safe;
}

// ------------------------------------------------------------------ CEF

/**
 * One event as an ArcSight CEF:0 line.
 *
 * `CEF:0|vendor|product|version|event_type|description|severity|extensions`; severity 0–10 from
 * the catalogue (info 3, warning 6, security 9, unknown application events 5).
 */
export function cefLine(record: AuditRecord, product: ExportProduct): string {
  const spec = isAuditEventType(record.eventType) ? auditEventCatalogue[record.eventType] : undefined;
  const header = [
    "CEF:0",
    cefHeader(product.vendor),
    cefHeader(product.name),
    cefHeader(product.version),
    cefHeader(record.eventType),
    cefHeader(spec?.description ?? record.eventType),
    String(CEF_SEVERITY[severityOf(record.eventType)]),
  ].join("|");
  const ext: [string, string][] = [
    ["rt", String(record.timestampMs)],
    ["externalId", record.eventId],
    ["cn1Label", "seq"],
    ["cn1", String(record.seq)],
    ["outcome", record.outcome],
    ["act", record.action],
    ["suser", record.principalId],
    ["request", record.resource],
    ["cs1Label", "tenant_id"],
    ["cs1", record.tenantId],
    ["cs2Label", "session_id"],
    ["cs2", record.sessionId],
    ["cs3Label", "correlation_id"],
    ["cs3", record.correlationId],
    ["cs4Label", "metadata"],
    ["cs4", Object.keys(record.metadata).length === 0 ? "" : JSON.stringify(sortedMap(record.metadata))],
    ["cs5Label", "policy_violations"],
    ["cs5", record.policyViolations.join(";")],
    ["cs6Label", "risk_score"],
    ["cs6", record.riskScore],
    ["requestClientApplication", record.userAgent],
    ["fileHash", record.leafHash],
  ];
  // src must be an IP address for CEF consumers; anything else is left out rather than misparsed.
  if (/^[0-9a-fA-F:.]+$/.test(record.sourceIp) && record.sourceIp !== "") ext.push(["src", record.sourceIp]);
  const extension = ext.filter(([, value]) => value !== "").map(([key, value]) => `${key}=${cefValue(value)}`).join(" ");
  return `${header}|${extension}\n`;
}

const CEF_SEVERITY: Readonly<Record<AuditSeverity | "unknown", number>> = { info: 3, warning: 6, security: 9, unknown: 5 };

/**
 * Escapes a CEF header field: backslash and pipe; line breaks become spaces because the header
 * has no escape for them.
 */
export function cefHeader(value: string): string {
  return value.replace(/[\\|]/g, (c) => "\\" + c).replace(/\r\n|[\r\n]/g, " ");
}

/** Escapes a CEF extension value: backslash, equals sign, CR and LF. */
export function cefValue(value: string): string {
  return value.replace(/[\\=]/g, (c) => "\\" + c).replace(/\r/g, "\\r").replace(/\n/g, "\\n");
}

// ------------------------------------------------------------------ OCSF

/** An OCSF event object (the subset this Host emits; see ocsf-schema.ts). */
export type OcsfEvent = Record<string, unknown>;

const OCSF_SEVERITY: Readonly<Record<AuditSeverity | "unknown", number>> = { info: 1, warning: 3, security: 4, unknown: 0 };

/**
 * One event as an OCSF 1.1 object.
 *
 * @param record - The stored event.
 * @param product - The product named in metadata.
 * @returns The OCSF event (serialise with JSON.stringify, one per line).
 */
export function ocsfEvent(record: AuditRecord, product: ExportProduct): OcsfEvent {
  const severity = severityOf(record.eventType);
  const { classUid, categoryUid, activityId, className } = ocsfClass(record);
  const statusId = record.outcome === "SUCCESS" ? 1 : 2;
  const event: OcsfEvent = {
    category_uid: categoryUid,
    class_uid: classUid,
    class_name: className,
    activity_id: activityId,
    type_uid: classUid * 100 + activityId,
    severity_id: OCSF_SEVERITY[severity],
    severity: severity === "unknown" ? "Unknown" : severity === "info" ? "Informational" : severity === "warning" ? "Medium" : "High",
    status_id: statusId,
    status: statusId === 1 ? "Success" : "Failure",
    status_code: record.outcome,
    time: record.timestampMs,
    message: isAuditEventType(record.eventType) ? auditEventCatalogue[record.eventType].description : record.eventType,
    metadata: {
      version: OCSF_VERSION,
      uid: record.eventId,
      event_code: record.eventType,
      log_name: "audit",
      sequence: record.seq,
      correlation_uid: record.correlationId === "" ? undefined : record.correlationId,
      tenant_uid: record.tenantId === "" ? undefined : record.tenantId,
      product: { name: product.name, vendor_name: product.vendor, version: product.version },
    },
    actor: {
      user: { uid: record.principalId === "" ? "anonymous" : record.principalId },
      ...(record.sessionId === "" ? {} : { session: { uid: record.sessionId } }),
    },
    src_endpoint: {
      ...(record.sourceIp === "" ? {} : { ip: record.sourceIp }),
      ...(record.userAgent === "" ? {} : { svc_name: record.userAgent }),
    },
    unmapped: {
      outcome: record.outcome,
      resource: record.resource,
      risk_score: record.riskScore,
      policy_violations: [...record.policyViolations],
      metadata: sortedMap(record.metadata),
      leaf_hash: record.leafHash,
    },
  };
  if (classUid === 6003) {
    event["api"] = { operation: record.action === "" ? record.eventType : record.action, service: { name: product.name } };
    event["resources"] = record.resource === "" ? [] : [{ uid: record.resource }];
    // API Activity requires a cloud object in OCSF 1.1; the Host is the "provider" of the API.
    event["cloud"] = { provider: product.name };
  } else {
    event["user"] = { uid: record.principalId === "" ? (record.resource === "" ? "unknown" : record.resource) : record.principalId };
  }
  return JSON.parse(JSON.stringify(event)) as OcsfEvent;
}

/** One OCSF event as a JSON line. */
export function ocsfLine(record: AuditRecord, product: ExportProduct): string {
  return JSON.stringify(ocsfEvent(record, product)) + "\n";
}

function ocsfClass(record: AuditRecord): { classUid: number; categoryUid: number; activityId: number; className: string } {
  const type = record.eventType;
  if (type.startsWith("authn.") || type.startsWith("token.") || type === "api_key.exchanged") {
    // Authentication: Logon 1, Logoff 2, Other 99.
    const activityId = type === "token.revoked" ? 2 : type.startsWith("authn.") || type === "api_key.exchanged" || type === "token.refreshed" ? 1 : 99;
    return { classUid: 3002, categoryUid: 3, activityId, className: "Authentication" };
  }
  if (type.startsWith("authz.")) {
    // Authorize Session: the decision on what a session may do; Other (99) names no assignment.
    return { classUid: 3003, categoryUid: 3, activityId: 99, className: "Authorize Session" };
  }
  // API Activity: Create 1, Read 2, Update 3, Delete 4, Other 99.
  const verb = type.slice(type.indexOf(".") + 1);
  const activityId = /^(created|submitted|requested|enrolled|activated)$/.test(verb)
    ? 1
    : /^(evaluated|tested|decided)$/.test(verb)
      ? 2
      : /^(updated|changed|rotated|roles_updated|promoted|suspended|resumed|synced)$/.test(verb)
        ? 3
        : /^(deleted|revoked|retired|deprovisioned|destroyed)$/.test(verb)
          ? 4
          : 99;
  return { classUid: 6003, categoryUid: 6, activityId, className: "API Activity" };
}

function severityOf(eventType: string): AuditSeverity | "unknown" {
  return isAuditEventType(eventType) ? auditEventCatalogue[eventType].severity : "unknown";
}

function sortedMap(map: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(map).sort()) out[key] = map[key]!;
  return out;
}
