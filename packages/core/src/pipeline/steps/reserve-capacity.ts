/**
 * reserve-capacity
 * - a session and a tenant each have a bound on calls in flight on this Host;
 *   beyond it the call is refused with QUOTA_EXCEEDED and retry advice, never queued unbounded;
 * - the reservation is released when the call ends, however it ends.
 */
import { EnterpriseError } from "../../errors.ts";
import type { Step } from "../governed-call.ts";
import { required } from "./required.ts";

export const reserveCapacity: Step = {
  name: "reserve-capacity",
  async run(call, deps) {
    const session = required(call.session, "session");
    const tenantId = call.security.tenantId;
    // This call is already tracked on the session, hence `>`.
    if (deps.sessions.inFlight(session.sessionId) > deps.options.maxInFlightPerSession) {
      throw new EnterpriseError("QUOTA_EXCEEDED", { details: { limit: "invocation.max_in_flight_per_session", value: String(deps.options.maxInFlightPerSession) } });
    }
    const tenantCount = deps.tenantInFlight.get(tenantId) ?? 0;
    if (tenantCount >= deps.options.maxInFlightPerTenant) {
      throw new EnterpriseError("QUOTA_EXCEEDED", { details: { limit: "invocation.max_in_flight_per_tenant", value: String(deps.options.maxInFlightPerTenant) } });
    }
    deps.tenantInFlight.set(tenantId, tenantCount + 1);
    call.cleanups.push(() => {
      const count = (deps.tenantInFlight.get(tenantId) ?? 1) - 1;
      if (count <= 0) deps.tenantInFlight.delete(tenantId);
      else deps.tenantInFlight.set(tenantId, count);
    });
  },
};
