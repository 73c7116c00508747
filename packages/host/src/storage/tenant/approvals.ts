/** Approval requests of one tenant (governance of contracts and policies). */
import type { Selectable } from "kysely";
import type { ApprovalStore } from "@aesp/core";
import type { ApprovalRequestRecord } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { ApprovalRequestsTable } from "../schema.ts";
import { pageLimit } from "../paging.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link ApprovalStore} over the `approval_requests` table, bound to one tenant. */
export class KyselyApprovalStore extends TenantScopedStore implements ApprovalStore {
  /** @throws EnterpriseError ALREADY_EXISTS, INVALID_ARGUMENT (record of another tenant). */
  async create(record: ApprovalRequestRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.db
        .insertInto("approval_requests")
        .values({ tenant_id: tenantId, approval_request_id: record.approvalRequestId, revision: record.revision, ...this.columns(record) })
        .execute(),
    );
  }

  /** The request, or null when it does not exist in this tenant. */
  async get(approvalRequestId: string): Promise<ApprovalRequestRecord | null> {
    const row = await guarded(() =>
      this.context.db
        .selectFrom("approval_requests")
        .selectAll()
        .where("tenant_id", "=", this.tenantId)
        .where("approval_request_id", "=", approvalRequestId)
        .executeTakeFirst(),
    );
    return row === undefined ? null : this.toRecord(row);
  }

  /**
   * Requests ordered by (createdAt, approvalRequestId). Cursor: the last
   * approvalRequestId seen; a cursor naming no request of this tenant yields an empty page.
   */
  async list(filter: {
    status?: ApprovalRequestRecord["status"];
    artifactType?: string;
    artifactId?: string;
    limit: number;
    cursor?: string;
  }): Promise<ApprovalRequestRecord[]> {
    const rows = await guarded(() => {
      let query = this.context.db.selectFrom("approval_requests").selectAll().where("tenant_id", "=", this.tenantId);
      if (filter.status !== undefined) query = query.where("status", "=", filter.status);
      if (filter.artifactType !== undefined) query = query.where("artifact_type", "=", filter.artifactType as ApprovalRequestRecord["artifactType"]);
      if (filter.artifactId !== undefined) query = query.where("artifact_id", "=", filter.artifactId);
      const { cursor } = filter;
      if (cursor !== undefined) {
        query = query.where((eb) => {
          const cursorCreatedAt = eb
            .selectFrom("approval_requests as previous")
            .select("previous.created_at")
            .where("previous.tenant_id", "=", this.tenantId)
            .where("previous.approval_request_id", "=", cursor);
          return eb.or([
            eb("created_at", ">", cursorCreatedAt),
            eb.and([eb("created_at", "=", cursorCreatedAt), eb("approval_request_id", ">", cursor)]),
          ]);
        });
      }
      return query.orderBy("created_at").orderBy("approval_request_id").limit(pageLimit(filter.limit)).execute();
    });
    return rows.map((row) => this.toRecord(row));
  }

  /**
   * Replaces the request and sets its revision to `expectedRevision + 1`.
   *
   * @throws EnterpriseError CONFLICT (revision moved), NOT_FOUND (no such request in this tenant), INVALID_ARGUMENT.
   */
  async update(record: ApprovalRequestRecord, expectedRevision: number): Promise<void> {
    const tenantId = this.ownTenant(record);
    const result = await guarded(() =>
      this.context.db
        .updateTable("approval_requests")
        .set({ ...this.columns(record), revision: expectedRevision + 1 })
        .where("tenant_id", "=", tenantId)
        .where("approval_request_id", "=", record.approvalRequestId)
        .where("revision", "=", expectedRevision)
        .executeTakeFirst(),
    );
    await this.requireUpdated(result.numUpdatedRows, async () => (await this.get(record.approvalRequestId)) !== null, {
      approval_request_id: record.approvalRequestId,
    });
  }

  private columns(record: ApprovalRequestRecord) {
    return {
      artifact_type: record.artifactType,
      artifact_id: record.artifactId,
      requester_id: record.requesterId,
      justification: record.justification,
      required_approvers: this.codec.writeJson(record.requiredApprovers),
      status: record.status,
      created_at: record.createdAt,
      expires_at: record.expiresAt,
      decided_by: record.decidedBy,
      decided_at: record.decidedAt,
      comments: record.comments,
      metadata: this.codec.writeJson(record.metadata),
    };
  }

  private toRecord(row: Selectable<ApprovalRequestsTable>): ApprovalRequestRecord {
    return {
      tenantId: row.tenant_id,
      approvalRequestId: row.approval_request_id,
      artifactType: row.artifact_type,
      artifactId: row.artifact_id,
      requesterId: row.requester_id,
      justification: row.justification,
      requiredApprovers: this.codec.readJson<string[]>(row.required_approvers),
      status: row.status,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      decidedBy: row.decided_by,
      decidedAt: row.decided_at,
      comments: row.comments,
      metadata: this.codec.readJson<Record<string, string>>(row.metadata),
      revision: row.revision,
    };
  }
}
