/**
 * The verifiable audit export ("bundle"): JSON Lines that an auditor checks offline with only the
 * Host's public key, without any other tenant's events. Format: docs/reference/audit-export.md.
 *
 * ```
 * {"type":"header", format, origin, tenant_id, filters, generated_at, verifier_keys, checkpoint}
 * {"type":"event", seq, leaf_hash, event:{fifteen hashed fields}, proof:[hex…]}      × N
 * {"type":"checkpoint", tree_size, signed_note}                                     × 0..k (older)
 * {"type":"consistency", old_size, new_size, proof:[hex…]}                          × k
 * {"type":"manifest", event_count, first_seq, last_seq, events_digest, signed_note}
 * ```
 *
 * Rules the verifier enforces (the first failure ends verification and names line, event and cause):
 * - The header's checkpoint, every older checkpoint and the manifest are signed by a key the
 *   auditor passed (never by a key the file names: `verifier_keys` is informational).
 * - Each event's fields hash to its leaf (RFC 8785 + RFC 6962) and its inclusion proof leads to
 *   the header checkpoint's signed root; seqs strictly increase and lie inside that checkpoint.
 * - Each event belongs to the header's tenant and matches the header's filters.
 * - Each older checkpoint is extended by the next (consistency proofs), up to the header's.
 * - The manifest, signed by the Host, binds tenant, filters, checkpoint, the event count and a
 *   hash chain over every leaf in order: dropping, adding or reordering whole events after the
 *   export is detected. (A Host that leaves an event out *before* signing is not: see the docs.)
 */
import type { Hasher, SignatureVerifier, Signer } from "../ports.ts";
import type { AuditEventDraft } from "../records.ts";
import { EventHasher } from "./canonical.ts";
import { noteKeyId, parseVerifierKey, verifyCheckpoint, verifyNote } from "./checkpoint.ts";
import type { TrustedKey } from "./checkpoint.ts";
import { fromHex, toBase64, toHex, utf8 } from "./encoding.ts";
import { emptyRoot, verifyConsistency, verifyInclusion } from "./merkle.ts";

/** The `format` value of a bundle header. */
export const EXPORT_BUNDLE_FORMAT = "aesp.audit.export/v1";

/** What the export was asked for; the verifier checks every event against it. */
export interface ExportFilters {
  /** Inclusive epoch ms; 0 for none. */
  start_time: number;
  /** Exclusive epoch ms; 0 for none. */
  end_time: number;
  event_types: string[];
  principal_id: string;
  outcome: string;
}

/** First line. */
export interface ExportHeaderLine {
  type: "header";
  format: typeof EXPORT_BUNDLE_FORMAT;
  origin: string;
  /** Empty for a platform-wide export (every tenant). */
  tenant_id: string;
  filters: ExportFilters;
  generated_at: number;
  /** The Host's verifier keys, for reference only: the auditor trusts the keys it passes. */
  verifier_keys: string[];
  /** The checkpoint every inclusion proof leads to. */
  checkpoint: { tree_size: number; root_hash: string; signed_note: string };
}

/** One event with its inclusion proof against the header's checkpoint. */
export interface ExportEventLine {
  type: "event";
  seq: number;
  leaf_hash: string;
  event: AuditEventDraft;
  proof: string[];
}

/** An older signed checkpoint, extended by the next one through a consistency line. */
export interface ExportCheckpointLine {
  type: "checkpoint";
  tree_size: number;
  signed_note: string;
}

/** RFC 9162 consistency proof between two checkpoints of the bundle. */
export interface ExportConsistencyLine {
  type: "consistency";
  old_size: number;
  new_size: number;
  proof: string[];
}

/** Last line: what the Host exported, signed. */
export interface ExportManifestLine {
  type: "manifest";
  event_count: number;
  /** -1 when no event was exported. */
  first_seq: number;
  last_seq: number;
  events_digest: string;
  signed_note: string;
}

