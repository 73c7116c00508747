/** Which records a destination receives. */
import type { AuditRecord } from "@aesp/core";
import type { AuditSeverity } from "@aesp/core/audit";
import { auditSeverityOf } from "./syslog-format.ts";

/** A destination's filter; an empty list or value means "all". */
export interface DestinationFilter {
  /** Exact types or prefixes ending in `*` (e.g. `authz.*`, `break_glass.*`). */
  readonly eventTypes: readonly string[];
  readonly minSeverity: AuditSeverity;
  /** Only this tenant's events (empty: every tenant and platform events). */
  readonly tenantId: string;
}

const RANK: Record<AuditSeverity, number> = { info: 0, warning: 1, security: 2 };

/** Parses `a.b, c.*` into a list. */
export function parseEventTypeList(text: string): string[] {
  return text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
}

/**
 * A predicate over records for a filter.
 *
 * @returns true for records the destination should receive.
 */
export function compileFilter(filter: DestinationFilter): (record: AuditRecord) => boolean {
  const exact = new Set(filter.eventTypes.filter((t) => !t.endsWith("*")));
  const prefixes = filter.eventTypes.filter((t) => t.endsWith("*")).map((t) => t.slice(0, -1));
  const anyType = filter.eventTypes.length === 0;
  const min = RANK[filter.minSeverity];
  return (record) => {
    if (filter.tenantId !== "" && record.tenantId !== filter.tenantId) return false;
    if (RANK[auditSeverityOf(record.eventType)] < min) return false;
    return anyType || exact.has(record.eventType) || prefixes.some((p) => record.eventType.startsWith(p));
  };
}
