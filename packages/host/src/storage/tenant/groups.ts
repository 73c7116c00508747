/**
 * SCIM groups of one tenant. A group's `members` is stored as written, and
 * every distinct member also has a row in `scim_group_members`, written in
 * the same transaction, so the groups of a principal are an index probe.
 */
import type { Selectable } from "kysely";
import type { GroupStore } from "@aesp/core";
import type { GroupRecord } from "@aesp/core";
import type { StoreContext } from "../context.ts";
import { guarded } from "../errors.ts";
import { pageLimit } from "../paging.ts";
import type { ScimGroupsTable } from "../schema.ts";
import { TenantScopedStore } from "./scope.ts";

/** Member rows per statement: 3 parameters each, far under both databases' limits. */
const MEMBER_CHUNK = 500;

/** {@link GroupStore} over `scim_groups` and `scim_group_members`, bound to one tenant. */
export class KyselyGroupStore extends TenantScopedStore implements GroupStore {
  /** @throws EnterpriseError ALREADY_EXISTS, INVALID_ARGUMENT (record of another tenant). */
  async create(record: GroupRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.transaction(async (context) => {
        await context.db
          .insertInto("scim_groups")
          .values({ tenant_id: tenantId, group_id: record.groupId, revision: record.revision, ...this.columns(record) })
          .execute();
        await this.addMembers(context, record.groupId, new Set(record.members));
      }),
    );
  }

  /** The group, or null when it does not exist in this tenant. */
  async get(groupId: string): Promise<GroupRecord | null> {
    const row = await guarded(() =>
      this.context.db.selectFrom("scim_groups").selectAll().where("tenant_id", "=", this.tenantId).where("group_id", "=", groupId).executeTakeFirst(),
    );
    return row === undefined ? null : this.toRecord(row);
  }

  /**
   * The group with exactly this display name (case-sensitive), or null. Names
   * are not unique: of several, the one with the smallest groupId.
   */
  async findByDisplayName(displayName: string): Promise<GroupRecord | null> {
    const row = await guarded(() =>
      this.context.db
        .selectFrom("scim_groups")
        .selectAll()
        .where("tenant_id", "=", this.tenantId)
        .where("display_name", "=", displayName)
        .orderBy("group_id")
        .limit(1)
        .executeTakeFirst(),
    );
    return row === undefined ? null : this.toRecord(row);
  }

  /**
   * Groups ordered by groupId. Cursor: the last groupId seen.
   *
   * @throws EnterpriseError INVALID_ARGUMENT when `limit` is not a finite number.
   */
  async list(filter: { limit: number; cursor?: string }): Promise<GroupRecord[]> {
    const limit = pageLimit(filter.limit);
    const rows = await guarded(() => {
      let query = this.context.db.selectFrom("scim_groups").selectAll().where("tenant_id", "=", this.tenantId);
      if (filter.cursor !== undefined) query = query.where("group_id", ">", filter.cursor);
      return query.orderBy("group_id").limit(limit).execute();
    });
    return rows.map((row) => this.toRecord(row));
  }

  /** How many groups the tenant has. */
  async count(): Promise<number> {
    const row = await guarded(() =>
      this.context.db
        .selectFrom("scim_groups")
        .select((eb) => eb.fn.countAll().as("groups"))
        .where("tenant_id", "=", this.tenantId)
        .executeTakeFirstOrThrow(),
    );
    return Number(row.groups);
  }

  /**
   * Replaces the group, members included, and sets its revision to `expectedRevision + 1`.
   *
   * @throws EnterpriseError CONFLICT (revision moved), NOT_FOUND (no such group in this tenant), INVALID_ARGUMENT.
   */
  async update(record: GroupRecord, expectedRevision: number): Promise<void> {
    const tenantId = this.ownTenant(record);
    const { groupId } = record;
    await guarded(() =>
      this.context.transaction(async (context) => {
        // The guarded UPDATE locks the group row, so concurrent member rewrites of one group serialise behind it.
        const result = await context.db
          .updateTable("scim_groups")
          .set({ ...this.columns(record), revision: expectedRevision + 1 })
          .where("tenant_id", "=", tenantId)
          .where("group_id", "=", groupId)
          .where("revision", "=", expectedRevision)
          .executeTakeFirst();
        await this.requireUpdated(result.numUpdatedRows, () => this.exists(context, groupId), { group_id: groupId });

        const stored = await context.db
          .selectFrom("scim_group_members")
          .select("principal_id")
          .where("tenant_id", "=", tenantId)
          .where("group_id", "=", groupId)
          .execute();
        const before = new Set(stored.map((row) => row.principal_id));
        const after = new Set(record.members);
        await this.removeMembers(context, groupId, [...before].filter((member) => !after.has(member)));
        await this.addMembers(context, groupId, [...after].filter((member) => !before.has(member)));
      }),
    );
  }

  /** Deletes the group and its member rows; false when it did not exist in this tenant. */
  async delete(groupId: string): Promise<boolean> {
    return guarded(() =>
      this.context.transaction(async (context) => {
        await context.db.deleteFrom("scim_group_members").where("tenant_id", "=", this.tenantId).where("group_id", "=", groupId).execute();
        const result = await context.db
          .deleteFrom("scim_groups")
          .where("tenant_id", "=", this.tenantId)
          .where("group_id", "=", groupId)
          .executeTakeFirst();
        return result.numDeletedRows > 0n;
      }),
    );
  }

  /** The groups having `principalId` among their members, ordered by groupId. */
  async listForMember(principalId: string): Promise<GroupRecord[]> {
    const rows = await guarded(() =>
      this.context.db
        .selectFrom("scim_group_members as member")
        .innerJoin("scim_groups as g", (join) => join.onRef("g.tenant_id", "=", "member.tenant_id").onRef("g.group_id", "=", "member.group_id"))
        .selectAll("g")
        .where("member.tenant_id", "=", this.tenantId)
        .where("member.principal_id", "=", principalId)
        .orderBy("g.group_id")
        .execute(),
    );
    return rows.map((row) => this.toRecord(row));
  }

  private async exists(context: StoreContext, groupId: string): Promise<boolean> {
    const row = await context.db
      .selectFrom("scim_groups")
      .select("group_id")
      .where("tenant_id", "=", this.tenantId)
      .where("group_id", "=", groupId)
      .executeTakeFirst();
    return row !== undefined;
  }

  private async addMembers(context: StoreContext, groupId: string, members: Iterable<string>): Promise<void> {
    const rows = Array.from(members, (principalId) => ({ tenant_id: this.tenantId, group_id: groupId, principal_id: principalId }));
    for (let start = 0; start < rows.length; start += MEMBER_CHUNK) {
      await context.db
        .insertInto("scim_group_members")
        .values(rows.slice(start, start + MEMBER_CHUNK))
        .execute();
    }
  }

  private async removeMembers(context: StoreContext, groupId: string, members: readonly string[]): Promise<void> {
    for (let start = 0; start < members.length; start += MEMBER_CHUNK) {
      await context.db
        .deleteFrom("scim_group_members")
        .where("tenant_id", "=", this.tenantId)
        .where("group_id", "=", groupId)
        .where("principal_id", "in", members.slice(start, start + MEMBER_CHUNK))
        .execute();
    }
  }

  private columns(record: GroupRecord) {
    return {
      display_name: record.displayName,
      external_id: record.externalId,
      members: this.codec.writeJson(record.members),
      created_at: record.createdAt,
      updated_at: record.updatedAt,
    };
  }

  private toRecord(row: Selectable<ScimGroupsTable>): GroupRecord {
    return {
      tenantId: row.tenant_id,
      groupId: row.group_id,
      displayName: row.display_name,
      externalId: row.external_id,
      members: this.codec.readJson<string[]>(row.members),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      revision: row.revision,
    };
  }
}
