/**
 * check-access (RBAC and clearance)
 * - deny by default: the caller needs `tools:invoke`;
 * - at least one of the contract's `required_roles` (inheritance counts) when any are listed;
 * - every one of its `required_permissions`;
 * - a contract classified above the caller's clearance is refused.
 */
import { EnterpriseError } from "../../errors.ts";
import { checkContractAccess, clearanceAllows } from "../../rbac/index.ts";
import type { Step } from "../governed-call.ts";
import { required } from "./required.ts";

export const checkAccess: Step = {
  name: "check-access",
  async run(call) {
    const contract = required(call.contract, "contract");
    const snapshot = required(call.snapshot, "snapshot");
    const definition = contract.record.definition;
    const access = checkContractAccess({
      principalRoles: call.security.roles,
      principalPermissions: call.security.permissions,
      graph: snapshot.roles,
      contract: { requiredRoles: definition.requiredRoles, requiredPermissions: definition.requiredPermissions },
    });
    if (!access.allowed) {
      throw new EnterpriseError("AUTHORIZATION_DENIED", {
        details: {
          contract: contract.record.contractId,
          reason: access.reason,
          ...(access.missingRoles.length > 0 ? { required_roles: access.missingRoles.join(",") } : {}),
          ...(access.missingPermissions.length > 0 ? { required_permissions: access.missingPermissions.join(",") } : {}),
        },
      });
    }
    if (!clearanceAllows(call.security.clearance, definition.securityClassification)) {
      throw new EnterpriseError("SECURITY_CLEARANCE_INSUFFICIENT", {
        details: { contract: contract.record.contractId, classification: definition.securityClassification },
      });
    }
  },
};
