/**
 * Canonical encoding and hashing of audit events.
 *
 * An event's identity is the RFC 8785 (JCS) serialisation of its fifteen
 * event fields: keys sorted by UTF-16 code units, no whitespace, strings
 * escaped as ECMAScript `JSON.stringify` does, integers in shortest form. The
 * position fields a store adds (`seq`, `leafHash`, `chainHash`) and any other
 * property an adapter might attach are not part of it, so the same event hashes
 * the same in every store, export and language.
 *
 * - leaf hash  = SHA-256(0x00 || canonical bytes)   (RFC 6962 leaf)
 * - chain hash = SHA-256(previous chain hash || leaf hash), 32 zero bytes before the first record
 *
 * Hashes travel as lower-case hex.
 *
 * A tombstone (a record whose content retention removed, `tombstone` set) has no content to
 * hash: its leaf is the stored leaf hash, which the chain and every signed checkpoint still bind,
 * so removing content never changes a leaf, a chain hash or a root (see {@link EventHasher.recordLeaf}).
 */
import { EnterpriseError } from "../errors.ts";
import type { Hasher } from "../ports.ts";
import type { AuditEventDraft, AuditHead, AuditRecord, AuditTombstoneReason } from "../records.ts";
import { fromHex, toHex, utf8, utf8Into } from "./encoding.ts";

/** The string-valued event fields, checked and escaped alike. */
const STRING_FIELDS = [
  "action",
  "correlationId",
  "eventId",
  "eventType",
  "outcome",
  "principalId",
  "resource",
  "riskScore",
  "sessionId",
  "sourceIp",
  "tenantId",
  "userAgent",
] as const satisfies readonly (keyof AuditEventDraft)[];

/**
 * Every field that enters the canonical form, in canonical (sorted) order.
 * Adding a field to {@link AuditEventDraft} changes every hash: it needs a new
 * log format version, not an edit here.
 */
export const CANONICAL_EVENT_FIELDS: readonly (keyof AuditEventDraft)[] = (
  [...STRING_FIELDS, "metadata", "policyViolations", "timestampMs"] as (keyof AuditEventDraft)[]
).sort();

/** RFC 6962 domain separation: interior nodes hash with 0x01, leaves with 0x00. */
export const NODE_PREFIX = 0x01;

/**
 * The canonical JSON text of an event's fifteen fields.
 *
 * @param event - An event or a linked record; position fields are ignored.
 * @returns The RFC 8785 serialisation.
 * @throws EnterpriseError `INVALID_ARGUMENT` (details.field) when a field is
 *   missing or has the wrong type, so that no two distinct events can share an encoding.
 */
export function canonicalEventJson(event: AuditEventDraft): string {
  // Written out field by field (no intermediate object): this runs once per record when verifying millions.
  const fields = event as unknown as Record<string, unknown>;
  const timestamp = fields["timestampMs"];
  if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp < 0) throw malformed("timestampMs");
  return (
    '{"action":' + quoted(fields["action"], "action") +
    ',"correlationId":' + quoted(fields["correlationId"], "correlationId") +
    ',"eventId":' + quoted(fields["eventId"], "eventId") +
    ',"eventType":' + quoted(fields["eventType"], "eventType") +
    ',"metadata":' + canonicalStringMap(fields["metadata"]) +
    ',"outcome":' + quoted(fields["outcome"], "outcome") +
    ',"policyViolations":' + canonicalStringArray(fields["policyViolations"]) +
    ',"principalId":' + quoted(fields["principalId"], "principalId") +
    ',"resource":' + quoted(fields["resource"], "resource") +
    ',"riskScore":' + quoted(fields["riskScore"], "riskScore") +
    ',"sessionId":' + quoted(fields["sessionId"], "sessionId") +
    ',"sourceIp":' + quoted(fields["sourceIp"], "sourceIp") +
    ',"tenantId":' + quoted(fields["tenantId"], "tenantId") +
    ',"timestampMs":' + String(timestamp) +
    ',"userAgent":' + quoted(fields["userAgent"], "userAgent") +
    "}"
  );
}

