import type { Command } from "commander";
import { createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { withAespErrors } from "@aesp/client";
import type { AespClient } from "@aesp/client";
import { BreakGlassGrantSchema, BreakGlassService } from "@aesp/proto/break_glass";
import type { BreakGlassGrant } from "@aesp/proto/break_glass";
import { formatTime } from "../context.ts";
import type { CommandKit } from "../program.ts";
import { collect } from "../program.ts";
import { usageError } from "../render-error.ts";
import { formatFields } from "../table.ts";
import type { Column } from "../table.ts";

const grantColumns: readonly Column<BreakGlassGrant>[] = [
  { header: "GRANT", value: (g) => g.grantId },
  { header: "HOLDER", value: (g) => g.principalId },
  { header: "STATUS", value: (g) => g.status },
  { header: "CONTRACTS", value: (g) => (g.contracts.length === 0 ? "(all)" : g.contracts.join(",")) },
  { header: "ACTIVATED", value: (g) => formatTime(g.activatedAt) },
  { header: "EXPIRES", value: (g) => formatTime(g.expiresAt) },
  { header: "REVIEW", value: (g) => g.reviewStatus },
  { header: "REVIEW DUE", value: (g) => formatTime(g.reviewDueAt) },
  { header: "JUSTIFICATION", value: (g) => g.justification, maxWidth: 50 },
];

/** BreakGlassService through the client's transport (it is not in `client.services`). */
function breakGlass(client: AespClient): Client<typeof BreakGlassService> {
  return withAespErrors(BreakGlassService, createClient(BreakGlassService, client.transport));
}

const activateUsage = 'aesp break-glass activate --justification "INC-4711: payments outage, deny-after-hours blocks the fix" --duration 30m';

/** `30m`, `2h`, `90s` or plain seconds → seconds. */
function durationSeconds(text: string): number {
  const match = /^(\d{1,7})(s|m|h)?$/.exec(text.trim());
  if (match === null) throw usageError("--duration must be a duration such as 15m, 1h or 900 (seconds).", [activateUsage]);
  return Number(match[1]) * { s: 1, m: 60, h: 3600 }[(match[2] ?? "s") as "s" | "m" | "h"];
}

function grantFields(g: BreakGlassGrant): string {
  return formatFields([
    ["grant", g.grantId],
    ["holder", g.principalId],
    ["status", g.status],
    ["contracts", g.contracts.length === 0 ? "(every contract of the tenant)" : g.contracts.join(", ")],
    ["justification", g.justification],
    ["activated", formatTime(g.activatedAt)],
    ["expires", formatTime(g.expiresAt)],
    ["closed", formatTime(g.closedAt)],
    ["closed by", g.closedBy],
    ["close reason", g.closeReason],
    ["first used", formatTime(g.firstUsedAt)],
    ["review", g.reviewStatus],
    ["review due", formatTime(g.reviewDueAt)],
    ["reviewed by", g.reviewedBy],
    ["review comments", g.reviewComments],
  ]);
}

/** `aesp break-glass activate|end|list|review`. */
export function registerBreakGlassCommands(program: Command, kit: CommandKit): void {
  const group = program
    .command("break-glass")
    .description(
      "Emergency override: for a limited time, let your own tool calls go on where a policy refuses them. Never overrides authentication, tenant isolation, roles, clearance, argument validation or limits. Every activation and use is audited and alerted, and must be reviewed afterwards by someone else.",
    );

  const activate = group
    .command("activate")
    .description("Activate break-glass for yourself (needs break_glass:activate, e.g. role break-glass-operator). Effective on the next call on every Host.")
    .requiredOption("--justification <text>", "why the emergency needs it (20 to 2000 characters); recorded in audit and sent with the alert")
    .requiredOption("--duration <duration>", "how long: 15m, 1h, 900 (seconds); at most break_glass.max_duration_seconds")
    .option("--contract <name>", "limit it to this contract (repeatable, or comma-separated); default: every contract", collect)
    .action(
      kit.action(async (ctx, options: { justification: string; duration: string; contract?: string[] }) => {
        const seconds = durationSeconds(options.duration);
        const client = await ctx.client();
        const response = await breakGlass(client).activateBreakGlass({ justification: options.justification, durationSeconds: BigInt(seconds), contracts: options.contract ?? [] });
        const grant = response.grant;
        if (grant === undefined) throw usageError("The Host returned no grant.");
        ctx.message(BreakGlassGrantSchema, grant, () =>
          [
            grantFields(grant).trimEnd(),
            "",
            `Break-glass is active until ${formatTime(grant.expiresAt)}. Every overridden call is audited; end it as soon as the emergency is over:`,
            `  aesp break-glass end ${grant.grantId} --reason "..."`,
          ].join("\n"),
        );
      }),
    );
  kit.example(activate, activateUsage, 'aesp break-glass activate --justification "INC-4712: refunds stuck behind the fraud policy" --duration 15m --contract issue_refund');

  const end = group
    .command("end")
    .description("End a break-glass grant now: your own, or anyone's with break_glass:manage (tenant administrators). Effective on the next call on every Host.")
    .argument("<grant-id>", "the grant (see aesp break-glass list)")
    .requiredOption("--reason <text>", "why it ends; recorded in audit")
    .action(
      kit.action(async (ctx, grantId: string, options: { reason: string }) => {
        const client = await ctx.client();
        const grant = (await breakGlass(client).endBreakGlass({ grantId, reason: options.reason })).grant;
        if (grant === undefined) throw usageError("The Host returned no grant.");
        ctx.message(BreakGlassGrantSchema, grant, () => `Break-glass grant ${grant.grantId} ended. Its review is due by ${formatTime(grant.reviewDueAt)}.`);
      }),
    );
  kit.example(end, 'aesp break-glass end bgl_01J9ZK... --reason "outage resolved"');

  const list = group
    .command("list")
    .description("List the tenant's break-glass grants, oldest first (an operator without break_glass:read sees only their own).")
    .option("--pending-review", "only grants still awaiting their review")
    .option("--principal <id>", "only this holder's grants")
    .action(
      kit.action(async (ctx, options: { pendingReview?: boolean; principal?: string }) => {
        const client = await ctx.client();
        const response = await breakGlass(client).listBreakGlassGrants({ pendingReview: options.pendingReview === true, principalId: options.principal ?? "" });
        ctx.table(BreakGlassGrantSchema, response.grants, grantColumns);
      }),
    );
  kit.example(list, "aesp break-glass list", "aesp break-glass list --pending-review --json");

  const review = group
    .command("review")
    .description("Record the mandatory review of an ended or expired grant (needs governance:adjudicate; never the holder). UNJUSTIFIED raises a HIGH alert.")
    .argument("<grant-id>", "the grant")
    .requiredOption("--outcome <outcome>", "justified or unjustified")
    .requiredOption("--comments <text>", "the reasons for the outcome; recorded in audit")
    .action(
      kit.action(async (ctx, grantId: string, options: { outcome: string; comments: string }) => {
        const outcome = options.outcome.toUpperCase();
        if (outcome !== "JUSTIFIED" && outcome !== "UNJUSTIFIED") {
          throw usageError("--outcome must be justified or unjustified.", [`aesp break-glass review ${grantId} --outcome justified --comments "matches INC-4711"`]);
        }
        const client = await ctx.client();
        const grant = (await breakGlass(client).reviewBreakGlass({ grantId, outcome, comments: options.comments })).grant;
        if (grant === undefined) throw usageError("The Host returned no grant.");
        ctx.message(BreakGlassGrantSchema, grant, () => `Break-glass grant ${grant.grantId} reviewed: ${grant.reviewStatus}.`);
      }),
    );
  kit.example(review, 'aesp break-glass review bgl_01J9ZK... --outcome justified --comments "matches INC-4711; change ticket CHG-88"');
}
