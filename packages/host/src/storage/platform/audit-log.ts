/**
 * The append side of the audit log: one global, gap-free sequence for all
 * tenants, hash-chained by the caller's `link` function.
 *
 * An append is one transaction: take the append lock, read the head, let
 * `link` number and chain the drafts from it, insert them with multi-row
 * INSERTs, move the head, commit. The lock (an advisory transaction lock on
 * PostgreSQL, the IMMEDIATE write lock on SQLite) makes the head read and the
 * head write one critical section across every Store on the database, so
 * several Hosts still build a single chain. The commit is the one fsync the
 * whole batch pays.
 */
import type { Transaction } from "kysely";
import { EnterpriseError } from "@aesp/core";
import type { AuditLogStore } from "@aesp/core";
import type { AuditCheckpointRecord, AuditEventDraft, AuditHead, AuditRecord } from "@aesp/core";
import { toAuditRecord } from "../audit-rows.ts";
import type { StoreContext } from "../context.ts";
import { guarded } from "../errors.ts";
import { pageLimit } from "../paging.ts";
import type { Database } from "../schema.ts";

/** The fixed primary key of the single `audit_head` row. */
const HEAD_ROW_ID = 1;

/**
 * Checks that `link` numbered every draft, in order, from the head.
 *
 * @throws EnterpriseError INTERNAL_ERROR when the records would leave a gap, a
 *   duplicate or a reordering in the log (nothing is written).
 */
function requireContiguous(head: AuditHead, drafts: readonly AuditEventDraft[], records: readonly AuditRecord[]): void {
  const broken =
    records.length !== drafts.length ||
    records.some((record, index) => record.seq !== head.size + index || record.eventId !== drafts[index]?.eventId);
  if (broken) {
    throw new EnterpriseError("INTERNAL_ERROR", { message: "The audit batch was not linked from the current head; nothing was written." });
  }
}

/** {@link AuditLogStore} over `audit_events`, `audit_head` and `audit_checkpoints`. */
export class KyselyAuditLogStore implements AuditLogStore {
  private readonly context: StoreContext;

  /** @param context - the database handle (root or transaction). */
  constructor(context: StoreContext) {
    this.context = context;
  }

  /**
   * Durably appends the drafts, linked by `link` from the head it is given,
   * under the exclusive append lock. Inside {@link Store.transaction} it joins
   * that transaction (and holds the lock until it ends).
   *
   * @param drafts - events in the order they must take in the log.
   * @param link - numbers and chains the drafts from the head; runs inside the lock, so keep it synchronous and fast.
   * @returns the records as written.
   * @throws whatever `link` throws (nothing is written); EnterpriseError INTERNAL_ERROR when `link`
   *   returns records that do not continue the head; AUDIT_UNAVAILABLE when the database cannot record.
   */
  async append(drafts: readonly AuditEventDraft[], link: (head: AuditHead) => AuditRecord[]): Promise<AuditRecord[]> {
    if (drafts.length === 0) return [];
    let linkFailed = false;
    try {
      return await this.context.transaction(async (_context, trx) => {
        await this.context.profile.lockAuditAppend(trx);
        const head = await this.readHead(trx, true);
        let records: AuditRecord[];
        try {
          records = link(head);
        } catch (err) {
          linkFailed = true;
          throw err;
        }
        requireContiguous(head, drafts, records);
        await this.insertRecords(trx, records);
        const last = records[records.length - 1];
        if (last === undefined) return records;
        await trx
          .updateTable("audit_head")
          .set({ size: head.size + records.length, chain_hash: last.chainHash })
          .where("id", "=", HEAD_ROW_ID)
          .execute();
        return records;
      });
    } catch (err) {
      if (linkFailed || err instanceof EnterpriseError) throw err;
      throw new EnterpriseError("AUDIT_UNAVAILABLE", { cause: err });
    }
  }

  /** The tip of the log as last committed. */
  async head(): Promise<AuditHead> {
    return guarded(() => this.readHead(this.context.db, false));
  }

  /**
   * Records with seq in [fromSeq, fromSeq + limit), ascending.
   *
   * @throws EnterpriseError INVALID_ARGUMENT when fromSeq is not an integer or limit is not a number.
   */
  async readRange(fromSeq: number, limit: number): Promise<AuditRecord[]> {
    const count = pageLimit(limit);
    if (!Number.isSafeInteger(fromSeq)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "fromSeq" } });
    if (count === 0) return [];
    const endSeq = Math.min(fromSeq + count, Number.MAX_SAFE_INTEGER);
    const rows = await guarded(() =>
      this.context.db
        .selectFrom("audit_events")
        .selectAll()
        .where("seq", ">=", fromSeq)
        .where("seq", "<", endSeq)
        .orderBy("seq")
        .execute(),
    );
    const codec = this.context.profile.codec;
    return rows.map((row) => toAuditRecord(row, codec));
  }

  /** @throws EnterpriseError ALREADY_EXISTS when a checkpoint for this tree size exists. */
  async saveCheckpoint(checkpoint: AuditCheckpointRecord): Promise<void> {
    await guarded(() =>
      this.context.db
        .insertInto("audit_checkpoints")
        .values({
          tree_size: checkpoint.treeSize,
          root_hash: checkpoint.rootHash,
          chain_hash: checkpoint.chainHash,
          signed_note: checkpoint.signedNote,
          key_id: checkpoint.keyId,
          created_at: checkpoint.createdAt,
        })
        .execute(),
    );
  }

  /** The checkpoint with the largest tree size, or null when none was saved. */
  async latestCheckpoint(): Promise<AuditCheckpointRecord | null> {
    const row = await guarded(() => this.context.db.selectFrom("audit_checkpoints").selectAll().orderBy("tree_size", "desc").limit(1).executeTakeFirst());
    return row === undefined ? null : toCheckpoint(row);
  }

  /** Every checkpoint, ascending by tree size. */
  async listCheckpoints(): Promise<AuditCheckpointRecord[]> {
    const rows = await guarded(() => this.context.db.selectFrom("audit_checkpoints").selectAll().orderBy("tree_size").execute());
    return rows.map(toCheckpoint);
  }

  private async readHead(db: Transaction<Database> | StoreContext["db"], forAppend: boolean): Promise<AuditHead> {
    let query = db.selectFrom("audit_head").select(["size", "chain_hash"]).where("id", "=", HEAD_ROW_ID);
    // Belt and braces on PostgreSQL: even under a stricter isolation level, a
    // stale head read fails with a serialization error instead of forking the chain.
    if (forAppend && this.context.profile.kind === "postgres") query = query.forUpdate();
    const row = await query.executeTakeFirstOrThrow();
    return { size: row.size, chainHash: row.chain_hash };
  }

  private async insertRecords(trx: Transaction<Database>, records: readonly AuditRecord[]): Promise<void> {
    // Kysely's builder would build and compile an 18-node tree per row on every
    // batch; the dialect supplies precompiled bulk statements instead.
    for (const statement of this.context.profile.auditInserts(records)) await trx.executeQuery(statement);
  }
}

function toCheckpoint(row: {
  tree_size: number;
  root_hash: string;
  chain_hash: string;
  signed_note: string;
  key_id: string;
  created_at: number;
}): AuditCheckpointRecord {
  return {
    treeSize: row.tree_size,
    rootHash: row.root_hash,
    chainHash: row.chain_hash,
    signedNote: row.signed_note,
    keyId: row.key_id,
    createdAt: row.created_at,
  };
}
