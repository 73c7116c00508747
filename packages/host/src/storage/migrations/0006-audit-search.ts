/**
 * Migration 6: audit proofs and search.
 *
 * - `audit_tree_nodes` holds the hash of every perfect Merkle subtree of the log at level
 *   {@link AUDIT_TREE_STORED_MIN_LEVEL} or above (16+ leaves), keyed by its in-order position, so
 *   inclusion and consistency proofs read O(log n) rows. Lower nodes are recomputed from at most
 *   16 leaf hashes, which keeps the table at one row per 16 events. The append transaction
 *   writes the nodes it completes; this migration backfills them for an existing log.
 * - Indexes for the common audit filters, each leading with `tenant_id` (every tenant read is
 *   bound to one) and ending with `seq` (the cursor), and one on `event_id` for proof lookups.
 */
import { sql } from "kysely";
import { completedNodes, fromHex, frontierNodes, toHex, treeNodePosition } from "@aesp/core/audit";
import { nodeHasher } from "../../crypto/node-crypto-ports.ts";
import type { Migration } from "./migration.ts";

/** Perfect subtrees below this level are recomputed from leaves rather than stored. */
export const AUDIT_TREE_STORED_MIN_LEVEL = 4;

const BACKFILL_PAGE = 16_384;

/** The `audit_tree_nodes` table, filter indexes, and the nodes of the existing log. */
export const auditSearchSchema: Migration = {
  version: 6,
  name: "audit-search",
  async up(db, t) {
    let table = db.schema
      .createTable("audit_tree_nodes")
      .addColumn("position", t.bigint, (c) => c.primaryKey())
      .addColumn("hash", t.text, (c) => c.notNull());
    if (t.kind === "sqlite") table = table.modifyEnd(sql.raw("strict, without rowid"));
    await table.execute();

    await db.schema.createIndex("audit_events_by_event_id").on("audit_events").column("event_id").execute();
    await db.schema.createIndex("audit_events_by_tenant_type").on("audit_events").columns(["tenant_id", "event_type", "seq"]).execute();
    await db.schema.createIndex("audit_events_by_tenant_principal").on("audit_events").columns(["tenant_id", "principal_id", "seq"]).execute();
    await db.schema.createIndex("audit_events_by_tenant_correlation").on("audit_events").columns(["tenant_id", "correlation_id", "seq"]).execute();
    await db.schema.createIndex("audit_events_by_tenant_resource").on("audit_events").columns(["tenant_id", "resource", "seq"]).execute();

    // Backfill: replay the stored leaf hashes through the same node computation appends use.
    let frontier: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const rows = await db.selectFrom("audit_events").select(["seq", "leaf_hash"]).where("seq", ">=", size).orderBy("seq").limit(BACKFILL_PAGE).execute();
      if (rows.length === 0) break;
      const leaves = rows.map((row) => fromHex(row.leaf_hash) ?? new Uint8Array(32));
      const nodes = completedNodes(size, frontier, leaves, nodeHasher, AUDIT_TREE_STORED_MIN_LEVEL);
      for (let i = 0; i < nodes.length; i += 1000) {
        const chunk = nodes.slice(i, i + 1000).map((node) => ({ position: treeNodePosition(node), hash: toHex(node.hash) }));
        await db.insertInto("audit_tree_nodes").values(chunk).execute();
      }
      // Recompute the right edge from every leaf seen so far is O(n); keep it incrementally instead.
      frontier = advanceFrontier(size, frontier, leaves);
      size += rows.length;
    }
  },
};

/** The right edge after appending `leaves`, from the edge before. */
function advanceFrontier(size: number, frontier: Uint8Array[], leaves: readonly Uint8Array[]): Uint8Array[] {
  const all = completedNodes(size, frontier, leaves, nodeHasher, 0);
  const next = frontierNodes(size + leaves.length);
  const hashes = new Map<number, Uint8Array>();
  frontierNodes(size).forEach((node, i) => hashes.set(treeNodePosition(node), frontier[i]!));
  leaves.forEach((leaf, i) => hashes.set(treeNodePosition({ level: 0, index: size + i }), leaf));
  for (const node of all) hashes.set(treeNodePosition(node), node.hash);
  return next.map((node) => {
    const hash = hashes.get(treeNodePosition(node));
    if (hash === undefined) throw new Error("audit tree backfill lost a frontier node");
    return hash;
  });
}
