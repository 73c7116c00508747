/**
 * Governed versus direct: the same `echo@1.0.0` call, fulfilled by the same runtime process,
 * made (a) directly through a bare RuntimeService endpoint with no control plane and (b) through
 * the Host's API gateway — `ToolService.InvokeTool` over HTTP/2 with a bearer token and a
 * session, the whole pipeline including durable audit — at several numbers of calls in flight.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { ResultStatus } from "@aesp/proto/adm";
import { ToolService } from "@aesp/proto/client";
import type { RuntimeProcessConfig } from "../runtime-process.ts";
import { spawnChild } from "./children.ts";
import type { ChildHandle } from "./children.ts";
import { startDirectEndpoint } from "./direct-endpoint.ts";
import type { DirectEndpoint } from "./direct-endpoint.ts";
import { figure, targeted, targets } from "./figures.ts";
import type { Figure, TargetedFigure } from "./figures.ts";
import { echoContract, echoContractId } from "./host-setup.ts";
import type { BenchHost } from "./host-setup.ts";
import { round, runClosedLoop } from "./load.ts";
import type { LoadPlan, LoadResult } from "./load.ts";

/** One concurrency level of the comparison. */
export interface LevelPlan {
  readonly inFlight: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  /** The window may extend up to this long until `inFlight` calls completed in it. */
  readonly maxMeasureMs: number;
}

/** Settings of the comparison. */
export interface GovernedVsDirectOptions {
  /** A Host started with {@link governedHostFlags}, with `bench-echo` enrolled for echo. */
  readonly host: BenchHost;
  readonly levels: readonly LevelPlan[];
  readonly maxCallsPerLevel: number;
  readonly drainTimeoutMs: number;
  readonly log: (line: string) => void;
}

/** Flags that lift the Host's protective limits so the bench measures the pipeline, not the limiter. */
export const governedHostFlags = {
  "gateway.rate_limit_per_ip": 1_000_000_000,
  "gateway.rate_limit_per_principal": 1_000_000_000,
  "invocation.max_in_flight_per_session": 1_000_000,
  "invocation.max_in_flight_per_tenant": 1_000_000,
  "runtime_plane.max_in_flight_per_runtime": 65_536,
  "identity.access_token_ttl_seconds": 3600,
} as const;

/** Most HTTP/2 connections the governed client spreads its calls over. */
const maxGovernedConnections = 40;
/**
 * Streams per governed connection. Beyond a few hundred concurrent streams on one HTTP/2
 * connection the governed throughput fell measurably here (10,000 in flight: ~500 calls/s over
 * 16 connections, ~1,500 over 40), so the client keeps to this many and opens more connections.
 */
const streamsPerConnection = 256;
/** Calls the runtime's handler runs at once (the work is trivial, so never the bottleneck). */
const runtimeConcurrency = 65_536;
const callTimeoutMs = 60_000;

/** One path (direct or governed) at one level. */
export interface PathReport {
  readonly throughput: Figure;
  readonly latency: { readonly p50: Figure; readonly p95: Figure; readonly p99: Figure; readonly mean: Figure; readonly max: Figure };
  readonly window: Figure;
  readonly calls_in_window: number;
  readonly errors_in_window: number;
  readonly errors_total: number;
  readonly abandoned: number;
  readonly calls_issued: number;
  readonly error_kinds: Readonly<Record<string, number>>;
  readonly error_samples: readonly string[];
  /** CPU used during the window, in cores (1.0 = one core busy), per process. */
  readonly cpu_cores: { readonly bench: Figure; readonly host: Figure; readonly runtime: Figure };
  /** CPU of all three processes per successful call in the window. */
  readonly cpu_per_call: Figure;
}

/** One level: both paths and their comparison. */
export interface LevelReport {
  readonly in_flight: number;
  readonly governed_client_connections: number;
  readonly direct: PathReport;
  readonly governed: PathReport;
  readonly comparison: {
    readonly throughput_ratio: TargetedFigure;
    readonly added_p50: Figure;
    readonly added_p95: Figure;
    readonly added_p99: Figure | TargetedFigure;
  };
  /** Only at 10,000 in flight: the BRIEF's zero-error and p95 targets for the governed path. */
  readonly governed_targets?: { readonly errors: TargetedFigure; readonly p95: TargetedFigure };
}

/** The comparison's section of the results. */
export interface GovernedVsDirectReport {
  readonly contract: string;
  readonly method: string;
  readonly host_flags: typeof governedHostFlags;
  readonly runtime_max_concurrency: number;
  readonly levels: LevelReport[];
  /** Durable audit records the Host wrote per governed call (from its metrics). */
  readonly audit_records_per_governed_call: Figure;
}

/**
 * Runs the comparison on `options.host`: starts the direct endpoint and the runtime process, then every level.
 * @throws Error when setup fails; failures of individual calls are counted, never thrown.
 */
