import { readFile } from "node:fs/promises";
import { extname, resolve } from "node:path";
import { fromJson } from "@bufbuild/protobuf";
import type { JsonValue } from "@bufbuild/protobuf";
import { Option } from "commander";
import type { Command } from "commander";
import { PolicyDefinitionSchema } from "@aesp/proto/enterprise";
import type { PolicyDefinition } from "@aesp/proto/enterprise";
import { PolicyRolloutSchema, PolicyTestCaseSchema } from "@aesp/proto/policy";
import type { PolicyReplayChange, PolicyRollout, PolicyTestCase, PolicyTestCaseResult, PolicyValidationIssue } from "@aesp/proto/policy";
import type { AespClient } from "@aesp/client";
import { formatTime, protoJson } from "../context.ts";
import type { CliContext } from "../context.ts";
import type { CommandKit } from "../program.ts";
import { positiveInteger } from "../program.ts";
import { usageError } from "../render-error.ts";
import { formatFields, formatTable } from "../table.ts";
import type { Column } from "../table.ts";
import { pageSize } from "./tenants.ts";

const policyStatuses = ["DRAFT", "PENDING_APPROVAL", "ACTIVE", "DEPRECATED", "RETIRED", "REJECTED"];

const policyColumns: readonly Column<PolicyDefinition>[] = [
  { header: "ID", value: (policy) => policy.policyId },
  { header: "VERSION", value: (policy) => policy.version, align: "right" },
  { header: "STATUS", value: (policy) => policy.status },
  { header: "EFFECT", value: (policy) => policy.rule?.effect },
  { header: "ENABLED", value: (policy) => (policy.enabled ? "yes" : "no") },
  { header: "APPLIES TO", value: (policy) => (policy.appliesTo.length === 0 ? "(all)" : policy.appliesTo.join(",")) },
  { header: "NAME", value: (policy) => policy.name },
];

/** A policy file as read, with its path for messages. */
interface PolicyFile {
  readonly path: string;
  readonly policy: PolicyDefinition;
}

/** Reads a JSON or YAML file into a plain document. */
async function readDocument(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw usageError(`Cannot read ${path}.`, ["Check the path."], { path });
  }
  const yaml = [".yaml", ".yml"].includes(extname(path).toLowerCase());
  try {
    return yaml ? (await import("yaml")).parse(text) : JSON.parse(text);
  } catch (err) {
    throw usageError(`${path} is not valid ${yaml ? "YAML" : "JSON"}: ${(err as Error).message}`, ["Fix the syntax error."], { path });
  }
}

/**
 * Reads a PolicyDefinition from a JSON or YAML file in proto JSON (snake_case). `enabled` defaults
 * to true: a policy file describes a policy meant to act once approved.
 * @throws AespError INVALID_ARGUMENT naming the file and the problem.
 */
export async function readPolicyFile(path: string): Promise<PolicyFile> {
  const document = await readDocument(path);
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw usageError(`${path} must hold one policy (a mapping with name, rule, applies_to, …).`, ["See examples/policies/limit-long-texts.yaml."], { path });
  }
  const withDefaults = { enabled: true, ...(document as Record<string, unknown>) };
  try {
    return { path, policy: fromJson(PolicyDefinitionSchema, withDefaults as JsonValue) };
  } catch (err) {
    throw usageError(`${path} is not a PolicyDefinition: ${(err as Error).message}`, [
      "Use the proto JSON field names (snake_case): policy_id, name, description, rule (condition, effect, actions), applies_to, enabled.",
      "See examples/policies/limit-long-texts.yaml.",
    ], { path });
  }
}

/**
 * Reads synthetic test cases: a list, or a mapping with `cases:`. A case's `context.args` may be
 * written as a mapping; it is sent as the JSON text the API expects.
 */
