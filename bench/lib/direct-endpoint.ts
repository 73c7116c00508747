/**
 * The "direct" side of the governed-versus-direct benchmark: a minimal server of the same
 * `RuntimeService.Connect` protocol as the Host's runtime plane, with the same TLS (1.3 only,
 * client certificate required against the Host's CA) and the same write loop and in-flight
 * window — and no control plane at all: no admission, authentication, validation, policy,
 * routing rules, metering or audit. The bench process calls the runtime through it.
 */
import http2 from "node:http2";
import { create, toJson } from "@bufbuild/protobuf";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ResultStatus } from "@aesp/proto/adm";
import { HostMessageSchema, RuntimeService } from "@aesp/proto/runtime";
import type { HostMessage, RuntimeMessage, RuntimeToolResult } from "@aesp/proto/runtime";
import { runtimePlaneTlsOptions } from "../../packages/host/src/pki/runtime-plane-tls.ts";
import { OutboundQueue } from "../../packages/host/src/runtime-plane/outbound-queue.ts";
import { createTestCa } from "../../packages/runtime/src/test-pki.ts";

/** A listening direct endpoint. */
export interface DirectEndpoint {
  readonly url: string;
  /** The CA of the endpoint's server certificate, for the runtime to trust. */
  readonly caCertificatePem: string;
  /** Resolves once a runtime stream is open. @throws Error after `timeoutMs`. */
  whenConnected(timeoutMs: number): Promise<void>;
  /**
   * Sends one unary call to the least busy connected runtime and returns its result content.
   * @throws Error when no runtime is connected, the runtime reports an error, the stream ends,
   *   or the deadline passes.
   */
  call(name: string, version: string, args: JsonObject): Promise<JsonValue>;
  close(): Promise<void>;
}

interface Pending {
  readonly resolve: (content: JsonValue) => void;
  readonly reject: (error: Error) => void;
  readonly deadlineMs: number;
}

/** One runtime stream: the Host's connection minus every governance step. */
class DirectConnection {
  readonly outbound = new OutboundQueue<HostMessage>();
  readonly pending = new Map<string, Pending>();
  readonly maxInFlight: number;
  readonly #waiters: (() => void)[] = [];
  /** Slots taken, counted when taken (not when the call is sent), so a burst cannot overshoot. */
  #slots = 0;
  closed = false;

  constructor(maxInFlight: number) {
    this.maxInFlight = maxInFlight;
  }

  get inFlight(): number {
    return this.#slots;
  }

  /** Takes a slot of the window: at once when one is free (null), else when a call settles. */
  acquireSlot(): Promise<void> | null {
    if (this.#slots < this.maxInFlight || this.closed) {
      this.#slots++;
      return null;
    }
    return new Promise<void>((resolve) =>
      this.#waiters.push(() => {
        this.#slots++;
        resolve();
      }),
    );
  }

  settle(invocationId: string): Pending | undefined {
    const pending = this.pending.get(invocationId);
    if (pending === undefined) return undefined;
    this.pending.delete(invocationId);
    this.#slots--;
    this.#waiters.shift()?.();
    return pending;
  }

  handleResult(message: RuntimeToolResult): void {
    const pending = this.settle(message.invocationId);
    if (pending === undefined) return;
    const result = message.result;
    if (result?.status === ResultStatus.SUCCESS) pending.resolve(result.content === undefined ? null : toJson(ValueSchema, result.content));
    else pending.reject(new Error(`tool error ${result?.error?.type ?? "malformed result"}`));
  }

  expire(now: number): void {
    for (const [invocationId, pending] of this.pending) {
      if (pending.deadlineMs > now) continue;
      this.settle(invocationId);
      pending.reject(new Error("DEADLINE_EXCEEDED"));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [invocationId, pending] of [...this.pending]) {
      this.settle(invocationId);
      pending.reject(new Error("UNAVAILABLE: runtime stream ended"));
    }
    for (const wake of this.#waiters.splice(0)) wake();
    this.outbound.close();
  }
}

/**
 * Starts a direct endpoint on 127.0.0.1 (an ephemeral port).
 * @param options.clientCaPem - the CA that signed the runtime's client certificate (the Host's).
 * @param options.maxInFlight - window per stream, as the Host's `runtime_plane.max_in_flight_per_runtime`.
 * @param options.timeoutMs - deadline of every call, as the Host's default.
 */
