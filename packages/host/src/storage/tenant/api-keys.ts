/** API keys of one tenant's principals; only scrypt hashes of the secrets are stored. */
import type { Selectable } from "kysely";
import type { ApiKeyStore } from "@aesp/core";
import type { ApiKeyRecord } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { ApiKeysTable } from "../schema.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link ApiKeyStore} over the `api_keys` table, bound to one tenant. */
export class KyselyApiKeyStore extends TenantScopedStore implements ApiKeyStore {
  /** @throws EnterpriseError ALREADY_EXISTS, INVALID_ARGUMENT (record of another tenant). */
  async create(record: ApiKeyRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.db
        .insertInto("api_keys")
        .values({
          tenant_id: tenantId,
          key_id: record.keyId,
          principal_id: record.principalId,
          secret_hash: record.secretHash,
          created_at: record.createdAt,
          expires_at: record.expiresAt,
          revoked_at: record.revokedAt,
        })
        .execute(),
    );
  }

  /** The key, or null when it does not exist in this tenant. */
  async get(keyId: string): Promise<ApiKeyRecord | null> {
    const row = await guarded(() =>
      this.context.db.selectFrom("api_keys").selectAll().where("tenant_id", "=", this.tenantId).where("key_id", "=", keyId).executeTakeFirst(),
    );
    return row === undefined ? null : toRecord(row);
  }

  /** Every key of the principal, revoked ones included, oldest first. */
  async listForPrincipal(principalId: string): Promise<ApiKeyRecord[]> {
    const rows = await guarded(() =>
      this.context.db
        .selectFrom("api_keys")
        .selectAll()
        .where("tenant_id", "=", this.tenantId)
        .where("principal_id", "=", principalId)
        .orderBy("created_at")
        .orderBy("key_id")
        .execute(),
    );
    return rows.map(toRecord);
  }

  /** Revokes the principal's unrevoked keys at `at`; returns how many it revoked. */
  async revokeForPrincipal(principalId: string, at: number): Promise<number> {
    return this.revokeAllOfPrincipal("api_keys", principalId, at);
  }
}

function toRecord(row: Selectable<ApiKeysTable>): ApiKeyRecord {
  return {
    tenantId: row.tenant_id,
    keyId: row.key_id,
    principalId: row.principal_id,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}
