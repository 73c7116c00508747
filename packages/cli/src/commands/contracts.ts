import { readFile } from "node:fs/promises";
import { extname, resolve } from "node:path";
import { fromJson } from "@bufbuild/protobuf";
import type { JsonValue } from "@bufbuild/protobuf";
import { Option } from "commander";
import type { Command } from "commander";
import { EnterpriseToolContractSchema } from "@aesp/proto/enterprise";
import type { EnterpriseToolContract } from "@aesp/proto/enterprise";
import { formatTime, protoJson } from "../context.ts";
import type { CliContext } from "../context.ts";
import type { CommandKit } from "../program.ts";
import { positiveInteger } from "../program.ts";
import { usageError } from "../render-error.ts";
import { formatFields } from "../table.ts";
import type { Column } from "../table.ts";
import { pageSize } from "./tenants.ts";

const contractStatuses = ["DRAFT", "PENDING_APPROVAL", "ACTIVE", "DEPRECATED", "RETIRED", "REJECTED"];

const contractColumns: readonly Column<EnterpriseToolContract>[] = [
  { header: "NAME", value: (contract) => contract.name },
  { header: "VERSION", value: (contract) => contract.contractVersion },
  { header: "STATUS", value: (contract) => contract.approvalStatus },
  { header: "STREAM", value: (contract) => (contract.supportsStreaming ? "yes" : "") },
  { header: "CLASSIFICATION", value: (contract) => contract.securityClassification },
  { header: "RISK", value: (contract) => contract.riskAssessment },
  { header: "ROLES", value: (contract) => contract.requiredRoles.join(",") },
];

/**
 * Reads an EnterpriseToolContract from a JSON or YAML file in proto JSON (snake_case).
 * @throws AespError INVALID_ARGUMENT naming the file and the problem.
 */
export async function readContractFile(path: string): Promise<EnterpriseToolContract> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw usageError(`Cannot read ${path}.`, ["Check the path."], { path });
  }
  let document: unknown;
  try {
    if ([".yaml", ".yml"].includes(extname(path).toLowerCase())) {
      const yaml = await import("yaml");
      document = yaml.parse(text);
    } else {
      document = JSON.parse(text);
    }
  } catch (err) {
    throw usageError(`${path} is not valid ${extname(path).toLowerCase().startsWith(".y") ? "YAML" : "JSON"}: ${(err as Error).message}`, ["Fix the syntax error."], { path });
  }
  try {
    return fromJson(EnterpriseToolContractSchema, document as JsonValue);
  } catch (err) {
    throw usageError(`${path} is not an EnterpriseToolContract: ${(err as Error).message}`, [
      "Use the proto JSON field names (snake_case), e.g. name, contract_version, parameters, return_type, required_roles.",
      "See examples/contracts/text-stats.json.",
    ], { path });
  }
}

function contractDetails(ctx: CliContext, contract: EnterpriseToolContract): void {
  ctx.message(EnterpriseToolContractSchema, contract, () => {
    const json = protoJson(EnterpriseToolContractSchema, contract) as Record<string, unknown>;
    return (
      formatFields([
        ["contract", `${contract.name}@${contract.contractVersion}`],
        ["status", contract.approvalStatus],
        ["description", contract.description],
        ["streaming", contract.supportsStreaming ? "yes" : "no"],
        ["classification", contract.securityClassification],
        ["risk", contract.riskAssessment],
        ["required roles", contract.requiredRoles.join(", ")],
        ["required permissions", contract.requiredPermissions.join(", ")],
        ["compliance tags", contract.complianceTags.join(", ")],
        ["approved by", contract.approvedBy === "" ? undefined : `${contract.approvedBy} at ${formatTime(contract.approvedAt)}`],
      ]) +
      `parameters:\n${indent(JSON.stringify(json["parameters"] ?? null, null, 2))}\n` +
      `return type:\n${indent(JSON.stringify(json["return_type"] ?? null, null, 2))}`
    );
  });
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}

