/** One-time runtime join tokens of one tenant; only their hashes are stored. */
import type { Selectable } from "kysely";
import type { JoinTokenStore } from "@aesp/core";
import type { JoinTokenRecord } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { JoinTokensTable } from "../schema.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link JoinTokenStore} over the `join_tokens` table, bound to one tenant. */
export class KyselyJoinTokenStore extends TenantScopedStore implements JoinTokenStore {
  /** @throws EnterpriseError ALREADY_EXISTS, INVALID_ARGUMENT (record of another tenant). */
  async create(record: JoinTokenRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.db
        .insertInto("join_tokens")
        .values({
          tenant_id: tenantId,
          token_id: record.tokenId,
          secret_hash: record.secretHash,
          runtime_id: record.runtimeId,
          created_by: record.createdBy,
          created_at: record.createdAt,
          expires_at: record.expiresAt,
          used_at: record.usedAt,
        })
        .execute(),
    );
  }

  /** The token, used or not, or null when it does not exist in this tenant. */
  async get(tokenId: string): Promise<JoinTokenRecord | null> {
    const row = await guarded(() =>
      this.context.db.selectFrom("join_tokens").selectAll().where("tenant_id", "=", this.tenantId).where("token_id", "=", tokenId).executeTakeFirst(),
    );
    return row === undefined ? null : toRecord(row);
  }

  /**
   * Marks the token used at `at` iff it is unused. One conditional UPDATE, so of
   * any number of concurrent consumers on any number of Hosts exactly one wins.
   * Expiry is the caller's check: it owns the clock.
   */
  async consume(tokenId: string, at: number): Promise<boolean> {
    const result = await guarded(() =>
      this.context.db
        .updateTable("join_tokens")
        .set({ used_at: at })
        .where("tenant_id", "=", this.tenantId)
        .where("token_id", "=", tokenId)
        .where("used_at", "is", null)
        .executeTakeFirst(),
    );
    return result.numUpdatedRows > 0n;
  }
}

function toRecord(row: Selectable<JoinTokensTable>): JoinTokenRecord {
  return {
    tenantId: row.tenant_id,
    tokenId: row.token_id,
    secretHash: row.secret_hash,
    runtimeId: row.runtime_id,
    createdBy: row.created_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
  };
}
