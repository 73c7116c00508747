/**
 * validate-arguments
 * - arguments are checked against the Host's own schema of the contract version, compiled
 *   once; a runtime's view of the schema is never consulted;
 * - arguments that fail never reach a runtime: PARAMETER_VALIDATION_FAILED with the issues.
 */
import { EnterpriseError } from "../../errors.ts";
import type { Step } from "../governed-call.ts";
import { required } from "./required.ts";

export const validateArguments: Step = {
  name: "validate-arguments",
  async run(call) {
    const contract = required(call.contract, "contract");
    const issues = contract.compiled.validateArguments(call.request.args);
    if (issues.length > 0) {
      throw new EnterpriseError("PARAMETER_VALIDATION_FAILED", {
        details: {
          contract: contract.record.contractId,
          ...Object.fromEntries(issues.slice(0, 20).map((issue, i) => [`validation_error_${i}`, `${issue.path || "/"}: ${issue.message}`])),
        },
      });
    }
  },
};