/** `aesp contract submit|list|show|deprecate|retire`. */
export function registerContractCommands(program: Command, kit: CommandKit): void {
  const contract = program.command("contract").description("Author and govern tool contracts (the Host is the only contract authority).");

  const submit = contract
    .command("submit")
    .description("Submit a contract version as DRAFT; with --request-approval, also ask for its approval.")
    .argument("<file>", "EnterpriseToolContract in proto JSON (snake_case), .json or .yaml")
    .option("--request-approval", "submit it for approval right away (it becomes ACTIVE once another principal approves)")
    .option("--justification <text>", "why the contract is needed (with --request-approval)", "")
    .action(
      kit.action(async (ctx, file: string, options: { requestApproval?: boolean; justification: string }) => {
        const parsed = await readContractFile(resolve(ctx.io.cwd, file));
        const client = await ctx.client();
        const stored = (await client.services.contracts.submitContract({ contract: parsed })).contract ?? parsed;
        if (options.requestApproval !== true) {
          ctx.result({ contract: protoJson(EnterpriseToolContractSchema, stored) }, () =>
            [
              `Submitted ${stored.name}@${stored.contractVersion} (${stored.approvalStatus || "DRAFT"}).`,
              `Ask for approval: aesp contract submit ... --request-approval, or request it later through the governance API.`,
            ].join("\n"),
          );
          return;
        }
        const response = await client.services.governance.requestApproval({
          artifactType: "TOOL_CONTRACT",
          artifactId: `${stored.name}@${stored.contractVersion}`,
          justification: options.justification,
        });
        const details = response.responseType.case === "successDetails" ? response.responseType.value : undefined;
        ctx.result(
          {
            contract: protoJson(EnterpriseToolContractSchema, stored),
            approval_request_id: details?.approvalRequestId ?? "",
            approval_status: details?.status ?? "",
            pending_approvers: details?.pendingApprovers ?? [],
          },
          () =>
            [
              `Submitted ${stored.name}@${stored.contractVersion} and requested its approval.`,
              `  approval request: ${details?.approvalRequestId ?? ""} (${details?.status ?? ""})`,
              details !== undefined && details.pendingApprovers.length > 0 ? `  waiting for:      ${details.pendingApprovers.join(", ")}` : "",
              `Another principal approves it with: aesp approval approve ${details?.approvalRequestId ?? "<id>"}`,
            ]
              .filter((line) => line !== "")
              .join("\n"),
        );
      }),
    );
  kit.example(submit, "aesp contract submit examples/contracts/text-stats.json --request-approval --justification \"text statistics for agents\"");

  const list = contract
    .command("list")
    .description("List contract versions of your tenant.")
    .option("--name <name>", "only this contract")
    .addOption(new Option("--status <status>", "only versions in this status").choices(contractStatuses))
    .option("--limit <n>", "at most this many", positiveInteger("--limit"))
    .action(
      kit.action(async (ctx, options: { name?: string; status?: string; limit?: number }) => {
        const client = await ctx.client();
        const rows: EnterpriseToolContract[] = [];
        let cursor = "";
        do {
          const page = await client.services.contracts.listContracts({ name: options.name ?? "", status: options.status ?? "", cursor, limit: pageSize(options.limit, rows.length) });
          rows.push(...page.contracts);
          cursor = page.nextCursor;
        } while (cursor !== "" && (options.limit === undefined || rows.length < options.limit));
        ctx.table(EnterpriseToolContractSchema, rows.slice(0, options.limit), contractColumns);
      }),
    );
  kit.example(list, "aesp contract list", "aesp contract list --status PENDING_APPROVAL");

  const show = contract
    .command("show")
    .description("Show one contract version with its schemas (default: the newest ACTIVE version).")
    .argument("<name>", "contract name")
    .argument("[version]", "exact version")
    .action(
      kit.action(async (ctx, name: string, version: string | undefined) => {
        const client = await ctx.client();
        const response = await client.services.contracts.getContract({ name, contractVersion: version ?? "" });
        if (response.contract === undefined) throw usageError(`The Host returned no contract for ${name}.`);
        contractDetails(ctx, response.contract);
      }),
    );
  kit.example(show, "aesp contract show text_stats", "aesp contract show text_stats 1.0.0 --json");

  for (const [verb, description] of [
    ["deprecate", "ACTIVE -> DEPRECATED: still callable when pinned by version, no longer chosen by default."],
    ["retire", "ACTIVE or DEPRECATED -> RETIRED: no longer callable; runtimes stop receiving it."],
  ] as const) {
    const command = contract
      .command(verb)
      .description(description)
      .argument("<name>", "contract name")
      .argument("<version>", "exact version")
      .option("--reason <text>", "recorded in audit", "")
      .action(
        kit.action(async (ctx, name: string, version: string, options: { reason: string }) => {
          const client = await ctx.client();
          const request = { name, contractVersion: version, reason: options.reason };
          const response = verb === "deprecate" ? await client.services.contracts.deprecateContract(request) : await client.services.contracts.retireContract(request);
          const updated = response.contract;
          if (updated === undefined) throw usageError(`The Host returned no contract for ${name}@${version}.`);
          ctx.message(EnterpriseToolContractSchema, updated, () => `${updated.name}@${updated.contractVersion} is now ${updated.approvalStatus}.`);
        }),
      );
    kit.example(command, `aesp contract ${verb} text_stats 1.0.0 --reason "replaced by 2.0.0"`);
  }
}
