/** Values that may be accepted once across every Host (SAML assertion ids, JWT `jti`s). */
import type { OneTimeValueStore } from "@aesp/core";
import type { StoreContext } from "../context.ts";
import { guarded } from "../errors.ts";

/** {@link OneTimeValueStore} over the `one_time_values` table. */
export class KyselyOneTimeValueStore implements OneTimeValueStore {
  private readonly context: StoreContext;

  /** @param context - the database handle (root or transaction). */
  constructor(context: StoreContext) {
    this.context = context;
  }

  /**
   * Claims `key` until `expiresAt` iff it is absent or its entry expired at
   * `now` (`expires_at <= now`). One INSERT … ON CONFLICT DO UPDATE … WHERE,
   * so of concurrent claims on any number of Hosts exactly one succeeds: a
   * live entry makes the statement change no row.
   */
  async claim(key: string, expiresAt: number, now: number): Promise<boolean> {
    const result = await guarded(() =>
      this.context.db
        .insertInto("one_time_values")
        .values({ key, expires_at: expiresAt })
        .onConflict((conflict) =>
          conflict
            .column("key")
            .doUpdateSet({ expires_at: (eb) => eb.ref("excluded.expires_at") })
            .where("one_time_values.expires_at", "<=", now),
        )
        .executeTakeFirst(),
    );
    return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  /** Stores `value` under `key` until `expiresAt`, replacing any entry. */
  async put(key: string, value: string, expiresAt: number): Promise<void> {
    await guarded(() =>
      this.context.db
        .insertInto("one_time_values")
        .values({ key, value, expires_at: expiresAt })
        .onConflict((conflict) => conflict.column("key").doUpdateSet({ value, expires_at: expiresAt }))
        .execute(),
    );
  }

  /** The value stored under `key`, or null when absent or expired at `now`. */
  async get(key: string, now: number): Promise<string | null> {
    const row = await guarded(() => this.context.db.selectFrom("one_time_values").select("value").where("key", "=", key).where("expires_at", ">", now).executeTakeFirst());
    return row === undefined ? null : row.value;
  }

  /** Removes `key`. */
  async delete(key: string): Promise<void> {
    await guarded(() => this.context.db.deleteFrom("one_time_values").where("key", "=", key).execute());
  }

  /** Deletes the entries expired at `now`; returns how many. */
  async purgeExpired(now: number): Promise<number> {
    const result = await guarded(() => this.context.db.deleteFrom("one_time_values").where("expires_at", "<=", now).executeTakeFirst());
    return Number(result.numDeletedRows);
  }
}
