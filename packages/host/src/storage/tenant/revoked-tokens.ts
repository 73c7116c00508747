/** Access tokens of one tenant revoked before their expiry. */
import type { RevokedTokenStore } from "@aesp/core";
import type { RevokedTokenRecord } from "@aesp/core";
import { guarded } from "../errors.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link RevokedTokenStore} over the `revoked_tokens` table, bound to one tenant. */
export class KyselyRevokedTokenStore extends TenantScopedStore implements RevokedTokenStore {
  /**
   * Records the revocation iff the token is not revoked yet (one INSERT … ON
   * CONFLICT DO NOTHING); false when it was, and the first record stays.
   *
   * @throws EnterpriseError INVALID_ARGUMENT (record of another tenant).
   */
  async revoke(record: RevokedTokenRecord): Promise<boolean> {
    const tenantId = this.ownTenant(record);
    const result = await guarded(() =>
      this.context.db
        .insertInto("revoked_tokens")
        .values({
          tenant_id: tenantId,
          token_id: record.tokenId,
          principal_id: record.principalId,
          expires_at: record.expiresAt,
          revoked_at: record.revokedAt,
          reason: record.reason,
        })
        .onConflict((conflict) => conflict.columns(["tenant_id", "token_id"]).doNothing())
        .executeTakeFirst(),
    );
    return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  /** Whether this tenant recorded the token as revoked. */
  async isRevoked(tokenId: string): Promise<boolean> {
    const row = await guarded(() =>
      this.context.db
        .selectFrom("revoked_tokens")
        .select("token_id")
        .where("tenant_id", "=", this.tenantId)
        .where("token_id", "=", tokenId)
        .executeTakeFirst(),
    );
    return row !== undefined;
  }

  /** Whether this tenant recorded any of the tokens as revoked (one indexed lookup). */
  async isAnyRevoked(tokenIds: readonly string[]): Promise<boolean> {
    if (tokenIds.length === 0) return false;
    const row = await guarded(() =>
      this.context.db
        .selectFrom("revoked_tokens")
        .select("token_id")
        .where("tenant_id", "=", this.tenantId)
        .where("token_id", "in", [...tokenIds])
        .limit(1)
        .executeTakeFirst(),
    );
    return row !== undefined;
  }

  /** Deletes this tenant's revocations of tokens that have expired anyway. */
  async purgeExpired(now: number): Promise<number> {
    const result = await guarded(() => this.context.db.deleteFrom("revoked_tokens").where("tenant_id", "=", this.tenantId).where("expires_at", "<", now).executeTakeFirst());
    return Number(result.numDeletedRows);
  }
}
