/**
 * Audit records as RFC 5424 syslog messages, framed for TLS transport per RFC 5425.
 *
 * - HEADER: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID`, PRI = facility 13 (log audit) × 8 +
 *   a severity derived from the catalogue (info → 6 informational, warning → 4 warning,
 *   security → 2 critical); MSGID is the event type (ASCII, at most 32 characters).
 * - STRUCTURED-DATA: one `[aesp@<enterprise number> …]` element with the fields a SIEM indexes,
 *   each PARAM-VALUE escaped (`"`, `\` and `]` get a backslash, RFC 5424 §6.3.3).
 * - MSG: a UTF-8 BOM then the whole record as JSON, so nothing is lost (metadata included).
 * - Framing: octet counting, `MSG-LEN SP SYSLOG-MSG`, MSG-LEN in bytes (RFC 5425 §4.3).
 * Header fields are printable US-ASCII without spaces; anything else becomes `_`, an empty field `-`.
 */
import type { AuditRecord } from "@aesp/core";
import { auditEventSpec, isAuditEventType } from "@aesp/core/audit";
import type { AuditSeverity } from "@aesp/core/audit";

/** `log audit` (RFC 5424 table 1). */
export const SYSLOG_FACILITY_LOG_AUDIT = 13;

/** The example private enterprise number of RFC 5612; configure your organisation's own. */
export const DOCUMENTATION_ENTERPRISE_ID = 32473;

/** Identity of the sender in every message. */
export interface SyslogIdentity {
  readonly hostname: string;
  readonly appName: string;
  readonly procId: string;
  /** IANA private enterprise number of the structured-data element id `aesp@<n>`. */
  readonly enterpriseId: number;
}

const SEVERITY_CODE: Record<AuditSeverity, number> = { info: 6, warning: 4, security: 2 };

/** The catalogue severity of a record's type (`info` for types this Host does not know). */
export function auditSeverityOf(eventType: string): AuditSeverity {
  return isAuditEventType(eventType) ? auditEventSpec(eventType).severity : "info";
}

/**
 * Formats one record as an RFC 5424 message (without framing).
 *
 * @param record - A committed audit record.
 * @param identity - HOSTNAME, APP-NAME, PROCID and the SD-ID's enterprise number.
 * @returns The SYSLOG-MSG.
 */
export function formatSyslogMessage(record: AuditRecord, identity: SyslogIdentity): string {
  const pri = SYSLOG_FACILITY_LOG_AUDIT * 8 + SEVERITY_CODE[auditSeverityOf(record.eventType)];
  const header = [
    `<${String(pri)}>1`,
    new Date(record.timestampMs).toISOString(),
    headerField(identity.hostname, 255),
    headerField(identity.appName, 48),
    headerField(identity.procId, 128),
    headerField(record.eventType, 32),
  ].join(" ");
  const params: [string, string][] = [
    ["event_id", record.eventId],
    ["seq", String(record.seq)],
    ["event_type", record.eventType],
    ["outcome", record.outcome],
    ["tenant_id", record.tenantId],
    ["principal_id", record.principalId],
    ["resource", record.resource],
    ["action", record.action],
    ["correlation_id", record.correlationId],
    ["source_ip", record.sourceIp],
    ["leaf_hash", record.leafHash],
    ["chain_hash", record.chainHash],
  ];
  const sd = `[aesp@${String(identity.enterpriseId)} ${params
    .filter(([, value]) => value !== "")
    .map(([name, value]) => `${name}="${escapeParamValue(value)}"`)
    .join(" ")}]`;
  return `${header} ${sd} \uFEFF${JSON.stringify(record)}`;
}

/**
 * Frames a message for a TLS stream: `MSG-LEN SP SYSLOG-MSG`, MSG-LEN counting UTF-8 bytes.
 *
 * @param message - A SYSLOG-MSG.
 * @returns The frame's bytes.
 */
export function frameOctetCounting(message: string): Buffer {
  const body = Buffer.from(message, "utf8");
  return Buffer.concat([Buffer.from(`${String(body.length)} `, "ascii"), body]);
}

/**
 * Splits a byte stream of octet-counted frames (a receiver's side, used by tests and tools).
 *
 * @param buffer - Bytes received so far.
 * @returns The complete messages and the bytes of an incomplete trailing frame.
 * @throws Error when the stream is not octet-counted.
 */
export function parseOctetCountedFrames(buffer: Buffer): { messages: string[]; rest: Buffer } {
  const messages: string[] = [];
  let offset = 0;
  for (;;) {
    const space = buffer.indexOf(0x20, offset);
    if (space === -1) break;
    const lengthText = buffer.subarray(offset, space).toString("ascii");
    if (!/^[1-9][0-9]{0,8}$/.test(lengthText)) throw new Error("not an octet-counted syslog frame");
    const length = Number(lengthText);
    if (buffer.length < space + 1 + length) break;
    messages.push(buffer.subarray(space + 1, space + 1 + length).toString("utf8"));
    offset = space + 1 + length;
  }
  return { messages, rest: buffer.subarray(offset) };
}

/** RFC 5424 §6.3.3: `"`, `\` and `]` are escaped with a backslash inside PARAM-VALUE. */
export function escapeParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** A header field: printable US-ASCII (33–126), at most `max` characters, `-` when empty. */
function headerField(value: string, max: number): string {
  const printable = value.replace(/[^\x21-\x7e]/g, "_").slice(0, max);
  return printable === "" ? "-" : printable;
}
