import type { HandlerContext } from "@connectrpc/connect";
import type { DeprecateContractRequest, GetContractRequest, ListContractsRequest, RetireContractRequest, SubmitContractRequest } from "@aesp/proto/contract";
import { EnterpriseError } from "@aesp/core";
import type { ArtifactStatus } from "@aesp/core";
import { callerOf, originOf } from "../context.ts";
import { contractDefinitionFromWire, contractToWire } from "../mappers.ts";
import type { GatewayDeps } from "./deps.ts";

const statuses: readonly ArtifactStatus[] = ["DRAFT", "PENDING_APPROVAL", "ACTIVE", "DEPRECATED", "RETIRED", "REJECTED"];

/** ContractService: the Host-owned contract registry. */
export function contractService(deps: GatewayDeps) {
  return {
    async submitContract(req: SubmitContractRequest, ctx: HandlerContext) {
      return { contract: contractToWire(await deps.contracts.submit(callerOf(ctx), originOf(ctx), contractDefinitionFromWire(req.contract))) };
    },
    async getContract(req: GetContractRequest, ctx: HandlerContext) {
      return { contract: contractToWire(await deps.contracts.get(callerOf(ctx), req.name, req.contractVersion)) };
    },
    async listContracts(req: ListContractsRequest, ctx: HandlerContext) {
      const status = req.status === "" ? undefined : (req.status.toUpperCase() as ArtifactStatus);
      if (status !== undefined && !statuses.includes(status)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "status", expected: statuses.join("|") } });
      const limit = req.limit === 0 ? 100 : req.limit;
      const records = await deps.contracts.list(callerOf(ctx), {
        limit,
        ...(req.name === "" ? {} : { name: req.name }),
        ...(status === undefined ? {} : { status }),
        ...(req.cursor === "" ? {} : { cursor: req.cursor }),
      });
      return { contracts: records.map(contractToWire), nextCursor: records.length === limit ? (records.at(-1)?.contractId ?? "") : "" };
    },
    async deprecateContract(req: DeprecateContractRequest, ctx: HandlerContext) {
      return { contract: contractToWire(await deps.contracts.transition(callerOf(ctx), originOf(ctx), req.name, req.contractVersion, "DEPRECATED", req.reason)) };
    },
    async retireContract(req: RetireContractRequest, ctx: HandlerContext) {
      return { contract: contractToWire(await deps.contracts.transition(callerOf(ctx), originOf(ctx), req.name, req.contractVersion, "RETIRED", req.reason)) };
    },
  };
}
