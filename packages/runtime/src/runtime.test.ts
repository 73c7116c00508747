// The runtime SDK against a fake Host: a real RuntimeService served by connectNodeAdapter on an
// HTTP/2 server with TLS 1.3 and required client certificates (throwaway PKI), driven message by
// message by each test.
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { after, afterEach, before, describe, test } from "node:test";
import { create, toJson } from "@bufbuild/protobuf";
import type { JsonObject, JsonValue, MessageInitShape } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { createContextKey, createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ResultStatus } from "@aesp/proto/adm";
import { HostMessageSchema, RuntimeService } from "@aesp/proto/runtime";
import type { HostMessage, RuntimeMessage } from "@aesp/proto/runtime";
import { AespError } from "@aesp/client";
import { MessageQueue } from "./message-queue.ts";
import { CallAbortedError, createRuntime, ToolError } from "./index.ts";
import type { DisconnectInfo, Runtime, RuntimeOptions, ToolContext } from "./index.ts";
import { createTestCa } from "./test-pki.ts";
import type { IssuedPair, TestCa } from "./test-pki.ts";

const spiffeId = "spiffe://aesp.test/tenant/acme/runtime/rt-1";
const kPeerSan = createContextKey<string>("");

type HostMessageKind = NonNullable<MessageInitShape<typeof HostMessageSchema>["kind"]>;

/** The Host's side of one runtime stream. */
class Peer {
  readonly peerSan: string;
  readonly inbound = new MessageQueue<RuntimeMessage>();
  readonly outbound = new MessageQueue<HostMessage>();
  readonly requestsEnded = Promise.withResolvers<void>();
  readonly #reader = this.inbound[Symbol.asyncIterator]();

  constructor(peerSan: string) {
    this.peerSan = peerSan;
  }