export async function startDirectEndpoint(options: { clientCaPem: string; maxInFlight: number; timeoutMs: number; heartbeatIntervalMs: number }): Promise<DirectEndpoint> {
  const ca = await createTestCa("AESP bench direct endpoint CA");
  const serverCert = await ca.issueServer();
  const live = new Set<DirectConnection>();
  const connectedWaiters: (() => void)[] = [];
  let invocations = 0;

  async function* connect(requests: AsyncIterable<RuntimeMessage>): AsyncIterable<HostMessage> {
    const iterator = requests[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (first.done === true || first.value.kind.case !== "announcement") return;
    const announcement = first.value.kind.value;
    const maxInFlight = Math.min(options.maxInFlight, announcement.maxConcurrentCalls === 0 ? options.maxInFlight : announcement.maxConcurrentCalls);
    const connection = new DirectConnection(maxInFlight);
    yield create(HostMessageSchema, {
      kind: {
        case: "accepted",
        value: { runtimeId: announcement.runtimeId, acceptedContracts: announcement.declaredContracts, heartbeatIntervalMs: options.heartbeatIntervalMs, maxInFlight },
      },
    });
    live.add(connection);
    for (const wake of connectedWaiters.splice(0)) wake();
    const reading = (async () => {
      try {
        for (;;) {
          const next = await iterator.next();
          if (next.done === true) return;
          if (next.value.kind.case === "result") connection.handleResult(next.value.kind.value);
        }
      } finally {
        connection.close();
      }
    })().catch(() => undefined);
    try {
      yield* connection.outbound;
    } finally {
      connection.close();
      live.delete(connection);
      await reading;
    }
  }

  const handler = connectNodeAdapter({ routes: (router) => router.service(RuntimeService, { connect }), grpc: true, grpcWeb: false, connect: false });
  const server = http2.createSecureServer(
    { ...runtimePlaneTlsOptions({ ca: options.clientCaPem, serverCert: serverCert.certificatePem, serverKey: serverCert.privateKeyPem }), settings: { maxConcurrentStreams: 1000 } },
    handler,
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  // One sweep a second instead of a timer per call: enough to guarantee no call waits forever.
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const connection of live) connection.expire(now);
  }, 1000);
  sweeper.unref();

  const pick = (): DirectConnection => {
    let best: DirectConnection | null = null;
    for (const connection of live) if (!connection.closed && (best === null || connection.inFlight < best.inFlight)) best = connection;
    if (best === null) throw new Error("UNAVAILABLE: no runtime connected to the direct endpoint");
    return best;
  };

  return {
    url: `https://127.0.0.1:${port}`,
    caCertificatePem: ca.caCertificatePem,
    whenConnected: (timeoutMs) =>
      live.size > 0
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no runtime connected to the direct endpoint within ${timeoutMs} ms`)), timeoutMs);
            connectedWaiters.push(() => {
              clearTimeout(timer);
              resolve();
            });
          }),
    async call(name, version, args) {
      const connection = pick();
      const slot = connection.acquireSlot();
      if (slot !== null) await slot;
      if (connection.closed) throw new Error("UNAVAILABLE: runtime stream ended");
      const invocationId = `inv_direct_${++invocations}`;
      const deadlineMs = Date.now() + options.timeoutMs;
      return new Promise<JsonValue>((resolve, reject) => {
        connection.pending.set(invocationId, { resolve, reject, deadlineMs });
        connection.outbound.push(
          create(HostMessageSchema, {
            kind: {
              case: "call",
              value: {
                invocationId,
                correlationId: invocationId,
                call: { callId: invocationId, name, args },
                contractVersion: version,
                deadlineUnixMs: BigInt(deadlineMs),
                stream: false,
                // The same shape the Host sends, so both paths move messages of the same size.
                securityContext: { principalId: "svc_bench_agent", tenantId: "platform", roles: ["agent"], permissions: ["tools:invoke"], securityClearance: "internal", dataClassification: "internal" },
                sessionId: "ses_direct",
              },
            },
          }),
        );
      });
    },
    async close() {
      clearInterval(sweeper);
      for (const connection of live) connection.close();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2_000);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        for (const session of sessions) session.close();
      });
      for (const session of sessions) session.destroy();
    },
  };
}
