import type { HandlerContext } from "@connectrpc/connect";
import type { ActivateBreakGlassRequest, EndBreakGlassRequest, ListBreakGlassGrantsRequest, ReviewBreakGlassRequest } from "@aesp/proto/break_glass";
import { callerOf, originOf } from "../context.ts";
import { breakGlassGrantToWire } from "../mappers.ts";
import type { GatewayDeps } from "./deps.ts";
import { assertOwnTenant } from "./tenant-guard.ts";

/** BreakGlassService (invented): emergency override grants of the caller's tenant. */
export function breakGlassService(deps: GatewayDeps) {
  return {
    async activateBreakGlass(req: ActivateBreakGlassRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      // Out-of-range values stay out of range (never wrap into a valid duration).
      const durationSeconds = req.durationSeconds > 1_000_000_000n || req.durationSeconds < 0n ? -1 : Number(req.durationSeconds);
      const grant = await deps.breakGlass.activate(callerOf(ctx), originOf(ctx), { justification: req.justification, durationSeconds, contracts: req.contracts });
      return { grant: breakGlassGrantToWire(grant) };
    },
    async endBreakGlass(req: EndBreakGlassRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      return { grant: breakGlassGrantToWire(await deps.breakGlass.end(callerOf(ctx), originOf(ctx), req.grantId, req.reason)) };
    },
    async reviewBreakGlass(req: ReviewBreakGlassRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      const grant = await deps.breakGlass.review(callerOf(ctx), originOf(ctx), req.grantId, {
        // The core refuses anything but the two outcomes, after checking the caller may review at all.
        outcome: req.outcome.toUpperCase() as "JUSTIFIED" | "UNJUSTIFIED",
        comments: req.comments,
      });
      return { grant: breakGlassGrantToWire(grant) };
    },
    async listBreakGlassGrants(req: ListBreakGlassGrantsRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      const grants = await deps.breakGlass.list(callerOf(ctx), { pendingReview: req.pendingReview, ...(req.principalId === "" ? {} : { principalId: req.principalId }) });
      return { grants: grants.map(breakGlassGrantToWire) };
    },
  };
}
