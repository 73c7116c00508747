/**
 * `npm run bench`: measures the Host on this machine, in one run, against the targets of BRIEF §9,
 * and writes `bench/results/latest.json` (and `bench/results/<mode>.json`) plus a summary.
 *
 *   npm run bench                 full run (about 5–10 minutes on 2 cores)
 *   npm run bench -- --quick      the same figures at smaller sizes (under a minute)
 *   npm run bench -- --only=governed,idle,audit,authorization   a subset
 *   npm run bench -- --out=path.json                             also write the results there
 *
 * Figures are measured and reported, never asserted: missing a target does not fail the run.
 * The exit code is 1 only when something could not be measured at all (e.g. PostgreSQL is
 * unreachable); the error is in the JSON and the summary.
 * Every loop is bounded by count and time, children are stopped on the way out, and a watchdog
 * ends the run (and every child) if anything still hangs.
 */
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { benchAudit } from "./lib/audit-throughput.ts";
import { benchAuditProofs } from "./lib/audit-proofs.ts";
import { benchAuthorization } from "./lib/authorization.ts";
import { killAllChildren } from "./lib/children.ts";
import { benchGovernedVsDirect } from "./lib/governed-vs-direct.ts";
import { governedHostFlags } from "./lib/governed-vs-direct.ts";
import type { GovernedVsDirectReport, LevelPlan } from "./lib/governed-vs-direct.ts";
import { echoContract, idleContract, startBenchHost } from "./lib/host-setup.ts";
import type { BenchHost } from "./lib/host-setup.ts";
import { benchIdleConnections, openFileLimit } from "./lib/idle-connections.ts";
import type { IdleConnectionsReport } from "./lib/idle-connections.ts";
import { collectTargets, formatSummary } from "./lib/summary.ts";
import type { BenchResults, Section } from "./lib/summary.ts";

type Mode = "quick" | "full";
type SectionName = "governed" | "idle" | "audit" | "authorization" | "proofs";
const sectionNames: readonly SectionName[] = ["governed", "idle", "audit", "authorization", "proofs"];

/** Sizes per mode. Quick keeps every figure but at sizes that fit in about a minute. */
const plans = {
  quick: {
    watchdogMs: 240_000,
    governed: {
      levels: [
        { inFlight: 1, warmupMs: 200, measureMs: 1_000, maxMeasureMs: 1_000 },
        { inFlight: 64, warmupMs: 200, measureMs: 1_000, maxMeasureMs: 2_000 },
        { inFlight: 1_000, warmupMs: 300, measureMs: 1_500, maxMeasureMs: 4_000 },
        { inFlight: 10_000, warmupMs: 1_000, measureMs: 2_000, maxMeasureMs: 4_000 },
      ] satisfies LevelPlan[],
      maxCallsPerLevel: 2_000_000,
      drainTimeoutMs: 5_000,
    },
    idle: { targets: [1_000], holdMs: 1_500, concurrency: 64 },
    audit: { events: 20_000, maxBatches: [1, 64, 512, 4_096], concurrency: 1_000, rawEvents: 20_000, rawBatchSize: 1_000, verifyEvents: 100_000 },
    authorization: { policyCounts: [10, 100, 1_000, 10_000], iterations: 20_000, cedarIterations: 5_000, worstCasePolicies: 0 },
    proofs: { sizes: [10_000, 100_000], proofs: 2_000 },
  },
  full: {
    watchdogMs: 1_200_000,
    governed: {
      levels: [
        { inFlight: 1, warmupMs: 2_000, measureMs: 10_000, maxMeasureMs: 10_000 },
        { inFlight: 64, warmupMs: 2_000, measureMs: 10_000, maxMeasureMs: 20_000 },
        { inFlight: 1_000, warmupMs: 3_000, measureMs: 10_000, maxMeasureMs: 30_000 },
        { inFlight: 10_000, warmupMs: 5_000, measureMs: 15_000, maxMeasureMs: 60_000 },
      ] satisfies LevelPlan[],
      maxCallsPerLevel: 5_000_000,
      drainTimeoutMs: 60_000,
    },
    // A hold just over one heartbeat interval: every connection has heartbeated while idle.
    idle: { targets: [1_000, 10_000], holdMs: 12_000, concurrency: 64 },
    audit: { events: 50_000, maxBatches: [1, 64, 512, 4_096], concurrency: 1_000, rawEvents: 50_000, rawBatchSize: 1_000, verifyEvents: 1_000_000 },
    authorization: { policyCounts: [10, 100, 1_000, 10_000], iterations: 100_000, cedarIterations: 20_000, worstCasePolicies: 1_000 },
    proofs: { sizes: [10_000, 100_000, 1_000_000], proofs: 10_000 },
  },
} as const;

