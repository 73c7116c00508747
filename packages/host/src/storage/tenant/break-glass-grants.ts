/** Break-glass grants of one tenant (emergency overrides of policy refusals). */
import type { Selectable } from "kysely";
import type { BreakGlassGrantRecord, BreakGlassGrantStore, BreakGlassReviewStatus, BreakGlassStatus } from "@aesp/core";
import { guarded } from "../errors.ts";
import { pageLimit } from "../paging.ts";
import type { BreakGlassGrantsTable } from "../schema.ts";
import { TenantScopedStore } from "./scope.ts";

/**
 * {@link BreakGlassGrantStore} over the `break_glass_grants` table, bound to one tenant. The table's
 * partial unique index holds "one ACTIVE grant per principal" against concurrent writers.
 */
export class KyselyBreakGlassGrantStore extends TenantScopedStore implements BreakGlassGrantStore {
  /** @throws EnterpriseError ALREADY_EXISTS (same id, or an ACTIVE grant of the same principal), INVALID_ARGUMENT (record of another tenant). */
  async create(record: BreakGlassGrantRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.db
        .insertInto("break_glass_grants")
        .values({ tenant_id: tenantId, grant_id: record.grantId, revision: record.revision, ...this.columns(record) })
        .execute(),
    );
  }

  /** The grant, or null when it does not exist in this tenant. */
  async get(grantId: string): Promise<BreakGlassGrantRecord | null> {
    const row = await guarded(() =>
      this.context.db.selectFrom("break_glass_grants").selectAll().where("tenant_id", "=", this.tenantId).where("grant_id", "=", grantId).executeTakeFirst(),
    );
    return row === undefined ? null : this.toRecord(row);
  }

  /**
   * Grants ordered by (activatedAt, grantId). Cursor: the last grantId seen; a cursor naming no grant
   * of this tenant yields an empty page.
   */
  async list(filter: { status?: BreakGlassStatus; reviewStatus?: BreakGlassReviewStatus; principalId?: string; limit: number; cursor?: string }): Promise<BreakGlassGrantRecord[]> {
    const rows = await guarded(() => {
      let query = this.context.db.selectFrom("break_glass_grants").selectAll().where("tenant_id", "=", this.tenantId);
      if (filter.status !== undefined) query = query.where("status", "=", filter.status);
      if (filter.reviewStatus !== undefined) query = query.where("review_status", "=", filter.reviewStatus);
      if (filter.principalId !== undefined) query = query.where("principal_id", "=", filter.principalId);
      const { cursor } = filter;
      if (cursor !== undefined) {
        query = query.where((eb) => {
          const cursorActivatedAt = eb
            .selectFrom("break_glass_grants as previous")
            .select("previous.activated_at")
            .where("previous.tenant_id", "=", this.tenantId)
            .where("previous.grant_id", "=", cursor);
          return eb.or([eb("activated_at", ">", cursorActivatedAt), eb.and([eb("activated_at", "=", cursorActivatedAt), eb("grant_id", ">", cursor)])]);
        });
      }
      return query.orderBy("activated_at").orderBy("grant_id").limit(pageLimit(filter.limit)).execute();
    });
    return rows.map((row) => this.toRecord(row));
  }

  /**
   * Replaces the grant and sets its revision to `expectedRevision + 1`.
   * @throws EnterpriseError CONFLICT (revision moved), NOT_FOUND (no such grant in this tenant), ALREADY_EXISTS (would make a second ACTIVE grant), INVALID_ARGUMENT.
   */
  async update(record: BreakGlassGrantRecord, expectedRevision: number): Promise<void> {
    const tenantId = this.ownTenant(record);
    const result = await guarded(() =>
      this.context.db
        .updateTable("break_glass_grants")
        .set({ ...this.columns(record), revision: expectedRevision + 1 })
        .where("tenant_id", "=", tenantId)
        .where("grant_id", "=", record.grantId)
        .where("revision", "=", expectedRevision)
        .executeTakeFirst(),
    );
    await this.requireUpdated(result.numUpdatedRows, async () => (await this.get(record.grantId)) !== null, { grant_id: record.grantId });
  }

  /** One conditional UPDATE: true only for the caller that set `first_used_at`. Leaves the revision alone (it is not a decision). */
  async markFirstUse(grantId: string, at: number): Promise<boolean> {
    const result = await guarded(() =>
      this.context.db
        .updateTable("break_glass_grants")
        .set({ first_used_at: at })
        .where("tenant_id", "=", this.tenantId)
        .where("grant_id", "=", grantId)
        .where("first_used_at", "is", null)
        .executeTakeFirst(),
    );
    return result.numUpdatedRows > 0n;
  }

  private columns(record: BreakGlassGrantRecord) {
    return {
      principal_id: record.principalId,
      justification: record.justification,
      contracts: this.codec.writeJson(record.contracts),
      status: record.status,
      activated_at: record.activatedAt,
      expires_at: record.expiresAt,
      closed_at: record.closedAt,
      closed_by: record.closedBy,
      close_reason: record.closeReason,
      first_used_at: record.firstUsedAt,
      review_status: record.reviewStatus,
      review_due_at: record.reviewDueAt,
      reviewed_by: record.reviewedBy,
      reviewed_at: record.reviewedAt,
      review_comments: record.reviewComments,
      review_overdue_alerted_at: record.reviewOverdueAlertedAt,
    };
  }

  private toRecord(row: Selectable<BreakGlassGrantsTable>): BreakGlassGrantRecord {
    return {
      tenantId: row.tenant_id,
      grantId: row.grant_id,
      principalId: row.principal_id,
      justification: row.justification,
      contracts: this.codec.readJson<string[]>(row.contracts),
      status: row.status,
      activatedAt: row.activated_at,
      expiresAt: row.expires_at,
      closedAt: row.closed_at,
      closedBy: row.closed_by,
      closeReason: row.close_reason,
      firstUsedAt: row.first_used_at,
      reviewStatus: row.review_status,
      reviewDueAt: row.review_due_at,
      reviewedBy: row.reviewed_by,
      reviewedAt: row.reviewed_at,
      reviewComments: row.review_comments,
      reviewOverdueAlertedAt: row.review_overdue_alerted_at,
      revision: row.revision,
    };
  }
}