async function readCasesFile(path: string): Promise<PolicyTestCase[]> {
  const document = await readDocument(path);
  const list = Array.isArray(document) ? document : typeof document === "object" && document !== null ? (document as { cases?: unknown }).cases : undefined;
  if (!Array.isArray(list)) throw usageError(`${path} must hold a list of cases (or a mapping with cases:).`, ["See examples/policies/cases.yaml."], { path });
  return list.map((entry: unknown, index) => {
    const raw = (typeof entry === "object" && entry !== null ? { ...(entry as Record<string, unknown>) } : {}) as Record<string, unknown>;
    const context = typeof raw["context"] === "object" && raw["context"] !== null ? { ...(raw["context"] as Record<string, unknown>) } : undefined;
    if (context !== undefined) {
      for (const [key, value] of Object.entries(context)) if (typeof value !== "string") context[key] = key === "args" ? JSON.stringify(value) : String(value);
      raw["context"] = context;
    }
    try {
      return fromJson(PolicyTestCaseSchema, raw as JsonValue);
    } catch (err) {
      throw usageError(`Case ${index + 1} of ${path} is not a PolicyTestCase: ${(err as Error).message}`, ["Fields: name, resource, action, expected_decision, security_context, context."], { path });
    }
  });
}

/** One issue as `SEVERITY field line:col  message`, with the condition line and a caret under the column. */
function formatIssue(issue: PolicyValidationIssue, condition: string): string {
  const where = issue.line > 0 ? ` ${issue.line}:${issue.column}` : "";
  const lines = [`  ${issue.severity.padEnd(7)} ${issue.field}${where}  ${issue.message}`];
  if (issue.line > 0) {
    const text = condition.split("\n")[issue.line - 1];
    if (text !== undefined) lines.push(`          | ${text}`, `          | ${" ".repeat(Math.max(0, issue.column - 1))}^`);
  }
  return lines.join("\n");
}

function summarize(issues: readonly PolicyValidationIssue[]): string {
  const errors = issues.filter((issue) => issue.severity === "ERROR").length;
  const warnings = issues.length - errors;
  if (issues.length === 0) return "valid";
  const parts = [errors > 0 ? `${errors} error${errors === 1 ? "" : "s"}` : "", warnings > 0 ? `${warnings} warning${warnings === 1 ? "" : "s"}` : ""].filter((part) => part !== "");
  return `${errors > 0 ? "invalid" : "valid"}: ${parts.join(", ")}`;
}

/** Prints a file's validation (to stdout, or with `toStderr` as a notice); true when it has errors. */
function reportIssues(ctx: CliContext, file: PolicyFile, issues: readonly PolicyValidationIssue[], toStderr = false): boolean {
  const condition = file.policy.rule?.condition ?? "";
  const lines = [`${file.path}: ${summarize(issues)}`, ...issues.map((issue) => formatIssue(issue, condition))];
  if (toStderr) ctx.note(lines.join("\n"));
  else ctx.out(lines.join("\n"));
  return issues.some((issue) => issue.severity === "ERROR");
}

/** `24h`, `90m`, `7d`, `30s` → milliseconds. */
function durationMs(text: string, flag: string): number {
  const match = /^(\d{1,6})(s|m|h|d)$/.exec(text);
  if (match === null) throw usageError(`${flag} must be a duration such as 30m, 24h or 7d.`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "s" | "m" | "h" | "d"];
  return Number(match[1]) * unit;
}

/** A `--since`/`--until` value: a duration back from now, or an ISO 8601 instant. */
function instant(text: string, flag: string, now: number): number {
  if (/^\d+[smhd]$/.test(text)) return now - durationMs(text, flag);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw usageError(`${flag} must be a duration back from now (24h, 7d) or an ISO 8601 time.`);
  return ms;
}

/** The newest version of a policy, or undefined when it does not exist. */
async function newestVersion(client: AespClient, policyId: string): Promise<PolicyDefinition | undefined> {
  try {
    return (await client.services.policy.getPolicy({ policyId })).policy;
  } catch (err) {
    if ((err as { code?: unknown }).code === "NOT_FOUND") return undefined;
    throw err;
  }
}

const caseColumns: readonly Column<PolicyTestCaseResult & { expected: string }>[] = [
  { header: "CASE", value: (row) => row.name },
  { header: "EXPECTED", value: (row) => row.expected || "-" },
  { header: "DECISION", value: (row) => row.decision },
  { header: "RESULT", value: (row) => (row.passed ? "pass" : "FAIL") },
  { header: "MATCHED", value: (row) => row.decisions.filter((d) => d.matched || d.error !== "").map((d) => (d.error !== "" ? `${d.policyId}(error)` : `${d.policyId}:${d.effect}`)).join(",") },
];

