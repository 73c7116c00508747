/** Failed sign-in counters shared by every Host on the database. */
import { sql } from "kysely";
import type { SignInThrottleStore } from "@aesp/core";
import type { SignInThrottleRecord } from "@aesp/core";
import type { StoreContext } from "../context.ts";
import { guarded } from "../errors.ts";

/** {@link SignInThrottleStore} over the `sign_in_throttle` table. */
export class KyselySignInThrottleStore implements SignInThrottleStore {
  private readonly context: StoreContext;

  /** @param context - the database handle (root or transaction). */
  constructor(context: StoreContext) {
    this.context = context;
  }

  /** The counters under `key`, or null when there are none. */
  async get(key: string): Promise<SignInThrottleRecord | null> {
    const row = await guarded(() => this.context.db.selectFrom("sign_in_throttle").selectAll().where("key", "=", key).executeTakeFirst());
    if (row === undefined) return null;
    return { key: row.key, failures: row.failures, windowStartedAt: row.window_started_at, lockedUntil: row.locked_until };
  }

  /** Creates or replaces the counters under `record.key` (one upsert). */
  async put(record: SignInThrottleRecord): Promise<void> {
    const columns = { failures: record.failures, window_started_at: record.windowStartedAt, locked_until: record.lockedUntil };
    await guarded(() =>
      this.context.db
        .insertInto("sign_in_throttle")
        .values({ key: record.key, ...columns })
        .onConflict((conflict) => conflict.column("key").doUpdateSet(columns))
        .execute(),
    );
  }

  /**
   * Counts one failure in a single upsert, so concurrent failures on several Hosts are never lost:
   * a window older than `windowMs` restarts at one failure without a lock.
   */
  async recordFailure(key: string, now: number, windowMs: number): Promise<SignInThrottleRecord> {
    const row = await guarded(() =>
      this.context.db
        .insertInto("sign_in_throttle")
        .values({ key, failures: 1, window_started_at: now, locked_until: 0 })
        .onConflict((conflict) =>
          conflict.column("key").doUpdateSet(() => {
            const windowOver = sql<boolean>`${now} - sign_in_throttle.window_started_at > ${windowMs}`;
            return {
              failures: sql<number>`CASE WHEN ${windowOver} THEN 1 ELSE sign_in_throttle.failures + 1 END`,
              window_started_at: sql<number>`CASE WHEN ${windowOver} THEN ${now} ELSE sign_in_throttle.window_started_at END`,
              locked_until: sql<number>`CASE WHEN ${windowOver} THEN 0 ELSE sign_in_throttle.locked_until END`,
            };
          }),
        )
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return { key: row.key, failures: Number(row.failures), windowStartedAt: Number(row.window_started_at), lockedUntil: Number(row.locked_until) };
  }

  /** Raises the lock, never lowers it (a concurrent longer lock stays). */
  async extendLock(key: string, lockedUntil: number): Promise<void> {
    await guarded(() => this.context.db.updateTable("sign_in_throttle").set({ locked_until: lockedUntil }).where("key", "=", key).where("locked_until", "<", lockedUntil).execute());
  }

  /** Deletes counters whose window is over and whose lock has expired. */
  async purgeExpired(now: number, windowMs: number): Promise<number> {
    const result = await guarded(() =>
      this.context.db.deleteFrom("sign_in_throttle").where("window_started_at", "<", now - windowMs).where("locked_until", "<=", now).executeTakeFirst(),
    );
    return Number(result.numDeletedRows);
  }

  /** Forgets the counters under `key`; nothing to do when there are none. */
  async delete(key: string): Promise<void> {
    await guarded(() => this.context.db.deleteFrom("sign_in_throttle").where("key", "=", key).execute());
  }
}
