/**
 * The database handle every store module works through: either the root
 * Kysely instance or one open transaction, plus the dialect's differences.
 */
import type { Kysely, Transaction } from "kysely";
import type { DialectProfile } from "./dialect.ts";
import type { Database } from "./schema.ts";

/** A database handle bound to a dialect, inside or outside a transaction. */
export class StoreContext {
  readonly db: Kysely<Database>;
  readonly profile: DialectProfile;
  /** The open transaction this context runs in, or null at the root. */
  readonly transactionHandle: Transaction<Database> | null;

  /**
   * @param db - the root Kysely instance, or the transaction when `transactionHandle` is set.
   * @param profile - the dialect's codec and locking.
   * @param transactionHandle - the open transaction, if any.
   */
  constructor(db: Kysely<Database>, profile: DialectProfile, transactionHandle: Transaction<Database> | null) {
    this.db = db;
    this.profile = profile;
    this.transactionHandle = transactionHandle;
  }

  /**
   * Runs `work` in a transaction: the current one when there is one (nested
   * calls join it, so a rollback undoes all of them), otherwise a new one.
   *
   * @param work - receives a context bound to the transaction.
   * @returns what `work` returns, after commit.
   */
  async transaction<T>(work: (context: StoreContext, trx: Transaction<Database>) => Promise<T>): Promise<T> {
    if (this.transactionHandle !== null) return work(this, this.transactionHandle);
    return this.db.transaction().execute((trx) => work(new StoreContext(trx, this.profile, trx), trx));
  }
}