/**
 * The canonical UTF-8 bytes of an event.
 *
 * @param event - An event or a linked record.
 * @returns UTF-8 of {@link canonicalEventJson}; always valid UTF-8 because
 *   `JSON.stringify` escapes lone surrogates.
 * @throws EnterpriseError `INVALID_ARGUMENT` on a malformed event.
 */
export function canonicalEventBytes(event: AuditEventDraft): Uint8Array {
  return utf8(canonicalEventJson(event));
}

/**
 * Hashes events and chain links, reusing one scratch buffer so that verifying
 * millions of records does not allocate per record beyond the digests.
 *
 * Not reentrant: use one instance per loop.
 */
export class EventHasher {
  readonly #hasher: Hasher;
  readonly #writer = new CanonicalWriter();
  readonly #link = new Uint8Array(64);

  /** @param hasher - The SHA-256 port. */
  constructor(hasher: Hasher) {
    this.#hasher = hasher;
  }

  /**
   * The RFC 6962 leaf hash of an event: SHA-256(0x00 || canonical bytes).
   *
   * @param event - An event or a linked record.
   * @returns 32 bytes, owned by the caller.
   * @throws EnterpriseError `INVALID_ARGUMENT` on a malformed event.
   */
  leaf(event: AuditEventDraft): Uint8Array {
    return this.#hasher.sha256(this.#writer.leafInput(event));
  }

  /**
   * The leaf a stored record contributes: recomputed from its content when intact, the stored
   * leaf hash when it is a tombstone (its content is gone; the chain link and checkpoints that
   * cover it are what vouch for that hash).
   *
   * @param record - A linked record.
   * @returns 32 bytes.
   * @throws EnterpriseError `INVALID_ARGUMENT` on a malformed record, an unknown tombstone reason
   *   or a tombstone without a valid leaf hash.
   */
  recordLeaf(record: AuditRecord): Uint8Array {
    if (record.tombstone === undefined) return this.leaf(record);
    if (!isTombstoneReason(record.tombstone)) throw malformed("tombstone");
    return hashFromHex(record.leafHash, "leafHash");
  }

  /**
   * The next chain hash: SHA-256(previous chain hash || leaf hash).
   *
   * @param previous - 32 bytes: the previous record's chain hash, or zeros.
   * @param leaf - 32 bytes: this record's leaf hash.
   * @returns 32 bytes, owned by the caller.
   */
  chain(previous: Uint8Array, leaf: Uint8Array): Uint8Array {
    this.#link.set(previous, 0);
    this.#link.set(leaf, 32);
    return this.#hasher.sha256(this.#link);
  }
}

/** The JSON punctuation and keys of the canonical form, in order, as UTF-8. */
const KEY = {
  action: utf8('{"action":'),
  correlationId: utf8(',"correlationId":'),
  eventId: utf8(',"eventId":'),
  eventType: utf8(',"eventType":'),
  metadata: utf8(',"metadata":'),
  outcome: utf8(',"outcome":'),
  policyViolations: utf8(',"policyViolations":'),
  principalId: utf8(',"principalId":'),
  resource: utf8(',"resource":'),
  riskScore: utf8(',"riskScore":'),
  sessionId: utf8(',"sessionId":'),
  sourceIp: utf8(',"sourceIp":'),
  tenantId: utf8(',"tenantId":'),
  timestampMs: utf8(',"timestampMs":'),
  userAgent: utf8(',"userAgent":'),
} as const;

/**
 * Writes 0x00 || canonical bytes straight into a reused buffer: the same bytes
 * as UTF-8 of {@link canonicalEventJson} (a unit test holds them equal), without
 * building the string. Plain ASCII is copied byte by byte; anything JSON would
 * escape or that is not ASCII takes the `JSON.stringify` + `TextEncoder` path.
 */
class CanonicalWriter {
  #buffer = new Uint8Array(4096);
  #length = 0;

