/** Public keys and pinned certificates with which one tenant's service accounts authenticate. */
import type { Selectable } from "kysely";
import type { ClientCredentialStore } from "@aesp/core";
import type { ClientCredentialRecord } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { ClientCredentialsTable } from "../schema.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link ClientCredentialStore} over the `client_credentials` table, bound to one tenant. */
export class KyselyClientCredentialStore extends TenantScopedStore implements ClientCredentialStore {
  /**
   * @throws EnterpriseError ALREADY_EXISTS (the id, or the thumbprint, is taken in this tenant),
   *   INVALID_ARGUMENT (record of another tenant).
   */
  async create(record: ClientCredentialRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.db
        .insertInto("client_credentials")
        .values({
          tenant_id: tenantId,
          credential_id: record.credentialId,
          principal_id: record.principalId,
          kind: record.kind,
          material: record.material,
          thumbprint: record.thumbprint,
          created_at: record.createdAt,
          expires_at: record.expiresAt,
          revoked_at: record.revokedAt,
        })
        .execute(),
    );
  }

  /** The credential, revoked or not, or null when it does not exist in this tenant. */
  async get(credentialId: string): Promise<ClientCredentialRecord | null> {
    const row = await guarded(() =>
      this.context.db
        .selectFrom("client_credentials")
        .selectAll()
        .where("tenant_id", "=", this.tenantId)
        .where("credential_id", "=", credentialId)
        .executeTakeFirst(),
    );
    return row === undefined ? null : toRecord(row);
  }

  /** The credential with this thumbprint in this tenant, revoked or not, or null. */
  async findByThumbprint(thumbprint: string): Promise<ClientCredentialRecord | null> {
    const row = await guarded(() =>
      this.context.db
        .selectFrom("client_credentials")
        .selectAll()
        .where("tenant_id", "=", this.tenantId)
        .where("thumbprint", "=", thumbprint)
        .executeTakeFirst(),
    );
    return row === undefined ? null : toRecord(row);
  }

  /** Every credential of the principal, revoked ones included, oldest first. */
  async listForPrincipal(principalId: string): Promise<ClientCredentialRecord[]> {
    const rows = await guarded(() =>
      this.context.db
        .selectFrom("client_credentials")
        .selectAll()
        .where("tenant_id", "=", this.tenantId)
        .where("principal_id", "=", principalId)
        .orderBy("created_at")
        .orderBy("credential_id")
        .execute(),
    );
    return rows.map(toRecord);
  }

  /** Revokes the principal's unrevoked credentials at `at`; returns how many it revoked. */
  async revokeForPrincipal(principalId: string, at: number): Promise<number> {
    return this.revokeAllOfPrincipal("client_credentials", principalId, at);
  }
}

function toRecord(row: Selectable<ClientCredentialsTable>): ClientCredentialRecord {
  return {
    tenantId: row.tenant_id,
    credentialId: row.credential_id,
    principalId: row.principal_id,
    kind: row.kind,
    material: row.material,
    thumbprint: row.thumbprint,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}
