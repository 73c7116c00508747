/**
 * The {@link Store} of both backends: the same stores over Kysely, with the
 * dialect's differences confined to {@link DialectProfile}.
 */
import { sql } from "kysely";
import type { Kysely } from "kysely";
import { EnterpriseError } from "@aesp/core";
import type { PlatformStores, Store, TenantStores } from "@aesp/core";
import { StoreContext } from "./context.ts";
import type { DialectProfile } from "./dialect.ts";
import { guarded, translateDriverError } from "./errors.ts";
import { KyselyAuditLogStore } from "./platform/audit-log.ts";
import { KyselyBootstrapStore } from "./platform/bootstrap.ts";
import { KyselyKeyMaterialStore } from "./platform/keys.ts";
import { KyselyOneTimeValueStore } from "./platform/one-time-values.ts";
import { KyselyDeadLetterStore } from "./platform/dead-letters.ts";
import { KyselySignInThrottleStore } from "./platform/sign-in-throttle.ts";
import { KyselyTenantStore } from "./platform/tenants.ts";
import type { Database } from "./schema.ts";
import { createTenantStores } from "./tenant/index.ts";

/** A Store over one Kysely context: the root one, or one transaction. */
export class KyselyStore implements Store {
  readonly kind: "sqlite" | "postgres";
  readonly platform: PlatformStores;
  readonly #context: StoreContext;
  /** Only the root Store owns the connection pool; transaction Stores borrow it. */
  readonly #ownsDatabase: boolean;
  #closed = false;

  /**
   * @param context - the root context (the Store then owns and closes its database) or a transaction's.
   */
  constructor(context: StoreContext) {
    this.kind = context.profile.kind;
    this.#context = context;
    this.#ownsDatabase = context.transactionHandle === null;
    this.platform = platformStores(context);
  }

  /**
   * A Store over an open, migrated database.
   *
   * @param db - the Kysely instance; the Store takes ownership and destroys it on close.
   * @param profile - the dialect's codec and locking.
   */
  static over(db: Kysely<Database>, profile: DialectProfile): KyselyStore {
    return new KyselyStore(new StoreContext(db, profile, null));
  }

  /**
   * The stores of one tenant; every query they make is restricted to it.
   *
   * @throws EnterpriseError INVALID_ARGUMENT when `tenantId` is empty (the
   *   audit log's platform events carry the empty tenant).
   */
  forTenant(tenantId: string): TenantStores {
    if (typeof tenantId !== "string" || tenantId === "") {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: "A tenant id is required.", details: { field: "tenantId" } });
    }
    return createTenantStores(this.#context, tenantId);
  }

  /**
   * Runs `work` in one database transaction: it commits when `work` resolves
   * and rolls back when it throws. Stores obtained from `tx` join it, and so
   * does a nested `tx.transaction`. On SQLite do not use the outer Store inside
   * `work`: its single connection is busy with the transaction until it ends.
   *
   * @returns what `work` returns.
   * @throws whatever `work` throws (after rolling back); EnterpriseError when the database fails.
   */
  async transaction<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    let workFailed = false;
    try {
      return await this.#context.transaction(async (context) => {
        try {
          return await work(context === this.#context ? this : new KyselyStore(context));
        } catch (err) {
          workFailed = true;
          throw err;
        }
      });
    } catch (err) {
      if (workFailed) throw err;
      throw translateDriverError(err);
    }
  }

  /**
   * Round-trips a trivial query.
   *
   * @throws EnterpriseError UNAVAILABLE when the database cannot be reached.
   */
  async ping(): Promise<void> {
    await guarded(() => sql`select 1`.execute(this.#context.db));
  }

  /** Releases the connection (pool); idempotent. A transaction's Store has nothing to release. */
  async close(): Promise<void> {
    if (!this.#ownsDatabase || this.#closed) return;
    this.#closed = true;
    await this.#context.db.destroy();
  }
}

function platformStores(context: StoreContext): PlatformStores {
  const auditLog = new KyselyAuditLogStore(context);
  return Object.freeze({
    tenants: new KyselyTenantStore(context),
    keys: new KyselyKeyMaterialStore(context),
    bootstrap: new KyselyBootstrapStore(context),
    auditLog,
    auditProofs: auditLog,
    auditPruning: auditLog,
    signInThrottle: new KyselySignInThrottleStore(context),
    oneTimeValues: new KyselyOneTimeValueStore(context),
    deadLetters: new KyselyDeadLetterStore(context),
  });
}
