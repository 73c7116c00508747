import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { DeadLetterSchema } from "@aesp/proto/audit";
import type { DeadLetter } from "@aesp/proto/audit";
import { AuditEventSchema } from "@aesp/proto/enterprise";
import type { AuditEvent } from "@aesp/proto/enterprise";
import { formatTime } from "../context.ts";
import type { CliContext } from "../context.ts";
import type { CommandKit } from "../program.ts";
import { collect, positiveInteger } from "../program.ts";
import { usageError } from "../render-error.ts";
import type { Column } from "../table.ts";
import { pageSize } from "./tenants.ts";

const eventColumns: readonly Column<AuditEvent>[] = [
  { header: "SEQ", value: (event) => event.seq.toString(), align: "right" },
  { header: "TIME", value: (event) => formatTime(event.timestampMs) },
  { header: "TYPE", value: (event) => event.eventType },
  { header: "OUTCOME", value: (event) => event.outcome },
  { header: "PRINCIPAL", value: (event) => event.principalId, maxWidth: 32 },
  { header: "ACTION", value: (event) => event.action, maxWidth: 40 },
  { header: "RESOURCE", value: (event) => event.resource, maxWidth: 40 },
  { header: "CORRELATION", value: (event) => event.correlationId, maxWidth: 36 },
];

const deadLetterColumns: readonly Column<DeadLetter>[] = [
  { header: "ID", value: (letter) => letter.deadLetterId },
  { header: "DESTINATION", value: (letter) => letter.destination },
  { header: "EVENTS", value: (letter) => String(letter.eventCount), align: "right" },
  { header: "SEQ", value: (letter) => `${letter.firstSeq.toString()}-${letter.lastSeq.toString()}` },
  { header: "ATTEMPTS", value: (letter) => String(letter.attempts), align: "right" },
  { header: "CREATED", value: (letter) => formatTime(letter.createdAt) },
  { header: "REASON", value: (letter) => letter.reason, maxWidth: 40 },
];

/** Draws `checked/total` on stderr at most every 250 ms, only on a terminal and only for runs that last. */
function progressReporter(ctx: CliContext): { report: (checked: number, total: number) => void; finish: () => void } {
  const startedAt = Date.now();
  let lastDrawn = 0;
  let drawn = false;
  return {
    report(checked, total) {
      const now = Date.now();
      if (!ctx.io.stderrIsTty || now - startedAt < 500 || now - lastDrawn < 250) return;
      lastDrawn = now;
      drawn = true;
      const percent = total > 0 ? ` (${Math.floor((checked / total) * 100)}%)` : "";
      ctx.io.stderr(`\rverifying: ${checked.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} events${percent}   `);
    },
    finish() {
      if (drawn) ctx.io.stderr("\n");
    },
  };
}

