/**
 * Offline verification of an audit log export with only the public keys.
 *
 * For every record, in order: its `seq` continues the previous one (deletion,
 * insertion and reordering break it), its leaf hash is recomputed from the
 * canonical event fields (any edit breaks it), and its chain hash links it to
 * the previous record. A tombstone (content removed by retention) is verified by hash: its
 * stored leaf hash must link the chain and agree with every checkpoint over it, and it is
 * counted in `tombstones`, never reported as tampered. Every checkpoint must carry a valid signature by a
 * trusted key, agree with its signed note, and match the Merkle root and chain
 * hash recomputed at its tree size; a log shorter than a trusted checkpoint
 * was truncated.
 *
 * A failure names `firstBadSeq`: the first record whose integrity cannot be
 * established. For a record check that is the record itself; for a checkpoint
 * that does not match (a rewrite that recomputed every hash), it is the first
 * record after the newest checkpoint that did match, because the damage lies
 * somewhere between the two.
 */
import type { Hasher, SignatureVerifier } from "../ports.ts";
import type { AuditCheckpointRecord, AuditRecord } from "../records.ts";
import { EventHasher } from "./canonical.ts";
import { verifyCheckpoint, type TrustedKey } from "./checkpoint.ts";
import { bytesEqualHex, toHex } from "./encoding.ts";
import { CompactRange } from "./merkle.ts";

/** Input of {@link verifyAuditLog}. */
export interface VerifyAuditLogInput {
  /**
   * Every record from seq 0, in order. An async source may yield whole pages
   * (arrays of records): one promise per page instead of one per record.
   */
  records: AsyncIterable<AuditRecord | readonly AuditRecord[]> | Iterable<AuditRecord>;
  /** Every checkpoint of the log, in any order. */
  checkpoints: readonly AuditCheckpointRecord[];
  /** Keys whose checkpoint signatures are trusted; include retired keys. */
  trustedKeys: readonly TrustedKey[];
  hasher: Hasher;
  verifier: SignatureVerifier;
  /** When given, every checkpoint must name this origin. */
  origin?: string;
  /** Called every `progressEvery` records with the count verified so far. */
  onProgress?: (verified: number) => void;
  /** Default 100,000. */
  progressEvery?: number;
}

/** A checkpoint that verified against the log. */
export interface VerifiedCheckpoint {
  treeSize: number;
  rootHash: string;
  chainHash: string;
  keyName: string;
  keyId: string;
}

/** Outcome of {@link verifyAuditLog}. */
export type AuditVerification =
  | {
      ok: true;
      /** Records verified. */
      size: number;
      /** RFC 6962 root over all records, hex. */
      rootHash: string;
      /** Chain hash of the last record, hex. */
      chainHash: string;
      /** The largest checkpoint that matched, or null when there is none. */
      lastCheckpoint: VerifiedCheckpoint | null;
      /** Records after the last checkpoint: protected by the chain only, not yet by a signature. */
      uncheckpointed: number;
      /** Records whose content was removed (retention); verified by their stored leaf hash. */
      tombstones: number;
    }
  | {
      ok: false;
      /** The first record whose integrity cannot be established. */
      firstBadSeq: number;
      /** That record's event id, when it is present in the export (else empty). */
      eventId: string;
      reason: string;
      /** Set when a checkpoint revealed the problem. */
      checkpointTreeSize?: number;
    };

type Failure = Extract<AuditVerification, { ok: false }>;

/**
 * Verifies an audit log export. Never throws on bad data: every defect is a result.
 *
 * @param input - Records, checkpoints, trusted keys and the crypto ports.
 * @returns `ok` with the verified size and last checkpoint, or the first bad seq and a precise reason.
 */
export async function verifyAuditLog(input: VerifyAuditLogInput): Promise<AuditVerification> {
  const verifier = new AuditLogVerifier(input);
  const records = input.records;
  if (Symbol.asyncIterator in records) {
    for await (const item of records) {
      if (!(isPage(item) ? verifier.pushAll(item) : verifier.push(item))) break;
    }
  } else {
    for (const record of records) if (!verifier.push(record)) break;
  }
  return verifier.finish();
}

