/**
 * The human-readable summary `npm run bench` prints after writing the JSON, and the flat list of
 * target checks it ends with.
 */
import type { AuditReport } from "./audit-throughput.ts";
import type { AuthorizationReport } from "./authorization.ts";
import type { AuditProofsReport } from "./audit-proofs.ts";
import type { Figure, TargetCheck, TargetedFigure } from "./figures.ts";
import type { GovernedVsDirectReport } from "./governed-vs-direct.ts";
import type { IdleConnectionsReport } from "./idle-connections.ts";

/** A section that ran, or the reason it did not. */
export type Section<T> = T | { readonly error: string } | { readonly skipped: string };

/** Everything one run measured. */
export interface BenchResults {
  readonly governed_vs_direct: Section<GovernedVsDirectReport>;
  readonly idle_runtime_connections: Section<IdleConnectionsReport>;
  readonly audit: Section<AuditReport>;
  readonly authorization: Section<AuthorizationReport>;
  /** Absent from runs made before it existed. */
  readonly audit_proofs?: Section<AuditProofsReport>;
}

function ran<T extends object>(section: Section<T>): section is T {
  return !("error" in section) && !("skipped" in section);
}

function isTargeted(value: unknown): value is TargetedFigure {
  return typeof value === "object" && value !== null && "meets_target" in value && "target" in value;
}

/** Every targeted figure of the results, with a readable name. */
export function collectTargets(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const add = (name: string, value: unknown) => {
    if (isTargeted(value)) checks.push({ name, value: value.value, unit: value.unit, target: value.target, meets_target: value.meets_target });
  };
  const governed = results.governed_vs_direct;
  if (ran(governed)) {
    for (const level of governed.levels) {
      add(`governed/direct throughput at ${level.in_flight} in flight`, level.comparison.throughput_ratio);
      add(`added p99 latency at ${level.in_flight} in flight`, level.comparison.added_p99);
      add(`governed failures (errors + calls unanswered at the cutoff) at ${level.in_flight} in flight`, level.governed_targets?.errors);
      add(`governed p95 at ${level.in_flight} in flight`, level.governed_targets?.p95);
    }
  }
  const idle = results.idle_runtime_connections;
  if (ran(idle)) for (const level of idle.levels) add(`connected runtimes (target ${level.target})`, level.connected_after_hold);
  const audit = results.audit;
  if (ran(audit)) {
    for (const entry of audit.group_commit) if ("throughput" in entry) add(`durable audit (AuditLog group commit, ${entry.backend}, max_batch ${entry.max_batch})`, entry.throughput);
    add(`audit verification (${audit.verify.events} events)`, audit.verify.throughput);
    for (const entry of audit.verify_store) if ("throughput" in entry) add(`audit verification read from ${entry.backend} (${entry.events} events)`, entry.throughput);
  }
  const authorization = results.authorization;
  if (ran(authorization)) for (const level of authorization.levels) add(`authorization p99 with ${level.policies} policies`, level.p99);
  return checks;
}