const changeColumns: readonly Column<PolicyReplayChange>[] = [
  { header: "EVENT", value: (change) => change.eventId },
  { header: "CORRELATION", value: (change) => change.correlationId },
  { header: "PRINCIPAL", value: (change) => change.principalId },
  { header: "RESOURCE", value: (change) => change.resource },
  { header: "BEFORE", value: (change) => change.previousDecision },
  { header: "AFTER", value: (change) => change.newDecision },
  { header: "POLICIES", value: (change) => change.policyIds.join(",") },
];

/** `aesp policy validate|test|submit|list|show|delete`. */
export function registerPolicyCommands(program: Command, kit: CommandKit): void {
  const policy = program
    .command("policy")
    .description("Write, test and roll out CEL policies: every change is a versioned DRAFT that acts only once another principal approves it.");

  const validate = policy
    .command("validate")
    .description("Check policy files against the Host (syntax, variable schema, types, fields) without storing anything. Exit 1 on any error.")
    .argument("<file...>", "PolicyDefinition in proto JSON (snake_case), .yaml or .json")
    .action(
      kit.action(async (ctx, files: string[]) => {
        const client = await ctx.client();
        const results: { file: string; valid: boolean; issues: unknown[] }[] = [];
        let failed = false;
        for (const path of files) {
          const file = await readPolicyFile(resolve(ctx.io.cwd, path));
          const response = await client.services.policy.validatePolicy({ policy: file.policy });
          results.push({ file: path, valid: response.valid, issues: response.issues.map((issue) => ({ severity: issue.severity, field: issue.field, message: issue.message, line: issue.line, column: issue.column })) });
          if (!ctx.json) failed = reportIssues(ctx, { ...file, path }, response.issues) || failed;
          else failed = failed || !response.valid;
        }
        if (ctx.json) ctx.out(JSON.stringify({ results }, null, 2));
        else ctx.out(failed ? "Policy validation failed." : `${files.length === 1 ? "The policy is" : "The policies are"} valid.`);
        if (failed) kit.setExitCode(1);
      }),
    );
  kit.example(validate, "aesp policy validate examples/policies/limit-long-texts.yaml");

  const test = policy
    .command("test")
    .description(
      "Simulate candidate policies together with the ACTIVE ones: decide synthetic cases (--cases) and replay recorded decisions (--since) to list every call whose decision would change. Changes nothing. Exit 1 when a case does not get its expected decision.",
    )
    .argument("<file...>", "candidate PolicyDefinitions (a policy_id of an ACTIVE policy replaces it)")
    .option("--cases <file>", "synthetic cases, .yaml or .json (name, resource, expected_decision, security_context, context)")
    .option("--since <when>", "replay decisions recorded since then: a duration back from now (24h, 7d) or an ISO 8601 time")
    .option("--until <when>", "end of the replayed window (default: now)")
    .option("--limit <n>", "replay at most this many decisions (Host default 1000, at most 10000)", positiveInteger("--limit"))
    .action(
      kit.action(async (ctx, files: string[], options: { cases?: string; since?: string; until?: string; limit?: number }) => {
        if (options.cases === undefined && options.since === undefined) {
          throw usageError("Give --cases, --since, or both: there is nothing to test otherwise.", ["aesp policy test policy.yaml --cases cases.yaml --since 24h"]);
        }
        const candidates = await Promise.all(files.map((path) => readPolicyFile(resolve(ctx.io.cwd, path))));
        const cases = options.cases === undefined ? [] : await readCasesFile(resolve(ctx.io.cwd, options.cases));
        const now = Date.now();
        const startTime = options.since === undefined ? undefined : instant(options.since, "--since", now);
        const endTime = options.until === undefined ? 0 : instant(options.until, "--until", now);
        const client = await ctx.client();
        const response = await client.services.policy.testPolicy({
          candidatePolicies: candidates.map((candidate) => candidate.policy),
          cases,
          ...(startTime === undefined ? {} : { history: { startTime: BigInt(startTime), endTime: BigInt(endTime), limit: options.limit ?? 0 } }),
        });
        const failures = response.caseResults.filter((result) => !result.passed);
        const rows = response.caseResults.map((result, index) => ({ ...result, expected: cases[index]?.expectedDecision.toUpperCase() ?? "" }));
        const replay = response.replay;
        ctx.result(
          {
            cases: rows.map((row) => ({ name: row.name, expected: row.expected, decision: row.decision, passed: row.passed, decisions: row.decisions.map((d) => ({ policy_id: d.policyId, version: d.version, matched: d.matched, effect: d.effect, error: d.error })) })),
            replay:
              replay === undefined
                ? null
                : {
                    decisions_replayed: Number(replay.decisionsReplayed),
                    decisions_changed: Number(replay.decisionsChanged),
                    newly_denied: Number(replay.newlyDenied),
                    newly_allowed: Number(replay.newlyAllowed),
                    samples: replay.samples.map((s) => ({ event_id: s.eventId, correlation_id: s.correlationId, principal_id: s.principalId, resource: s.resource, action: s.action, previous_decision: s.previousDecision, new_decision: s.newDecision, policy_ids: s.policyIds })),
                  },
          },
          () => {
            const out: string[] = [];
            if (rows.length > 0) out.push(`Cases: ${rows.length - failures.length} of ${rows.length} passed.`, formatTable(caseColumns, rows).trimEnd());
            if (replay !== undefined) {
              const window = `${formatTime(startTime ?? 0)} to ${endTime === 0 ? "now" : formatTime(endTime)}`;
              out.push(
                `Replayed ${replay.decisionsReplayed} recorded decision${replay.decisionsReplayed === 1n ? "" : "s"} (${window}): ${replay.decisionsChanged} would change (${replay.newlyDenied} newly denied, ${replay.newlyAllowed} newly allowed).`,
              );
              if (replay.samples.length > 0) {
                out.push(formatTable(changeColumns, replay.samples).trimEnd());
                if (BigInt(replay.samples.length) < replay.decisionsChanged) out.push(`(showing the first ${replay.samples.length})`);
              }
            }
            return out.join("\n");
          },
        );
        if (failures.length > 0) kit.setExitCode(1);
      }),
    );
  kit.example(test, "aesp policy test examples/policies/limit-long-texts.yaml --cases examples/policies/cases.yaml --since 24h");

  const submit = policy
    .command("submit")
    .description("Store a policy file as a new DRAFT version (creates the policy, or updates it when its policy_id exists). It acts only once approved.")
    .argument("<file>", "PolicyDefinition in proto JSON (snake_case), .yaml or .json")
    .option("--expected-version <n>", "refuse (CONFLICT) unless this is the newest version")
    .option("--dry-run", "validate and show the version that would be stored, store nothing")
    .option("--request-approval", "ask for its approval right away (another principal approves it)")
    .option("--justification <text>", "why the change is needed (with --request-approval)", "")
    .action(
      kit.action(async (ctx, path: string, options: { expectedVersion?: string; dryRun?: boolean; requestApproval?: boolean; justification: string }) => {
        const file = await readPolicyFile(resolve(ctx.io.cwd, path));
        const client = await ctx.client();
        const validation = await client.services.policy.validatePolicy({ policy: file.policy });
        if (!validation.valid) {
          reportIssues(ctx, { ...file, path }, validation.issues, true);
          ctx.out("Not submitted: fix the errors above.");
          kit.setExitCode(1);
          return;
        }
        const policyId = file.policy.policyId;
        const existing = policyId === "" ? undefined : await newestVersion(client, policyId);
        const dryRun = options.dryRun === true;
        const response =
          existing === undefined
            ? await client.services.policy.createPolicy({ policy: file.policy, dryRun })
            : await client.services.policy.updatePolicy({ policy: file.policy, dryRun, expectedVersion: options.expectedVersion ?? "" });
        const stored = response.policy;
        if (stored === undefined) throw usageError("The Host returned no policy.");
        if (response.issues.length > 0 && !ctx.json) reportIssues(ctx, { ...file, path }, response.issues, true);
        const verb = dryRun ? "Would store" : existing === undefined ? "Created" : "Updated";
        if (options.requestApproval !== true || dryRun) {
          ctx.result({ policy: protoJson(PolicyDefinitionSchema, stored), dry_run: dryRun }, () =>
            [
              `${verb} ${stored.policyId} version ${stored.version} (${stored.status}).`,
              dryRun ? "" : `It acts once approved: aesp policy submit ${path} --request-approval, or request it through the governance API (POLICY ${stored.policyId}@${stored.version}).`,
            ]
              .filter((line) => line !== "")
              .join("\n"),
          );
          return;
        }
        const approval = await client.services.governance.requestApproval({ artifactType: "POLICY", artifactId: `${stored.policyId}@${stored.version}`, justification: options.justification });
        const details = approval.responseType.case === "successDetails" ? approval.responseType.value : undefined;
        ctx.result(
          { policy: protoJson(PolicyDefinitionSchema, stored), approval_request_id: details?.approvalRequestId ?? "", approval_status: details?.status ?? "", pending_approvers: details?.pendingApprovers ?? [] },
          () =>
            [
              `${verb} ${stored.policyId} version ${stored.version} and requested its approval.`,
              `  approval request: ${details?.approvalRequestId ?? ""} (${details?.status ?? ""})`,
              details !== undefined && details.pendingApprovers.length > 0 ? `  waiting for:      ${details.pendingApprovers.join(", ")}` : "",
              `Another principal approves it with: aesp approval approve ${details?.approvalRequestId ?? "<id>"}`,
            ]
              .filter((line) => line !== "")
              .join("\n"),
        );
      }),
    );
  kit.example(submit, 'aesp policy submit examples/policies/limit-long-texts.yaml --request-approval --justification "long texts in office hours"');

  const list = policy
    .command("list")
    .description("List the policies of your tenant: the newest version of each, or with --status the newest version in that status.")
    .addOption(new Option("--status <status>", "only versions in this status").choices(policyStatuses))
    .option("--limit <n>", "at most this many", positiveInteger("--limit"))
    .action(
      kit.action(async (ctx, options: { status?: string; limit?: number }) => {
        const client = await ctx.client();
        const rows: PolicyDefinition[] = [];
        let cursor = "";
        do {
          const page = await client.services.policy.listPolicies({ status: options.status ?? "", cursor, limit: pageSize(options.limit, rows.length) });
          rows.push(...page.policies);
          cursor = page.nextCursor;
        } while (cursor !== "" && (options.limit === undefined || rows.length < options.limit));
        ctx.table(PolicyDefinitionSchema, rows.slice(0, options.limit), policyColumns);
      }),
    );
  kit.example(list, "aesp policy list", "aesp policy list --status ACTIVE --json");

  const show = policy
    .command("show")
    .description("Show one policy version (default: the newest) with its condition.")
    .argument("<policy-id>", "the policy's id")
    .option("--version <n>", "this version", positiveInteger("--version"))
    .action(
      kit.action(async (ctx, policyId: string, options: { version?: number }) => {
        const client = await ctx.client();
        const response = await client.services.policy.getPolicy({ policyId, version: options.version === undefined ? "" : String(options.version) });
        const found = response.policy;
        if (found === undefined) throw usageError(`The Host returned no policy for ${policyId}.`);
        ctx.message(PolicyDefinitionSchema, found, () =>
          formatFields([
            ["policy", `${found.policyId} version ${found.version}`],
            ["name", found.name],
            ["status", found.status],
            ["enabled", found.enabled ? "yes" : "no"],
            ["effect", found.rule?.effect],
            ["actions", found.rule === undefined || found.rule.actions.length === 0 ? "(all)" : found.rule.actions.join(", ")],
            ["applies to", found.appliesTo.length === 0 ? "(everything in the tenant)" : found.appliesTo.join(", ")],
            ["description", found.description === "" ? undefined : found.description],
            ["created", `${formatTime(found.createdAt)} by ${found.createdBy}`],
          ]) + `condition:\n${(found.rule?.condition ?? "").split("\n").map((line) => `  ${line}`).join("\n")}`,
        );
      }),
    );
  kit.example(show, "aesp policy show limit-long-texts", "aesp policy show limit-long-texts --version 1 --json");

  const remove = policy
    .command("delete")
    .description("Request the deletion of a policy. Like any change it needs approval; once approved, no version of it acts.")
    .argument("<policy-id>", "the policy's id")
    .requiredOption("--reason <text>", "why; recorded in audit and shown to the approver")
    .action(
      kit.action(async (ctx, policyId: string, options: { reason: string }) => {
        const client = await ctx.client();
        const response = await client.services.policy.deletePolicy({ policyId, reason: options.reason });
        if (response.deleted) {
          ctx.result({ policy_id: policyId, deleted: true, approval_request_id: "" }, () => `${policyId} is deleted already.`);
          return;
        }
        const marker = await client.services.policy.getPolicy({ policyId });
        const artifactId = `${policyId}@${marker.policy?.version ?? ""}`;
        const pending = await client.services.governance.listPendingApprovals({ artifactType: "POLICY", limit: 500 });
        const approval = pending.approvals.find((candidate) => candidate.artifactId === artifactId);
        ctx.result({ policy_id: policyId, deleted: false, version: marker.policy?.version ?? "", approval_request_id: approval?.approvalRequestId ?? "" }, () =>
          [
            `Deletion of ${policyId} requested as version ${marker.policy?.version ?? "?"} (${marker.policy?.status ?? "?"}); the policy acts until it is approved.`,
            approval === undefined ? "" : `  approval request: ${approval.approvalRequestId}`,
            `Another principal approves it with: aesp approval approve ${approval?.approvalRequestId ?? "<id>"}`,
          ]
            .filter((line) => line !== "")
            .join("\n"),
        );
      }),
    );
  kit.example(remove, 'aesp policy delete limit-long-texts --reason "replaced by the payments policy set"');

  registerRolloutCommands(policy, kit);
}

