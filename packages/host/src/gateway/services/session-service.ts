import type { HandlerContext } from "@connectrpc/connect";
import type { CreateSessionRequest, DestroySessionRequest, GetSessionRequest } from "@aesp/proto/client";
import { callerOf, originOf } from "../context.ts";
import type { GatewayDeps } from "./deps.ts";

/** SessionService: sessions bind principal and tenant for good. */
export function sessionService(deps: GatewayDeps) {
  return {
    async createSession(req: CreateSessionRequest, ctx: HandlerContext) {
      const session = await deps.sessions.create(callerOf(ctx), originOf(ctx), { ttlSeconds: req.ttlSeconds, metadata: { ...req.metadata } });
      return { sessionId: session.sessionId, tenantId: session.tenantId, principalId: session.principalId, expiresAtUnixMs: BigInt(session.expiresAt) };
    },
    async getSession(req: GetSessionRequest, ctx: HandlerContext) {
      const session = await deps.sessions.resolve(callerOf(ctx), originOf(ctx), req.sessionId);
      return {
        sessionId: session.sessionId,
        tenantId: session.tenantId,
        principalId: session.principalId,
        createdAtUnixMs: BigInt(session.createdAt),
        expiresAtUnixMs: BigInt(session.expiresAt),
        inFlight: deps.sessions.inFlight(session.sessionId),
      };
    },
    async destroySession(req: DestroySessionRequest, ctx: HandlerContext) {
      const { aborted } = await deps.sessions.destroy(callerOf(ctx), originOf(ctx), req.sessionId, req.force);
      return { destroyed: true, abortedInvocations: aborted };
    },
  };
}
