/** Audit retention rules and legal holds of one tenant. */
import type { Selectable } from "kysely";
import type { AuditLegalHoldRecord, AuditRetentionRuleRecord, AuditRetentionStore } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { AuditLegalHoldsTable } from "../schema.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link AuditRetentionStore} over `audit_retention_rules` and `audit_legal_holds`, bound to one tenant. */
export class KyselyAuditRetentionStore extends TenantScopedStore implements AuditRetentionStore {
  /** Creates or replaces the rule of `record.pattern`. @throws EnterpriseError INVALID_ARGUMENT (record of another tenant). */
  async putRule(record: AuditRetentionRuleRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.db
        .insertInto("audit_retention_rules")
        .values({ tenant_id: tenantId, pattern: record.pattern, days: record.days, updated_at: record.updatedAt, updated_by: record.updatedBy })
        .onConflict((oc) => oc.columns(["tenant_id", "pattern"]).doUpdateSet({ days: record.days, updated_at: record.updatedAt, updated_by: record.updatedBy }))
        .execute(),
    );
  }

  /** False when the tenant had no rule for the pattern. */
  async deleteRule(pattern: string): Promise<boolean> {
    const result = await guarded(() => this.context.db.deleteFrom("audit_retention_rules").where("tenant_id", "=", this.tenantId).where("pattern", "=", pattern).executeTakeFirst());
    return Number(result.numDeletedRows) > 0;
  }

  /** Every rule of the tenant, by pattern. */
  async listRules(): Promise<AuditRetentionRuleRecord[]> {
    const rows = await guarded(() => this.context.db.selectFrom("audit_retention_rules").selectAll().where("tenant_id", "=", this.tenantId).orderBy("pattern").execute());
    return rows.map((row) => ({ tenantId: row.tenant_id, pattern: row.pattern, days: Number(row.days), updatedAt: Number(row.updated_at), updatedBy: row.updated_by }));
  }

  /** @throws EnterpriseError ALREADY_EXISTS (hold id taken), INVALID_ARGUMENT (record of another tenant). */
  async placeHold(record: AuditLegalHoldRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.db
        .insertInto("audit_legal_holds")
        .values({
          tenant_id: tenantId,
          hold_id: record.holdId,
          principal_id: record.principalId,
          from_ms: record.fromMs,
          to_ms: record.toMs,
          reason: record.reason,
          placed_by: record.placedBy,
          placed_at: record.placedAt,
          released_at: record.releasedAt,
          released_by: record.releasedBy,
        })
        .execute(),
    );
  }

  /** The hold, or null when this tenant has none of that id. */
  async getHold(holdId: string): Promise<AuditLegalHoldRecord | null> {
    const row = await guarded(() => this.context.db.selectFrom("audit_legal_holds").selectAll().where("tenant_id", "=", this.tenantId).where("hold_id", "=", holdId).executeTakeFirst());
    return row === undefined ? null : toHold(row);
  }

  /** Releases an active hold; false when it does not exist here or was already released (a concurrent release wins once). */
  async releaseHold(holdId: string, at: number, by: string): Promise<boolean> {
    const result = await guarded(() =>
      this.context.db
        .updateTable("audit_legal_holds")
        .set({ released_at: at, released_by: by })
        .where("tenant_id", "=", this.tenantId)
        .where("hold_id", "=", holdId)
        .where("released_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows) > 0;
  }

  /** Holds by placement time (then id); released ones only when asked. */
  async listHolds(includeReleased: boolean): Promise<AuditLegalHoldRecord[]> {
    const rows = await guarded(() => {
      let query = this.context.db.selectFrom("audit_legal_holds").selectAll().where("tenant_id", "=", this.tenantId);
      if (!includeReleased) query = query.where("released_at", "is", null);
      return query.orderBy("placed_at").orderBy("hold_id").execute();
    });
    return rows.map(toHold);
  }
}

function toHold(row: Selectable<AuditLegalHoldsTable>): AuditLegalHoldRecord {
  return {
    tenantId: row.tenant_id,
    holdId: row.hold_id,
    principalId: row.principal_id,
    fromMs: Number(row.from_ms),
    toMs: Number(row.to_ms),
    reason: row.reason,
    placedBy: row.placed_by,
    placedAt: Number(row.placed_at),
    releasedAt: row.released_at === null ? null : Number(row.released_at),
    releasedBy: row.released_by,
  };
}
