/** Rotating refresh tokens of one tenant; only hashes of their secrets are stored. */
import type { Selectable } from "kysely";
import type { RefreshTokenStore } from "@aesp/core";
import type { RefreshTokenRecord } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { RefreshTokensTable } from "../schema.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link RefreshTokenStore} over the `refresh_tokens` table, bound to one tenant. */
export class KyselyRefreshTokenStore extends TenantScopedStore implements RefreshTokenStore {
  /** @throws EnterpriseError ALREADY_EXISTS, INVALID_ARGUMENT (record of another tenant). */
  async create(record: RefreshTokenRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.db
        .insertInto("refresh_tokens")
        .values({
          tenant_id: tenantId,
          token_id: record.tokenId,
          family_id: record.familyId,
          principal_id: record.principalId,
          secret_hash: record.secretHash,
          amr: this.codec.writeJson(record.amr),
          acr: record.acr,
          created_at: record.createdAt,
          expires_at: record.expiresAt,
          used_at: record.usedAt,
          revoked_at: record.revokedAt,
        })
        .execute(),
    );
  }

  /** The token, used, revoked or not, or null when it does not exist in this tenant. */
  async get(tokenId: string): Promise<RefreshTokenRecord | null> {
    const row = await guarded(() =>
      this.context.db.selectFrom("refresh_tokens").selectAll().where("tenant_id", "=", this.tenantId).where("token_id", "=", tokenId).executeTakeFirst(),
    );
    return row === undefined ? null : this.toRecord(row);
  }

  /**
   * Marks the token used at `at` iff it is neither used nor revoked. One
   * conditional UPDATE, so of any number of concurrent rotations on any number
   * of Hosts exactly one wins; a loser is looking at a replayed token.
   * Expiry is the caller's check: it owns the clock.
   */
  async markUsed(tokenId: string, at: number): Promise<boolean> {
    const result = await guarded(() =>
      this.context.db
        .updateTable("refresh_tokens")
        .set({ used_at: at })
        .where("tenant_id", "=", this.tenantId)
        .where("token_id", "=", tokenId)
        .where("used_at", "is", null)
        .where("revoked_at", "is", null)
        .executeTakeFirst(),
    );
    return result.numUpdatedRows > 0n;
  }

  /** Revokes the family's unrevoked tokens at `at`; returns how many it revoked. */
  async revokeFamily(familyId: string, at: number): Promise<number> {
    const result = await guarded(() =>
      this.context.db
        .updateTable("refresh_tokens")
        .set({ revoked_at: at })
        .where("tenant_id", "=", this.tenantId)
        .where("family_id", "=", familyId)
        .where("revoked_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows);
  }

  /** Revokes the principal's unrevoked tokens at `at`; returns how many it revoked. */
  async revokeForPrincipal(principalId: string, at: number): Promise<number> {
    return this.revokeAllOfPrincipal("refresh_tokens", principalId, at);
  }

  private toRecord(row: Selectable<RefreshTokensTable>): RefreshTokenRecord {
    return {
      tenantId: row.tenant_id,
      tokenId: row.token_id,
      familyId: row.family_id,
      principalId: row.principal_id,
      secretHash: row.secret_hash,
      amr: this.codec.readJson<string[]>(row.amr),
      acr: row.acr,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      usedAt: row.used_at,
      revokedAt: row.revoked_at,
    };
  }
}
