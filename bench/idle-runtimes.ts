/**
 * Many idle runtimes in one process, for the connected-runtimes benchmark: each is its own mutual
 * TLS 1.3 connection to the Host's runtime plane carrying one `RuntimeService.Connect` stream
 * (raw HTTP/2 and gRPC framing, to keep this side light), announced with the same enrolled
 * certificate and kept alive with heartbeats at the interval the Host asks for.
 *
 * Started as `node bench/idle-runtimes.ts <config.json>`. Opens connections up to each target in
 * turn, then reports `{"type":"level", …}` and waits for `{"cmd":"continue"}`; answers
 * `{"cmd":"status"}`; `{"cmd":"close"}` or the end of stdin closes everything and exits.
 */
import http2 from "node:http2";
import { readFile } from "node:fs/promises";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { HostMessageSchema, RuntimeMessageSchema } from "@aesp/proto/runtime";
import { emit, exitAfter, messageOf, onCommands } from "./lib/child-io.ts";

/** What the bench writes into the config file. */
export interface IdleRuntimesConfig {
  readonly url: string;
  readonly caPem: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly runtimeId: string;
  readonly tenantId: string;
  readonly contracts: readonly string[];
  /** Connection counts to reach, ascending. */
  readonly targets: readonly number[];
  /** Handshakes in progress at once. */
  readonly concurrency: number;
  /** Give up on one connection after this long. */
  readonly connectTimeoutMs: number;
  /** Stop opening after this many failures in a row (e.g. out of file descriptors). */
  readonly maxConsecutiveFailures: number;
}

interface IdleConnection {
  readonly session: http2.ClientHttp2Session;
  readonly stream: http2.ClientHttp2Stream;
  open: boolean;
}

const connectPath = "/aesp.v1.RuntimeService/Connect";
const heartbeatTickMs = 200;

const configPath = process.argv[2];
if (configPath === undefined) {
  emit({ type: "error", message: "usage: idle-runtimes.ts <config.json>" });
  process.exit(2);
}
const config = JSON.parse(await readFile(configPath, "utf8")) as IdleRuntimesConfig;

const connections: IdleConnection[] = [];
let dropped = 0;
let heartbeatsSent = 0;
let heartbeatIntervalMs = 10_000;
let tick = 0;
let continueSignal: (() => void) | null = null;
let closing = false;

const announcement = frame(
  toBinary(
    RuntimeMessageSchema,
    create(RuntimeMessageSchema, {
      kind: {
        case: "announcement",
        value: { runtimeId: config.runtimeId, tenantId: config.tenantId, language: "typescript", version: "bench-idle", declaredContracts: [...config.contracts] },
      },
    }),
  ),
);

// Each connection heartbeats once per interval; ticks spread them so the Host sees a steady trickle.
const heartbeats = setInterval(() => {
  const slots = Math.max(1, Math.round(heartbeatIntervalMs / heartbeatTickMs));
  const slot = tick++ % slots;
  const message = frame(toBinary(RuntimeMessageSchema, create(RuntimeMessageSchema, { kind: { case: "heartbeat", value: { sentAtUnixMs: BigInt(Date.now()), inFlight: 0 } } })));
  for (let index = slot; index < connections.length; index += slots) {
    const connection = connections[index] as IdleConnection;
    if (!connection.open) continue;
    connection.stream.write(message);
    heartbeatsSent++;
  }
}, heartbeatTickMs);

onCommands(async (command) => {
  switch (command.cmd) {
    case "status":
      emit({ type: "status", open: connections.filter((c) => c.open).length, dropped, heartbeatsSent, rssBytes: process.memoryUsage().rss });
      return;
    case "continue":
      continueSignal?.();
      return;
    case "close":
      closing = true;
      continueSignal?.();
      await exitAfter(closeAll(), 15_000);
      return;
    default:
      emit({ type: "error", message: `unknown command ${command.cmd}` });
  }
});

