/** Audit reads restricted to one tenant's events. */
import type { TenantAuditReader } from "@aesp/core";
import type { AuditQuery, AuditRecord } from "@aesp/core";
import { toAuditRecord } from "../audit-rows.ts";
import { guarded } from "../errors.ts";
import { pageLimit } from "../paging.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link TenantAuditReader} over `audit_events`, bound to one tenant. */
export class KyselyTenantAuditReader extends TenantScopedStore implements TenantAuditReader {
  /**
   * The tenant's events matching every given field, ascending by seq.
   * Time bounds are half-open: `fromMs <= timestampMs < toMs`. An empty
   * `eventTypes` means any type. Page with `afterSeq` = the last seq seen.
   */
  async query(query: AuditQuery): Promise<AuditRecord[]> {
    const rows = await guarded(() => {
      let select = this.context.db.selectFrom("audit_events").selectAll().where("tenant_id", "=", this.tenantId);
      if (query.fromMs !== undefined) select = select.where("timestamp_ms", ">=", query.fromMs);
      if (query.toMs !== undefined) select = select.where("timestamp_ms", "<", query.toMs);
      if (query.eventTypes !== undefined && query.eventTypes.length > 0) select = select.where("event_type", "in", query.eventTypes);
      if (query.principalId !== undefined) select = select.where("principal_id", "=", query.principalId);
      if (query.correlationId !== undefined) select = select.where("correlation_id", "=", query.correlationId);
      if (query.afterSeq !== undefined) select = select.where("seq", ">", query.afterSeq);
      return select.orderBy("seq").limit(pageLimit(query.limit)).execute();
    });
    return rows.map((row) => toAuditRecord(row, this.codec));
  }
}
