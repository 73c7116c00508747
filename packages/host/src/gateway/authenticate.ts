/**
 * authenticate (the gateway's edge, for every RPC)
 * - public RPCs (host info, bootstrap redemption, API key exchange, runtime enrolment) carry
 *   their own credential in the request and skip this step;
 * - every other RPC needs `authorization: Bearer <access token>`; a missing, malformed,
 *   forged or expired token is refused (AUTHENTICATION_FAILED / TOKEN_EXPIRED) and audited;
 * - each principal is rate limited after authentication (RATE_LIMIT_EXCEEDED with retry advice);
 * - the resulting SecurityContext is the only identity handlers ever see.
 */
import type { Interceptor } from "@connectrpc/connect";
import { EnterpriseError, isErrorCode } from "@aesp/core";
import type { AuditRecorder, Authenticator, Clock } from "@aesp/core";
import { originKey, securityKey } from "./context.ts";
import { toConnectError } from "./errors.ts";
import type { FixedWindowLimiter } from "./rate-limiter.ts";

const bearerPattern = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/** Creates the interceptor that authenticates and rate-limits every protected RPC. */
export function authenticationInterceptor(deps: {
  authenticator: Authenticator;
  audit: AuditRecorder;
  clock: Clock;
  limiter: FixedWindowLimiter;
  publicMethods: ReadonlySet<string>;
}): Interceptor {
  return (next) => async (req) => {
    const origin = req.contextValues.get(originKey);
    try {
      const methodName = `${req.service.typeName}/${req.method.name}`;
      if (!deps.publicMethods.has(methodName)) {
        const match = bearerPattern.exec(req.header.get("authorization") ?? "");
        if (match === null) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "missing_bearer_token" } });
        let security;
        try {
          security = await deps.authenticator.authenticate(match[1] as string);
        } catch (err) {
          if (isErrorCode(err, "AUTHENTICATION_FAILED", "TOKEN_EXPIRED", "TENANT_SUSPENDED")) {
            await deps.audit.record({
              eventType: "authn.failed",
              tenantId: "",
              action: methodName,
              outcome: "DENIED",
              origin,
              metadata: { method: "bearer_token", reason: err.details["reason"] ?? err.code.toLowerCase() },
            });
          }
          throw err;
        }
        const waitMs = deps.limiter.hit(`${security.tenantId}\u0000${security.principalId}`, deps.clock.now());
        if (waitMs > 0) throw new EnterpriseError("RATE_LIMIT_EXCEEDED", { retryAfterMs: waitMs, tenantId: security.tenantId, principalId: security.principalId });
        req.contextValues.set(securityKey, security);
      }
      return await next(req);
    } catch (err) {
      throw toConnectError(err, origin.correlationId);
    }
  };
}
