/** Principals of one tenant: users, service accounts and system accounts. */
import { sql } from "kysely";
import type { Selectable, SqlBool } from "kysely";
import type { PrincipalFilter, PrincipalStore } from "@aesp/core";
import type { PrincipalRecord } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { PrincipalsTable } from "../schema.ts";
import { pageLimit } from "../paging.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link PrincipalStore} over the `principals` table, bound to one tenant. */
export class KyselyPrincipalStore extends TenantScopedStore implements PrincipalStore {
  /**
   * @throws EnterpriseError ALREADY_EXISTS (the id, or the provider's subject, is taken in this tenant),
   *   INVALID_ARGUMENT (record of another tenant).
   */
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

  /**
   * The principal linked to `subject` at `providerId`, or null. Principals
   * created in the Host (provider "") are never found this way.
   */
  async findByExternalSubject(providerId: string, subject: string): Promise<PrincipalRecord | null> {
    if (providerId === "") return null;
    const row = await guarded(() =>
      this.context.db
        .selectFrom("principals")
        .selectAll()
        .where("tenant_id", "=", this.tenantId)
        // Repeats the unique index's predicate so PostgreSQL can use that partial index.
        .where("provider_id", "<>", "")
        .where("provider_id", "=", providerId)
        .where("external_subject", "=", subject)
        .executeTakeFirst(),
    );
    return row === undefined ? null : this.toRecord(row);
  }

  /**
   * Principals matching every given filter, ordered by id: only ACTIVE ones
   * unless `status` or `includeInactive` says otherwise. `userName` and
   * `displayNamePrefix` compare with SQL lower(), which folds ASCII only on
   * SQLite. Cursor: the last principalId seen.
   *
   * @throws EnterpriseError INVALID_ARGUMENT when `limit` is not a finite number.
   */
  async list(filter: PrincipalFilter): Promise<PrincipalRecord[]> {
    const limit = pageLimit(filter.limit);
    const rows = await guarded(() => {
      let query = this.filtered(filter).selectAll();
      if (filter.cursor !== undefined) query = query.where("principal_id", ">", filter.cursor);
      return query.orderBy("principal_id").limit(limit).execute();
    });
    return rows.map((row) => this.toRecord(row));
  }

  /** How many principals match `filter`, ignoring its limit and cursor. */
  async count(filter: PrincipalFilter): Promise<number> {
    const row = await guarded(() =>
      this.filtered(filter)
        .select((eb) => eb.fn.countAll().as("matching"))
        .executeTakeFirstOrThrow(),
    );
    return Number(row.matching);
  }

  private filtered(filter: PrincipalFilter) {
    let query = this.context.db.selectFrom("principals").where("tenant_id", "=", this.tenantId);
    if (filter.type !== undefined) query = query.where("type", "=", filter.type);
    if (filter.status !== undefined) query = query.where("status", "=", filter.status);
    else if (filter.includeInactive !== true) query = query.where("status", "=", "ACTIVE");
    if (filter.providerId !== undefined) query = query.where("provider_id", "=", filter.providerId);
    if (filter.userName !== undefined) {
      const userName = filter.userName;
      query = query.where((eb) => eb(eb.fn("lower", ["user_name"]), "=", eb.fn("lower", [eb.val(userName)])));
    }
    if (filter.displayNamePrefix !== undefined) {
      const pattern = `${escapeLike(filter.displayNamePrefix)}%`;
      query = query.where(sql<SqlBool>`lower(${sql.ref("display_name")}) like lower(${pattern}) escape '\\'`);
    }
    if (filter.role !== undefined) {
      const role = filter.role;
      const { profile } = this.context;
      query = query.where((eb) =>
        eb.or([profile.jsonArrayContains(sql.ref("roles"), role), profile.jsonArrayContains(sql.ref("synced_roles"), role)]),
      );
    }
    return query;
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
      user_name: record.userName,
      provider_id: record.providerId,
      external_subject: record.externalSubject,
      groups: this.codec.writeJson(record.groups),
      synced_roles: this.codec.writeJson(record.syncedRoles),
      synced_at: record.syncedAt,
      tokens_valid_after: record.tokensValidAfter,
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
      userName: row.user_name,
      providerId: row.provider_id,
      externalSubject: row.external_subject,
      groups: this.codec.readJson<string[]>(row.groups),
      syncedRoles: this.codec.readJson<string[]>(row.synced_roles),
      syncedAt: row.synced_at,
      tokensValidAfter: row.tokens_valid_after,
      revision: row.revision,
    };
  }
}

/** `text` with LIKE's wildcards and its escape character taken literally (escape character: backslash). */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}
