/**
 * A Host in a process of its own, so the bench can measure its memory and CPU without the load
 * generator's. Started by `bench/run.ts` as `node --expose-gc bench/host-process.ts <flags.json>`.
 *
 * Prints `{"type":"ready", gatewayUrl, runtimePlaneUrl, caCertificatePem, bootstrapToken, pid}`
 * once listening, then answers commands on stdin:
 * - `{"cmd":"cpu"}` → `{"type":"cpu", userUs, systemUs}`;
 * - `{"cmd":"memory"}` → a full GC, then `{"type":"memory", rssBytes, heapUsedBytes, …, openFds}`;
 * - `{"cmd":"close"}` (or the end of stdin) → closes the Host and exits.
 */
import { readdir, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { startHost } from "@aesp/host";
import { cpuSnapshot, emit, exitAfter, messageOf, onCommands } from "./lib/child-io.ts";

const flagsPath = process.argv[2];
if (flagsPath === undefined) {
  emit({ type: "error", message: "usage: host-process.ts <flags.json>" });
  process.exit(2);
}

try {
  const flags = JSON.parse(await readFile(flagsPath, "utf8")) as Record<string, unknown>;
  // AESP_BENCH_HOST_LOG=stderr shows the Host's own logs (at `log.level`) while diagnosing a run.
  const host = await startHost({ flags, env: {}, logDestination: process.env["AESP_BENCH_HOST_LOG"] === "stderr" ? "stderr" : "silent" });
  emit({
    type: "ready",
    pid: process.pid,
    gatewayUrl: host.gatewayUrl,
    runtimePlaneUrl: host.runtimePlaneUrl,
    caCertificatePem: host.caCertificatePem,
    bootstrapToken: host.bootstrapToken,
  });
  onCommands(async (command) => {
    switch (command.cmd) {
      case "cpu":
        emit(cpuSnapshot());
        return;
      case "memory":
        emit(await memorySnapshot());
        return;
      case "close":
        await exitAfter(host.close(), 15_000);
        return;
      default:
        emit({ type: "error", message: `unknown command ${command.cmd}` });
    }
  });
} catch (err) {
  emit({ type: "error", message: `the Host did not start: ${messageOf(err)}` });
  process.exit(1);
}

/** Memory after a full collection, so idle garbage does not count as per-connection cost. */
async function memorySnapshot() {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let round = 0; round < 2; round++) {
    gc?.();
    await sleep(50);
  }
  const usage = process.memoryUsage();
  const openFds = await readdir("/proc/self/fd").then((entries) => entries.length, () => -1);
  return {
    type: "memory",
    collected: gc !== undefined,
    rssBytes: usage.rss,
    heapUsedBytes: usage.heapUsed,
    heapTotalBytes: usage.heapTotal,
    externalBytes: usage.external,
    arrayBuffersBytes: usage.arrayBuffers,
    openFds,
  };
}
