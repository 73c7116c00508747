/**
 * pick-runtime
 * - only runtimes of the call's tenant that were admitted for this exact contract version
 *   are candidates;
 * - the least outstanding healthy runtime with a closed circuit wins;
 * - none available: UNAVAILABLE with retry advice.
 */
import type { Step } from "../governed-call.ts";
import { required } from "./required.ts";

export const pickRuntime: Step = {
  name: "pick-runtime",
  async run(call, deps) {
    const contract = required(call.contract, "contract");
    call.runtime = deps.runtimes.pick(call.security.tenantId, contract.record.contractId);
  },
};
