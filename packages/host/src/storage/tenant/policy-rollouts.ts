/** Staged rollouts of policy versions in one tenant. */
import { sql } from "kysely";
import type { Selectable } from "kysely";
import type { PolicyRolloutRecord, PolicyRolloutStatus, PolicyRolloutStore } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { PolicyRolloutsTable } from "../schema.ts";
import { pageLimit } from "../paging.ts";
import { TenantScopedStore } from "./scope.ts";

const PPM = 1_000_000;

/** {@link PolicyRolloutStore} over the `policy_rollouts` table, bound to one tenant. */
export class KyselyPolicyRolloutStore extends TenantScopedStore implements PolicyRolloutStore {
  /** @throws EnterpriseError ALREADY_EXISTS (same id, or another live rollout in the tenant), INVALID_ARGUMENT (record of another tenant). */
  async create(record: PolicyRolloutRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.db
        .insertInto("policy_rollouts")
        .values({
          tenant_id: tenantId,
          rollout_id: record.rolloutId,
          evaluated: record.evaluated,
          disagreements: record.disagreements,
          revision: record.revision,
          ...this.columns(record),
        })
        .execute(),
    );
  }

  /** The rollout, or null when it does not exist in this tenant. */
  async get(rolloutId: string): Promise<PolicyRolloutRecord | null> {
    const row = await guarded(() =>
      this.context.db.selectFrom("policy_rollouts").selectAll().where("tenant_id", "=", this.tenantId).where("rollout_id", "=", rolloutId).executeTakeFirst(),
    );
    return row === undefined ? null : this.toRecord(row);
  }

  /** Ordered by rolloutId; cursor: the last rolloutId of the previous page. */
  async list(filter: { status?: PolicyRolloutStatus; policyId?: string; limit: number; cursor?: string }): Promise<PolicyRolloutRecord[]> {
    const rows = await guarded(() => {
      let query = this.context.db.selectFrom("policy_rollouts").selectAll().where("tenant_id", "=", this.tenantId);
      if (filter.status !== undefined) query = query.where("status", "=", filter.status);
      if (filter.policyId !== undefined) query = query.where("policy_id", "=", filter.policyId);
      if (filter.cursor !== undefined) query = query.where("rollout_id", ">", filter.cursor);
      return query.orderBy("rollout_id").limit(pageLimit(filter.limit)).execute();
    });
    return rows.map((row) => this.toRecord(row));
  }

  /**
   * Replaces everything but the counters and sets the revision to `expectedRevision + 1`.
   *
   * @throws EnterpriseError CONFLICT (revision moved), NOT_FOUND, INVALID_ARGUMENT, ALREADY_EXISTS (would make a second live rollout).
   */
  async update(record: PolicyRolloutRecord, expectedRevision: number): Promise<void> {
    const tenantId = this.ownTenant(record);
    const result = await guarded(() =>
      this.context.db
        .updateTable("policy_rollouts")
        .set({ ...this.columns(record), revision: expectedRevision + 1 })
        .where("tenant_id", "=", tenantId)
        .where("rollout_id", "=", record.rolloutId)
        .where("revision", "=", expectedRevision)
        .executeTakeFirst(),
    );
    await this.requireUpdated(result.numUpdatedRows, async () => (await this.get(record.rolloutId)) !== null, { rollout_id: record.rolloutId });
  }

  /** One UPDATE … RETURNING: the increment and the totals it returns are atomic on both databases. */
  async addCounts(rolloutId: string, evaluated: number, disagreements: number): Promise<PolicyRolloutRecord | null> {
    const row = await guarded(() =>
      this.context.db
        .updateTable("policy_rollouts")
        .set({ evaluated: sql<number>`evaluated + ${evaluated}`, disagreements: sql<number>`disagreements + ${disagreements}` })
        .where("tenant_id", "=", this.tenantId)
        .where("rollout_id", "=", rolloutId)
        .where("status", "=", "RUNNING")
        .returningAll()
        .executeTakeFirst(),
    );
    return row === undefined ? null : this.toRecord(row);
  }

  private columns(record: PolicyRolloutRecord) {
    return {
      policy_id: record.policyId,
      candidate_version: record.candidateVersion,
      baseline_version: record.baselineVersion,
      mode: record.mode,
      percent: record.percent,
      principals: this.codec.writeJson(record.principals),
      threshold_ppm: Math.round(record.threshold * PPM),
      min_samples: record.minSamples,
      ends_at: record.endsAt,
      status: record.status,
      approval_request_id: record.approvalRequestId,
      started_by: record.startedBy,
      created_at: record.createdAt,
      started_at: record.startedAt,
      ended_at: record.endedAt,
      ended_by: record.endedBy,
      end_reason: record.endReason,
    };
  }

  private toRecord(row: Selectable<PolicyRolloutsTable>): PolicyRolloutRecord {
    return {
      tenantId: row.tenant_id,
      rolloutId: row.rollout_id,
      policyId: row.policy_id,
      candidateVersion: Number(row.candidate_version),
      baselineVersion: Number(row.baseline_version),
      mode: row.mode,
      percent: Number(row.percent),
      principals: this.codec.readJson<string[]>(row.principals),
      threshold: Number(row.threshold_ppm) / PPM,
      minSamples: Number(row.min_samples),
      endsAt: Number(row.ends_at),
      evaluated: Number(row.evaluated),
      disagreements: Number(row.disagreements),
      status: row.status,
      approvalRequestId: row.approval_request_id,
      startedBy: row.started_by,
      createdAt: Number(row.created_at),
      startedAt: Number(row.started_at),
      endedAt: Number(row.ended_at),
      endedBy: row.ended_by,
      endReason: row.end_reason,
      revision: Number(row.revision),
    };
  }
}
