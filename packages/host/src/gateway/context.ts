import { createContextKey } from "@connectrpc/connect";
import type { HandlerContext } from "@connectrpc/connect";
import { EnterpriseError } from "@aesp/core";
import type { RequestOrigin, SecurityContext } from "@aesp/core";

/** Origin of the request (address, user agent, correlation id), set for every RPC. */
export const originKey = createContextKey<RequestOrigin>({ sourceIp: "", userAgent: "", correlationId: "" }, { description: "request origin" });

/** The authenticated caller, set by the authentication interceptor on protected RPCs. */
export const securityKey = createContextKey<SecurityContext | null>(null, { description: "security context" });

/** The request's origin. */
export function originOf(ctx: HandlerContext): RequestOrigin {
  return ctx.values.get(originKey);
}

/**
 * The authenticated caller.
 * @throws EnterpriseError AUTHENTICATION_FAILED if the RPC was (wrongly) registered as public.
 */
export function callerOf(ctx: HandlerContext): SecurityContext {
  const security = ctx.values.get(securityKey);
  if (security === null) throw new EnterpriseError("AUTHENTICATION_FAILED");
  return security;
}
