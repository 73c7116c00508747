/** Failed sign-in counters shared by every Host on the database. */
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

  /** Forgets the counters under `key`; nothing to do when there are none. */
  async delete(key: string): Promise<void> {
    await guarded(() => this.context.db.deleteFrom("sign_in_throttle").where("key", "=", key).execute());
  }
}