  leafInput(event: AuditEventDraft): Uint8Array {
    const fields = event as unknown as Record<string, unknown>;
    const timestamp = fields["timestampMs"];
    if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp < 0) throw malformed("timestampMs");
    this.#length = 0;
    this.#byte(0x00);
    this.#field(KEY.action, fields, "action");
    this.#field(KEY.correlationId, fields, "correlationId");
    this.#field(KEY.eventId, fields, "eventId");
    this.#field(KEY.eventType, fields, "eventType");
    this.#bytes(KEY.metadata);
    this.#map(fields["metadata"]);
    this.#field(KEY.outcome, fields, "outcome");
    this.#bytes(KEY.policyViolations);
    this.#array(fields["policyViolations"]);
    this.#field(KEY.principalId, fields, "principalId");
    this.#field(KEY.resource, fields, "resource");
    this.#field(KEY.riskScore, fields, "riskScore");
    this.#field(KEY.sessionId, fields, "sessionId");
    this.#field(KEY.sourceIp, fields, "sourceIp");
    this.#field(KEY.tenantId, fields, "tenantId");
    this.#bytes(KEY.timestampMs);
    this.#ascii(String(timestamp));
    this.#field(KEY.userAgent, fields, "userAgent");
    this.#byte(0x7d);
    return this.#buffer.subarray(0, this.#length);
  }

  #field(key: Uint8Array, fields: Record<string, unknown>, name: string): void {
    this.#bytes(key);
    this.#string(fields[name], name);
  }

  #map(value: unknown): void {
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw malformed("metadata");
    const map = value as Record<string, unknown>;
    const keys = Object.keys(map).sort();
    this.#byte(0x7b);
    for (let i = 0; i < keys.length; i++) {
      if (i > 0) this.#byte(0x2c);
      this.#string(keys[i], "metadata");
      this.#byte(0x3a);
      this.#string(map[keys[i]!], "metadata");
    }
    this.#byte(0x7d);
  }

  #array(value: unknown): void {
    if (!Array.isArray(value)) throw malformed("policyViolations");
    this.#byte(0x5b);
    for (let i = 0; i < value.length; i++) {
      if (i > 0) this.#byte(0x2c);
      this.#string(value[i], "policyViolations");
    }
    this.#byte(0x5d);
  }

  #string(value: unknown, field: string): void {
    if (typeof value !== "string") throw malformed(field);
    // Worst case: every code unit becomes a six-byte \uXXXX escape.
    this.#reserve(value.length * 6 + 2);
    const buffer = this.#buffer;
    const start = this.#length;
    let at = start + 1;
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code < 0x20 || code >= 0x7f || code === 0x22 || code === 0x5c) {
        this.#length = start;
        this.#length += utf8Into(JSON.stringify(value), buffer.subarray(start));
        return;
      }
      buffer[at++] = code;
    }
    buffer[start] = 0x22;
    buffer[at++] = 0x22;
    this.#length = at;
  }

  #ascii(text: string): void {
    this.#reserve(text.length);
    for (let i = 0; i < text.length; i++) this.#buffer[this.#length++] = text.charCodeAt(i);
  }

  #bytes(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  #byte(byte: number): void {
    this.#reserve(1);
    this.#buffer[this.#length++] = byte;
  }

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#buffer.length) return;
    const grown = new Uint8Array(Math.max(this.#length + extra, this.#buffer.length * 2));
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }
}

/**
 * The RFC 6962 leaf hash of one event.
 *
 * @param event - An event or a linked record.
 * @param hasher - The SHA-256 port.
 * @returns 32 bytes.
 * @throws EnterpriseError `INVALID_ARGUMENT` on a malformed event.
 */
export function leafHash(event: AuditEventDraft, hasher: Hasher): Uint8Array {
  return new EventHasher(hasher).leaf(event);
}

/**
 * The chain hash that follows `previousChainHex` when a record with `leaf` is appended.
 *
 * @param previousChainHex - 64 hex digits (64 zeros before the first record).
 * @param leaf - 32-byte leaf hash.
 * @param hasher - The SHA-256 port.
 * @returns 32 bytes.
 * @throws EnterpriseError `INVALID_ARGUMENT` when `previousChainHex` is not a 32-byte hex hash.
 */
export function chainHash(previousChainHex: string, leaf: Uint8Array, hasher: Hasher): Uint8Array {
  return new EventHasher(hasher).chain(hashFromHex(previousChainHex, "chainHash"), leaf);
}

