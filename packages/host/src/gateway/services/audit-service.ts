import type { HandlerContext } from "@connectrpc/connect";
import type { QueryEventsRequest } from "@aesp/proto/audit";
import { EnterpriseError, requirePermission } from "@aesp/core";
import { callerOf } from "../context.ts";
import { auditEventToWire, msFromWire } from "../mappers.ts";
import type { GatewayDeps } from "./deps.ts";
import { assertOwnTenant } from "./tenant-guard.ts";

/** EnterpriseAuditService: tenant-confined reads of the audit log. */
export function auditService(deps: GatewayDeps) {
  return {
    async queryEvents(req: QueryEventsRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      requirePermission(caller, "audit:read");
      await assertOwnTenant(deps, ctx, req.tenantId);
      const limit = Math.min(req.limit === 0 ? 100 : req.limit, 1000);
      const afterSeq = req.cursor === "" ? undefined : Number.parseInt(req.cursor, 10);
      if (afterSeq !== undefined && !Number.isSafeInteger(afterSeq)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "cursor" } });
      const records = await deps.store.forTenant(caller.tenantId).audit.query({
        limit,
        ...(req.startTime === 0n ? {} : { fromMs: msFromWire(req.startTime) }),
        ...(req.endTime === 0n ? {} : { toMs: msFromWire(req.endTime) }),
        ...(req.eventTypes.length === 0 ? {} : { eventTypes: [...req.eventTypes] }),
        ...(req.principalId === "" ? {} : { principalId: req.principalId }),
        ...(req.correlationId === "" ? {} : { correlationId: req.correlationId }),
        ...(afterSeq === undefined ? {} : { afterSeq }),
      });
      return { events: records.map(auditEventToWire), nextCursor: records.length === limit ? String(records.at(-1)?.seq ?? "") : "" };
    },
  };
}