const postgresUrl = process.env["AESP_BENCH_POSTGRES_URL"] ?? process.env["AESP_TEST_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
const resultsDir = fileURLToPath(new URL("./results/", import.meta.url));

interface CommandLine {
  readonly mode: Mode;
  readonly only: ReadonlySet<SectionName>;
  readonly out: string | null;
}

function parseCommandLine(args: readonly string[]): CommandLine {
  let mode: Mode = "full";
  let only = new Set<SectionName>(sectionNames);
  let out: string | null = null;
  for (const arg of args) {
    if (arg === "--quick") mode = "quick";
    else if (arg.startsWith("--only=")) {
      const names = arg.slice("--only=".length).split(",").filter((name) => name !== "");
      const unknown = names.filter((name) => !sectionNames.includes(name as SectionName));
      if (unknown.length > 0) usage(`unknown section ${unknown.join(", ")}`);
      only = new Set(names as SectionName[]);
    } else if (arg.startsWith("--out=")) out = path.resolve(arg.slice("--out=".length));
    else usage(`unknown argument ${arg}`);
  }
  return { mode, only, out };
}

function usage(problem: string): never {
  process.stderr.write(`${problem}\nusage: npm run bench -- [--quick] [--only=${sectionNames.join(",")}] [--out=file.json]\n`);
  process.exit(2);
}

function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** Runs a section; a failure is recorded in the results, never thrown. */
async function section<T>(name: SectionName, only: ReadonlySet<SectionName>, run: () => Promise<T>): Promise<Section<T>> {
  if (!only.has(name)) return { skipped: "not selected with --only" };
  try {
    return await run();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`${name} failed: ${message}`);
    return { error: message };
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpu_model: cpus[0]?.model ?? "unknown",
    total_memory_bytes: os.totalmem(),
    node_version: process.version,
    v8_version: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    open_files_limit: openFileLimit(),
  };
}