export async function benchGovernedVsDirect(options: GovernedVsDirectOptions): Promise<GovernedVsDirectReport> {
  const { log, host } = options;
  let direct: DirectEndpoint | null = null;
  let runtime: ChildHandle | null = null;
  try {
    const credentials = host.runtimes.get("bench-echo");
    if (credentials === undefined) throw new Error("bench-echo was not enrolled");
    direct = await startDirectEndpoint({ clientCaPem: host.caCertificatePem, maxInFlight: governedHostFlags["runtime_plane.max_in_flight_per_runtime"], timeoutMs: 30_000, heartbeatIntervalMs: 10_000 });
    runtime = await startRuntimeProcess({
      runtimeId: credentials.runtimeId,
      tenantId: credentials.tenantId,
      certificatePem: credentials.certificatePem,
      privateKeyPem: credentials.privateKeyPem,
      hostUrl: host.runtimePlaneUrl,
      hostCaPem: credentials.caCertificatePem,
      directUrl: direct.url,
      directCaPem: direct.caCertificatePem,
      maxConcurrency: runtimeConcurrency,
    });
    await direct.whenConnected(10_000);

    const clients: Client<typeof ToolService>[] = [];
    for (let index = 0; index < maxGovernedConnections; index++) clients.push(createClient(ToolService, host.transport(host.agentToken)));
    const { sessionId } = host;
    const directEndpoint = direct;
    const callDirect = async (sequence: number) => expectEcho(await directEndpoint.call(echoContract.name, echoContract.contractVersion, { n: sequence }), sequence);
    const governedCaller = (connections: number) => async (sequence: number, worker: number) => {
      const client = clients[worker % connections] as Client<typeof ToolService>;
      const response = await client.invokeTool({ sessionId, contractVersion: echoContract.contractVersion, call: { name: echoContract.name, args: { n: sequence } } }, { timeoutMs: callTimeoutMs });
      if (response.result?.status !== ResultStatus.SUCCESS) throw new Error(`tool status ${String(response.result?.status)}: ${response.result?.error?.type ?? ""}`);
      expectEcho(response.result.content === undefined ? null : toJson(ValueSchema, response.result.content), sequence);
    };
    // Open every governed connection and check both paths answer before timing anything.
    await Promise.all(clients.map((_, worker) => governedCaller(maxGovernedConnections)(-1 - worker, worker)));
    await callDirect(-1);

    const processes = { host, runtime };
    // Records per call, on calls that all completed: a count taken over the levels would include
    // calls still running when a level was cut off.
    const probeCalls = 100;
    const auditBefore = await host.metric("aesp_audit_records_total");
    for (let sequence = 0; sequence < probeCalls; sequence++) await governedCaller(1)(sequence, 0);
    const auditPerCall = (await host.metric("aesp_audit_records_total")) - auditBefore;
    const levels: LevelReport[] = [];
    for (const level of options.levels) {
      const connections = Math.min(maxGovernedConnections, Math.max(1, Math.ceil(level.inFlight / streamsPerConnection)));
      const plan: LoadPlan = {
        concurrency: level.inFlight,
        warmupMs: level.warmupMs,
        measureMs: level.measureMs,
        minCompletions: level.inFlight,
        maxMeasureMs: Math.max(level.measureMs, level.maxMeasureMs),
        maxCalls: options.maxCallsPerLevel,
        drainTimeoutMs: options.drainTimeoutMs,
      };
      log(`${level.inFlight} in flight: direct`);
      const directRun = await measured(plan, callDirect, processes);
      log(`  direct   ${directRun.load.throughputPerSecond} calls/s, p50 ${directRun.load.latencyMs.p50} ms, p99 ${directRun.load.latencyMs.p99} ms, errors ${directRun.load.errorsTotal}`);
      log(`${level.inFlight} in flight: governed (${connections} HTTP/2 connection${connections === 1 ? "" : "s"})`);
      const governedRun = await measured(plan, governedCaller(connections), processes);
      log(`  governed ${governedRun.load.throughputPerSecond} calls/s, p50 ${governedRun.load.latencyMs.p50} ms, p99 ${governedRun.load.latencyMs.p99} ms, errors ${governedRun.load.errorsTotal}`);
      levels.push(levelReport(level.inFlight, connections, directRun, governedRun));
    }
    return {
      contract: echoContractId,
      method: "closed loop: N workers each await one call then issue the next; warm-up first; only calls completing inside the window count",
      host_flags: governedHostFlags,
      runtime_max_concurrency: runtimeConcurrency,
      levels,
      audit_records_per_governed_call: figure(round(auditPerCall / probeCalls, 2), "records/call"),
    };
  } finally {
    await runtime?.stop(10_000);
    await direct?.close();
  }
}

