import type { HandlerContext } from "@connectrpc/connect";
import type { AdjudicateApprovalRequest, GetApprovalHistoryRequest, ListPendingApprovalsRequest, RequestApprovalRequest } from "@aesp/proto/governance";
import { EnterpriseError } from "@aesp/core";
import type { ArtifactType } from "@aesp/core";
import { callerOf, originOf } from "../context.ts";
import { approvalToWire, msFromWire } from "../mappers.ts";
import type { GatewayDeps } from "./deps.ts";
import { assertOwnTenant } from "./tenant-guard.ts";

/**
 * AESP Appendix A names (`TOOL_CONTRACT_V1`) and the short ones are both accepted. TOOL_CALL
 * (calls held by REQUIRE_APPROVAL policies) parses too; the core refuses to open one by request.
 */
function artifactTypeFromWire(value: string): ArtifactType {
  const normalized = value.toUpperCase().replace(/_V1$/, "");
  if (normalized === "TOOL_CONTRACT" || normalized === "POLICY" || normalized === "TOOL_CALL") return normalized;
  throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "artifact_type", expected: "TOOL_CONTRACT|POLICY|TOOL_CALL" } });
}

/** EnterpriseGovernanceService: approval requests and their adjudication. */
export function governanceService(deps: GatewayDeps) {
  return {
    async requestApproval(req: RequestApprovalRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      if (req.requesterId !== "" && req.requesterId !== caller.principalId) {
        throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "requester_id", reason: "must be the caller (or empty)" } });
      }
      const record = await deps.governance.requestApproval(caller, originOf(ctx), {
        artifactType: artifactTypeFromWire(req.artifactType),
        artifactId: req.artifactId,
        justification: req.justification,
        requiredApprovers: req.requiredApprovers,
        expiresAt: msFromWire(req.expiresAt),
        metadata: { ...req.metadata },
      });
      return {
        responseType: {
          case: "successDetails" as const,
          value: { approvalRequestId: record.approvalRequestId, status: record.status, pendingApprovers: record.requiredApprovers, createdAt: BigInt(record.createdAt) },
        },
      };
    },
    async adjudicateApproval(req: AdjudicateApprovalRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      if (req.approverId !== "" && req.approverId !== caller.principalId) {
        throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "approver_id", reason: "must be the caller (or empty)" } });
      }
      const decision = req.decision.toUpperCase();
      if (decision !== "APPROVE" && decision !== "REJECT") throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "decision", expected: "APPROVE|REJECT" } });
      const record = await deps.governance.adjudicate(caller, originOf(ctx), { approvalRequestId: req.approvalRequestId, decision, comments: req.comments });
      return { responseType: { case: "successDetails" as const, value: { finalStatus: record.status, workflowComplete: true, remainingApprovers: [] } } };
    },
    async listPendingApprovals(req: ListPendingApprovalsRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      const limit = req.limit === 0 ? 100 : req.limit;
      const records = await deps.governance.list(caller, {
        status: "PENDING",
        limit,
        ...(req.artifactType === "" ? {} : { artifactType: artifactTypeFromWire(req.artifactType) }),
        ...(req.cursor === "" ? {} : { cursor: req.cursor }),
      });
      return { approvals: records.map(approvalToWire), nextCursor: records.length === limit ? (records.at(-1)?.approvalRequestId ?? "") : "" };
    },
    async getApprovalHistory(req: GetApprovalHistoryRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      await assertOwnTenant(deps, ctx, req.tenantId);
      const limit = req.limit === 0 ? 100 : req.limit;
      const records = (
        await deps.governance.list(caller, {
          limit,
          ...(req.artifactType === "" ? {} : { artifactType: artifactTypeFromWire(req.artifactType) }),
          ...(req.cursor === "" ? {} : { cursor: req.cursor }),
        })
      ).filter((r) => (req.artifactId === "" || r.artifactId === req.artifactId) && (req.approvalRequestId === "" || r.approvalRequestId === req.approvalRequestId));
      return { approvals: records.map(approvalToWire), nextCursor: "" };
    },
  };
}
