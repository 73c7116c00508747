/**
 * Audit search and statistics over `audit_events`, shared by the tenant reader (bound to one
 * tenant) and the platform-wide reader (platform auditors). Ascending by seq; the cursor is the
 * last seq seen, which stays stable under concurrent appends because seq order is commit order
 * (appends hold the exclusive append lock until they commit).
 */
import { sql } from "kysely";
import type { SelectQueryBuilder } from "kysely";
import { EnterpriseError } from "@aesp/core";
import type { AuditQuery, AuditRecord, AuditStatisticsRow } from "@aesp/core";
import { toAuditRecord } from "./audit-rows.ts";
import type { StoreContext } from "./context.ts";
import { guarded } from "./errors.ts";
import { pageLimit } from "./paging.ts";
import type { Database } from "./schema.ts";

/** Metadata keys a filter may name: plain identifiers, so they never need quoting in a JSON path. */
const METADATA_KEY = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Events matching every field of `query`; `tenantId` null means every tenant.
 *
 * @throws EnterpriseError INVALID_ARGUMENT on a malformed metadata key.
 */
export async function queryAuditEvents(context: StoreContext, tenantId: string | null, query: AuditQuery): Promise<AuditRecord[]> {
  const metadata = Object.entries(query.metadata ?? {});
  for (const [key] of metadata) {
    if (!METADATA_KEY.test(key)) throw new EnterpriseError("INVALID_ARGUMENT", { message: "A metadata filter key is letters, digits and _ . : - (at most 64).", details: { field: "metadata" } });
  }
  const rows = await guarded(() => {
    let select = context.db.selectFrom("audit_events").selectAll();
    if (tenantId !== null) select = select.where("tenant_id", "=", tenantId);
    select = applyFilters(select, query);
    for (const [key, value] of metadata) {
      const extracted = context.profile.kind === "postgres" ? sql<string>`(metadata ->> ${key})` : sql<string>`json_extract(metadata, ${`$."${key}"`})`;
      select = select.where(extracted, "=", value);
    }
    if (query.afterSeq !== undefined) select = select.where("seq", ">", query.afterSeq);
    return select.orderBy("seq").limit(pageLimit(query.limit)).execute();
  });
  return rows.map((row) => toAuditRecord(row, context.profile.codec));
}

/** Counts by type, outcome and UTC day of one tenant's events in `[fromMs, toMs)`. */
export async function auditStatistics(context: StoreContext, tenantId: string, fromMs: number, toMs: number): Promise<AuditStatisticsRow[]> {
  const rows = await guarded(() =>
    context.db
      .selectFrom("audit_events")
      .select((eb) => [
        "event_type",
        "outcome",
        sql<number>`timestamp_ms / 86400000`.as("day"),
        eb.fn.countAll<number>().as("n"),
        eb.fn.min("timestamp_ms").as("first_ms"),
        eb.fn.max("timestamp_ms").as("last_ms"),
      ])
      .where("tenant_id", "=", tenantId)
      .where("timestamp_ms", ">=", fromMs)
      .where("timestamp_ms", "<", toMs)
      .groupBy(["event_type", "outcome", sql`timestamp_ms / 86400000`])
      .execute(),
  );
  return rows.map((row) => ({
    eventType: row.event_type,
    outcome: row.outcome,
    day: Number(row.day),
    count: Number(row.n),
    firstMs: Number(row.first_ms),
    lastMs: Number(row.last_ms),
  }));
}

function applyFilters<O>(select: SelectQueryBuilder<Database, "audit_events", O>, query: AuditQuery): SelectQueryBuilder<Database, "audit_events", O> {
  let s = select;
  if (query.fromMs !== undefined) s = s.where("timestamp_ms", ">=", query.fromMs);
  if (query.toMs !== undefined) s = s.where("timestamp_ms", "<", query.toMs);
  if (query.eventTypes !== undefined && query.eventTypes.length > 0) s = s.where("event_type", "in", query.eventTypes);
  if (query.principalId !== undefined) s = s.where("principal_id", "=", query.principalId);
  if (query.correlationId !== undefined) s = s.where("correlation_id", "=", query.correlationId);
  if (query.outcome !== undefined) s = s.where("outcome", "=", query.outcome);
  if (query.resource !== undefined) s = s.where("resource", "=", query.resource);
  if (query.sessionId !== undefined) s = s.where("session_id", "=", query.sessionId);
  if (query.action !== undefined) s = s.where("action", "=", query.action);
  return s;
}