interface MeasuredRun {
  readonly load: LoadResult;
  readonly cpuUs: { readonly bench: number; readonly host: number; readonly runtime: number };
}

/** Runs one level and the CPU each process spent inside its window. */
async function measured(plan: LoadPlan, call: (sequence: number, worker: number) => Promise<void>, processes: { host: BenchHost; runtime: ChildHandle }): Promise<MeasuredRun> {
  const snapshot = async () => {
    const [host, runtime] = await Promise.all([processes.host.cpu(), processes.runtime.request({ cmd: "cpu" }, "cpu", 30_000)]);
    const bench = process.cpuUsage();
    return { bench: bench.user + bench.system, host: host.userUs + host.systemUs, runtime: Number(runtime["userUs"]) + Number(runtime["systemUs"]) };
  };
  let before = { bench: 0, host: 0, runtime: 0 };
  let after = before;
  const load = await runClosedLoop(plan, call, {
    beforeWindow: async () => void (before = await snapshot()),
    afterWindow: async () => void (after = await snapshot()),
  });
  return { load, cpuUs: { bench: after.bench - before.bench, host: after.host - before.host, runtime: after.runtime - before.runtime } };
}

function pathReport(run: MeasuredRun): PathReport {
  const { load, cpuUs } = run;
  const windowUs = load.measuredMs * 1000;
  const cores = (us: number) => figure(round(us / windowUs, 2), "cores");
  return {
    throughput: figure(load.throughputPerSecond, "calls/s"),
    latency: {
      p50: figure(load.latencyMs.p50, "ms"),
      p95: figure(load.latencyMs.p95, "ms"),
      p99: figure(load.latencyMs.p99, "ms"),
      mean: figure(load.latencyMs.mean, "ms"),
      max: figure(load.latencyMs.max, "ms"),
    },
    window: figure(round(load.measuredMs / 1000, 2), "s"),
    calls_in_window: load.completed,
    errors_in_window: load.errorsInWindow,
    errors_total: load.errorsTotal,
    abandoned: load.abandoned,
    calls_issued: load.issued,
    error_kinds: load.errorKinds,
    error_samples: load.errorSamples,
    cpu_cores: { bench: cores(cpuUs.bench), host: cores(cpuUs.host), runtime: cores(cpuUs.runtime) },
    cpu_per_call: figure(load.completed === 0 ? Number.NaN : round((cpuUs.bench + cpuUs.host + cpuUs.runtime) / load.completed, 1), "µs/call"),
  };
}

function levelReport(inFlight: number, connections: number, directRun: MeasuredRun, governedRun: MeasuredRun): LevelReport {
  const d = directRun.load.latencyMs;
  const g = governedRun.load.latencyMs;
  const addedP99 = round(g.p99 - d.p99, 3);
  const report: LevelReport = {
    in_flight: inFlight,
    governed_client_connections: connections,
    direct: pathReport(directRun),
    governed: pathReport(governedRun),
    comparison: {
      throughput_ratio: targeted(round(governedRun.load.throughputPerSecond / directRun.load.throughputPerSecond, 3), "ratio", targets.throughputRatio),
      added_p50: figure(round(g.p50 - d.p50, 3), "ms"),
      added_p95: figure(round(g.p95 - d.p95, 3), "ms"),
      added_p99: inFlight === 64 ? targeted(addedP99, "ms", targets.addedP99AtModerateLoad) : figure(addedP99, "ms"),
    },
  };
  if (inFlight !== 10_000) return report;
  // Calls still running at the cutoff count as failures: they were not answered in time.
  const errors = targeted(governedRun.load.errorsTotal + governedRun.load.abandoned, "errors", targets.errorsAt10k);
  return {
    ...report,
    governed_targets: {
      errors: { ...errors, meets_target: errors.meets_target && governedRun.load.completed > 0 },
      p95: targeted(g.p95, "ms", targets.p95At10k),
    },
  };
}

function expectEcho(content: unknown, sequence: number): void {
  const n = content !== null && typeof content === "object" && !Array.isArray(content) ? (content as Record<string, unknown>)["n"] : undefined;
  if (n !== sequence) throw new Error(`wrong echo: expected ${sequence}, got ${JSON.stringify(content)}`);
}

/** Starts the runtime child; its credentials live in a private temp file only until it is ready. */
async function startRuntimeProcess(config: RuntimeProcessConfig): Promise<ChildHandle> {
  const dir = await mkdtemp(path.join(tmpdir(), "aesp-bench-runtime-"));
  const configPath = path.join(dir, "runtime.json");
  try {
    await writeFile(configPath, JSON.stringify(config), { mode: 0o600 });
    const child = spawnChild("runtime", "runtime-process.ts", [configPath]);
    try {
      await child.next("ready", 30_000);
    } catch (err) {
      await child.stop(5_000);
      throw err;
    }
    return child;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