/** The summary as lines of text. */
export function formatSummary(results: BenchResults, checks: readonly TargetCheck[], heading: string): string {
  const lines: string[] = [heading, ""];
  const governed = results.governed_vs_direct;
  lines.push("Governed vs direct (echo@1.0.0, closed loop; latency in ms)");
  if (ran(governed)) {
    lines.push(row(["in flight", "direct/s", "p50", "p95", "p99", "err", "governed/s", "p50", "p95", "p99", "err", "ratio", "+p50", "+p99"]));
    for (const level of governed.levels) {
      const d = level.direct;
      const g = level.governed;
      lines.push(
        row([
          String(level.in_flight),
          num(d.throughput),
          num(d.latency.p50),
          num(d.latency.p95),
          num(d.latency.p99),
          String(d.errors_total),
          num(g.throughput),
          num(g.latency.p50),
          num(g.latency.p95),
          num(g.latency.p99),
          String(g.errors_total),
          num(level.comparison.throughput_ratio),
          num(level.comparison.added_p50),
          num(level.comparison.added_p99),
        ]),
      );
    }
    lines.push(`  audit records per governed call: ${num(governed.audit_records_per_governed_call)}`);
    for (const level of governed.levels) {
      for (const [path, report] of [["direct", level.direct], ["governed", level.governed]] as const) {
        const kinds = Object.entries(report.error_kinds);
        if (kinds.length > 0) lines.push(`  errors, ${path} at ${level.in_flight}: ${kinds.map(([k, n]) => `${n}× ${k}`).join(", ")}`);
        if (report.abandoned > 0) lines.push(`  ${path} at ${level.in_flight}: ${report.abandoned} calls still running at the cutoff (not errors, but not answered in time)`);
      }
    }
  } else lines.push(`  not measured: ${reason(governed)}`);

  lines.push("", "Idle runtime connections (one mTLS connection + stream each, heartbeating)");
  const idle = results.idle_runtime_connections;
  if (ran(idle)) {
    lines.push(row(["target", "open", "failed", "dropped", "establish s", "conn/s", "host RSS MiB", "RSS/conn KiB", "heap/conn KiB"]));
    for (const level of idle.levels) {
      lines.push(
        row([
          String(level.target),
          String(level.connected_after_hold.value),
          String(level.failed),
          String(level.dropped_while_idle),
          num(level.establish_time),
          num(level.establish_rate),
          `${mib(level.host_rss_before.value)}→${mib(level.host_rss_after.value)}`,
          (level.host_memory_per_connection_rss.value / 1024).toFixed(1),
          (level.host_memory_per_connection_heap.value / 1024).toFixed(1),
        ]),
      );
    }
    if (idle.limit !== undefined) lines.push(`  limit: ${idle.limit}`);
  } else lines.push(`  not measured: ${reason(idle)}`);

  lines.push("", "Durable audit");
  const audit = results.audit;
  if (ran(audit)) {
    for (const entry of audit.group_commit) {
      if ("error" in entry) lines.push(`  AuditLog group commit, ${entry.backend}, max_batch ${entry.max_batch ?? "?"}: failed: ${entry.error}`);
      else lines.push(`  AuditLog group commit, ${entry.backend}, max_batch ${entry.max_batch}: ${num(entry.throughput)} events/s (${entry.events} events, ${entry.concurrent_callers} callers, mean batch ${num(entry.mean_batch)}, record p99 ${num(entry.record_latency_p99)} ms, errors ${entry.errors})`);
    }
    for (const entry of audit.raw_store_appends) {
      if ("error" in entry) lines.push(`  raw store appends, ${entry.backend}: failed: ${entry.error}`);
      else lines.push(`  raw store appends, ${entry.backend}: ${num(entry.throughput)} events/s (batches of ${entry.batch_size})`);
    }
    lines.push(`  verify: ${audit.verify.events} events in ${num(audit.verify.elapsed)} s = ${num(audit.verify.throughput)} events/s (${audit.verify.checkpoints} checkpoints, ${audit.verify.ok ? "ok" : "FAILED"})`);
    for (const entry of audit.verify_store) {
      if ("error" in entry) lines.push(`  verify read from ${entry.backend}: failed: ${entry.error}`);
      else lines.push(`  verify read from ${entry.backend}: ${entry.events} events in ${num(entry.elapsed)} s = ${num(entry.throughput)} events/s (${entry.checkpoints} checkpoints, ${entry.ok ? "ok" : "FAILED"})`);
    }
  } else lines.push(`  not measured: ${reason(audit)}`);

  lines.push("", "Authorization decisions (µs)");
  const authorization = results.authorization;
  if (ran(authorization)) {
    lines.push(row(["policies", "applicable", "p50", "p99", "decisions/s"]));
    const levels = authorization.worst_case === null ? authorization.levels : [...authorization.levels, authorization.worst_case];
    for (const level of levels) lines.push(row([String(level.policies), String(level.applicable_per_decision), num(level.p50), num(level.p99), num(level.decisions_per_second)]));
    const engines = authorization.engines;
    const comparisons = engines.worst_case === null ? engines.levels : [...engines.levels, engines.worst_case];
    lines.push("", `CEL vs Cedar ${engines.cedar_version}, same policies and inputs (µs)`);
    lines.push(row(["policies", "applicable", "CEL p50", "CEL p99", "Cedar p50", "Cedar p99", "Cedar/CEL p99", "same decisions"]));
    for (const level of comparisons) {
      lines.push(row([String(level.policies), String(level.applicable_per_decision), num(level.cel.p50), num(level.cel.p99), num(level.cedar.p50), num(level.cedar.p99), num(level.p99_ratio), level.decisions_agree ? "yes" : "NO"]));
    }
  } else lines.push(`  not measured: ${reason(authorization)}`);

  if (results.audit_proofs !== undefined) {
    lines.push("", "Audit inclusion proofs, SQLite (µs)");
    const proofs = results.audit_proofs;
    if (ran(proofs)) {
      lines.push(row(["events", "p50", "p99", "mean", "nodes"]));
      for (const level of proofs.levels) lines.push(row([String(level.events), num(level.p50), num(level.p99), num(level.mean), String(level.proof_nodes_mean)]));
      if (proofs.levels.some((level) => !level.all_verified)) lines.push("  SOME PROOFS DID NOT VERIFY");
    } else lines.push(`  not measured: ${reason(proofs)}`);
  }

  lines.push("", "Targets (BRIEF §9; reported, never enforced)");
  for (const check of checks) {
    lines.push(`  ${check.meets_target ? "meets " : "misses"}  ${check.name}: ${format(check.value)} ${check.unit} (target: ${check.target.description})`);
  }
  return lines.join("\n");
}

function reason(section: { readonly error: string } | { readonly skipped: string }): string {
  return "error" in section ? `error: ${section.error}` : `skipped: ${section.skipped}`;
}

function row(cells: readonly string[]): string {
  return `  ${cells.map((cell, index) => (index === 0 ? cell.padEnd(9) : cell.padStart(index === 6 ? 11 : 9))).join(" ")}`;
}

function num(value: Figure): string {
  return format(value.value);
}

function format(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  if (Math.abs(value) >= 1000) return Math.round(value).toString();
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(value === Math.round(value) ? 0 : 3);
}

function mib(bytes: number): string {
  return (bytes / 1_048_576).toFixed(0);
}
