/**
 * Idle runtime connections: a fresh Host in its own process, and a child process that opens
 * thousands of authenticated runtime streams to it (one mutual-TLS connection each), announces
 * them and keeps them alive with heartbeats. Reports the Host's memory per connection (RSS and
 * heap after a full GC, before and after) and the time it took to establish them.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { IdleRuntimesConfig } from "../idle-runtimes.ts";
import { spawnChild } from "./children.ts";
import type { ChildHandle, ChildMessage } from "./children.ts";
import { figure, targeted, targets } from "./figures.ts";
import type { Figure, TargetedFigure } from "./figures.ts";
import { idleContractId } from "./host-setup.ts";
import type { BenchHost, HostMemory } from "./host-setup.ts";
import { round } from "./load.ts";

/** Settings of the idle-connection benchmark. */
export interface IdleConnectionsOptions {
  /** A Host with `bench-idle` enrolled for the idle contract, and no runtime connected yet. */
  readonly host: BenchHost;
  /** Handshakes in progress at once. */
  readonly concurrency: number;
  /** Connection counts to reach, ascending (each measured in turn). */
  readonly targets: readonly number[];
  /** How long to hold each level idle (with heartbeats) before measuring. */
  readonly holdMs: number;
  readonly log: (line: string) => void;
}

/** One level of the idle-connection benchmark. */
export interface IdleLevelReport {
  readonly target: number;
  /** Accepted by the Host while opening. */
  readonly established: number;
  /** Still open after the idle hold (the figure held against the 10,000 target). */
  readonly connected_after_hold: Figure | TargetedFigure;
  readonly failed: number;
  /** Connections the Host closed while they were held idle. */
  readonly dropped_while_idle: number;
  /** The Host's own count (`aesp_runtime_connections`) after the hold. */
  readonly host_reported_connections: number;
  readonly failure_kinds: Readonly<Record<string, number>>;
  readonly stop_reason: string;
  readonly establish_time: Figure;
  readonly establish_rate: Figure;
  readonly connect_latency_p50: Figure;
  readonly connect_latency_p99: Figure;
  readonly held_idle: Figure;
  readonly host_rss_before: Figure;
  readonly host_rss_after: Figure;
  readonly host_memory_per_connection_rss: Figure;
  readonly host_memory_per_connection_heap: Figure;
  readonly host_open_fds: number;
  readonly client_rss: Figure;
}

/** The idle-connection section of the results. */
export interface IdleConnectionsReport {
  readonly method: string;
  readonly heartbeat_interval: Figure;
  readonly fd_limit: number | null;
  readonly levels: IdleLevelReport[];
  /** Set when the largest target was not reached: how far it got, and why. */
  readonly limit?: string;
}

/**
 * Runs the benchmark on `options.host`, and closes every connection it opened before returning.
 * @throws Error when the client process cannot start.
 */