/** A public key the auditor trusts: a C2SP verifier key, or a raw Ed25519 key named by the header's origin. */
export type ExportTrustedKey = string | { publicKey: Uint8Array };

/**
 * The running hash over an export's leaves: d₀ = SHA-256(binding), dᵢ = SHA-256(dᵢ₋₁ ‖ leafᵢ).
 * Constant memory, so neither side needs to hold the export.
 */
export class ExportDigest {
  readonly #hasher: Hasher;
  readonly #link = new Uint8Array(64);
  #state: Uint8Array;
  #count = 0;

  /**
   * @param binding - What the export is of: {@link exportBinding} of the header.
   * @param hasher - The SHA-256 port.
   */
  constructor(binding: string, hasher: Hasher) {
    this.#hasher = hasher;
    this.#state = hasher.sha256(utf8(binding));
  }

  /** Adds the next exported leaf (32 bytes). */
  add(leaf: Uint8Array): void {
    this.#link.set(this.#state, 0);
    this.#link.set(leaf, 32);
    this.#state = this.#hasher.sha256(this.#link);
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  get hex(): string {
    return toHex(this.#state);
  }
}

/** The header fields the manifest binds, as one string (JSON of tenant, filters and checkpoint size). */
export function exportBinding(header: Pick<ExportHeaderLine, "tenant_id" | "filters" | "checkpoint" | "origin">): string {
  const f = header.filters;
  return JSON.stringify([
    EXPORT_BUNDLE_FORMAT,
    header.origin,
    header.tenant_id,
    header.checkpoint.tree_size,
    f.start_time,
    f.end_time,
    [...f.event_types].sort(),
    f.principal_id,
    f.outcome,
  ]);
}

/**
 * The manifest note text. Its second line is not a number, so no checkpoint verifier can ever
 * mistake a signed manifest for a checkpoint signed by the same key.
 */
export function manifestText(origin: string, fields: { tenantId: string; treeSize: number; eventCount: number; digest: string }): string {
  return (
    `${origin}\n` +
    `${EXPORT_BUNDLE_FORMAT} manifest\n` +
    `tenant ${fields.tenantId === "" ? "*" : fields.tenantId}\n` +
    `checkpoint ${String(fields.treeSize)}\n` +
    `events ${String(fields.eventCount)}\n` +
    `digest ${fields.digest}\n`
  );
}

/**
 * Signs a manifest as a C2SP signed note with the audit signer.
 *
 * @param text - {@link manifestText}.
 * @param signer - The audit signing key.
 * @param hasher - The SHA-256 port.
 * @param keyName - The key name of the Host's verifier keys (the origin).
 * @returns The signed note.
 */
export async function signManifest(text: string, signer: Signer, hasher: Hasher, keyName: string): Promise<string> {
  const publicKey = signer.publicKey;
  const signature = await signer.sign(utf8(text));
  const blob = new Uint8Array(4 + signature.length);
  blob.set(fromHex(noteKeyId(keyName, publicKey, hasher))!, 0);
  blob.set(signature, 4);
  return `${text}\n\u2014 ${keyName} ${toBase64(blob)}\n`;
}

/** Outcome of verifying a bundle. */
export type ExportVerification =
  | { ok: true; events: number; tenantId: string; treeSize: number; rootHash: string; checkpoints: number; keyId: string }
  | { ok: false; line: number; eventId: string; seq: number | null; reason: string };

type Failure = Extract<ExportVerification, { ok: false }>;

/**
 * Verifies a bundle line by line (feed {@link line} in order, then call {@link finish}), so a
 * file of any size is checked in constant memory apart from its few checkpoints.
 */
export class ExportBundleVerifier {
  readonly #given: readonly ExportTrustedKey[];
  readonly #ports: { hasher: Hasher; verifier: SignatureVerifier };
  readonly #events: EventHasher;
  #keys: TrustedKey[] = [];
  #header: ExportHeaderLine | null = null;
  #root: Uint8Array = new Uint8Array(32);
  #keyId = "";
  #digest: ExportDigest | null = null;
  #lastSeq = -1;
  #firstSeq = -1;
  #lineNo = 0;
  #failure: Failure | null = null;
  #manifest = false;
  readonly #checkpoints: { size: number; root: Uint8Array }[] = [];
  readonly #consistency: ExportConsistencyLine[] = [];

  /**
   * @param keys - The keys the auditor trusts (current and retired), never taken from the file.
   * @param ports - SHA-256 and Ed25519.
   */
  constructor(keys: readonly ExportTrustedKey[], ports: { hasher: Hasher; verifier: SignatureVerifier }) {
    this.#given = keys;
    this.#ports = ports;
    this.#events = new EventHasher(ports.hasher);
  }

  /** Events verified so far. */
  get events(): number {
    return this.#digest?.count ?? 0;
  }

  /** The first failure so far, or null. */
  get failure(): Failure | null {
    return this.#failure;
  }

  /**
   * Checks the next line (blank lines are ignored).
   *
   * @returns false once verification has failed (stop feeding).
   */
  line(text: string): boolean {
    this.#lineNo++;
    if (this.#failure !== null) return false;
    if (text.trim() === "") return true;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return this.#fail("the line is not JSON");
    }
    if (typeof value !== "object" || value === null) return this.#fail("the line is not a JSON object");
    const type = (value as { type?: unknown }).type;
    if (this.#manifest) return this.#fail("content after the signed manifest");
    if (this.#header === null && type !== "header") return this.#fail("the export does not start with a header line");
    switch (type) {
      case "header":
        return this.#onHeader(value as ExportHeaderLine);
      case "event":
        return this.#onEvent(value as ExportEventLine);
      case "checkpoint":
        return this.#onCheckpoint(value as ExportCheckpointLine);
      case "consistency":
        return this.#onConsistency(value as ExportConsistencyLine);
      case "manifest":
        return this.#onManifest(value as ExportManifestLine);
      default:
        return this.#fail(`unknown line type ${JSON.stringify(type)}`);
    }
  }

  /** The verdict once every line was fed. */
  finish(): ExportVerification {
    if (this.#failure !== null) return this.#failure;
    if (this.#header === null) return { ok: false, line: 0, eventId: "", seq: null, reason: "the export is empty: no header line" };
    if (!this.#manifest) return { ok: false, line: this.#lineNo, eventId: "", seq: null, reason: "the export is truncated: it has no signed manifest line" };
    const header = this.#header;
    return {
      ok: true,
      events: this.events,
      tenantId: header.tenant_id,
      treeSize: header.checkpoint.tree_size,
      rootHash: header.checkpoint.root_hash,
      checkpoints: this.#checkpoints.length + 1,
      keyId: this.#keyId,
    };
  }

  #onHeader(header: ExportHeaderLine): boolean {
    if (this.#header !== null) return this.#fail("a second header line");
    const format: unknown = header.format;
    if (format !== EXPORT_BUNDLE_FORMAT) return this.#fail(`unsupported export format ${JSON.stringify(format)} (expected ` + EXPORT_BUNDLE_FORMAT + ")");
    if (typeof header.origin !== "string" || typeof header.tenant_id !== "string" || !isFilters(header.filters) || typeof header.checkpoint?.signed_note !== "string") {
      return this.#fail("the header is malformed");
    }
    try {
      this.#keys = this.#given.map((key) => (typeof key === "string" ? parseVerifierKey(key, this.#ports.hasher) : { keyName: header.origin, publicKey: key.publicKey }));
    } catch {
      return this.#fail("a key given to verify with is malformed (pass a C2SP verifier key or an Ed25519 public key PEM)");
    }
    const verified = verifyCheckpoint(header.checkpoint.signed_note, this.#keys, this.#ports.verifier, this.#ports.hasher, { origin: header.origin });
    if (!verified.ok) return this.#fail(`the export's checkpoint: ${verified.reason}`);
    if (verified.checkpoint.treeSize !== header.checkpoint.tree_size || verified.checkpoint.rootHash !== header.checkpoint.root_hash) {
      return this.#fail("the header's tree size or root differs from its signed checkpoint");
    }
    this.#header = header;
    this.#root = fromHex(verified.checkpoint.rootHash)!;
    this.#keyId = verified.keyId;
    this.#digest = new ExportDigest(exportBinding(header), this.#ports.hasher);
    return true;
  }

  #onEvent(line: ExportEventLine): boolean {
    const header = this.#header!;
    if (this.#checkpoints.length > 0 || this.#consistency.length > 0) return this.#fail("an event after the checkpoint section");
    const event = line.event as AuditEventDraft | undefined;
    const eventId = typeof event?.eventId === "string" ? event.eventId : "";
    const seq = line.seq;
    if (typeof event !== "object" || event === null || !Number.isSafeInteger(seq) || seq < 0) return this.#failAt(this.#lineNo, eventId, null, "the event line is malformed");
    if (seq <= this.#lastSeq) return this.#failAt(this.#lineNo, eventId, seq, `events out of order: seq ${seq} follows ${this.#lastSeq}`);
    if (seq >= header.checkpoint.tree_size) return this.#failAt(this.#lineNo, eventId, seq, `seq ${seq} lies outside the export's checkpoint of ${header.checkpoint.tree_size} events`);
    if (header.tenant_id !== "" && event.tenantId !== header.tenant_id) {
      return this.#failAt(this.#lineNo, eventId, seq, `the event belongs to another tenant than the export's (${header.tenant_id})`);
    }
    const mismatch = filterMismatch(event, header.filters);
    if (mismatch !== null) return this.#failAt(this.#lineNo, eventId, seq, `the event does not match the export's filters (${mismatch})`);
    let leaf: Uint8Array;
    try {
      leaf = this.#events.leaf(event);
    } catch {
      return this.#failAt(this.#lineNo, eventId, seq, "the event is malformed (a hashed field is missing or of the wrong type)");
    }
    if (typeof line.leaf_hash !== "string" || toHex(leaf) !== line.leaf_hash.toLowerCase()) {
      return this.#failAt(this.#lineNo, eventId, seq, "leaf hash mismatch: the event's fields do not hash to its recorded leaf (event modified)");
    }
    const proof = hexList(line.proof);
    if (proof === null) return this.#failAt(this.#lineNo, eventId, seq, "the inclusion proof is not a list of 32-byte hex hashes");
    if (!verifyInclusion(leaf, seq, header.checkpoint.tree_size, proof, this.#root, this.#ports.hasher)) {
      return this.#failAt(this.#lineNo, eventId, seq, "inclusion proof does not lead to the signed checkpoint root (event or proof altered, or not in the log)");
    }
    if (this.#firstSeq < 0) this.#firstSeq = seq;
    this.#lastSeq = seq;
    this.#digest!.add(leaf);
    return true;
  }

  #onCheckpoint(line: ExportCheckpointLine): boolean {
    const header = this.#header!;
    if (typeof line.signed_note !== "string") return this.#fail("the checkpoint line is malformed");
    const verified = verifyCheckpoint(line.signed_note, this.#keys, this.#ports.verifier, this.#ports.hasher, { origin: header.origin });
    if (!verified.ok) return this.#fail(`checkpoint of ${String(line.tree_size)} events: ${verified.reason}`);
    if (verified.checkpoint.treeSize !== line.tree_size) return this.#fail("the checkpoint line's tree size differs from its signed note");
    const previous = this.#checkpoints.at(-1);
    if (line.tree_size > header.checkpoint.tree_size || (previous !== undefined && line.tree_size <= previous.size)) {
      return this.#fail("older checkpoints must ascend and not exceed the export's checkpoint");
    }
    this.#checkpoints.push({ size: line.tree_size, root: fromHex(verified.checkpoint.rootHash)! });
    return true;
  }

  #onConsistency(line: ExportConsistencyLine): boolean {
    const header = this.#header!;
    const index = this.#consistency.length;
    const older = this.#checkpoints[index];
    const newer = this.#checkpoints[index + 1] ?? { size: header.checkpoint.tree_size, root: this.#root };
    if (older === undefined || line.old_size !== older.size || line.new_size !== newer.size) {
      return this.#fail("consistency proofs must link each listed checkpoint to the next one (the last to the export's)");
    }
    const proof = hexList(line.proof);
    if (proof === null) return this.#fail("the consistency proof is not a list of 32-byte hex hashes");
    const oldRoot = older.size === 0 ? emptyRoot(this.#ports.hasher) : older.root;
    if (!verifyConsistency(older.size, newer.size, proof, oldRoot, newer.root, this.#ports.hasher)) {
      return this.#fail(`consistency proof fails: the log of ${newer.size} events does not extend the checkpoint of ${older.size}`);
    }
    this.#consistency.push(line);
    return true;
  }

  #onManifest(line: ExportManifestLine): boolean {
    const header = this.#header!;
    if (this.#consistency.length !== this.#checkpoints.length) return this.#fail("an older checkpoint has no consistency proof to the next one");
    if (typeof line.signed_note !== "string") return this.#fail("the manifest is malformed");
    const verified = verifyNote(line.signed_note, this.#keys, this.#ports.verifier, this.#ports.hasher);
    if (!verified.ok) return this.#fail(`the manifest: ${verified.reason.replace(/^checkpoint /, "")}`);
    const digest = this.#digest!;
    const expected = manifestText(header.origin, { tenantId: header.tenant_id, treeSize: header.checkpoint.tree_size, eventCount: digest.count, digest: digest.hex });
    if (verified.text !== expected) {
      const count = /\nevents (\d+)\n/.exec(verified.text)?.[1];
      if (count !== undefined && Number(count) !== digest.count) {
        return this.#fail(`the signed manifest lists ${count} events but the file holds ${digest.count}: events were removed or added after the export`);
      }
      return this.#fail("the signed manifest does not match the file (tenant, filters, checkpoint, or the events' order or content differ)");
    }
    if (line.event_count !== digest.count || line.events_digest !== digest.hex) return this.#fail("the manifest line's fields differ from its signed note");
    this.#manifest = true;
    return true;
  }

  #fail(reason: string): false {
    return this.#failAt(this.#lineNo, "", null, reason);
  }

  #failAt(line: number, eventId: string, seq: number | null, reason: string): false {
    this.#failure = { ok: false, line, eventId, seq, reason };
    return false;
  }
}

function isFilters(value: unknown): value is ExportFilters {
  const f = value as ExportFilters | undefined;
  return (
    typeof f === "object" &&
    f !== null &&
    Number.isSafeInteger(f.start_time) &&
    Number.isSafeInteger(f.end_time) &&
    Array.isArray(f.event_types) &&
    f.event_types.every((t) => typeof t === "string") &&
    typeof f.principal_id === "string" &&
    typeof f.outcome === "string"
  );
}

function filterMismatch(event: AuditEventDraft, f: ExportFilters): string | null {
  if (typeof event.timestampMs === "number") {
    if (f.start_time > 0 && event.timestampMs < f.start_time) return "before start_time";
    if (f.end_time > 0 && event.timestampMs >= f.end_time) return "at or after end_time";
  }
  if (f.event_types.length > 0 && !f.event_types.includes(event.eventType)) return "event type";
  if (f.principal_id !== "" && event.principalId !== f.principal_id) return "principal";
  if (f.outcome !== "" && event.outcome !== f.outcome) return "outcome";
  return null;
}

function hexList(values: unknown): Uint8Array[] | null {
  if (!Array.isArray(values)) return null;
  const bytes = values.map((value) => (typeof value === "string" ? fromHex(value) : null));
  return bytes.every((value): value is Uint8Array => value?.length === 32) ? bytes : null;
}
