/** `aesp audit retention|hold|erase`: retention rules, legal holds and subject erasure of your tenant. */
import type { Command } from "commander";
import { LegalHoldSchema, RetentionPolicySchema } from "@aesp/proto/audit";
import type { LegalHold, RetentionPolicy } from "@aesp/proto/audit";
import { formatTime } from "../context.ts";
import type { CommandKit } from "../program.ts";
import { usageError } from "../render-error.ts";
import type { Column } from "../table.ts";

const policyColumns: readonly Column<RetentionPolicy>[] = [
  { header: "PATTERN", value: (policy) => policy.pattern },
  { header: "DAYS", value: (policy) => String(policy.retentionDays), align: "right" },
  { header: "UPDATED", value: (policy) => formatTime(policy.updatedAt) },
  { header: "BY", value: (policy) => policy.updatedBy, maxWidth: 32 },
];

const holdColumns: readonly Column<LegalHold>[] = [
  { header: "ID", value: (hold) => hold.holdId },
  { header: "PRINCIPAL", value: (hold) => (hold.principalId === "" ? "(all)" : hold.principalId), maxWidth: 32 },
  { header: "FROM", value: (hold) => (hold.startTime === 0n ? "-" : formatTime(hold.startTime)) },
  { header: "TO", value: (hold) => (hold.endTime === 0n ? "-" : formatTime(hold.endTime)) },
  { header: "STATUS", value: (hold) => (hold.releasedAt === 0n ? "ACTIVE" : "RELEASED") },
  { header: "REASON", value: (hold) => hold.reason, maxWidth: 40 },
];

/** Registers the retention, legal hold and erasure commands under `aesp audit`. */
export function registerAuditRetentionCommands(audit: Command, kit: CommandKit): void {
  const retention = audit.command("retention").description("How long your tenant keeps audit events, by event type (expired events become verifiable tombstones).");

  const set = retention
    .command("set")
    .description("Keep events matching a pattern for N days (0 removes the rule). Security events never go below the Host's floor.")
    .argument("<pattern>", "`*`, an event family such as tool_call.*, or an exact event type")
    .argument("<days>", "whole days, 0 to remove the rule")
    .action(
      kit.action(async (ctx, pattern: string, daysText: string) => {
        const days = Number(daysText);
        if (!/^\d+$/.test(daysText) || !Number.isSafeInteger(days)) throw usageError(`<days> must be a whole number: ${daysText}`, ["e.g. aesp audit retention set 'tool_call.*' 90"]);
        const client = await ctx.client();
        const response = await client.services.audit.setRetentionPolicy({ pattern, retentionDays: days });
        ctx.table(RetentionPolicySchema, response.policies, policyColumns);
      }),
    );
  kit.example(set, "aesp audit retention set 'tool_call.*' 90", "aesp audit retention set '*' 400", "aesp audit retention set 'tool_call.*' 0");

  const list = retention
    .command("list")
    .description("List your tenant's retention rules, the Host default and the security floor.")
    .action(
      kit.action(async (ctx) => {
        const client = await ctx.client();
        const response = await client.services.audit.listRetentionPolicies({});
        ctx.table(RetentionPolicySchema, response.policies, policyColumns, {
          default_retention_days: response.defaultRetentionDays,
          security_min_retention_days: response.securityMinRetentionDays,
        });
        if (!ctx.json) {
          const fallback = response.defaultRetentionDays === 0 ? "kept forever" : `${String(response.defaultRetentionDays)} days`;
          ctx.note(`Without a '*' rule: ${fallback}. Security events: at least ${String(response.securityMinRetentionDays)} days.`);
        }
      }),
    );
  kit.example(list, "aesp audit retention list", "aesp audit retention list --json");

  const hold = audit.command("hold").description("Legal holds: events they cover are never removed by retention, and their subjects cannot be erased.");

  const place = hold
    .command("place")
    .description("Place a legal hold on your tenant's events (all, or one principal's, optionally within a time range).")
    .requiredOption("--reason <text>", "why (a case reference); recorded in the audit log")
    .option("--principal <id>", "only this principal's events (default: every principal)")
    .option("--since <ISO time>", "only events at or after this instant")
    .option("--until <ISO time>", "only events before this instant")
    .action(
      kit.action(async (ctx, options: { reason: string; principal?: string; since?: string; until?: string }) => {
        const client = await ctx.client();
        const response = await client.services.audit.placeLegalHold({
          reason: options.reason,
          principalId: options.principal ?? "",
          startTime: timeOption("--since", options.since),
          endTime: timeOption("--until", options.until),
        });
        ctx.table(LegalHoldSchema, response.hold === undefined ? [] : [response.hold], holdColumns);
      }),
    );
  kit.example(place, "aesp audit hold place --reason 'case 2025-17' --principal usr_123", "aesp audit hold place --reason 'litigation hold' --since 2025-01-01T00:00:00Z");

  const release = hold
    .command("release")
    .description("Release a legal hold; retention applies again to the events it covered.")
    .argument("<hold id>", "from aesp audit hold list")
    .action(
      kit.action(async (ctx, holdId: string) => {
        const client = await ctx.client();
        const response = await client.services.audit.releaseLegalHold({ holdId });
        ctx.table(LegalHoldSchema, response.hold === undefined ? [] : [response.hold], holdColumns);
      }),
    );
  kit.example(release, "aesp audit hold release hold_01h...");

  const holds = hold
    .command("list")
    .description("List your tenant's legal holds (active ones unless --all).")
    .option("--all", "include released holds")
    .action(
      kit.action(async (ctx, options: { all?: boolean }) => {
        const client = await ctx.client();
        const response = await client.services.audit.listLegalHolds({ includeReleased: options.all === true });
        ctx.table(LegalHoldSchema, response.holds, holdColumns);
      }),
    );
  kit.example(holds, "aesp audit hold list", "aesp audit hold list --all --json");

  const erase = audit
    .command("erase")
    .description("Erase a data subject (GDPR art. 17): destroys their audit subject key, so their personal fields read [ERASED]; the log still verifies.")
    .argument("<principal id>", "the data subject")
    .action(
      kit.action(async (ctx, principalId: string) => {
        const client = await ctx.client();
        const response = await client.services.audit.eraseSubject({ principalId });
        ctx.result({ principal_id: principalId, keys_destroyed: response.keysDestroyed }, () => `Erased ${principalId}: ${String(response.keysDestroyed)} subject key(s) destroyed; their personal fields now read [ERASED].`);
      }),
    );
  kit.example(erase, "aesp audit erase usr_123");
}

function timeOption(flag: string, value: string | undefined): bigint {
  if (value === undefined) return 0n;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw usageError(`${flag} is not a date: ${value}`, ["Use ISO 8601, e.g. 2025-01-31T12:00:00Z."]);
  return BigInt(ms);
}