/** `aesp audit verify|query`. */
export function registerAuditCommands(program: Command, kit: CommandKit): void {
  const audit = program.command("audit").description("Verify and read the tamper-evident audit log.");

  const verify = audit
    .command("verify")
    .description("Verify the whole audit log offline (hash chain, Merkle tree and signed checkpoints); exit 0 when intact, 1 otherwise.")
    .option("--data-dir <dir>", "the Host's data directory (default .aesp)")
    .option("--config <file>", "the Host's configuration file (for PostgreSQL storage)")
    .option("--key <public key.pem>", "the audit public key to trust (default: the keys stored beside the log, which only proves consistency with the store)")
    .action(
      kit.action(async (ctx, options: { dataDir?: string; config?: string; key?: string }) => {
        let publicKeyPem: string | undefined;
        if (options.key !== undefined) {
          const keyPath = resolve(ctx.io.cwd, options.key);
          publicKeyPem = await readFile(keyPath, "utf8").catch(() => {
            throw usageError(`Cannot read the public key ${keyPath}.`, ["The Host writes it as audit-public-key.pem in its data directory; GetHostInfo returns it too."]);
          });
        }
        const hostModule = await ctx.io.loadHost();
        const progress = progressReporter(ctx);
        const startedAt = Date.now();
        const outcome = await hostModule
          .verifyAuditStore({
            ...(options.config === undefined ? {} : { configFile: resolve(ctx.io.cwd, options.config) }),
            flags: options.dataDir === undefined ? {} : { data_dir: resolve(ctx.io.cwd, options.dataDir) },
            env: { ...ctx.io.env },
            ...(publicKeyPem === undefined ? {} : { publicKeyPem }),
            onProgress: progress.report,
          })
          .finally(progress.finish);
        const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
        if (outcome.ok) {
          ctx.result({ ok: true, events: outcome.size, checkpoints: outcome.checkpoints, trusted_key: options.key === undefined ? "store" : "given" }, () =>
            [
              `OK: ${outcome.size.toLocaleString("en-US")} events and ${outcome.checkpoints} signed checkpoint(s) verified in ${seconds} s.`,
              options.key === undefined ? "Note: trusted the keys stored with the log; pass --key audit-public-key.pem (kept apart from the Host) for independent assurance." : "",
            ]
              .filter((line) => line !== "")
              .join("\n"),
          );
          return;
        }
        kit.setExitCode(1);
        if (ctx.json) {
          ctx.out(JSON.stringify({ ok: false, first_bad_seq: outcome.firstBadSeq, event_id: outcome.eventId, reason: outcome.reason }, null, 2));
        } else {
          ctx.note(
            [
              `FAILED: the audit log is not intact from event seq ${outcome.firstBadSeq}${outcome.eventId === "" ? "" : ` (event id ${outcome.eventId})`}.`,
              `reason: ${outcome.reason}`,
              "what to do next:",
              "  - Preserve the data directory (or database) as evidence before anything else writes to it.",
              "  - Compare with a backup or an earlier export to find what changed, and inform your security team.",
            ].join("\n"),
          );
        }
      }),
    );
  kit.example(verify, "aesp audit verify", "aesp audit verify --data-dir /var/lib/aesp --key ./audit-public-key.pem");

  const query = audit
    .command("query")
    .description("Read audit events of your tenant, oldest first.")
    .option("--type <event type>", "only this event type (repeatable)", collect)
    .option("--principal <id>", "only events caused by this principal")
    .option("--correlation-id <id>", "only the events of one request")
    .option("--since <ISO time>", "events at or after this instant")
    .option("--limit <n>", "at most this many (default 100)", positiveInteger("--limit"), 100)
    .action(
      kit.action(async (ctx, options: { type?: string[]; principal?: string; correlationId?: string; since?: string; limit: number }) => {
        let startTime = 0n;
        if (options.since !== undefined) {
          const ms = Date.parse(options.since);
          if (Number.isNaN(ms)) throw usageError(`--since is not a date: ${options.since}`, ["Use ISO 8601, e.g. 2025-01-31T12:00:00Z."]);
          startTime = BigInt(ms);
        }
        const client = await ctx.client();
        const events: AuditEvent[] = [];
        let cursor = "";
        do {
          const page = await client.services.audit.queryEvents({
            eventTypes: options.type ?? [],
            principalId: options.principal ?? "",
            correlationId: options.correlationId ?? "",
            startTime,
            cursor,
            limit: pageSize(options.limit, events.length),
          });
          events.push(...page.events);
          cursor = page.nextCursor;
        } while (cursor !== "" && events.length < options.limit);
        ctx.table(AuditEventSchema, events.slice(0, options.limit), eventColumns);
      }),
    );
  kit.example(query, "aesp audit query --type tool.invoked --limit 20", "aesp audit query --correlation-id 6f1c... --json");

  const deadLetters = audit
    .command("dead-letters")
    .description("SIEM deliveries that failed every retry (platform administrators): list them, then replay them once the destination is back.");

  const list = deadLetters
    .command("list")
    .description("List dead-lettered SIEM deliveries, oldest first.")
    .option("--destination <name>", "only this destination (syslog or webhook)")
    .option("--limit <n>", "at most this many (default 100)", positiveInteger("--limit"), 100)
    .action(
      kit.action(async (ctx, options: { destination?: string; limit: number }) => {
        const client = await ctx.client();
        const letters: DeadLetter[] = [];
        let cursor = "";
        let total: bigint;
        do {
          const page = await client.services.audit.listDeadLetters({ destination: options.destination ?? "", cursor, limit: pageSize(options.limit, letters.length) });
          letters.push(...page.deadLetters);
          total = page.total;
          cursor = page.nextCursor;
        } while (cursor !== "" && letters.length < options.limit);
        ctx.table(DeadLetterSchema, letters.slice(0, options.limit), deadLetterColumns);
        if (!ctx.json && total > BigInt(letters.length)) ctx.note(`${total.toString()} dead letters stored; showing ${String(Math.min(letters.length, options.limit))}. Use --limit to see more.`);
      }),
    );
  kit.example(list, "aesp audit dead-letters list", "aesp audit dead-letters list --destination webhook --json");

  const replay = deadLetters
    .command("replay")
    .description("Deliver dead letters again (one attempt each); delivered ones are removed, failed ones kept.")
    .argument("[ids...]", "dead-letter ids (default: the oldest ones)")
    .option("--destination <name>", "only this destination (syslog or webhook)")
    .option("--limit <n>", "at most this many (default 100)", positiveInteger("--limit"), 100)
    .action(
      kit.action(async (ctx, ids: string[], options: { destination?: string; limit: number }) => {
        const client = await ctx.client();
        const outcome = await client.services.audit.replayDeadLetters({ destination: options.destination ?? "", deadLetterIds: ids, limit: options.limit });
        if (outcome.failed > 0) kit.setExitCode(1);
        ctx.result(
          { replayed: outcome.replayed, failed: outcome.failed, first_failure: outcome.firstFailure, remaining: Number(outcome.remaining) },
          () =>
            [
              `Replayed ${String(outcome.replayed)} dead letter(s); ${String(outcome.failed)} failed again; ${outcome.remaining.toString()} remain.`,
              outcome.failed > 0 ? `first failure: ${outcome.firstFailure}\nwhat to do next: check that the destination is reachable and trusts this Host, then run the replay again.` : "",
            ]
              .filter((line) => line !== "")
              .join("\n"),
        );
      }),
    );
  kit.example(replay, "aesp audit dead-letters replay", "aesp audit dead-letters replay --destination syslog --limit 500", "aesp audit dead-letters replay dlq_01h... dlq_01j...");
}
