import { Option } from "commander";
import type { Command } from "commander";
import { ApprovalDecisionDetailsSchema, ApprovalSchema } from "@aesp/proto/governance";
import type { Approval } from "@aesp/proto/governance";
import { formatTime } from "../context.ts";
import type { CommandKit } from "../program.ts";
import { positiveInteger } from "../program.ts";
import { usageError } from "../render-error.ts";
import type { Column } from "../table.ts";
import { pageSize } from "./tenants.ts";

const approvalColumns: readonly Column<Approval>[] = [
  { header: "ID", value: (approval) => approval.approvalRequestId },
  { header: "TYPE", value: (approval) => approval.artifactType },
  { header: "ARTIFACT", value: (approval) => approval.artifactId },
  { header: "STATUS", value: (approval) => approval.status },
  { header: "REQUESTER", value: (approval) => approval.requesterId },
  { header: "CREATED", value: (approval) => formatTime(approval.createdAt) },
  { header: "JUSTIFICATION", value: (approval) => approval.justification, maxWidth: 40 },
];

/** `aesp approval list|approve|reject`. */
export function registerApprovalCommands(program: Command, kit: CommandKit): void {
  const approval = program.command("approval").description("Review governance requests: artifacts become ACTIVE only when someone other than the requester approves.");

  const list = approval
    .command("list")
    .description("List approval requests (pending by default).")
    .addOption(new Option("--type <artifact type>", "only this artifact type").choices(["TOOL_CONTRACT", "POLICY", "TOOL_CALL"]))
    .option("--all", "every request with its outcome, not only pending ones")
    .option("--limit <n>", "at most this many", positiveInteger("--limit"))
    .action(
      kit.action(async (ctx, options: { type?: string; all?: boolean; limit?: number }) => {
        const client = await ctx.client();
        const rows: Approval[] = [];
        let cursor = "";
        do {
          const request = { artifactType: options.type ?? "", cursor, limit: pageSize(options.limit, rows.length) };
          const page = options.all === true ? await client.services.governance.getApprovalHistory(request) : await client.services.governance.listPendingApprovals(request);
          rows.push(...page.approvals);
          cursor = page.nextCursor;
        } while (cursor !== "" && (options.limit === undefined || rows.length < options.limit));
        ctx.table(ApprovalSchema, rows.slice(0, options.limit), approvalColumns);
      }),
    );
  kit.example(list, "aesp approval list", "aesp approval list --type TOOL_CALL", "aesp approval list --all --type TOOL_CONTRACT --json");

  for (const [verb, decision] of [
    ["approve", "APPROVE"],
    ["reject", "REJECT"],
  ] as const) {
    const command = approval
      .command(verb)
      .description(verb === "approve" ? "Approve a request: the artifact becomes ACTIVE when its workflow completes; a held call (TOOL_CALL) goes on." : "Reject a request: the artifact becomes REJECTED; a held call fails with APPROVAL_REJECTED.")
      .argument("<approval-request-id>", "from aesp approval list")
      .option("--comment <text>", "recorded with the decision", "")
      .action(
        kit.action(async (ctx, approvalRequestId: string, options: { comment: string }) => {
          const client = await ctx.client();
          const response = await client.services.governance.adjudicateApproval({ approvalRequestId, decision, comments: options.comment });
          if (response.responseType.case !== "successDetails") throw usageError("The Host returned no decision.");
          const details = response.responseType.value;
          ctx.message(ApprovalDecisionDetailsSchema, details, () =>
            [
              `${approvalRequestId}: ${details.finalStatus}${details.workflowComplete ? "" : " (workflow continues)"}`,
              details.remainingApprovers.length > 0 ? `  still waiting for: ${details.remainingApprovers.join(", ")}` : "",
            ]
              .filter((line) => line !== "")
              .join("\n"),
          );
        }),
      );
    kit.example(command, `aesp approval ${verb} apr_01J9ZK... --comment "${verb === "approve" ? "reviewed the schema" : "needs a narrower schema"}"`);
  }
}