export async function benchIdleConnections(options: IdleConnectionsOptions): Promise<IdleConnectionsReport> {
  const { log, host } = options;
  let client: ChildHandle | null = null;
  const dir = await mkdtemp(path.join(tmpdir(), "aesp-bench-idle-"));
  try {
    const credentials = host.runtimes.get("bench-idle");
    if (credentials === undefined) throw new Error("bench-idle was not enrolled");
    const baseline = await host.memory();
    const configPath = path.join(dir, "idle.json");
    const config: IdleRuntimesConfig = {
      url: host.runtimePlaneUrl,
      caPem: credentials.caCertificatePem,
      certificatePem: credentials.certificatePem,
      privateKeyPem: credentials.privateKeyPem,
      runtimeId: credentials.runtimeId,
      tenantId: credentials.tenantId,
      contracts: [idleContractId],
      targets: options.targets,
      concurrency: options.concurrency,
      connectTimeoutMs: 30_000,
      maxConsecutiveFailures: 200,
    };
    await writeFile(configPath, JSON.stringify(config), { mode: 0o600 });
    client = spawnChild("idle-runtimes", "idle-runtimes.ts", [configPath]);
    const levels: IdleLevelReport[] = [];
    let heartbeatIntervalMs = 10_000;
    let limit: string | undefined;
    for (const target of options.targets) {
      log(`opening runtime connections up to ${target}`);
      // Handshakes run at a few hundred per second here; allow generously, but bounded.
      const level = await client.next("level", 60_000 + target * 30);
      heartbeatIntervalMs = Number(level["heartbeatIntervalMs"]);
      log(`  ${String(level["established"])} established in ${round(Number(level["totalElapsedMs"]) / 1000, 1)} s; holding idle ${options.holdMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, options.holdMs));
      const status = await client.request({ cmd: "status" }, "status", 30_000);
      const memory = await host.memory();
      const hostCount = await host.metric("aesp_runtime_connections");
      levels.push(levelReport(target, level, status, baseline, memory, hostCount, options.holdMs));
      log(`  host RSS ${mib(baseline.rssBytes)} → ${mib(memory.rssBytes)} MiB; ${String(status["open"])} open, ${String(status["dropped"])} dropped, host counts ${hostCount}`);
      const stopReason = stringField(level, "stopReason");
      if (Number(level["established"]) < target) {
        limit = `reached ${String(level["established"])} of ${target} connections: ${stopReason !== "" ? stopReason : describeFailures(level["errors"])}`;
        break;
      }
      if (target !== options.targets[options.targets.length - 1]) client.send({ cmd: "continue" });
    }
    return {
      method: "one mutual-TLS 1.3 connection and one RuntimeService.Connect stream per runtime, same enrolled certificate, announced and heartbeating; Host memory measured after a full GC",
      heartbeat_interval: figure(heartbeatIntervalMs, "ms"),
      fd_limit: openFileLimit(),
      levels,
      ...(limit === undefined ? {} : { limit }),
    };
  } finally {
    await client?.stop(30_000);
    await rm(dir, { recursive: true, force: true });
    await waitForNoRuntimes(host);
  }
}

function levelReport(target: number, level: ChildMessage, status: ChildMessage, baseline: HostMemory, after: HostMemory, hostCount: number, holdMs: number): IdleLevelReport {
  const established = Number(level["established"]);
  const open = Number(status["open"]);
  const elapsedS = Number(level["totalElapsedMs"]) / 1000;
  const perConnection = (bytes: number) => figure(open > 0 ? Math.round(bytes / open) : Number.NaN, "bytes");
  return {
    target,
    established,
    connected_after_hold: target === 10_000 ? targeted(open, "connections", targets.connectedRuntimes) : figure(open, "connections"),
    failed: Number(level["failed"]),
    dropped_while_idle: Number(status["dropped"]),
    host_reported_connections: hostCount,
    failure_kinds: (level["errors"] ?? {}) as Record<string, number>,
    stop_reason: stringField(level, "stopReason"),
    establish_time: figure(round(elapsedS, 2), "s"),
    establish_rate: figure(round(established / elapsedS, 1), "connections/s"),
    connect_latency_p50: figure(Number(level["connectP50Ms"]), "ms"),
    connect_latency_p99: figure(Number(level["connectP99Ms"]), "ms"),
    held_idle: figure(holdMs / 1000, "s"),
    host_rss_before: figure(baseline.rssBytes, "bytes"),
    host_rss_after: figure(after.rssBytes, "bytes"),
    host_memory_per_connection_rss: perConnection(after.rssBytes - baseline.rssBytes),
    host_memory_per_connection_heap: perConnection(after.heapUsedBytes - baseline.heapUsedBytes),
    host_open_fds: after.openFds,
    client_rss: figure(Number(status["rssBytes"]), "bytes"),
  };
}

/** Waits (bounded) until the Host has processed every disconnect, so later sections start clean. */
async function waitForNoRuntimes(host: BenchHost): Promise<void> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    const connected = await host.metric("aesp_runtime_connections");
    if (!(connected > 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function stringField(message: ChildMessage, field: string): string {
  const value = message[field];
  return typeof value === "string" ? value : "";
}

function describeFailures(errors: unknown): string {
  const entries = Object.entries((errors ?? {}) as Record<string, number>).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? "no failures reported" : entries.slice(0, 3).map(([kind, count]) => `${count}× ${kind}`).join("; ");
}

/** The soft limit on open files of this process (children inherit it), from /proc. */
export function openFileLimit(): number | null {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === "unlimited" ? null : Number(soft);
  } catch {
    return null;
  }
}

function mib(bytes: number): string {
  return (bytes / 1_048_576).toFixed(1);
}