/**
 * Links drafts after `head`: assigns consecutive `seq` values and computes leaf
 * and chain hashes. This is the `link` callback a store runs under its append lock.
 *
 * @param head - The tip of the log the drafts are appended to.
 * @param drafts - Events in the order they enter the log.
 * @param hasher - The SHA-256 port.
 * @param leafHashes - The drafts' leaf hashes when already computed (outside the
 *   store's lock); must be index-aligned with `drafts`.
 * @returns One record per draft; the drafts are not mutated.
 * @throws EnterpriseError `INVALID_ARGUMENT` on a malformed draft or head.
 */
export function linkRecords(
  head: AuditHead,
  drafts: readonly AuditEventDraft[],
  hasher: Hasher,
  leafHashes?: readonly Uint8Array[],
): AuditRecord[] {
  if (!Number.isSafeInteger(head.size) || head.size < 0) throw malformed("head.size");
  if (leafHashes !== undefined && leafHashes.length !== drafts.length) throw malformed("leafHashes");
  const events = new EventHasher(hasher);
  let previous = hashFromHex(head.chainHash, "head.chainHash");
  return drafts.map((draft, index) => {
    const leaf = leafHashes?.[index] ?? events.leaf(draft);
    const chain = events.chain(previous, leaf);
    previous = chain;
    return { ...copyDraft(draft), seq: head.size + index, leafHash: toHex(leaf), chainHash: toHex(chain) };
  });
}

/**
 * Exactly the event fields of a draft or record, with fresh containers, so a
 * linked record never aliases a caller's arrays or maps.
 *
 * @param event - An event or a linked record.
 * @returns A new draft.
 */
export function copyDraft(event: AuditEventDraft): AuditEventDraft {
  return {
    eventId: event.eventId,
    timestampMs: event.timestampMs,
    eventType: event.eventType,
    tenantId: event.tenantId,
    principalId: event.principalId,
    sessionId: event.sessionId,
    resource: event.resource,
    action: event.action,
    outcome: event.outcome,
    sourceIp: event.sourceIp,
    userAgent: event.userAgent,
    correlationId: event.correlationId,
    riskScore: event.riskScore,
    policyViolations: [...event.policyViolations],
    metadata: { ...event.metadata },
  };
}

/**
 * Decodes a 32-byte hash from hex.
 *
 * @param hex - 64 hex digits.
 * @param field - Named in the error.
 * @returns 32 bytes.
 * @throws EnterpriseError `INVALID_ARGUMENT` when `hex` is not 64 hex digits.
 */
export function hashFromHex(hex: string, field: string): Uint8Array {
  const bytes = typeof hex === "string" ? fromHex(hex) : null;
  if (bytes === null || bytes.length !== 32) throw malformed(field);
  return bytes;
}

/** The reasons a record's content may have been removed. */
export const TOMBSTONE_REASONS: readonly AuditTombstoneReason[] = ["retention", "erasure"];

/**
 * True for a known tombstone reason (for data read back from storage).
 *
 * @param value - Any value.
 * @returns Whether it is an {@link AuditTombstoneReason}.
 */
export function isTombstoneReason(value: unknown): value is AuditTombstoneReason {
  return value === "retention" || value === "erasure";
}

/** `JSON.stringify` of a string field, skipping the call for the common all-plain string. */
function quoted(value: unknown, field: string): string {
  if (typeof value !== "string") throw malformed(field);
  return needsEscape(value) ? JSON.stringify(value) : '"' + value + '"';
}

/** True when JSON.stringify would escape a character: quote, backslash, a control or a surrogate. */
function needsEscape(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x22 || code === 0x5c || (code >= 0xd800 && code <= 0xdfff)) return true;
  }
  return false;
}

function canonicalStringMap(value: unknown): string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw malformed("metadata");
  const map = value as Record<string, unknown>;
  const keys = Object.keys(map).sort();
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    out += (i === 0 ? "" : ",") + quoted(key, "metadata") + ":" + quoted(map[key], "metadata");
  }
  return out + "}";
}

function canonicalStringArray(value: unknown): string {
  if (!Array.isArray(value)) throw malformed("policyViolations");
  let out = "[";
  for (let i = 0; i < value.length; i++) {
    out += (i === 0 ? "" : ",") + quoted(value[i], "policyViolations");
  }
  return out + "]";
}

function malformed(field: string): EnterpriseError {
  return new EnterpriseError("INVALID_ARGUMENT", { message: "The audit event is malformed.", details: { field } });
}
