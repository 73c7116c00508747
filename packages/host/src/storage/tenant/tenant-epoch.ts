/** The change epoch of one tenant, read by every Host on each authenticated call. */
import { sql } from "kysely";
import type { TenantEpochStore } from "@aesp/core";
import { guarded } from "../errors.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link TenantEpochStore} over the `tenant_epochs` table, bound to one tenant. */
export class KyselyTenantEpochStore extends TenantScopedStore implements TenantEpochStore {
  /** The epoch; 0 when the tenant never changed since migration 3 (no row). One primary-key probe. */
  async current(): Promise<number> {
    const row = await guarded(() => this.context.db.selectFrom("tenant_epochs").select("epoch").where("tenant_id", "=", this.tenantId).executeTakeFirst());
    return row === undefined ? 0 : Number(row.epoch);
  }

  /** Adds one in a single upsert, so concurrent advances on several Hosts are all counted. */
  async advance(): Promise<number> {
    const row = await guarded(() =>
      this.context.db
        .insertInto("tenant_epochs")
        .values({ tenant_id: this.tenantId, epoch: 1 })
        .onConflict((conflict) => conflict.column("tenant_id").doUpdateSet({ epoch: sql<number>`tenant_epochs.epoch + 1` }))
        .returning("epoch")
        .executeTakeFirstOrThrow(),
    );
    return Number(row.epoch);
  }
}
