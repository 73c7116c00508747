/** The Host's one-time bootstrap record: at most one row, consumed at most once. */
import type { BootstrapStore } from "@aesp/core";
import type { BootstrapRecord } from "@aesp/core";
import type { StoreContext } from "../context.ts";
import { guarded } from "../errors.ts";

/** The fixed primary key of the single bootstrap row. */
const BOOTSTRAP_ROW_ID = 1;

/** {@link BootstrapStore} over the single-row `bootstrap` table. */
export class KyselyBootstrapStore implements BootstrapStore {
  private readonly context: StoreContext;

  /** @param context - the database handle (root or transaction). */
  constructor(context: StoreContext) {
    this.context = context;
  }

  /** The bootstrap record, or null before {@link KyselyBootstrapStore.init}. */
  async get(): Promise<BootstrapRecord | null> {
    const row = await guarded(() => this.context.db.selectFrom("bootstrap").selectAll().where("id", "=", BOOTSTRAP_ROW_ID).executeTakeFirst());
    if (row === undefined) return null;
    return { tokenHash: row.token_hash, createdAt: row.created_at, consumedAt: row.consumed_at, consumedBy: row.consumed_by };
  }

  /** Creates the record iff none exists (one INSERT … ON CONFLICT DO NOTHING); false when one already does. */
  async init(record: BootstrapRecord): Promise<boolean> {
    const result = await guarded(() =>
      this.context.db
        .insertInto("bootstrap")
        .values({
          id: BOOTSTRAP_ROW_ID,
          token_hash: record.tokenHash,
          created_at: record.createdAt,
          consumed_at: record.consumedAt,
          consumed_by: record.consumedBy,
        })
        .onConflict((conflict) => conflict.column("id").doNothing())
        .executeTakeFirst(),
    );
    return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  /** Marks the record consumed iff `tokenHash` matches and it is unconsumed; one conditional UPDATE. */
  async consume(tokenHash: string, at: number, by: string): Promise<boolean> {
    const result = await guarded(() =>
      this.context.db
        .updateTable("bootstrap")
        .set({ consumed_at: at, consumed_by: by })
        .where("id", "=", BOOTSTRAP_ROW_ID)
        .where("token_hash", "=", tokenHash)
        .where("consumed_at", "is", null)
        .executeTakeFirst(),
    );
    return result.numUpdatedRows > 0n;
  }
}
