/**
 * Serving audit proofs and checkpoints, for auditors and external witnesses.
 *
 * Rules it enforces:
 * - A tenant sees the inclusion proof of its own tenant's events only: another tenant's event
 *   (or a platform event) is `NOT_FOUND`, exactly like an event that does not exist. Only a
 *   platform-wide reader (`tenantId: null`) may ask for any event.
 * - Checkpoints and consistency proofs are global: they reveal tree sizes and hashes, never an
 *   event, so every authenticated auditor may read them.
 * - Proofs are only served against signed checkpoints, so the root they lead to carries a
 *   signature a verifier can check with the Host's public keys; both ends of a consistency proof
 *   must be checkpointed sizes.
 * - Proofs are computed from stored perfect subtrees (O(log n) reads), never from the whole log.
 */
import { EnterpriseError } from "../errors.ts";
import type { AuditLogStore, AuditProofStore, Hasher } from "../ports.ts";
import type { AuditCheckpointRecord, AuditRecord } from "../records.ts";
import { toHex } from "./encoding.ts";
import { consistencyProofFromNodes, inclusionProofFromNodes } from "./tree-nodes.ts";

/** Effects {@link AuditProofs} needs. */
export interface AuditProofsDeps {
  log: Pick<AuditLogStore, "latestCheckpoint" | "readRange">;
  proofs: AuditProofStore;
  hasher: Hasher;
  /**
   * Signs a checkpoint over everything committed now (the Host's `AuditLog.checkpoint`), so a
   * proof for an event newer than the latest checkpoint can be served at once. Optional: without
   * it such a request is refused with retry advice until the next scheduled checkpoint.
   */
  checkpointNow?: () => Promise<AuditCheckpointRecord>;
}

/** Which event an inclusion proof is for, and against which checkpoint. */
export interface InclusionProofRequest {
  /** Wins over `seq` when non-empty. */
  eventId?: string;
  seq?: number;
  /** A checkpointed tree size; omitted or 0 for the latest checkpoint. */
  treeSize?: number;
}

/** An inclusion proof with what a verifier needs besides the public keys. */
export interface InclusionProofResult {
  record: AuditRecord;
  /** Hex sibling hashes from the leaf upwards. */
  proof: string[];
  checkpoint: AuditCheckpointRecord;
}

/** A consistency proof between two signed checkpoints. */
export interface ConsistencyProofResult {
  proof: string[];
  oldCheckpoint: AuditCheckpointRecord;
  newCheckpoint: AuditCheckpointRecord;
}

/** The most checkpoints one page returns. */
export const MAX_CHECKPOINT_PAGE = 1000;

/** Audit proofs and checkpoints; see the module comment for the rules. */
export class AuditProofs {
  readonly #deps: AuditProofsDeps;

  /** @param deps - Stores, hasher and the optional on-demand checkpoint. */
  constructor(deps: AuditProofsDeps) {
    this.#deps = deps;
  }