  /** The next message from the runtime (heartbeats skipped unless asked for). */
  async receive(options: { heartbeats?: boolean; timeoutMs?: number } = {}): Promise<RuntimeMessage> {
    for (;;) {
      const next = await withTimeout(this.#reader.next(), options.timeoutMs ?? 5_000, "no message from the runtime");
      if (next.done === true) throw new Error("the runtime closed its stream");
      if (next.value.kind.case === "heartbeat" && options.heartbeats !== true) continue;
      return next.value;
    }
  }

  /** Resolves true if the runtime sends nothing but heartbeats for `ms`, false otherwise. */
  async quiet(ms: number): Promise<boolean> {
    try {
      await this.receive({ timeoutMs: ms });
      return false;
    } catch (err) {
      if (err instanceof Error && err.message === "no message from the runtime") return true;
      throw err;
    }
  }

  send(kind: HostMessageKind): void {
    this.outbound.push(create(HostMessageSchema, { kind }));
  }

  accept(options: { contracts?: string[]; heartbeatIntervalMs?: number; maxInFlight?: number } = {}): void {
    this.send({
      case: "accepted",
      value: { runtimeId: "rt-1", acceptedContracts: options.contracts ?? [], heartbeatIntervalMs: options.heartbeatIntervalMs ?? 60_000, maxInFlight: options.maxInFlight ?? 64 },
    });
  }

  call(fields: { invocationId: string; name: string; version?: string; args?: JsonObject; stream?: boolean; deadlineInMs?: number }): void {
    this.send({
      case: "call",
      value: {
        invocationId: fields.invocationId,
        correlationId: `corr-${fields.invocationId}`,
        call: { callId: `call-${fields.invocationId}`, name: fields.name, args: fields.args ?? {} },
        contractVersion: fields.version ?? "1.0.0",
        deadlineUnixMs: fields.deadlineInMs === undefined ? 0n : BigInt(Date.now() + fields.deadlineInMs),
        stream: fields.stream ?? false,
        securityContext: { principalId: "sa-7", tenantId: "acme", roles: ["agent"], permissions: ["tools:invoke"], claims: { team: "blue" } },
        sessionId: "ses-1",
      },
    });
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function resultOf(message: RuntimeMessage): { invocationId: string; status: ResultStatus; content: JsonValue | undefined; error: { type: string; message: string } | undefined } {
  assert.equal(message.kind.case, "result", `expected a result, got ${message.kind.case}`);
  const value = message.kind.value;
  const result = value.result;
  return {
    invocationId: value.invocationId,
    status: result?.status ?? ResultStatus.RESULT_STATUS_UNSPECIFIED,
    content: result?.content === undefined ? undefined : toJson(ValueSchema, result.content),
    error: result?.error === undefined ? undefined : { type: result.error.type, message: result.error.message },
  };
}

describe("@aesp/runtime against a fake Host over mutual TLS 1.3", () => {
  let ca: TestCa;
  let runtimeCert: IssuedPair;
  let server: http2.Http2SecureServer;
  let url: string;
  let peers: MessageQueue<Peer>;
  let peerReader: AsyncIterator<Peer>;
  const runtimes: Runtime[] = [];

  const nextPeer = async (): Promise<Peer> => {
    const next = await withTimeout(peerReader.next(), 5_000, "the runtime did not connect");
    if (next.done === true) throw new Error("server closed");
    return next.value;
  };

  const newRuntime = (handlers: RuntimeOptions["handlers"], extra: Partial<RuntimeOptions> = {}): Runtime => {
    const runtime = createRuntime({
      runtimePlaneUrl: url,
      runtimeId: "rt-1",
      tenantId: "acme",
      certificatePem: runtimeCert.certificatePem,
      privateKeyPem: runtimeCert.privateKeyPem,
      caCertificatePem: ca.caCertificatePem,
      handlers,
      ...extra,
    });
    runtimes.push(runtime);
    return runtime;
  };

  /** Starts a runtime and accepts it; returns the Host's side of the stream. */
  const connected = async (runtime: Runtime, accept: Parameters<Peer["accept"]>[0] = {}): Promise<Peer> => {
    const started = runtime.start();
    const peer = await nextPeer();
    const announcement = await peer.receive();
    assert.equal(announcement.kind.case, "announcement");
    peer.accept({ contracts: ["echo@1.0.0"], ...accept });
    await started;
    return peer;
  };

  before(async () => {
    ca = await createTestCa();
    const serverCert = await ca.issueServer();
    runtimeCert = await ca.issueRuntime(spiffeId);
    peers = new MessageQueue<Peer>();
    peerReader = peers[Symbol.asyncIterator]();
    const handler = connectNodeAdapter({
      routes: (router) =>
        router.service(RuntimeService, {
          async *connect(requests, ctx) {
            const peer = new Peer(ctx.values.get(kPeerSan));
            peers.push(peer);
            ctx.signal.addEventListener("abort", () => peer.outbound.end());
            void (async () => {
              try {
                for await (const message of requests) peer.inbound.push(message);
              } catch {
                /* the runtime went away */
              } finally {
                peer.inbound.end();
                peer.outbound.end();
                peer.requestsEnded.resolve();
              }
            })();
            yield* peer.outbound;
          },
        }),
      contextValues: (req) => createContextValues().set(kPeerSan, (req.socket as TLSSocket).getPeerCertificate().subjectaltname ?? ""),
    });
    server = http2.createSecureServer(
      {
        key: serverCert.privateKeyPem,
        cert: serverCert.certificatePem,
        ca: ca.caCertificatePem,
        minVersion: "TLSv1.3",
        requestCert: true,
        rejectUnauthorized: true,
      },
      handler,
    );
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    for (const runtime of runtimes.splice(0)) await runtime.close();
  });

  after(async () => {
    peers.end();
    await new Promise((resolve) => server.close(resolve));
  });

  test("announces itself with its certificate identity and resolves with the accepted contracts", async () => {
    const runtime = newRuntime({ "echo@1.0.0": (args) => args, "other@2.1.0": () => null }, { maxConcurrency: 7, metadata: { zone: "eu" } });
    const started = runtime.start();
    const peer = await nextPeer();
    assert.equal(peer.peerSan, `URI:${spiffeId}`, "the Host saw the client certificate");
    const announcement = await peer.receive();
    assert.equal(announcement.kind.case, "announcement");
    const value = announcement.kind.value;
    assert.equal(value.runtimeId, "rt-1");
    assert.equal(value.tenantId, "acme");
    assert.equal(value.language, "typescript");
    assert.deepEqual(value.declaredContracts, ["echo@1.0.0", "other@2.1.0"]);
    assert.equal(value.certificateIdentity?.spiffeId, spiffeId);
    assert.equal(value.maxConcurrentCalls, 7);
    assert.deepEqual(value.metadata, { zone: "eu" });
    peer.accept({ contracts: ["echo@1.0.0"], heartbeatIntervalMs: 5_000, maxInFlight: 32 });
    const acceptance = await started;
    assert.deepEqual(acceptance.acceptedContracts, ["echo@1.0.0"]);
    assert.deepEqual(acceptance.notAccepted, ["other@2.1.0"]);
    assert.equal(acceptance.maxInFlight, 32);
    assert.equal(runtime.state, "connected");
  });

  test("a rejection fails start() with the Host's error and per-contract reasons", async () => {
    const runtime = newRuntime({ "echo@1.0.0": () => null });
    const started = runtime.start();
    const peer = await nextPeer();
    await peer.receive();
    peer.send({
      case: "rejected",
      value: {
        error: { code: "RUNTIME_REJECTED", message: "No contract accepted.", correlationId: "corr-r", remediationSteps: ["Activate the contract."] },
        rejections: [{ contract: "echo@1.0.0", reason: "not ACTIVE" }],
      },
    });
    peer.outbound.end();
    await assert.rejects(started, (err: unknown) => {
      assert.ok(err instanceof AespError);
      assert.equal(err.code, "RUNTIME_REJECTED");
      assert.equal(err.correlationId, "corr-r");
      assert.equal(err.details["contract:echo@1.0.0"], "not ACTIVE");
      assert.deepEqual(err.remediation, ["Activate the contract."]);
      return true;
    });
    assert.equal(runtime.state, "closed");
  });

  test("runs a unary call and returns its content with the call's context", async () => {
    let seen: ToolContext | undefined;
    const runtime = newRuntime({
      "echo@1.0.0": async (args, ctx) => {
        seen = ctx;
        return { echoed: args, when: new Date(0) };
      },
    });
    const peer = await connected(runtime);
    peer.call({ invocationId: "inv-1", name: "echo", args: { text: "hi", n: [1, 2] }, deadlineInMs: 60_000 });
    const result = resultOf(await peer.receive());
    assert.equal(result.invocationId, "inv-1");
    assert.equal(result.status, ResultStatus.SUCCESS);
    assert.deepEqual(result.content, { echoed: { text: "hi", n: [1, 2] }, when: "1970-01-01T00:00:00.000Z" });
    assert.equal(seen?.invocationId, "inv-1");
    assert.equal(seen?.callId, "call-inv-1");
    assert.equal(seen?.correlationId, "corr-inv-1");
    assert.equal(seen?.sessionId, "ses-1");
    assert.equal(seen?.contract, "echo@1.0.0");
    assert.ok(Math.abs((seen?.deadline.getTime() ?? 0) - (Date.now() + 60_000)) < 5_000);
    assert.equal(seen?.signal.aborted, false);
    assert.equal(seen?.stream, false);
    assert.deepEqual(seen?.security, { principalId: "sa-7", tenantId: "acme", roles: ["agent"], permissions: ["tools:invoke"], claims: { team: "blue" } });
  });

  test("ToolError keeps its type and message; other errors become a generic INTERNAL_ERROR", async () => {
    const handlerErrors: unknown[] = [];
    const runtime = newRuntime({
      "echo@1.0.0": (args) => {
        if (args["kind"] === "tool") throw new ToolError("RESOURCE_NOT_FOUND", "No such city.");
        if (args["kind"] === "bigint") return { n: 1n };
        throw new Error("secret path /etc/shadow at line 3");
      },
    });
    runtime.on("handlerError", (info) => handlerErrors.push(info.error));
    const peer = await connected(runtime);
    peer.call({ invocationId: "a", name: "echo", args: { kind: "tool" } });
    assert.deepEqual(resultOf(await peer.receive()).error, { type: "RESOURCE_NOT_FOUND", message: "No such city." });
    peer.call({ invocationId: "b", name: "echo", args: { kind: "crash" } });
    const crashed = resultOf(await peer.receive());
    assert.equal(crashed.status, ResultStatus.ERROR);
    assert.equal(crashed.error?.type, "INTERNAL_ERROR");
    assert.doesNotMatch(crashed.error?.message ?? "", /shadow|line|at /);
    peer.call({ invocationId: "c", name: "echo", args: { kind: "bigint" } });
    assert.equal(resultOf(await peer.receive()).error?.type, "INTERNAL_ERROR", "a non-JSON result is an internal error");
    assert.equal(handlerErrors.length, 2, "the real errors are reported locally");
    assert.throws(() => new ToolError("not snake", "x"), TypeError);
  });

  test("a call for a contract without a handler is answered with an error", async () => {
    const runtime = newRuntime({ "echo@1.0.0": () => 1 });
    const peer = await connected(runtime);
    peer.call({ invocationId: "x", name: "echo", version: "9.9.9" });
    assert.deepEqual(resultOf(await peer.receive()).error?.type, "CONTRACT_NOT_FULFILLED");
  });

  test("streams chunks with consecutive sequence numbers, then a result without content", async () => {
    const runtime = newRuntime({
      "echo@1.0.0": async (args, ctx) => {
        assert.equal(ctx.stream, true);
        for (let i = 0; i < Number(args["n"]); i++) await ctx.emit({ i });
      },
    });
    const peer = await connected(runtime);
    peer.call({ invocationId: "s1", name: "echo", args: { n: 4 }, stream: true });
    for (let i = 0; i < 4; i++) {
      const message = await peer.receive();
      assert.equal(message.kind.case, "chunk");
      const chunk = message.kind.value;
      assert.equal(chunk.invocationId, "s1");
      assert.equal(chunk.sequence, BigInt(i));
      assert.deepEqual(chunk.payload === undefined ? undefined : toJson(ValueSchema, chunk.payload), { i });
    }
    const result = resultOf(await peer.receive());
    assert.equal(result.status, ResultStatus.SUCCESS);
    assert.equal(result.content, undefined);
  });

  test("emit() on a unary call fails the call", async () => {
    const runtime = newRuntime({ "echo@1.0.0": async (_args, ctx) => ctx.emit(1) });
    const peer = await connected(runtime);
    peer.call({ invocationId: "u", name: "echo" });
    assert.equal(resultOf(await peer.receive()).error?.type, "INTERNAL_ERROR");
  });

  test("a cancellation aborts the handler, is acknowledged, and no result follows", async () => {
    let abortReason: unknown;
    const runtime = newRuntime({
      "echo@1.0.0": async (args, ctx) => {
        if (args["wait"] !== true) return "quick";
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        abortReason = ctx.signal.reason;
        return "too late";
      },
    });
    const peer = await connected(runtime);
    peer.call({ invocationId: "slow", name: "echo", args: { wait: true } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(runtime.inFlight, 1);
    peer.send({ case: "cancel", value: { invocationId: "slow", reason: "client gone" } });
    const ack = await peer.receive();
    assert.equal(ack.kind.case, "cancelAck");
    assert.equal((ack.kind.value as { invocationId: string }).invocationId, "slow");
    assert.ok(abortReason instanceof CallAbortedError && abortReason.kind === "cancelled");
    peer.call({ invocationId: "next", name: "echo" });
    const next = resultOf(await peer.receive());
    assert.equal(next.invocationId, "next", "the cancelled call produced no result");
    assert.equal(runtime.inFlight, 0);
  });

  test("the deadline aborts the handler's signal and the call reports DEADLINE_EXCEEDED", async () => {
    const runtime = newRuntime({
      "echo@1.0.0": async (_args, ctx) => {
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        throw ctx.signal.reason;
      },
    });
    const peer = await connected(runtime);
    const started = Date.now();
    peer.call({ invocationId: "d", name: "echo", deadlineInMs: 80 });
    const result = resultOf(await peer.receive());
    assert.ok(Date.now() - started >= 60);
    assert.deepEqual(result.error?.type, "DEADLINE_EXCEEDED");
  });

  test("sends heartbeats at the Host's interval with the in-flight count", async () => {
    let release: () => void = () => undefined;
    const runtime = newRuntime({ "echo@1.0.0": () => new Promise<void>((resolve) => (release = resolve)) });
    const peer = await connected(runtime, { heartbeatIntervalMs: 40 });
    peer.call({ invocationId: "h", name: "echo" });
    const heartbeat = await peer.receive({ heartbeats: true });
    assert.equal(heartbeat.kind.case, "heartbeat");
    const value = heartbeat.kind.value as { inFlight: number; sentAtUnixMs: bigint };
    assert.equal(value.inFlight, 1);
    assert.ok(Math.abs(Number(value.sentAtUnixMs) - Date.now()) < 5_000);
    release();
  });

  test("never runs more than maxConcurrency handlers at once, and runs every call", async () => {
    let running = 0;
    let peak = 0;
    const runtime = newRuntime(
      {
        "echo@1.0.0": async (args) => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((resolve) => setTimeout(resolve, 30));
          running--;
          return args["i"] ?? null;
        },
      },
      { maxConcurrency: 2 },
    );
    const peer = await connected(runtime);
    for (let i = 0; i < 6; i++) peer.call({ invocationId: `c${i}`, name: "echo", args: { i } });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(resultOf(await peer.receive()).invocationId);
    assert.equal(peak, 2);
    assert.deepEqual(ids.sort(), ["c0", "c1", "c2", "c3", "c4", "c5"]);
  });

  test("a Host drain lets in-flight calls finish, refuses new ones, then closes the stream", async () => {
    const disconnects: DisconnectInfo[] = [];
    const runtime = newRuntime({
      "echo@1.0.0": async () => {
        await new Promise((resolve) => setTimeout(resolve, 60));
        return "done";
      },
    });
    runtime.on("disconnect", (info) => disconnects.push(info));
    const peer = await connected(runtime);
    peer.call({ invocationId: "in-flight", name: "echo" });
    peer.send({ case: "drain", value: { gracePeriodMs: 2_000, reason: "shutdown" } });
    peer.call({ invocationId: "late", name: "echo" });
    const refused = resultOf(await peer.receive());
    assert.equal(refused.invocationId, "late");
    assert.equal(refused.error?.type, "UNAVAILABLE");
    const finished = resultOf(await peer.receive());
    assert.equal(finished.invocationId, "in-flight");
    assert.equal(finished.content, "done");
    await withTimeout(peer.requestsEnded.promise, 3_000, "the runtime did not close its stream");
    await withTimeout(runtime.closed, 3_000, "the runtime did not stop");
    assert.deepEqual(
      disconnects.map((info) => [info.reason, info.willReconnect]),
      [["host_drain", false]],
    );
  });

  test("drain() notifies the Host and aborts calls that outlive the grace period", async () => {
    let abortKind: string | undefined;
    const runtime = newRuntime({
      "echo@1.0.0": async (_args, ctx) => {
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        abortKind = (ctx.signal.reason as CallAbortedError).kind;
        return "ignored";
      },
    });
    const peer = await connected(runtime);
    peer.call({ invocationId: "stuck", name: "echo" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const drained = runtime.drain(100);
    const notice = await peer.receive();
    assert.equal(notice.kind.case, "drain");
    assert.equal((notice.kind.value as { gracePeriodMs: number }).gracePeriodMs, 100);
    await withTimeout(drained, 3_000, "drain did not finish");
    assert.equal(abortKind, "drain");
    assert.equal(runtime.state, "closed");
    await assert.rejects(peer.receive({ timeoutMs: 500 }), /closed its stream/, "no result after the grace period");
  });

  test("reconnects with backoff after the Host drops the stream, and announces again", async () => {
    const disconnects: DisconnectInfo[] = [];
    const runtime = newRuntime({ "echo@1.0.0": () => "again" }, { reconnect: { initialDelayMs: 20, maxDelayMs: 50 }, onDisconnect: (info) => disconnects.push(info) });
    const first = await connected(runtime);
    first.outbound.end();
    const second = await nextPeer();
    const announcement = await second.receive();
    assert.equal(announcement.kind.case, "announcement");
    assert.deepEqual(
      disconnects.map((info) => [info.reason, info.willReconnect]),
      [["host_closed", true]],
    );
    second.accept({ contracts: ["echo@1.0.0"] });
    await new Promise<void>((resolve) => runtime.once("connected", () => resolve()));
    assert.equal(runtime.state, "connected");
    second.call({ invocationId: "r", name: "echo" });
    assert.equal(resultOf(await second.receive()).content, "again");
  });

  test("without reconnect, a dropped stream stops the runtime", async () => {
    const runtime = newRuntime({ "echo@1.0.0": () => 1 });
    const peer = await connected(runtime);
    peer.outbound.end();
    await withTimeout(runtime.closed, 3_000, "the runtime did not stop");
    assert.equal(runtime.state, "closed");
  });

  test("a certificate from another CA is refused during the handshake", async () => {
    const otherCa = await createTestCa("Other CA");
    const stranger = await otherCa.issueRuntime(spiffeId);
    const runtime = newRuntime({ "echo@1.0.0": () => 1 }, { certificatePem: stranger.certificatePem, privateKeyPem: stranger.privateKeyPem });
    await assert.rejects(runtime.start(), (err: unknown) => err instanceof AespError);
  });

  test("a certificate naming another runtime or tenant is refused before connecting", () => {
    assert.throws(
      () => newRuntime({ "echo@1.0.0": () => 1 }, { runtimeId: "rt-2" }),
      (err: unknown) => err instanceof AespError && err.code === "CERTIFICATE_INVALID",
    );
    assert.throws(
      () => newRuntime({ "echo@1.0.0": () => 1 }, { tenantId: "globex" }),
      (err: unknown) => err instanceof AespError && err.code === "CERTIFICATE_INVALID",
    );
  });

  test("malformed handler keys and options are refused", () => {
    for (const handlers of [{}, { echo: () => 1 }, { "echo@1.0": () => 1 }, { "echo@1.0.0": "nope" as never }]) {
      assert.throws(() => newRuntime(handlers), (err: unknown) => err instanceof AespError && err.code === "INVALID_ARGUMENT");
    }
    assert.throws(() => newRuntime({ "echo@1.0.0": () => 1 }, { maxConcurrency: 0 }), (err: unknown) => err instanceof AespError && err.code === "INVALID_ARGUMENT");
  });

  test("start() twice is refused", async () => {
    const runtime = newRuntime({ "echo@1.0.0": () => 1 });
    await connected(runtime);
    await assert.rejects(runtime.start(), (err: unknown) => err instanceof AespError && err.code === "INVALID_STATE_TRANSITION");
  });
});

describe("MessageQueue", () => {
  test("delivers in order, ends after the backlog, and drops pushes after end", async () => {
    const queue = new MessageQueue<number>(2);
    queue.push(1);
    queue.push(2);
    let writable = false;
    const waiting = queue.whenWritable().then(() => (writable = true));
    const iterator = queue[Symbol.asyncIterator]();
    assert.deepEqual(await iterator.next(), { value: 1, done: false });
    await waiting;
    assert.equal(writable, true, "below the high-water mark again");
    queue.end();
    assert.equal(queue.push(3), false);
    assert.deepEqual(await iterator.next(), { value: 2, done: false });
    assert.deepEqual(await iterator.next(), { value: undefined, done: true });
  });

  test("a waiting consumer receives the next push", async () => {
    const queue = new MessageQueue<string>();
    const next = queue[Symbol.asyncIterator]().next();
    queue.push("x");
    assert.deepEqual(await next, { value: "x", done: false });
  });
});
