/**
 * resolve-session
 * - the session must exist, be live, and belong to the caller's principal and tenant;
 * - otherwise SESSION_NOT_FOUND — the same answer for another tenant's session as for none;
 * - the session's tenant is the call's tenant, for good;
 * - the call is tracked on the session so DestroySession(force) can abort it.
 */
import type { Step } from "../governed-call.ts";

export const resolveSession: Step = {
  name: "resolve-session",
  async run(call, deps) {
    call.session = await deps.sessions.resolve(call.security, call.origin, call.request.sessionId);
    call.cleanups.push(deps.sessions.track(call.session.sessionId, call.invocationId, call.abort));
  },
};