  /**
   * The inclusion proof of one event.
   *
   * @param request - The event (id or seq) and the checkpoint size.
   * @param tenantId - The caller's tenant; `null` for a platform-wide reader.
   * @returns The record, its proof and the signed checkpoint the proof leads to.
   * @throws EnterpriseError `NOT_FOUND` for an unknown event, another tenant's event or an
   *   unknown checkpoint size; `INVALID_ARGUMENT` when the event lies outside the named
   *   checkpoint; `UNAVAILABLE` (retry) when no checkpoint covers the event yet.
   */
  async inclusion(request: InclusionProofRequest, tenantId: string | null): Promise<InclusionProofResult> {
    const record = await this.#record(request);
    if (record === null || (tenantId !== null && record.tenantId !== tenantId)) throw new EnterpriseError("NOT_FOUND");
    let checkpoint: AuditCheckpointRecord | null;
    if (request.treeSize === undefined || request.treeSize === 0) {
      checkpoint = await this.#deps.log.latestCheckpoint();
      if ((checkpoint === null || checkpoint.treeSize <= record.seq) && this.#deps.checkpointNow !== undefined) checkpoint = await this.#deps.checkpointNow();
      if (checkpoint === null || checkpoint.treeSize <= record.seq) {
        throw new EnterpriseError("UNAVAILABLE", { message: "No signed checkpoint covers this event yet; retry after the next checkpoint." });
      }
    } else {
      checkpoint = await this.checkpoint(request.treeSize);
      if (checkpoint.treeSize <= record.seq) {
        throw new EnterpriseError("INVALID_ARGUMENT", { message: "The event is not inside that checkpoint.", details: { field: "tree_size" } });
      }
    }
    const proof = await inclusionProofFromNodes(record.seq, checkpoint.treeSize, (nodes) => this.#deps.proofs.nodeHashes(nodes), this.#deps.hasher);
    return { record, proof: proof.map(toHex), checkpoint };
  }

  /**
   * The consistency proof between two checkpointed sizes.
   *
   * @param oldSize - The earlier checkpoint's size (0: the empty tree, empty proof).
   * @param newSize - The later checkpoint's size; 0 for the latest.
   * @returns The proof and both checkpoints.
   * @throws EnterpriseError `NOT_FOUND` when a size is not a checkpoint; `INVALID_ARGUMENT` when
   *   `oldSize` exceeds `newSize`.
   */
  async consistency(oldSize: number, newSize: number): Promise<ConsistencyProofResult> {
    const newCheckpoint = await this.checkpoint(newSize);
    if (!Number.isSafeInteger(oldSize) || oldSize < 0 || oldSize > newCheckpoint.treeSize) {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: "The old size must not exceed the new size.", details: { field: "old_size" } });
    }
    const oldCheckpoint = oldSize === 0 ? emptyCheckpoint(this.#deps.hasher) : await this.checkpoint(oldSize);
    const proof = await consistencyProofFromNodes(oldSize, newCheckpoint.treeSize, (nodes) => this.#deps.proofs.nodeHashes(nodes), this.#deps.hasher);
    return { proof: proof.map(toHex), oldCheckpoint, newCheckpoint };
  }

  /**
   * A checkpoint by size.
   *
   * @param treeSize - 0 for the latest.
   * @throws EnterpriseError `NOT_FOUND` when there is none of that size (or none at all).
   */
  async checkpoint(treeSize: number): Promise<AuditCheckpointRecord> {
    if (!Number.isSafeInteger(treeSize) || treeSize < 0) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "tree_size" } });
    const checkpoint = treeSize === 0 ? await this.#deps.log.latestCheckpoint() : await this.#deps.proofs.checkpointAt(treeSize);
    if (checkpoint === null) throw new EnterpriseError("NOT_FOUND", { details: { tree_size: String(treeSize) } });
    return checkpoint;
  }

  /**
   * A page of checkpoints, ascending by size.
   *
   * @param afterTreeSize - The last size of the previous page (0 for the first page).
   * @param limit - Page size, at most {@link MAX_CHECKPOINT_PAGE}.
   * @returns The page and the cursor of the next one (null on the last page).
   */
  async list(afterTreeSize: number, limit: number): Promise<{ checkpoints: AuditCheckpointRecord[]; next: number | null }> {
    const size = Math.min(Math.max(1, limit), MAX_CHECKPOINT_PAGE);
    const checkpoints = await this.#deps.proofs.checkpointPage(afterTreeSize, size);
    return { checkpoints, next: checkpoints.length === size ? checkpoints[checkpoints.length - 1]!.treeSize : null };
  }

  async #record(request: InclusionProofRequest): Promise<AuditRecord | null> {
    if (request.eventId !== undefined && request.eventId !== "") return this.#deps.proofs.recordByEventId(request.eventId);
    const seq = request.seq ?? -1;
    if (!Number.isSafeInteger(seq) || seq < 0) throw new EnterpriseError("INVALID_ARGUMENT", { message: "Name the event by id or seq.", details: { field: "event_id" } });
    const [record] = await this.#deps.log.readRange(seq, 1);
    return record ?? null;
  }
}

/** The unsigned empty tree: every log extends it, so it needs no signature. */
function emptyCheckpoint(hasher: Hasher): AuditCheckpointRecord {
  return { treeSize: 0, rootHash: toHex(hasher.sha256(new Uint8Array(0))), chainHash: "0".repeat(64), signedNote: "", keyId: "", createdAt: 0 };
}
