/** The identity providers one tenant has connected (OIDC, SAML, LDAP). */
import type { Selectable } from "kysely";
import type { IdentityProviderStore } from "@aesp/core";
import type { ClaimMappingRecord, IdentityProviderRecord } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { IdentityProvidersTable } from "../schema.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link IdentityProviderStore} over the `identity_providers` table, bound to one tenant. */
export class KyselyIdentityProviderStore extends TenantScopedStore implements IdentityProviderStore {
  /** @throws EnterpriseError ALREADY_EXISTS, INVALID_ARGUMENT (record of another tenant). */
  async create(record: IdentityProviderRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.db
        .insertInto("identity_providers")
        .values({ tenant_id: tenantId, provider_id: record.providerId, revision: record.revision, ...this.columns(record) })
        .execute(),
    );
  }

  /** The provider, enabled or not, or null when it does not exist in this tenant. */
  async get(providerId: string): Promise<IdentityProviderRecord | null> {
    const row = await guarded(() =>
      this.context.db
        .selectFrom("identity_providers")
        .selectAll()
        .where("tenant_id", "=", this.tenantId)
        .where("provider_id", "=", providerId)
        .executeTakeFirst(),
    );
    return row === undefined ? null : this.toRecord(row);
  }

  /** Every provider of the tenant, ordered by providerId. */
  async list(): Promise<IdentityProviderRecord[]> {
    const rows = await guarded(() =>
      this.context.db.selectFrom("identity_providers").selectAll().where("tenant_id", "=", this.tenantId).orderBy("provider_id").execute(),
    );
    return rows.map((row) => this.toRecord(row));
  }

  /**
   * Replaces the provider and sets its revision to `expectedRevision + 1`.
   *
   * @throws EnterpriseError CONFLICT (revision moved), NOT_FOUND (no such provider in this tenant), INVALID_ARGUMENT.
   */
  async update(record: IdentityProviderRecord, expectedRevision: number): Promise<void> {
    const tenantId = this.ownTenant(record);
    const result = await guarded(() =>
      this.context.db
        .updateTable("identity_providers")
        .set({ ...this.columns(record), revision: expectedRevision + 1 })
        .where("tenant_id", "=", tenantId)
        .where("provider_id", "=", record.providerId)
        .where("revision", "=", expectedRevision)
        .executeTakeFirst(),
    );
    await this.requireUpdated(result.numUpdatedRows, async () => (await this.get(record.providerId)) !== null, {
      provider_id: record.providerId,
    });
  }

  /** Deletes the provider; false when it did not exist in this tenant. Its principals stay. */
  async delete(providerId: string): Promise<boolean> {
    const result = await guarded(() =>
      this.context.db.deleteFrom("identity_providers").where("tenant_id", "=", this.tenantId).where("provider_id", "=", providerId).executeTakeFirst(),
    );
    return result.numDeletedRows > 0n;
  }

  private columns(record: IdentityProviderRecord) {
    return {
      kind: record.kind,
      display_name: record.displayName,
      enabled: this.codec.writeBoolean(record.enabled),
      settings: this.codec.writeJson(record.settings),
      mapping: this.codec.writeJson(record.mapping),
      jit_provisioning: this.codec.writeBoolean(record.jitProvisioning),
      created_at: record.createdAt,
      updated_at: record.updatedAt,
      updated_by: record.updatedBy,
    };
  }

  private toRecord(row: Selectable<IdentityProvidersTable>): IdentityProviderRecord {
    return {
      tenantId: row.tenant_id,
      providerId: row.provider_id,
      kind: row.kind,
      displayName: row.display_name,
      enabled: this.codec.readBoolean(row.enabled),
      settings: this.codec.readJson<Record<string, unknown>>(row.settings),
      mapping: this.codec.readJson<ClaimMappingRecord>(row.mapping),
      jitProvisioning: this.codec.readBoolean(row.jit_provisioning),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      updatedBy: row.updated_by,
      revision: row.revision,
    };
  }
}
