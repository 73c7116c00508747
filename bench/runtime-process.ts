/**
 * The tool runtime of the governed-versus-direct benchmark, in its own process: one runtime
 * (the `@aesp/runtime` SDK, as tool owners write it) fulfilling `echo@1.0.0` over two streams at
 * once — to the Host's runtime plane (governed path) and to the bench's direct endpoint (no
 * control plane). Both streams use the same enrolled certificate and the same handler.
 *
 * Started as `node bench/runtime-process.ts <config.json>`; the config file holds the enrolment
 * credentials (written by the bench to a private temp file, deleted after). Prints
 * `{"type":"ready", governed, direct}` once both streams are accepted; answers `{"cmd":"cpu"}`;
 * `{"cmd":"close"}` or the end of stdin closes both streams and exits.
 */
import { readFile } from "node:fs/promises";
import type { JsonObject } from "@bufbuild/protobuf";
import { createRuntime } from "@aesp/runtime";
import type { Runtime } from "@aesp/runtime";
import { cpuSnapshot, emit, exitAfter, messageOf, onCommands } from "./lib/child-io.ts";

/** What the bench writes into the config file. */
export interface RuntimeProcessConfig {
  readonly runtimeId: string;
  readonly tenantId: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  /** The Host's runtime plane and the CA that signed its server certificate. */
  readonly hostUrl: string;
  readonly hostCaPem: string;
  /** The direct endpoint and the CA that signed its server certificate. */
  readonly directUrl: string;
  readonly directCaPem: string;
  /** Calls the handler may run at once (per stream). */
  readonly maxConcurrency: number;
}

const configPath = process.argv[2];
if (configPath === undefined) {
  emit({ type: "error", message: "usage: runtime-process.ts <config.json>" });
  process.exit(2);
}

const runtimes: Runtime[] = [];
try {
  const config = JSON.parse(await readFile(configPath, "utf8")) as RuntimeProcessConfig;
  const handlers = { "echo@1.0.0": (args: JsonObject) => ({ n: args["n"] ?? null }) };
  const open = (runtimePlaneUrl: string, caCertificatePem: string) =>
    createRuntime({
      runtimePlaneUrl,
      caCertificatePem,
      runtimeId: config.runtimeId,
      tenantId: config.tenantId,
      certificatePem: config.certificatePem,
      privateKeyPem: config.privateKeyPem,
      handlers,
      maxConcurrency: config.maxConcurrency,
      version: "bench",
    });
  const governed = open(config.hostUrl, config.hostCaPem);
  const direct = open(config.directUrl, config.directCaPem);
  runtimes.push(governed, direct);
  const [governedAcceptance, directAcceptance] = await Promise.all([governed.start(), direct.start()]);
  emit({ type: "ready", governed: governedAcceptance.acceptedContracts, direct: directAcceptance.acceptedContracts, maxInFlight: governedAcceptance.maxInFlight });
  for (const [path, runtime] of [["governed", governed], ["direct", direct]] as const) {
    runtime.on("disconnect", (info) => emit({ type: "disconnected", path, reason: info.reason, error: info.error?.message ?? "" }));
  }
} catch (err) {
  emit({ type: "error", message: `the runtime did not start: ${messageOf(err)}` });
  await exitAfter(Promise.all(runtimes.map((r) => r.close())), 3_000, 1);
}

onCommands(async (command) => {
  switch (command.cmd) {
    case "cpu":
      emit(cpuSnapshot());
      return;
    case "close":
      await exitAfter(Promise.all(runtimes.map((r) => r.close())), 5_000);
      return;
    default:
      emit({ type: "error", message: `unknown command ${command.cmd}` });
  }
});