const rolloutColumns: readonly Column<PolicyRollout>[] = [
  { header: "ID", value: (r) => r.rolloutId },
  { header: "POLICY", value: (r) => r.policyId },
  { header: "CANDIDATE", value: (r) => r.candidateVersion, align: "right" },
  { header: "BASELINE", value: (r) => (r.baselineVersion === "0" ? "-" : r.baselineVersion), align: "right" },
  { header: "MODE", value: (r) => r.mode },
  { header: "STATUS", value: (r) => r.status },
  { header: "EVALUATED", value: (r) => String(r.evaluated), align: "right" },
  { header: "DISAGREED", value: (r) => String(r.disagreements), align: "right" },
];

function cohortOf(r: PolicyRollout): string {
  const parts = [r.percent > 0 ? `${r.percent}% of principals` : "", r.principals.length > 0 ? r.principals.join(", ") : ""].filter((part) => part !== "");
  return parts.length === 0 ? "every principal" : parts.join("; ");
}

function describeRollout(r: PolicyRollout): string {
  const rate = r.evaluated === 0n ? 0 : Number(r.disagreements) / Number(r.evaluated);
  return formatFields([
    ["rollout", r.rolloutId],
    ["policy", `${r.policyId}: version ${r.candidateVersion} against ${r.baselineVersion === "0" ? "no ACTIVE version" : `version ${r.baselineVersion}`}`],
    ["mode", r.mode],
    ["status", r.status],
    ["cohort", cohortOf(r)],
    ["counted", `${r.evaluated} calls, ${r.disagreements} disagreements (rate ${rate.toFixed(4)})`],
    ["rolls back", `above a rate of ${r.threshold} after ${r.minSamples} calls`],
    ["ends", r.endsAt === 0n ? undefined : formatTime(r.endsAt)],
    ["approval", r.approvalRequestId === "" ? undefined : r.approvalRequestId],
    ["started", `${r.startedAt === 0n ? "not yet" : formatTime(r.startedAt)} by ${r.startedBy}`],
    ["ended", r.endedAt === 0n ? undefined : `${formatTime(r.endedAt)} by ${r.endedBy === "" ? "the Host" : r.endedBy}: ${r.endReason}`],
  ]).trimEnd();
}