/**
 * Incremental form of {@link verifyAuditLog}, for callers that read records one
 * at a time (e.g. a JSON Lines export): `push` each record, then `finish`.
 */
export class AuditLogVerifier {
  readonly #events: EventHasher;
  readonly #range: CompactRange;
  readonly #checkpoints: VerifiedCheckpoint[];
  /** A checkpoint that failed before any record was read; reported once the log reaches its seq. */
  readonly #checkpointFailure: Failure | null;
  readonly #onProgress: ((verified: number) => void) | undefined;
  readonly #progressEvery: number;

  #chain: Uint8Array = new Uint8Array(32);
  #nextCheckpoint = 0;
  #lastMatched: VerifiedCheckpoint | null = null;
  /** Event id of the first record after the last matched checkpoint, for failure reports. */
  #firstUncoveredEventId = "";
  #failure: Failure | null = null;
  #tombstones = 0;

  /**
   * @param input - Checkpoints, trusted keys and crypto ports (records are pushed separately).
   */
  constructor(input: Omit<VerifyAuditLogInput, "records">) {
    this.#events = new EventHasher(input.hasher);
    this.#range = new CompactRange(input.hasher);
    this.#onProgress = input.onProgress;
    this.#progressEvery = Math.max(1, input.progressEvery ?? 100_000);
    const prepared = prepareCheckpoints(input);
    this.#checkpoints = prepared.trusted;
    this.#checkpointFailure = prepared.failure;
    this.#matchCheckpoints();
  }

  /** Records verified so far. */
  get size(): number {
    return this.#range.size;
  }