try {
  const started = performance.now();
  let consecutiveFailures = 0;
  let stopReason = "";
  for (const target of config.targets) {
    const levelStarted = performance.now();
    const latencies: number[] = [];
    const errors: Record<string, number> = {};
    let failed = 0;
    let attempted = connections.length;
    const worker = async () => {
      while (!closing && stopReason === "" && attempted < target) {
        attempted++;
        try {
          const { connection, ms } = await openConnection();
          connections.push(connection);
          latencies.push(ms);
          consecutiveFailures = 0;
        } catch (err) {
          failed++;
          const kind = messageOf(err).slice(0, 120);
          errors[kind] = (errors[kind] ?? 0) + 1;
          if (++consecutiveFailures >= config.maxConsecutiveFailures) stopReason = `${consecutiveFailures} consecutive failures, last: ${kind}`;
        }
      }
    };
    await Promise.all(Array.from({ length: config.concurrency }, worker));
    const sorted = Float64Array.from(latencies).sort();
    const percentile = (fraction: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ?? Number.NaN;
    emit({
      type: "level",
      target,
      established: connections.filter((c) => c.open).length,
      openedThisLevel: latencies.length,
      failed,
      errors,
      stopReason,
      levelElapsedMs: Math.round(performance.now() - levelStarted),
      totalElapsedMs: Math.round(performance.now() - started),
      connectP50Ms: round(percentile(0.5)),
      connectP99Ms: round(percentile(0.99)),
      heartbeatIntervalMs,
      rssBytes: process.memoryUsage().rss,
    });
    if (closing || stopReason !== "") break;
    await new Promise<void>((resolve) => (continueSignal = resolve));
    continueSignal = null;
  }
  emit({ type: "done" });
} catch (err) {
  emit({ type: "error", message: messageOf(err) });
}

/** Opens one connection and stream, announces, and resolves once the Host accepts. */
function openConnection(): Promise<{ connection: IdleConnection; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const session = http2.connect(config.url, { ca: config.caPem, cert: config.certificatePem, key: config.privateKeyPem, minVersion: "TLSv1.3", maxVersion: "TLSv1.3" });
    let settled = false;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      reject(new Error(reason));
    };
    const timer = setTimeout(() => fail("timeout"), config.connectTimeoutMs);
    session.on("error", (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    const stream = session.request({ ":method": "POST", ":path": connectPath, "content-type": "application/grpc+proto", te: "trailers" });
    const connection: IdleConnection = { session, stream, open: false };
    let buffered: Buffer = Buffer.alloc(0);
    stream.on("error", (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    stream.on("close", () => {
      if (!settled) fail(`stream closed before the Host answered (grpc-status ${String(stream.rstCode)})`);
      if (connection.open && !closing) dropped++;
      connection.open = false;
    });
    stream.on("data", (chunk: Buffer) => {
      if (settled) return;
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (buffered.length < 5) return;
      const length = buffered.readUInt32BE(1);
      if (buffered.length < 5 + length) return;
      const first = fromBinary(HostMessageSchema, buffered.subarray(5, 5 + length));
      if (first.kind.case !== "accepted") {
        const reason = first.kind.case === "rejected" ? (first.kind.value.error?.code ?? "rejected") : String(first.kind.case);
        fail(`not accepted: ${reason}`);
        return;
      }
      heartbeatIntervalMs = first.kind.value.heartbeatIntervalMs || heartbeatIntervalMs;
      settled = true;
      clearTimeout(timer);
      connection.open = true;
      buffered = Buffer.alloc(0);
      resolve({ connection, ms: performance.now() - started });
    });
    stream.write(announcement);
  });
}

async function closeAll(): Promise<void> {
  clearInterval(heartbeats);
  await Promise.all(
    connections.map(
      (connection) =>
        new Promise<void>((resolve) => {
          if (connection.session.destroyed) return resolve();
          connection.session.close(() => resolve());
          connection.stream.end();
          setTimeout(() => {
            connection.session.destroy();
            resolve();
          }, 5_000).unref();
        }),
    ),
  );
}

/** gRPC length-prefixed message framing (uncompressed). */
function frame(message: Uint8Array): Buffer {
  const framed = Buffer.alloc(5 + message.length);
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  return framed;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