async function main(): Promise<number> {
  const commandLine = parseCommandLine(process.argv.slice(2));
  const plan = plans[commandLine.mode];
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  let partial: Partial<BenchResults> = {};

  const write = async (results: Record<string, unknown>) => {
    await mkdir(resultsDir, { recursive: true });
    const text = `${JSON.stringify(results, null, 2)}\n`;
    await writeFile(path.join(resultsDir, "latest.json"), text);
    // quick.json and full.json always hold a whole run; a partial (--only) run writes latest.json only.
    if (commandLine.only.size === sectionNames.length) await writeFile(path.join(resultsDir, `${commandLine.mode}.json`), text);
    if (commandLine.out !== null) await writeFile(commandLine.out, text);
  };
  const envelope = (results: Partial<BenchResults>, complete: boolean) => ({
    schema: "aesp-bench/1",
    mode: commandLine.mode,
    complete,
    started_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    duration: { value: Math.round((Date.now() - startedAt.getTime()) / 100) / 10, unit: "s" },
    machine: machine(),
    // Other work on the machine skews every figure; the load averages say how busy it was.
    load_average: { before: loadBefore.map((n) => Math.round(n * 100) / 100), after: os.loadavg().map((n) => Math.round(n * 100) / 100), unit: "runnable processes (1, 5, 15 min)" },
    ...results,
    targets: collectTargets({
      governed_vs_direct: results.governed_vs_direct ?? { skipped: "not reached" },
      idle_runtime_connections: results.idle_runtime_connections ?? { skipped: "not reached" },
      audit: results.audit ?? { skipped: "not reached" },
      authorization: results.authorization ?? { skipped: "not reached" },
    }),
  });

  const watchdog = setTimeout(() => {
    log(`watchdog: the run exceeded ${plan.watchdogMs / 1000} s; stopping every child and writing partial results`);
    killAllChildren();
    void write(envelope(partial, false)).finally(() => process.exit(2));
  }, plan.watchdogMs);

  log(`mode ${commandLine.mode}; ${os.cpus().length} cpus; Node ${process.version}; load average ${loadBefore.map((n) => n.toFixed(2)).join(" ")}`);
  // One Host serves both network sections: idle connections first, on a fresh process (a clean
  // memory baseline), closed again before the governed calls start.
  let host: BenchHost | null = null;
  let hostError = "";
  if (commandLine.only.has("idle") || commandLine.only.has("governed")) {
    log("starting a Host (SQLite) in a child process and preparing it over the wire");
    try {
      host = await startBenchHost(governedHostFlags, [
        { runtimeId: "bench-echo", contracts: [echoContract.name] },
        { runtimeId: "bench-idle", contracts: [idleContract.name] },
      ]);
    } catch (err) {
      hostError = `the Host did not start: ${err instanceof Error ? err.message : String(err)}`;
      log(hostError);
    }
  }
  const withHost = <T>(run: (host: BenchHost) => Promise<T>) => async () => {
    if (host === null) throw new Error(hostError);
    return run(host);
  };
  let idle: Section<IdleConnectionsReport>;
  let governed: Section<GovernedVsDirectReport>;
  try {
    idle = await section("idle", commandLine.only, withHost((h) => benchIdleConnections({ ...plan.idle, host: h, log })));
    partial = { ...partial, idle_runtime_connections: idle };
    governed = await section("governed", commandLine.only, withHost((h) => benchGovernedVsDirect({ ...plan.governed, host: h, log })));
    partial = { ...partial, governed_vs_direct: governed };
  } finally {
    await host?.stop();
  }
  const audit = await section("audit", commandLine.only, () => benchAudit({ ...plan.audit, postgresUrl, log }));
  partial = { ...partial, audit };
  const authorization = await section("authorization", commandLine.only, async () => benchAuthorization({ ...plan.authorization, log }));
  partial = { ...partial, authorization };
  const auditProofs = await section("proofs", commandLine.only, () => benchAuditProofs({ ...plan.proofs, log }));
  const results: BenchResults = { governed_vs_direct: governed, idle_runtime_connections: idle, audit, authorization, audit_proofs: auditProofs };

  const report = envelope(results, true);
  await write(report);
  clearTimeout(watchdog);
  const heading = `AESP Host benchmark (${commandLine.mode}) — ${report.machine.cpus} × ${report.machine.cpu_model}, Node ${process.version}, ${report.finished_at}, ${report.duration.value} s, load average ${report.load_average.before.join("/")} → ${report.load_average.after.join("/")}`;
  process.stdout.write(`${formatSummary(results, report.targets, heading)}\n\nResults: ${path.join(resultsDir, "latest.json")}\n`);
  const auditPartsFailed = "group_commit" in audit && [...audit.group_commit, ...audit.raw_store_appends, ...audit.verify_store].some((part) => "error" in part);
  return [governed, idle, audit, authorization, auditProofs].some((s) => "error" in s) || auditPartsFailed ? 1 : 0;
}

process.on("unhandledRejection", (reason) => log(`unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}`));
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
    killAllChildren();
    process.exit(1);
  },
);
