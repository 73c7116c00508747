/** Audit reads restricted to one tenant's events. */
import type { TenantAuditReader } from "@aesp/core";
import type { AuditQuery, AuditRecord, AuditStatisticsRow } from "@aesp/core";
import { auditStatistics, queryAuditEvents } from "../audit-query.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link TenantAuditReader} over `audit_events`, bound to one tenant. */
export class KyselyTenantAuditReader extends TenantScopedStore implements TenantAuditReader {
  /**
   * The tenant's events matching every given field, ascending by seq.
   * Time bounds are half-open: `fromMs <= timestampMs < toMs`. An empty
   * `eventTypes` means any type. Page with `afterSeq` = the last seq seen.
   *
   * @throws EnterpriseError INVALID_ARGUMENT on a malformed metadata key.
   */
  async query(query: AuditQuery): Promise<AuditRecord[]> {
    return queryAuditEvents(this.context, this.tenantId, query);
  }

  /** The tenant's event counts by type, outcome and UTC day in `[fromMs, toMs)`. */
  async statistics(fromMs: number, toMs: number): Promise<AuditStatisticsRow[]> {
    return auditStatistics(this.context, this.tenantId, fromMs, toMs);
  }
}
