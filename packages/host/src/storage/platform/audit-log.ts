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
import { sql } from "kysely";
import type { Expression, ExpressionBuilder, SqlBool, Transaction } from "kysely";
import { EnterpriseError } from "@aesp/core";
import type { AuditLogStore, AuditProofStore, AuditPruningStore } from "@aesp/core";
import type { AuditCheckpointRecord, AuditEventDraft, AuditHead, AuditPrunePlan, AuditPruneResult, AuditQuery, AuditRecord, AuditTypeSelector } from "@aesp/core";
import { completedNodes, fromHex, frontierNodes, merkleRoot, toHex, treeNodePosition } from "@aesp/core/audit";
import type { TreeNode } from "@aesp/core/audit";
import { nodeHasher } from "../../crypto/node-crypto-ports.ts";
import { queryAuditEvents } from "../audit-query.ts";
import { toAuditRecord } from "../audit-rows.ts";
import { AUDIT_TREE_STORED_MIN_LEVEL } from "../migrations/0006-audit-search.ts";
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

/** Rows per INSERT into `audit_tree_nodes` (2 parameters each). */
const TREE_NODE_ROWS_PER_INSERT = 1000;

/**
 * {@link AuditLogStore} and {@link AuditProofStore} over `audit_events`, `audit_head`,
 * `audit_checkpoints` and `audit_tree_nodes`. Each append also writes, in its transaction, the
 * perfect Merkle subtrees it completes (16 leaves and up), so proofs read O(log n) rows.
 */
export class KyselyAuditLogStore implements AuditLogStore, AuditProofStore, AuditPruningStore {
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
        await this.insertTreeNodes(trx, head.size, records);
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

  /**
   * Hashes of perfect subtrees of the committed log, in the order asked: stored ones from
   * `audit_tree_nodes`, lower ones recomputed from their (at most 15) leaf hashes.
   *
   * @throws EnterpriseError AUDIT_UNAVAILABLE when a node or leaf is missing (the log is not
   *   that large, or rows were deleted).
   */
  async nodeHashes(nodes: readonly TreeNode[]): Promise<Uint8Array[]> {
    return guarded(() => this.readNodeHashes(this.context.db, nodes));
  }

  /** The record with this event id (any tenant), or null. */
  async recordByEventId(eventId: string): Promise<AuditRecord | null> {
    const row = await guarded(() => this.context.db.selectFrom("audit_events").selectAll().where("event_id", "=", eventId).orderBy("seq").limit(1).executeTakeFirst());
    return row === undefined ? null : toAuditRecord(row, this.context.profile.codec);
  }