/** A rate in (0, 1]. */
function rate(value: string): number {
  const parsed = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || !(parsed > 0 && parsed <= 1)) throw usageError("--threshold must be a disagreement rate in (0, 1], e.g. 0.05.");
  return parsed;
}

/** `aesp policy rollout …`: staged rollouts (shadow, canary) of a policy version. */
function registerRolloutCommands(policy: Command, kit: CommandKit): void {
  const rollout = policy.command("rollout").description("Roll out a policy version in stages: shadow (decided next to the ACTIVE version, never acts) or canary (acts for a share of principals once approved), rolled back by itself past a disagreement threshold.");

  const start = rollout
    .command("start")
    .description(
      "Start a rollout. A shadow starts at once (needs policies:submit). A canary opens an approval request (needs governance:request too) and starts when another principal approves it.",
    )
    .argument("<policy-id>", "the policy's id")
    .requiredOption("--version <n>", "the version to roll out (a DRAFT; a shadow may also use a version awaiting approval)", positiveInteger("--version"))
    .addOption(new Option("--mode <mode>", "shadow or canary").choices(["shadow", "canary"]).makeOptionMandatory())
    .option("--percent <n>", "share of principals (stable per principal), 1..100", positiveInteger("--percent"))
    .option("--principal <id...>", "chosen principals: ids or role:<name>")
    .option("--threshold <rate>", "disagreement rate that rolls it back (default 0.05)", rate)
    .option("--min-samples <n>", "calls counted before the threshold applies (default 100)", positiveInteger("--min-samples"))
    .option("--justification <text>", "why (shown to the approver of a canary)", "")
    .action(
      kit.action(async (ctx, policyId: string, options: { version: number; mode: string; percent?: number; principal?: string[]; threshold?: number; minSamples?: number; justification: string }) => {
        const client = await ctx.client();
        const response = await client.services.policy.startPolicyRollout({
          policyId,
          version: String(options.version),
          mode: options.mode.toUpperCase(),
          percent: options.percent ?? 0,
          principals: options.principal ?? [],
          threshold: options.threshold ?? 0,
          minSamples: BigInt(options.minSamples ?? 0),
          justification: options.justification,
        });
        const started = response.rollout;
        if (started === undefined) throw usageError("The Host returned no rollout.");
        ctx.message(PolicyRolloutSchema, started, () =>
          [
            describeRollout(started),
            started.status === "PENDING_APPROVAL"
              ? `The canary starts once approved by another principal: aesp approval approve ${started.approvalRequestId}`
              : `Follow it with: aesp policy rollout status ${started.rolloutId}`,
          ].join("\n"),
        );
      }),
    );
  kit.example(start, "aesp policy rollout start limit-long-texts --version 3 --mode shadow", "aesp policy rollout start limit-long-texts --version 3 --mode canary --percent 10 --threshold 0.02 --min-samples 500");

  const status = rollout
    .command("status")
    .description("Show one rollout with its counters (totals across Hosts).")
    .argument("<rollout-id>", "the rollout's id")
    .action(
      kit.action(async (ctx, rolloutId: string) => {
        const client = await ctx.client();
        const found = (await client.services.policy.getPolicyRollout({ rolloutId })).rollout;
        if (found === undefined) throw usageError(`The Host returned no rollout for ${rolloutId}.`);
        ctx.message(PolicyRolloutSchema, found, () => describeRollout(found));
      }),
    );
  kit.example(status, "aesp policy rollout status rol_0123456789");

  const list = rollout
    .command("list")
    .description("List the rollouts of your tenant.")
    .addOption(new Option("--status <status>", "only rollouts in this status").choices(["PENDING_APPROVAL", "RUNNING", "PROMOTED", "ROLLED_BACK", "STOPPED"]))
    .option("--policy <policy-id>", "only rollouts of this policy")
    .option("--limit <n>", "at most this many", positiveInteger("--limit"))
    .action(
      kit.action(async (ctx, options: { status?: string; policy?: string; limit?: number }) => {
        const client = await ctx.client();
        const rows: PolicyRollout[] = [];
        let cursor = "";
        do {
          const page = await client.services.policy.listPolicyRollouts({ status: options.status ?? "", policyId: options.policy ?? "", cursor, limit: pageSize(options.limit, rows.length) });
          rows.push(...page.rollouts);
          cursor = page.nextCursor;
        } while (cursor !== "" && (options.limit === undefined || rows.length < options.limit));
        ctx.table(PolicyRolloutSchema, rows.slice(0, options.limit), rolloutColumns);
      }),
    );
  kit.example(list, "aesp policy rollout list --status RUNNING");

  for (const [name, description] of [
    ["promote", "Make a RUNNING canary's version act for everyone; the baseline is retired (needs governance:adjudicate)."],
    ["stop", "End a rollout: a canary's version is retired and the baseline alone acts again; a canary awaiting approval has its request cancelled (needs governance:adjudicate)."],
  ] as const) {
    const command = rollout
      .command(name)
      .description(description)
      .argument("<rollout-id>", "the rollout's id")
      .requiredOption("--reason <text>", "why; recorded in audit")
      .action(
        kit.action(async (ctx, rolloutId: string, options: { reason: string }) => {
          const client = await ctx.client();
          const request = { rolloutId, reason: options.reason };
          const response = name === "promote" ? await client.services.policy.promotePolicyRollout(request) : await client.services.policy.stopPolicyRollout(request);
          const ended = response.rollout;
          if (ended === undefined) throw usageError("The Host returned no rollout.");
          ctx.message(PolicyRolloutSchema, ended, () => describeRollout(ended));
        }),
      );
    kit.example(command, `aesp policy rollout ${name} rol_0123456789 --reason "${name === "promote" ? "no disagreement in a week" : "unexpected denials"}"`);
  }
}