  /**
   * Verifies the next record.
   *
   * @param record - The record expected at seq {@link size}.
   * @returns False once verification has failed (further records are ignored).
   */
  push(record: AuditRecord): boolean {
    if (this.#failure !== null) return false;
    const seq = this.#range.size;
    if (typeof record !== "object" || record === null) return this.#fail(seq, "", "record malformed");
    const eventId = typeof record.eventId === "string" ? record.eventId : "";
    if (this.#checkpointFailure !== null && seq >= this.#checkpointFailure.firstBadSeq) {
      this.#failure = { ...this.#checkpointFailure, eventId };
      return false;
    }
    if (record.seq !== seq) {
      const reason =
        typeof record.seq === "number" && record.seq < seq
          ? "sequence regression (event duplicated or reordered)"
          : "sequence gap (event deleted or inserted)";
      return this.#fail(seq, eventId, reason);
    }
    let leaf: Uint8Array;
    try {
      leaf = this.#events.recordLeaf(record);
    } catch {
      return this.#fail(seq, eventId, "record malformed");
    }
    if (record.tombstone !== undefined) this.#tombstones += 1;
    if (!bytesEqualHex(leaf, record.leafHash)) return this.#fail(seq, eventId, "leaf hash mismatch (event modified)");
    const chain = this.#events.chain(this.#chain, leaf);
    if (!bytesEqualHex(chain, record.chainHash)) return this.#fail(seq, eventId, "chain hash mismatch");
    if (seq === (this.#lastMatched?.treeSize ?? 0)) this.#firstUncoveredEventId = eventId;
    this.#chain = chain;
    this.#range.append(leaf);
    this.#matchCheckpoints();
    if (this.#onProgress !== undefined && this.#range.size % this.#progressEvery === 0) this.#onProgress(this.#range.size);
    return this.#failure === null;
  }

  /**
   * Verifies the next records in order.
   *
   * @param records - A page of records continuing the log.
   * @returns False once verification has failed.
   */
  pushAll(records: readonly AuditRecord[]): boolean {
    for (const record of records) if (!this.push(record)) return false;
    return this.#failure === null;
  }

  /**
   * Completes verification: reports truncation below a checkpoint and pending checkpoint failures.
   *
   * @returns The verification outcome.
   */
  finish(): AuditVerification {
    if (this.#failure !== null) return this.#failure;
    const size = this.#range.size;
    if (this.#checkpointFailure !== null) return this.#checkpointFailure;
    const beyond = this.#checkpoints[this.#nextCheckpoint];
    if (beyond !== undefined) {
      return { ok: false, firstBadSeq: size, eventId: "", reason: "log truncated below checkpoint", checkpointTreeSize: beyond.treeSize };
    }
    const last = this.#lastMatched;
    return {
      ok: true,
      size,
      rootHash: toHex(this.#range.root()),
      chainHash: toHex(this.#chain),
      lastCheckpoint: last === null ? null : { treeSize: last.treeSize, rootHash: last.rootHash, chainHash: last.chainHash, keyName: last.keyName, keyId: last.keyId },
      uncheckpointed: size - (last?.treeSize ?? 0),
      tombstones: this.#tombstones,
    };
  }

  /** Compares every checkpoint at the current size with the recomputed root and chain. */
  #matchCheckpoints(): void {
    const size = this.#range.size;
    let checkpoint = this.#checkpoints[this.#nextCheckpoint];
    if (checkpoint === undefined || checkpoint.treeSize !== size) return;
    const root = this.#range.root();
    while (checkpoint !== undefined && checkpoint.treeSize === size) {
      const rootMatches = bytesEqualHex(root, checkpoint.rootHash);
      if (!rootMatches || !bytesEqualHex(this.#chain, checkpoint.chainHash)) {
        const reason = rootMatches ? "checkpoint chain hash mismatch (log rewritten after signing)" : "checkpoint root mismatch (log rewritten after signing)";
        this.#failure = {
          ok: false,
          firstBadSeq: this.#lastMatched?.treeSize ?? 0,
          eventId: this.#firstUncoveredEventId,
          reason,
          checkpointTreeSize: checkpoint.treeSize,
        };
        return;
      }
      this.#lastMatched = checkpoint;
      this.#nextCheckpoint += 1;
      checkpoint = this.#checkpoints[this.#nextCheckpoint];
    }
  }

  #fail(seq: number, eventId: string, reason: string): false {
    this.#failure = { ok: false, firstBadSeq: seq, eventId, reason };
    return false;
  }
}

function isPage(item: AuditRecord | readonly AuditRecord[]): item is readonly AuditRecord[] {
  return Array.isArray(item);
}

/**
 * Verifies every checkpoint's signature and its agreement with its signed note.
 * Returns the trusted ones sorted by size, and the failure of the smallest bad
 * one: it is reported when the log reaches the first seq that checkpoint was
 * meant to vouch for beyond the valid checkpoints below it.
 */
function prepareCheckpoints(input: Omit<VerifyAuditLogInput, "records">): { trusted: VerifiedCheckpoint[]; failure: Failure | null } {
  const good: VerifiedCheckpoint[] = [];
  const bad: { treeSize: number; reason: string }[] = [];
  for (const record of input.checkpoints) {
    const treeSize = Number.isSafeInteger(record.treeSize) && record.treeSize >= 0 ? record.treeSize : 0;
    const options = input.origin === undefined ? {} : { origin: input.origin };
    const verified = verifyCheckpoint(String(record.signedNote), input.trustedKeys, input.verifier, input.hasher, options);
    if (!verified.ok) {
      bad.push({ treeSize, reason: verified.reason });
      continue;
    }
    const body = verified.checkpoint;
    if (body.treeSize !== record.treeSize || body.rootHash !== record.rootHash || body.chainHash !== record.chainHash) {
      bad.push({ treeSize, reason: "checkpoint record does not match its signed note" });
      continue;
    }
    good.push({ treeSize: body.treeSize, rootHash: body.rootHash, chainHash: body.chainHash, keyName: verified.keyName, keyId: verified.keyId });
  }
  good.sort((a, b) => a.treeSize - b.treeSize);
  let failure: Failure | null = null;
  for (const problem of bad) {
    const below = good.filter((checkpoint) => checkpoint.treeSize < problem.treeSize).at(-1);
    const firstBadSeq = below?.treeSize ?? 0;
    if (failure === null || firstBadSeq < failure.firstBadSeq) {
      failure = { ok: false, firstBadSeq, eventId: "", reason: problem.reason, checkpointTreeSize: problem.treeSize };
    }
  }
  return { trusted: good, failure };
}
