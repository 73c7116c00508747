/**
 * load-contract
 * - only a servable (ACTIVE or DEPRECATED) contract of the session's tenant can be called;
 *   anything else is CONTRACT_NOT_FOUND;
 * - the contract comes from the tenant's in-memory snapshot: no storage read;
 * - streaming and unary calls must match the contract's `supports_streaming`.
 */
import { EnterpriseError } from "../../errors.ts";
import { findServableContract } from "../../tenancy/tenant-snapshot.ts";
import type { Step } from "../governed-call.ts";

export const loadContract: Step = {
  name: "load-contract",
  async run(call, deps) {
    const snapshot = await deps.tenants.activeSnapshot(call.security.tenantId);
    call.snapshot = snapshot;
    const contract = findServableContract(snapshot, call.request.name, call.request.contractVersion);
    if (contract === null) {
      throw new EnterpriseError("CONTRACT_NOT_FOUND", { details: { contract: call.request.name, version: call.request.contractVersion } });
    }
    const streaming = contract.record.definition.supportsStreaming;
    if (streaming !== call.request.stream) {
      throw new EnterpriseError("INVALID_ARGUMENT", {
        message: streaming ? "This contract streams its results: call InvokeToolStream." : "This contract does not stream: call InvokeTool.",
        details: { contract: contract.record.contractId },
      });
    }
    call.contract = contract;
  },
};