  /** The checkpoint of exactly `treeSize`, or null. */
  async checkpointAt(treeSize: number): Promise<AuditCheckpointRecord | null> {
    if (!Number.isSafeInteger(treeSize)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "treeSize" } });
    const row = await guarded(() => this.context.db.selectFrom("audit_checkpoints").selectAll().where("tree_size", "=", treeSize).executeTakeFirst());
    return row === undefined ? null : toCheckpoint(row);
  }

  /** Checkpoints with tree size above `afterTreeSize`, ascending, at most `limit`. */
  async checkpointPage(afterTreeSize: number, limit: number): Promise<AuditCheckpointRecord[]> {
    if (!Number.isSafeInteger(afterTreeSize)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "afterTreeSize" } });
    const rows = await guarded(() =>
      this.context.db.selectFrom("audit_checkpoints").selectAll().where("tree_size", ">", afterTreeSize).orderBy("tree_size").limit(pageLimit(limit)).execute(),
    );
    return rows.map(toCheckpoint);
  }

  /**
   * Events of every tenant, or of `query.tenantId` when set; platform events have tenant "".
   *
   * @throws EnterpriseError INVALID_ARGUMENT on a malformed metadata key.
   */
  async queryAllTenants(query: AuditQuery & { tenantId?: string }): Promise<AuditRecord[]> {
    return queryAuditEvents(this.context, query.tenantId ?? null, query);
  }

  /**
   * Tombstones up to `plan.limit` expired records of one tenant, oldest first: the content
   * columns are emptied and `tombstone` set to 'retention'; seq, event id, time, type, tenant,
   * outcome and both hashes stay, so the chain, the stored Merkle nodes and every checkpoint
   * are untouched. Records under an active hold in the plan are skipped.
   *
   * @throws EnterpriseError INVALID_ARGUMENT for the platform's own events (tenant '').
   */
  async pruneExpired(plan: AuditPrunePlan): Promise<AuditPruneResult> {
    if (plan.tenantId === "") throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "tenantId" } });
    const limit = Math.max(0, Math.min(plan.limit, 100_000));
    const due = new Set<number>();
    for (const step of plan.steps) {
      if (due.size >= limit) break;
      const rows = await guarded(() =>
        this.context.db
          .selectFrom("audit_events")
          .select("seq")
          .where("tenant_id", "=", plan.tenantId)
          .where("tombstone", "=", "")
          .where("timestamp_ms", "<", step.beforeMs)
          .where((eb) => {
            const all: Expression<SqlBool>[] = [];
            const include = typeMatch(eb, step.include);
            if (include !== null) all.push(include);
            for (const excluded of step.exclude) {
              const match = typeMatch(eb, excluded);
              if (match !== null) all.push(eb.not(match));
            }
            if (step.typeFilter !== null && step.typeFilter.types.length > 0) {
              all.push(eb("event_type", step.typeFilter.mode === "only" ? "in" : "not in", [...step.typeFilter.types]));
            }
            for (const hold of plan.holds) {
              const held: Expression<SqlBool>[] = [];
              if (hold.principalId !== "") held.push(eb("principal_id", "=", hold.principalId));
              if (hold.fromMs > 0) held.push(eb("timestamp_ms", ">=", hold.fromMs));
              if (hold.toMs > 0) held.push(eb("timestamp_ms", "<", hold.toMs));
              all.push(held.length === 0 ? sql<SqlBool>`1 = 0` : eb.not(eb.and(held)));
            }
            return eb.and(all);
          })
          .orderBy("seq")
          .limit(limit - due.size)
          .execute(),
      );
      for (const row of rows) due.add(Number(row.seq));
    }
    const seqs = [...due].sort((a, b) => a - b);
    const codec = this.context.profile.codec;
    let count = 0;
    for (let i = 0; i < seqs.length; i += 500) {
      const chunk = seqs.slice(i, i + 500);
      const result = await guarded(() =>
        this.context.db
          .updateTable("audit_events")
          .set({
            principal_id: "",
            session_id: "",
            resource: "",
            action: "",
            source_ip: "",
            user_agent: "",
            correlation_id: "",
            risk_score: "",
            policy_violations: codec.writeJson([]),
            metadata: codec.writeJson({}),
            tombstone: "retention",
          })
          .where("tenant_id", "=", plan.tenantId)
          .where("tombstone", "=", "")
          .where("seq", "in", chunk)
          .executeTakeFirst(),
      );
      count += Number(result.numUpdatedRows);
    }
    return { count, firstSeq: seqs[0] ?? -1, lastSeq: seqs.at(-1) ?? -1 };
  }

  private async readNodeHashes(db: Transaction<Database> | StoreContext["db"], nodes: readonly TreeNode[]): Promise<Uint8Array[]> {
    const positions = nodes.filter((node) => node.level >= AUDIT_TREE_STORED_MIN_LEVEL).map(treeNodePosition);
    const leafSeqs = new Set<number>();
    for (const node of nodes) {
      if (node.level >= AUDIT_TREE_STORED_MIN_LEVEL) continue;
      const width = 2 ** node.level;
      for (let seq = node.index * width; seq < (node.index + 1) * width; seq++) leafSeqs.add(seq);
    }
    const stored = new Map<number, string>();
    if (positions.length > 0) {
      const rows = await db.selectFrom("audit_tree_nodes").select(["position", "hash"]).where("position", "in", positions).execute();
      for (const row of rows) stored.set(Number(row.position), row.hash);
    }
    const leaves = new Map<number, string>();
    if (leafSeqs.size > 0) {
      const rows = await db.selectFrom("audit_events").select(["seq", "leaf_hash"]).where("seq", "in", [...leafSeqs]).execute();
      for (const row of rows) leaves.set(Number(row.seq), row.leaf_hash);
    }
    return nodes.map((node) => {
      if (node.level >= AUDIT_TREE_STORED_MIN_LEVEL) return hashOrMissing(stored.get(treeNodePosition(node)));
      const width = 2 ** node.level;
      const hashes: Uint8Array[] = [];
      for (let seq = node.index * width; seq < (node.index + 1) * width; seq++) hashes.push(hashOrMissing(leaves.get(seq)));
      return node.level === 0 ? hashes[0]! : merkleRoot(hashes, nodeHasher);
    });
  }

  /** Writes the perfect subtrees that `records` complete, extending the right edge at `size`. */
  private async insertTreeNodes(trx: Transaction<Database>, size: number, records: readonly AuditRecord[]): Promise<void> {
    // Nothing completes at the stored levels unless the batch crosses a 16-leaf boundary.
    const blockWidth = 2 ** AUDIT_TREE_STORED_MIN_LEVEL;
    if (Math.floor((size + records.length) / blockWidth) === Math.floor(size / blockWidth)) return;
    const frontier = await this.readNodeHashes(trx, frontierNodes(size));
    const leaves = records.map((record) => hashOrMissing(record.leafHash));
    const nodes = completedNodes(size, frontier, leaves, nodeHasher, AUDIT_TREE_STORED_MIN_LEVEL);
    for (let i = 0; i < nodes.length; i += TREE_NODE_ROWS_PER_INSERT) {
      const chunk = nodes.slice(i, i + TREE_NODE_ROWS_PER_INSERT).map((node) => ({ position: treeNodePosition(node), hash: toHex(node.hash) }));
      await trx.insertInto("audit_tree_nodes").values(chunk).execute();
    }
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

/** The condition a type selector puts on `event_type`; null for `any`. `substr`, not LIKE: event types contain `_`. */
function typeMatch(eb: ExpressionBuilder<Database, "audit_events">, selector: AuditTypeSelector): Expression<SqlBool> | null {
  if (selector.kind === "any") return null;
  if (selector.kind === "exact") return eb("event_type", "=", selector.value);
  return sql<SqlBool>`substr(event_type, 1, ${selector.value.length}) = ${selector.value}`;
}

function hashOrMissing(hex: string | undefined): Uint8Array {
  const bytes = hex === undefined ? null : fromHex(hex);
  if (bytes?.length !== 32) throw new EnterpriseError("AUDIT_UNAVAILABLE", { details: { reason: "audit tree node missing or malformed" } });
  return bytes;
}
