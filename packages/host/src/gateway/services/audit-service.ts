import type { HandlerContext } from "@connectrpc/connect";
import type { ListDeadLettersRequest, QueryEventsRequest, ReplayDeadLettersRequest } from "@aesp/proto/audit";
import { EnterpriseError, requirePermission } from "@aesp/core";
import type { SecurityContext } from "@aesp/core";
import { callerOf, originOf } from "../context.ts";
import { auditEventToWire, msFromWire } from "../mappers.ts";
import type { GatewayDeps } from "./deps.ts";
import { assertOwnTenant } from "./tenant-guard.ts";

/** Dead letters hold events of every tenant: only a platform administrator may see or replay them. */
function requirePlatformAdmin(deps: GatewayDeps, caller: SecurityContext): void {
  if (caller.tenantId !== deps.platformTenantId || !caller.roles.includes("platform-admin")) {
    throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { required_role: "platform-admin" } });
  }
}

/** A page size from the wire: 0 means 100, at most 1000. */
function pageLimit(limit: number): number {
  return Math.min(limit === 0 ? 100 : limit, 1000);
}

/** EnterpriseAuditService: tenant-confined reads of the audit log; platform-wide SIEM dead letters. */
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
    async listDeadLetters(req: ListDeadLettersRequest, ctx: HandlerContext) {
      requirePlatformAdmin(deps, callerOf(ctx));
      const limit = pageLimit(req.limit);
      const destination = req.destination === "" ? undefined : req.destination;
      const letters = await deps.store.platform.deadLetters.list({
        limit,
        ...(destination === undefined ? {} : { destination }),
        ...(req.cursor === "" ? {} : { afterId: req.cursor }),
      });
      return {
        deadLetters: letters.map((letter) => ({
          deadLetterId: letter.deadLetterId,
          destination: letter.destination,
          eventCount: letter.eventCount,
          firstSeq: BigInt(letter.firstSeq),
          lastSeq: BigInt(letter.lastSeq),
          reason: letter.reason,
          attempts: letter.attempts,
          createdAt: BigInt(letter.createdAt),
        })),
        nextCursor: letters.length === limit ? (letters.at(-1)?.deadLetterId ?? "") : "",
        total: BigInt(await deps.store.platform.deadLetters.count(destination)),
      };
    },
    async replayDeadLetters(req: ReplayDeadLettersRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      requirePlatformAdmin(deps, caller);
      if (req.deadLetterIds.length > 1000) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "dead_letter_ids" } });
      const outcome = await deps.siem.replay({
        limit: req.deadLetterIds.length > 0 ? req.deadLetterIds.length : pageLimit(req.limit),
        ...(req.destination === "" ? {} : { destination: req.destination }),
        deadLetterIds: [...req.deadLetterIds],
      });
      await deps.audit.record({
        eventType: "siem.dead_letters_replayed",
        tenantId: caller.tenantId,
        principalId: caller.principalId,
        resource: `siem:${req.destination === "" ? "*" : req.destination}`,
        action: "replay",
        outcome: outcome.failed > 0 && outcome.replayed === 0 ? "FAILURE" : "SUCCESS",
        origin: originOf(ctx),
        metadata: { replayed: String(outcome.replayed), failed: String(outcome.failed) },
      });
      return { replayed: outcome.replayed, failed: outcome.failed, firstFailure: outcome.firstFailure, remaining: BigInt(await deps.store.platform.deadLetters.count()) };
    },
  };
}
