/**
 * A runtime speaking the raw RuntimeService protocol, for tests that must also
 * misbehave (wrong tenant, garbage, results for calls never given). Well-behaved
 * runtimes use @aesp/runtime.
 */
import { create, fromJson, toJson } from "@bufbuild/protobuf";
import type { JsonValue, MessageInitShape } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ResultStatus } from "@aesp/proto/adm";
import { RuntimeMessageSchema, RuntimeService } from "@aesp/proto/runtime";
import type { HostMessage, RuntimeMessage, ToolCall } from "@aesp/proto/runtime";
import type { RuntimeCredentials } from "./harness.ts";

export type RawHandler = (call: ToolCall, emit: (payload: JsonValue) => void, signal: AbortSignal) => Promise<JsonValue | { error: { type: string; message: string } }>;

export interface RawRuntime {
  /** The host's first answer: accepted or rejected. */
  readonly first: HostMessage;
  readonly received: HostMessage[];
  send(message: MessageInitShape<typeof RuntimeMessageSchema>): void;
  /** Ends the runtime's side of the stream gracefully (half-close). */
  close(): void;
  /** Drops the stream abruptly (RST_STREAM), as a crashing runtime would. */
  abort(): void;
  /** Resolves when the host ends the stream. */
  readonly ended: Promise<unknown>;
  /** The ToolCalls received so far. */
  calls(): ToolCall[];
  /** Resolves with the first received message (past or future) matching `predicate`; rejects after `timeoutMs`. */
  waitFor(predicate: (message: HostMessage) => boolean, timeoutMs?: number): Promise<HostMessage>;
}

