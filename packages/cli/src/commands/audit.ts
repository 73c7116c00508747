import { open, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { DeadLetterSchema } from "@aesp/proto/audit";
import type { DeadLetter } from "@aesp/proto/audit";
import { AuditEventSchema } from "@aesp/proto/enterprise";
import type { AuditEvent } from "@aesp/proto/enterprise";
import { formatTime } from "../context.ts";
import type { CliContext, ProofCheck, ServedInclusionProof } from "../context.ts";
import type { CommandKit } from "../program.ts";
import { collect, positiveInteger } from "../program.ts";
import { usageError } from "../render-error.ts";
import type { Column } from "../table.ts";
import { pageSize } from "./tenants.ts";
import { registerAuditRetentionCommands } from "./audit-retention.ts";

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
    .description(
      "Verify the whole audit log offline (hash chain, Merkle tree and signed checkpoints), or with --export an export file from aesp audit export (needs only the file and the public key); exit 0 when intact, 1 otherwise.",
    )
    .option("--data-dir <dir>", "the Host's data directory (default .aesp)")
    .option("--config <file>", "the Host's configuration file (for PostgreSQL storage)")
    .option("--export <file>", "verify this export file (JSONL from aesp audit export) instead of the Host's store")
    .option(
      "--key <key>",
      "the audit public key to trust: a PEM file, or (with --export) a C2SP verifier key; repeatable for rotated keys (default without --export: the keys stored beside the log, which only proves consistency with the store)",
      collect,
    )
    .action(
      kit.action(async (ctx, options: { dataDir?: string; config?: string; key?: string[]; export?: string }) => {
        if (options.export !== undefined) {
          await verifyExportFile(ctx, kit, options.export, options.key ?? []);
          return;
        }
        if ((options.key?.length ?? 0) > 1) throw usageError("Verifying the store takes one --key (the current audit public key PEM).", ["Pass several --key only with --export."]);
        let publicKeyPem: string | undefined;
        if (options.key?.[0] !== undefined) {
          const keyPath = resolve(ctx.io.cwd, options.key[0]);
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
          ctx.result({ ok: true, events: outcome.size, checkpoints: outcome.checkpoints, tombstones: outcome.tombstones, trusted_key: options.key === undefined ? "store" : "given" }, () =>
            [
              `OK: ${outcome.size.toLocaleString("en-US")} events and ${outcome.checkpoints} signed checkpoint(s) verified in ${seconds} s.`,
              outcome.tombstones > 0 ? `${outcome.tombstones.toLocaleString("en-US")} of them are tombstones (content removed by retention), verified by their stored leaf hash.` : "",
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
  kit.example(
    verify,
    "aesp audit verify",
    "aesp audit verify --data-dir /var/lib/aesp --key ./audit-public-key.pem",
    "aesp audit verify --export acme-2025-q1.jsonl --key ./audit-public-key.pem",
  );

  const exportCommand = audit
    .command("export")
    .description(
      "Export audit events of your tenant (platform auditors: any or every tenant) as JSONL (default: verifiable offline, with inclusion proofs, checkpoints and a signed manifest), CSV, CEF or OCSF.",
    )
    .option("--format <format>", "jsonl, csv, cef or ocsf", "jsonl")
    .option("--output <file>", "write here (default: standard output)")
    .option("--no-proofs", "JSONL only: plain events, without proofs, checkpoints or manifest (not verifiable)")
    .option("--type <event type>", "only this event type (repeatable)", collect)
    .option("--principal <id>", "only events caused by this principal")
    .option("--outcome <outcome>", "only SUCCESS, FAILURE, DENIED or ERROR")
    .option("--tenant <tenant id>", "platform auditors: only this tenant (default: every tenant)")
    .option("--since <ISO time>", "events at or after this instant")
    .option("--until <ISO time>", "events before this instant")
    .option("--since-checkpoint <n>", "verifiable JSONL: also prove that the log extends the checkpoint of this tree size (e.g. from your previous export)", positiveInteger("--since-checkpoint"))
    .action(
      kit.action(
        async (
          ctx,
          options: { format: string; output?: string; proofs: boolean; type?: string[]; principal?: string; outcome?: string; tenant?: string; since?: string; until?: string; sinceCheckpoint?: number },
        ) => {
          const format = options.format.toUpperCase();
          if (!["JSONL", "CSV", "CEF", "OCSF"].includes(format)) throw usageError(`Unknown format ${options.format}.`, ["Use --format jsonl, csv, cef or ocsf."]);
          const client = await ctx.client();
          const stream = client.services.audit.exportAuditLogs({
            tenantId: options.tenant ?? "",
            format,
            includeProofs: format === "JSONL" && options.proofs,
            eventTypes: options.type ?? [],
            principalId: options.principal ?? "",
            outcome: options.outcome?.toUpperCase() ?? "",
            startTime: timeOption("--since", options.since),
            endTime: timeOption("--until", options.until),
            sinceTreeSize: BigInt(options.sinceCheckpoint ?? 0),
          });
          const target = options.output === undefined ? null : await open(resolve(ctx.io.cwd, options.output), "w");
          const decoder = new TextDecoder();
          let events = 0;
          let treeSize = 0n;
          try {
            for await (const chunk of stream) {
              events += chunk.eventCount;
              if (chunk.checkpoint !== undefined) treeSize = chunk.checkpoint.treeSize;
              if (target !== null) await target.write(chunk.data);
              else if (chunk.data.length > 0) ctx.io.stdout(decoder.decode(chunk.data, { stream: true }));
            }
          } finally {
            await target?.close();
          }
          if (target !== null) {
            const verifiable = format === "JSONL" && options.proofs;
            ctx.note(
              `Exported ${events.toLocaleString("en-US")} event(s) as ${format} to ${options.output ?? ""}` +
                (verifiable ? `, proved against the signed checkpoint of ${treeSize.toString()} events.\nverify offline: aesp audit verify --export ${options.output ?? ""} --key audit-public-key.pem` : "."),
            );
          }
        },
      ),
    );
  kit.example(
    exportCommand,
    "aesp audit export --output acme.jsonl",
    "aesp audit export --format csv --since 2025-01-01T00:00:00Z --output q1.csv",
    "aesp audit export --format ocsf --outcome DENIED",
  );

  const report = audit
    .command("report")
    .description("A compliance report for one framework (soc2, iso27001, gdpr, hipaa, pci-dss): per control, the evidence drawn from the audit log, each item with its event id and the checkpoint to prove it against.")
    .requiredOption("--framework <name>", "soc2, iso27001, gdpr, hipaa or pci-dss")
    .option("--since <ISO time>", "events at or after this instant")
    .option("--until <ISO time>", "events before this instant")
    .option("--tenant <tenant id>", "platform auditors: another tenant")
    .option("--evidence <n>", "evidence items listed per control (default 10 in text, 100 with --json)", positiveInteger("--evidence"))
    .action(
      kit.action(async (ctx, options: { framework: string; since?: string; until?: string; tenant?: string; evidence?: number }) => {
        const client = await ctx.client();
        const { report: result } = await client.services.audit.getComplianceReport({
          tenantId: options.tenant ?? "",
          framework: options.framework,
          startTime: timeOption("--since", options.since),
          endTime: timeOption("--until", options.until),
          evidenceLimit: options.evidence ?? (ctx.json ? 100 : 10),
        });
        if (result === undefined) throw usageError("The Host returned no report.", ["Check the Host version."]);
        const json = {
          report_id: result.reportId,
          framework: result.framework,
          tenant_id: result.tenantId,
          start_time: new Date(Number(result.startTime)).toISOString(),
          end_time: new Date(Number(result.endTime)).toISOString(),
          checkpoint: { tree_size: Number(result.checkpoint?.treeSize ?? 0n), root_hash: result.checkpoint?.rootHash ?? "", signed_note: result.checkpoint?.signedNote ?? "" },
          verification: {
            status: result.verification?.status ?? "",
            tree_size: Number(result.verification?.treeSize ?? 0n),
            checked_events: Number(result.verification?.checkedEvents ?? 0n),
            detail: result.verification?.detail ?? "",
          },
          category_counts: Object.fromEntries(Object.entries(result.categoryCounts).map(([k, v]) => [k, Number(v)])),
          event_counts: Object.fromEntries(Object.entries(result.eventCounts).map(([k, v]) => [k, Number(v)])),
          controls: result.controls.map((control) => ({
            control_id: control.controlId,
            description: control.description,
            status: control.status,
            evidence_count: Number(control.evidenceCount),
            categories: control.categories,
            findings: control.findings,
            evidence: control.evidence.map((item) => ({
              event_id: item.eventId,
              seq: Number(item.seq),
              event_type: item.eventType,
              time: new Date(Number(item.timestampMs)).toISOString(),
              outcome: item.outcome,
              principal_id: item.principalId,
              category: item.category,
              proof_tree_size: Number(item.proofTreeSize),
            })),
          })),
        };
        if (json.verification.status === "FAILED") kit.setExitCode(1);
        ctx.result(json, () => {
          const lines = [
            `${json.framework} report for tenant ${json.tenant_id}, ${json.start_time} to ${json.end_time}`,
            `log verification: ${json.verification.status}${json.verification.detail === "" ? "" : ` (${json.verification.detail})`}; evidence proved against the signed checkpoint of ${json.checkpoint.tree_size} events`,
            `evidence: ${Object.entries(json.category_counts).map(([k, v]) => `${k} ${v}`).join(", ")}`,
            "",
          ];
          for (const control of json.controls) {
            lines.push(`${control.control_id.padEnd(22)} ${control.status.padEnd(22)} ${String(control.evidence_count).padStart(6)}  ${control.description}`);
            for (const finding of control.findings) lines.push(`    - ${finding}`);
            for (const item of control.evidence) lines.push(`    ${item.time}  seq ${item.seq}  ${item.event_type}  ${item.outcome}  ${item.event_id}`);
            if (control.evidence.length < control.evidence_count && control.evidence.length > 0) lines.push(`    … ${control.evidence_count - control.evidence.length} more (--evidence N, or --json)`);
          }
          lines.push("", `prove an item: aesp audit proof <event id> --size ${json.checkpoint.tree_size}`);
          return lines.join("\n");
        });
      }),
    );
  kit.example(report, "aesp audit report --framework soc2", "aesp audit report --framework hipaa --since 2025-01-01T00:00:00Z --until 2025-04-01T00:00:00Z --json");

  const query = audit
    .command("query")
    .description("Read audit events of your tenant (platform auditors: any tenant), oldest first.")
    .option("--type <event type>", "only this event type (repeatable)", collect)
    .option("--principal <id>", "only events caused by this principal")
    .option("--correlation-id <id>", "only the events of one request")
    .option("--outcome <outcome>", "only SUCCESS, FAILURE, DENIED or ERROR")
    .option("--contract <contract id>", "only events about this contract")
    .option("--meta <key=value>", "only events whose metadata has this value (repeatable)", collect)
    .option("--tenant <tenant id>", "platform auditors: only this tenant")
    .option("--since <ISO time>", "events at or after this instant")
    .option("--until <ISO time>", "events before this instant")
    .option("--cursor <cursor>", "continue after the page that printed this cursor")
    .option("--limit <n>", "at most this many (default 100)", positiveInteger("--limit"), 100)
    .action(
      kit.action(
        async (
          ctx,
          options: { type?: string[]; principal?: string; correlationId?: string; outcome?: string; contract?: string; meta?: string[]; tenant?: string; since?: string; until?: string; cursor?: string; limit: number },
        ) => {
          const metadata: Record<string, string> = {};
          for (const pair of options.meta ?? []) {
            const eq = pair.indexOf("=");
            if (eq <= 0) throw usageError(`--meta needs key=value: ${pair}`, ["e.g. --meta reason=policy"]);
            metadata[pair.slice(0, eq)] = pair.slice(eq + 1);
          }
          const client = await ctx.client();
          const events: AuditEvent[] = [];
          let cursor = options.cursor ?? "";
          do {
            const page = await client.services.audit.queryEvents({
              tenantId: options.tenant ?? "",
              eventTypes: options.type ?? [],
              principalId: options.principal ?? "",
              correlationId: options.correlationId ?? "",
              outcome: options.outcome?.toUpperCase() ?? "",
              contractId: options.contract ?? "",
              metadata,
              startTime: timeOption("--since", options.since),
              endTime: timeOption("--until", options.until),
              cursor,
              limit: pageSize(options.limit, events.length),
            });
            events.push(...page.events);
            cursor = page.nextCursor;
          } while (cursor !== "" && events.length < options.limit);
          const shown = events.slice(0, options.limit);
          // The cursor to continue from is the last event shown (the API's cursor is its seq).
          const more = cursor !== "" || events.length > options.limit;
          const next = more && shown.length > 0 ? shown[shown.length - 1]!.seq.toString() : "";
          ctx.table(AuditEventSchema, shown, eventColumns, { next_cursor: next });
          if (next !== "" && !ctx.json) ctx.note(`more events: aesp audit query ... --cursor ${next}`);
        },
      ),
    );
  kit.example(query, "aesp audit query --type tool.invoked --limit 20", "aesp audit query --outcome DENIED --contract get_weather --meta reason=policy --json");

  const proof = audit
    .command("proof")
    .description("Fetch an event's inclusion proof and its signed checkpoint, and verify both here against the Host's audit verifier keys; exit 0 when OK.")
    .argument("<event id>", "the event (see aesp audit query)")
    .option("--size <n>", "prove against the checkpoint of this tree size (default: the latest)", positiveInteger("--size"))
    .option("--key <verifier key>", "trust only these verifier keys (repeatable; default: the keys the Host lists)", collect)
    .action(
      kit.action(async (ctx, eventId: string, options: { size?: number; key?: string[] }) => {
        const client = await ctx.client();
        const response = await client.services.audit.getInclusionProof({ eventId, treeSize: BigInt(options.size ?? 0) });
        const keys = await verifierKeysFor(ctx, options.key);
        const event = response.event;
        if (event === undefined || response.checkpoint === undefined) throw usageError("The Host returned no proof.", ["Check the Host version."]);
        const hostModule = await ctx.io.loadHost();
        const outcome = hostModule.verifyAuditInclusion(
          {
            event: {
              eventId: event.eventId,
              timestampMs: Number(event.timestampMs),
              eventType: event.eventType,
              tenantId: event.tenantId,
              principalId: event.principalId,
              sessionId: event.sessionId,
              resource: event.resource,
              action: event.action,
              outcome: event.outcome as ServedInclusionProof["event"]["outcome"],
              sourceIp: event.sourceIp,
              userAgent: event.userAgent,
              correlationId: event.correlationId,
              riskScore: event.riskScore,
              policyViolations: [...event.policyViolations],
              metadata: { ...event.metadata },
            },
            leafIndex: Number(response.leafIndex),
            leafHash: response.leafHash,
            treeSize: Number(response.treeSize),
            proof: response.proof,
            signedNote: response.checkpoint.signedNote,
          },
          keys.keys,
          keys.origin,
        );
        reportCheck(ctx, kit, outcome, {
          event_id: eventId,
          seq: Number(response.leafIndex),
          tree_size: Number(response.treeSize),
          proof: response.proof,
          signed_note: response.checkpoint.signedNote,
        }, `event ${eventId} (seq ${response.leafIndex}) is in the log of ${response.treeSize} events`);
      }),
    );
  kit.example(proof, "aesp audit proof evt_01J...", "aesp audit proof evt_01J... --size 10000 --json");

  const checkpoint = audit
    .command("checkpoint")
    .description("Print a signed checkpoint (C2SP note, what witnesses keep); with --consistency-from, verify here that it extends an older one.")
    .option("--size <n>", "the checkpoint of this tree size (default: the latest)", positiveInteger("--size"))
    .option("--consistency-from <m>", "verify that the log of --size extends the checkpoint of size m", positiveInteger("--consistency-from"))
    .option("--key <verifier key>", "trust only these verifier keys (repeatable; default: the keys the Host lists)", collect)
    .action(
      kit.action(async (ctx, options: { size?: number; consistencyFrom?: number; key?: string[] }) => {
        const client = await ctx.client();
        const { checkpoint: current } = await client.services.audit.getCheckpoint({ treeSize: BigInt(options.size ?? 0) });
        if (current === undefined) throw usageError("The Host returned no checkpoint.", ["Check the Host version."]);
        if (options.consistencyFrom === undefined) {
          ctx.result({ tree_size: Number(current.treeSize), root_hash: current.rootHash, key_id: current.keyId, signed_note: current.signedNote }, () => current.signedNote.trimEnd());
          return;
        }
        const response = await client.services.audit.getConsistencyProof({ oldSize: BigInt(options.consistencyFrom), newSize: current.treeSize });
        const keys = await verifierKeysFor(ctx, options.key);
        const hostModule = await ctx.io.loadHost();
        const outcome = hostModule.verifyAuditConsistency(
          { oldSize: options.consistencyFrom, oldNote: response.oldCheckpoint?.signedNote ?? "", newNote: response.newCheckpoint?.signedNote ?? "", proof: response.proof },
          keys.keys,
          keys.origin,
        );
        if (!ctx.json) ctx.out(current.signedNote.trimEnd());
        reportCheck(ctx, kit, outcome, {
          old_size: options.consistencyFrom,
          new_size: Number(current.treeSize),
          proof: response.proof,
          signed_note: current.signedNote,
        }, `the log of ${current.treeSize} events extends the checkpoint of ${options.consistencyFrom}`);
      }),
    );
  kit.example(checkpoint, "aesp audit checkpoint", "aesp audit checkpoint --size 20000 --consistency-from 10000");

  const stats = audit
    .command("stats")
    .description("Count your tenant's audit events by type, outcome and day.")
    .option("--since <ISO time>", "events at or after this instant")
    .option("--until <ISO time>", "events before this instant")
    .option("--tenant <tenant id>", "platform auditors: another tenant")
    .action(
      kit.action(async (ctx, options: { since?: string; until?: string; tenant?: string }) => {
        const client = await ctx.client();
        const response = await client.services.audit.getAuditStatistics({
          tenantId: options.tenant ?? "",
          startTime: timeOption("--since", options.since),
          endTime: timeOption("--until", options.until),
        });
        const count = (map: Record<string, bigint>) => Object.fromEntries(Object.entries(map).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, Number(v)]));
        const json = {
          total_events: Number(response.totalEvents),
          security_events: Number(response.securityEvents),
          events_by_type: count(response.eventsByType),
          events_by_outcome: count(response.eventsByOutcome),
          events_by_day: count(response.eventsByDay),
          log_size: Number(response.logSize),
          latest_checkpoint_size: Number(response.latestCheckpoint?.treeSize ?? 0n),
        };
        ctx.result(json, () => {
          const section = (title: string, map: Record<string, number>) => [title, ...Object.entries(map).map(([k, v]) => `  ${k.padEnd(40)} ${String(v).padStart(10)}`)];
          return [
            `events: ${json.total_events} (security: ${json.security_events}); whole log: ${json.log_size}, latest checkpoint: ${json.latest_checkpoint_size}`,
            ...section("by type:", json.events_by_type),
            ...section("by outcome:", json.events_by_outcome),
            ...section("by day (UTC):", json.events_by_day),
          ].join("\n");
        });
      }),
    );
  kit.example(stats, "aesp audit stats", "aesp audit stats --since 2025-01-01T00:00:00Z --json");

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

  registerAuditRetentionCommands(audit, kit);
}

/**
 * `aesp audit verify --export`: each --key is a PEM file path, a PEM text or a C2SP verifier key.
 * Exit 1 with the first failure (line, event, reason) when the export does not verify.
 */
async function verifyExportFile(ctx: CliContext, kit: CommandKit, file: string, keyOptions: readonly string[]): Promise<void> {
  if (keyOptions.length === 0) {
    throw usageError("Pass the Host's audit public key with --key.", [
      "An export is verified against keys you obtained apart from the file: audit-public-key.pem from the Host's operator, or a verifier key from aesp audit checkpoint's Host (GetAuditVerifierKeys).",
    ]);
  }
  const keys: string[] = [];
  for (const key of keyOptions) {
    if (/^[^+\s]+\+[0-9a-f]{8}\+/.test(key)) {
      keys.push(key);
      continue;
    }
    const keyPath = resolve(ctx.io.cwd, key);
    keys.push(
      await readFile(keyPath, "utf8").catch(() => {
        throw usageError(`Cannot read the key ${keyPath}.`, ["Pass a PEM file (audit-public-key.pem) or a verifier key <name>+<id>+<base64>."]);
      }),
    );
  }
  const exportPath = resolve(ctx.io.cwd, file);
  await readFile(exportPath, { flag: "r" }).catch(() => {
    throw usageError(`Cannot read the export ${exportPath}.`, ["Create one with aesp audit export --output FILE."]);
  });
  const hostModule = await ctx.io.loadHost();
  let drawn = false;
  const outcome = await hostModule.verifyAuditExport(exportPath, keys, (events) => {
    if (!ctx.io.stderrIsTty) return;
    drawn = true;
    ctx.io.stderr(`\rverifying: ${events.toLocaleString("en-US")} events   `);
  });
  if (drawn) ctx.io.stderr("\n");
  if (outcome.ok) {
    ctx.result(
      { ok: true, events: outcome.events, tenant_id: outcome.tenantId, tree_size: outcome.treeSize, root_hash: outcome.rootHash, checkpoints: outcome.checkpoints, key_id: outcome.keyId },
      () =>
        `OK: ${outcome.events.toLocaleString("en-US")} events of ${outcome.tenantId === "" ? "every tenant" : `tenant ${outcome.tenantId}`} verified against the signed checkpoint of ${outcome.treeSize} events (root ${outcome.rootHash}, key ${outcome.keyId}); ${outcome.checkpoints} checkpoint(s), signed manifest intact.`,
    );
    return;
  }
  kit.setExitCode(1);
  const where = [outcome.eventId === "" ? "" : `event ${outcome.eventId}`, outcome.seq === null ? "" : `seq ${outcome.seq}`, `line ${outcome.line}`].filter((part) => part !== "").join(", ");
  if (ctx.json) {
    ctx.out(JSON.stringify({ ok: false, line: outcome.line, event_id: outcome.eventId, seq: outcome.seq, reason: outcome.reason }, null, 2));
  } else {
    ctx.note(
      [
        `FAILED (${where}): ${outcome.reason}`,
        "what to do next:",
        "  - Keep the file unchanged as evidence and ask the Host's operator for a fresh export.",
        "  - Check that --key is the Host's audit public key (all of them if it was rotated).",
      ].join("\n"),
    );
  }
}

/** An ISO time option as uint64 epoch ms; absent is 0. */
function timeOption(flag: string, value: string | undefined): bigint {
  if (value === undefined) return 0n;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw usageError(`${flag} is not a date: ${value}`, ["Use ISO 8601, e.g. 2025-01-31T12:00:00Z."]);
  return BigInt(ms);
}

/** The verifier keys to trust: the ones given, else every key (current and retired) the Host lists. */
async function verifierKeysFor(ctx: CliContext, given: string[] | undefined): Promise<{ keys: string[]; origin: string }> {
  const client = await ctx.client();
  const listed = await client.services.audit.getAuditVerifierKeys({});
  return { keys: given ?? listed.keys.map((key) => key.verifierKey), origin: listed.origin };
}

function reportCheck(ctx: CliContext, kit: CommandKit, outcome: ProofCheck, details: Record<string, unknown>, what: string): void {
  if (outcome.ok) {
    ctx.result({ ok: true, ...details, root_hash: outcome.rootHash, key_id: outcome.keyId }, () => `OK: ${what}; checkpoint signed by ${outcome.keyId}, root ${outcome.rootHash}.`);
    return;
  }
  kit.setExitCode(1);
  if (ctx.json) {
    ctx.out(JSON.stringify({ ok: false, reason: outcome.reason, ...details }, null, 2));
  } else {
    ctx.note(
      [
        `FAILED: ${outcome.reason}`,
        "what to do next:",
        "  - Keep this output and the checkpoint note as evidence.",
        "  - Run aesp audit verify on the Host's store (with --key kept apart from the Host) to find the first bad event, and inform your security team.",
      ].join("\n"),
    );
  }
}
