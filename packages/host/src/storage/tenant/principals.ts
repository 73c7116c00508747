/** Principals of one tenant: users, service accounts and system accounts. */
import type { Selectable } from "kysely";
import type { PrincipalStore } from "@aesp/core";
import type { PrincipalRecord, PrincipalType } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { PrincipalsTable } from "../schema.ts";
import { pageLimit } from "../paging.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link PrincipalStore} over the `principals` table, bound to one tenant. */
export class KyselyPrincipalStore extends TenantScopedStore implements PrincipalStore {
  /** @throws EnterpriseError ALREADY_EXISTS, INVALID_ARGUMENT (record of another tenant). */
  async create(record: PrincipalRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.db
        .insertInto("principals")
        .values({ tenant_id: tenantId, principal_id: record.principalId, revision: record.revision, ...this.columns(record) })
        .execute(),
    );
  }

  /** The principal, or null when it does not exist in this tenant. */
  async get(principalId: string): Promise<PrincipalRecord | null> {
    const row = await guarded(() =>
      this.context.db
        .selectFrom("principals")
        .selectAll()
        .where("tenant_id", "=", this.tenantId)
        .where("principal_id", "=", principalId)
        .executeTakeFirst(),
    );
    return row === undefined ? null : this.toRecord(row);
  }

  /** Principals ordered by id; only ACTIVE ones unless `includeInactive`. Cursor: the last principalId seen. */
  async list(filter: { type?: PrincipalType; includeInactive?: boolean; limit: number; cursor?: string }): Promise<PrincipalRecord[]> {
    const rows = await guarded(() => {
      let query = this.context.db.selectFrom("principals").selectAll().where("tenant_id", "=", this.tenantId);
      if (filter.type !== undefined) query = query.where("type", "=", filter.type);
      if (filter.includeInactive !== true) query = query.where("status", "=", "ACTIVE");
      if (filter.cursor !== undefined) query = query.where("principal_id", ">", filter.cursor);
      return query.orderBy("principal_id").limit(pageLimit(filter.limit)).execute();
    });
    return rows.map((row) => this.toRecord(row));
  }

  /**
   * Replaces the principal and sets its revision to `expectedRevision + 1`.
   *
   * @throws EnterpriseError CONFLICT (revision moved), NOT_FOUND (no such principal in this tenant), INVALID_ARGUMENT.
   */
  async update(record: PrincipalRecord, expectedRevision: number): Promise<void> {
    const tenantId = this.ownTenant(record);
    const result = await guarded(() =>
      this.context.db
        .updateTable("principals")
        .set({ ...this.columns(record), revision: expectedRevision + 1 })
        .where("tenant_id", "=", tenantId)
        .where("principal_id", "=", record.principalId)
        .where("revision", "=", expectedRevision)
        .executeTakeFirst(),
    );
    await this.requireUpdated(result.numUpdatedRows, async () => (await this.get(record.principalId)) !== null, {
      principal_id: record.principalId,
    });
  }

  private columns(record: PrincipalRecord) {
    return {
      type: record.type,
      display_name: record.displayName,
      description: record.description,
      roles: this.codec.writeJson(record.roles),
      permissions: this.codec.writeJson(record.permissions),
      clearance: record.clearance,
      status: record.status,
      attributes: this.codec.writeJson(record.attributes),
      created_at: record.createdAt,
      created_by: record.createdBy,
      expires_at: record.expiresAt,
    };
  }

  private toRecord(row: Selectable<PrincipalsTable>): PrincipalRecord {
    return {
      tenantId: row.tenant_id,
      principalId: row.principal_id,
      type: row.type,
      displayName: row.display_name,
      description: row.description,
      roles: this.codec.readJson<string[]>(row.roles),
      permissions: this.codec.readJson<string[]>(row.permissions),
      clearance: row.clearance,
      status: row.status,
      attributes: this.codec.readJson<Record<string, string>>(row.attributes),
      createdAt: row.created_at,
      createdBy: row.created_by,
      expiresAt: row.expires_at,
      revision: row.revision,
    };
  }
}