/** Connects, announces, and serves calls with `handlers` keyed `name@version`. */
export async function connectRawRuntime(options: {
  url: string;
  credentials: RuntimeCredentials;
  announce?: Partial<MessageInitShape<typeof RuntimeMessageSchema>["kind"] & object> | null;
  runtimeId?: string;
  tenantId?: string;
  contracts: string[];
  handlers?: Record<string, RawHandler>;
  tls?: { minVersion?: "TLSv1.2" | "TLSv1.3"; maxVersion?: "TLSv1.2" | "TLSv1.3"; noCertificate?: boolean };
  /** Send heartbeats at the interval the Host asks for (default true); without them the Host stops routing here. */
  heartbeats?: boolean;
}): Promise<RawRuntime> {
  const { credentials } = options;
  const transport = createGrpcTransport({
    baseUrl: options.url,
    nodeOptions: {
      ca: credentials.caCertificatePem,
      ...(options.tls?.noCertificate === true ? {} : { cert: credentials.certificatePem, key: credentials.privateKeyPem }),
      minVersion: options.tls?.minVersion ?? "TLSv1.3",
      ...(options.tls?.maxVersion === undefined ? {} : { maxVersion: options.tls.maxVersion }),
    },
  });
  const queue: RuntimeMessage[] = [];
  let wake: (() => void) | null = null;
  let closed = false;
  const outbound: AsyncIterable<RuntimeMessage> = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length > 0) yield queue.shift() as RuntimeMessage;
        if (closed) return;
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
  const send = (message: MessageInitShape<typeof RuntimeMessageSchema>) => {
    queue.push(create(RuntimeMessageSchema, message));
    wake?.();
  };
  let heartbeat: NodeJS.Timeout | undefined;
  const close = () => {
    clearInterval(heartbeat);
    closed = true;
    wake?.();
  };
  if (options.announce !== null) {
    send({
      kind: {
        case: "announcement",
        value: {
          runtimeId: options.runtimeId ?? credentials.runtimeId,
          tenantId: options.tenantId ?? credentials.tenantId,
          language: "typescript",
          version: "test",
          declaredContracts: options.contracts,
          certificateIdentity: { spiffeId: credentials.spiffeId },
        },
      },
    });
  }
  const received: HostMessage[] = [];
  const watchers = new Set<(message: HostMessage) => void>();
  const controllers = new Map<string, AbortController>();
  const aborter = new AbortController();
  const stream = createClient(RuntimeService, transport).connect(outbound, { signal: aborter.signal })[Symbol.asyncIterator]();
  let firstResult: IteratorResult<HostMessage>;
  try {
    firstResult = await stream.next();
  } catch (err) {
    close();
    aborter.abort();
    throw err;
  }
  if (firstResult.done === true) throw new Error("host closed the stream without answering");
  const first = firstResult.value;
  received.push(first);
  if (first.kind.case === "accepted" && options.heartbeats !== false) {
    const interval = Math.max(50, Math.floor(first.kind.value.heartbeatIntervalMs / 2));
    heartbeat = setInterval(() => send({ kind: { case: "heartbeat", value: { sentAtUnixMs: BigInt(Date.now()) } } }), interval);
    heartbeat.unref();
  }
  const ended = (async () => {
    for (;;) {
      const next = await stream.next();
      if (next.done === true) return;
      const message = next.value;
      received.push(message);
      for (const watch of watchers) watch(message);
      if (message.kind.case === "call") {
        const call = message.kind.value;
        const handler = options.handlers?.[`${call.call?.name}@${call.contractVersion}`];
        if (handler === undefined) continue;
        const controller = new AbortController();
        controllers.set(call.invocationId, controller);
        let sequence = 0n;
        const emit = (payload: JsonValue) => send({ kind: { case: "chunk", value: { invocationId: call.invocationId, sequence: sequence++, payload: fromJson(ValueSchema, payload) } } });
        void handler(call, emit, controller.signal).then((out) => {
          if (controller.signal.aborted) return;
          const isError = out !== null && typeof out === "object" && !Array.isArray(out) && "error" in out && typeof out["error"] === "object";
          send({
            kind: {
              case: "result",
              value: {
                invocationId: call.invocationId,
                result: isError
                  ? { callId: call.call?.callId ?? "", name: call.call?.name ?? "", status: ResultStatus.ERROR, error: (out as { error: { type: string; message: string } }).error }
                  : { callId: call.call?.callId ?? "", name: call.call?.name ?? "", status: ResultStatus.SUCCESS, ...(call.stream ? {} : { content: fromJson(ValueSchema, out) }) },
              },
            },
          });
        });
      } else if (message.kind.case === "cancel") {
        controllers.get(message.kind.value.invocationId)?.abort();
      }
    }
  })();
  ended.catch(() => undefined);
  // Once the Host has ended the stream there is nobody to talk to: end our side too.
  void ended
    .finally(() => {
      clearInterval(heartbeat);
      closed = true;
      wake?.();
    })
    .catch(() => undefined);
  const waitFor = (predicate: (message: HostMessage) => boolean, timeoutMs = 5000) =>
    new Promise<HostMessage>((resolve, reject) => {
      const seen = received.find(predicate);
      if (seen !== undefined) return resolve(seen);
      const timer = setTimeout(() => {
        watchers.delete(watch);
        reject(new Error(`no matching HostMessage within ${timeoutMs} ms`));
      }, timeoutMs);
      const watch = (message: HostMessage) => {
        if (!predicate(message)) return;
        clearTimeout(timer);
        watchers.delete(watch);
        resolve(message);
      };
      watchers.add(watch);
    });
  const calls = () => received.flatMap((m) => (m.kind.case === "call" ? [m.kind.value] : []));
  const abort = () => {
    clearInterval(heartbeat);
    closed = true;
    aborter.abort();
  };
  return { first, received, send, close, abort, ended, calls, waitFor };
}

/** A JSON value from a protobuf Value. */
export function jsonOf(value: Parameters<typeof toJson<typeof ValueSchema>>[1] | undefined): JsonValue {
  return value === undefined ? null : toJson(ValueSchema, value);
}
