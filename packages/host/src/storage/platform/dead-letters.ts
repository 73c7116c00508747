/** SIEM deliveries that failed every retry, shared by every Host on the database. */
import type { DeadLetterRecord, DeadLetterStore } from "@aesp/core";
import type { StoreContext } from "../context.ts";
import { guarded } from "../errors.ts";
import type { SiemDeadLettersTable } from "../schema.ts";

/** {@link DeadLetterStore} over the `siem_dead_letters` table. */
export class KyselyDeadLetterStore implements DeadLetterStore {
  private readonly context: StoreContext;

  /** @param context - the database handle (root or transaction). */
  constructor(context: StoreContext) {
    this.context = context;
  }

  /** Stores one dead letter. */
  async add(record: DeadLetterRecord): Promise<void> {
    await guarded(() =>
      this.context.db
        .insertInto("siem_dead_letters")
        .values({
          dead_letter_id: record.deadLetterId,
          destination: record.destination,
          payload: record.payload,
          event_count: record.eventCount,
          first_seq: record.firstSeq,
          last_seq: record.lastSeq,
          reason: record.reason,
          attempts: record.attempts,
          created_at: record.createdAt,
        })
        .execute(),
    );
  }

  /** Oldest first (created_at, then id); keyset pagination after `afterId`. */
  async list(query: { destination?: string; limit: number; afterId?: string }): Promise<DeadLetterRecord[]> {
    const rows = await guarded(async () => {
      let select = this.context.db.selectFrom("siem_dead_letters").selectAll();
      if (query.destination !== undefined) select = select.where("destination", "=", query.destination);
      if (query.afterId !== undefined) {
        const after = await this.context.db.selectFrom("siem_dead_letters").select("created_at").where("dead_letter_id", "=", query.afterId).executeTakeFirst();
        // A cursor whose entry was replayed meanwhile: continue from its id alone, which only repeats nothing newer.
        const at = after?.created_at;
        const afterId = query.afterId;
        select =
          at === undefined
            ? select.where("dead_letter_id", ">", afterId)
            : select.where((eb) => eb.or([eb("created_at", ">", at), eb.and([eb("created_at", "=", at), eb("dead_letter_id", ">", afterId)])]));
      }
      return select.orderBy("created_at").orderBy("dead_letter_id").limit(Math.max(1, Math.min(query.limit, 10_000))).execute();
    });
    return rows.map(fromRow);
  }

  /** The dead letter, or null. */
  async get(deadLetterId: string): Promise<DeadLetterRecord | null> {
    const row = await guarded(() => this.context.db.selectFrom("siem_dead_letters").selectAll().where("dead_letter_id", "=", deadLetterId).executeTakeFirst());
    return row === undefined ? null : fromRow(row);
  }

  /** Deletes it; false when it was already gone. */
  async delete(deadLetterId: string): Promise<boolean> {
    const result = await guarded(() => this.context.db.deleteFrom("siem_dead_letters").where("dead_letter_id", "=", deadLetterId).executeTakeFirst());
    return Number(result.numDeletedRows) > 0;
  }

  /** How many are stored. */
  async count(destination?: string): Promise<number> {
    const row = await guarded(() => {
      let select = this.context.db.selectFrom("siem_dead_letters").select((eb) => eb.fn.countAll<number | string | bigint>().as("n"));
      if (destination !== undefined) select = select.where("destination", "=", destination);
      return select.executeTakeFirstOrThrow();
    });
    return Number(row.n);
  }
}

function fromRow(row: SiemDeadLettersTable): DeadLetterRecord {
  return {
    deadLetterId: row.dead_letter_id,
    destination: row.destination,
    payload: row.payload,
    eventCount: row.event_count,
    firstSeq: row.first_seq,
    lastSeq: row.last_seq,
    reason: row.reason,
    attempts: row.attempts,
    createdAt: row.created_at,
  };
}
