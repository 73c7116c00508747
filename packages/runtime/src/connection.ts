/**
 * One `RuntimeService.Connect` stream: announce, wait for the Host's answer, then serve calls,
 * cancellations, heartbeats and drains until the stream ends. A {@link RuntimeConnection} is used
 * once; the {@link Runtime} creates a new one for every (re)connection.
 */
import { create } from "@bufbuild/protobuf";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Value } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { AespError, fromEnterpriseError, toAespError } from "@aesp/client";
import { ResultStatus } from "@aesp/proto/adm";
import type { ErrorObject } from "@aesp/proto/adm";
import { RuntimeMessageSchema, RuntimeService } from "@aesp/proto/runtime";
import type { AnnouncementRejected, HostMessage, RuntimeMessage, ToolCall } from "@aesp/proto/runtime";
import { toProtoValue } from "./json-value.ts";
import { MessageQueue } from "./message-queue.ts";
import { CallAbortedError, ToolError } from "./tool-error.ts";

/** The caller of a tool call, as the Host authenticated it. */
export interface ToolSecurity {
  readonly principalId: string;
  readonly tenantId: string;
  readonly roles: readonly string[];
  readonly permissions: readonly string[];
  /** Identity-token claims the Host lets tools see (never secrets). */
  readonly claims: Readonly<Record<string, string>>;
}

/** What a handler knows about the call it serves. */
export interface ToolContext {
  /** The Host's id for this call; keys results, chunks and cancellation. */
  readonly invocationId: string;
  /** The caller's idempotency key (ADM FunctionCall.call_id). */
  readonly callId: string;
  readonly correlationId: string;
  readonly sessionId: string;
  /** `name@version` of the contract the arguments were validated against. */
  readonly contract: string;
  /** Work past this instant is wasted: the Host has given up. Far in the future when the Host set none. */
  readonly deadline: Date;
  /** Aborted on cancellation by the Host, at the deadline, and when a drain's grace period ends; `reason` is a {@link CallAbortedError}. */
  readonly signal: AbortSignal;
  readonly security: ToolSecurity;
  /** Whether the caller asked for a stream: emit chunks with {@link emit}, then return. */
  readonly stream: boolean;
  /**
   * Sends one chunk of a streamed result, in order. The promise resolves when the outbound
   * backlog allows more (await it in tight loops). Dropped silently once the call is cancelled.
   * @throws TypeError on a call that is not streamed, or when `chunk` is not JSON.
   */
  emit(chunk: JsonValue): Promise<void>;
}

/**
 * Fulfils one contract version. Returns the result content (any JSON value; `undefined` means
 * null) or, for streamed calls, emits chunks and returns nothing. Throw {@link ToolError} for an
 * expected failure; anything else is reported as INTERNAL_ERROR without detail.
 */
export type ToolHandler = (args: JsonObject, ctx: ToolContext) => unknown;

/** The Host's acceptance of an announcement. */
export interface RuntimeAcceptance {
  readonly runtimeId: string;
  /** The declared contracts the Host will route here (`name@version`). */
  readonly acceptedContracts: readonly string[];
  /** Declared contracts the Host did not accept (not ACTIVE, or not allowed for this runtime). */
  readonly notAccepted: readonly string[];
  readonly heartbeatIntervalMs: number;
  readonly maxInFlight: number;
}

/** Why a stream ended. */
export type EndReason = "closed" | "drained" | "host_drain" | "host_closed" | "rejected" | "error";

/** How a stream ended. */
export interface ConnectionEnd {
  readonly reason: EndReason;
  readonly error: AespError | undefined;
  /** Whether the Host had accepted the announcement. */
  readonly accepted: boolean;
}

/** Problems inside a handler, reported for local logging only (never sent to the Host). */
export interface HandlerErrorInfo {
  readonly error: unknown;
  readonly invocationId: string;
  readonly contract: string;
}

/** Everything a connection needs; built once by the Runtime. */
export interface ConnectionConfig {
  readonly runtimePlaneUrl: string;
  readonly caCertificatesPem: readonly string[];
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly announcement: RuntimeMessage;
  readonly declaredContracts: readonly string[];
  readonly handlers: ReadonlyMap<string, ToolHandler>;
  readonly maxConcurrency: number;
  readonly onHandlerError: (info: HandlerErrorInfo) => void;
}

interface ActiveCall {
  readonly toolCall: ToolCall;
  readonly contract: string;
  readonly handler: ToolHandler;
  readonly controller: AbortController;
  readonly deadlineMs: number;
  deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  /** No further message may be sent for this call (result sent, cancelled, or dropped). */
  settled: boolean;
  nextSequence: number;
}

/** How long to wait for the Host to close its side after ours before cutting the stream. */
const closeHandshakeMs = 2_000;
/** Heartbeat period when the Host names none. */
const defaultHeartbeatMs = 10_000;
/** `deadline` of calls without one: the largest valid Date. */
const noDeadline = 8.64e15;

const internalErrorObject = { type: "INTERNAL_ERROR", message: "The tool failed with an internal error." } as const;

/** One runtime stream to the Host. Construction connects and announces. */
export class RuntimeConnection {
  /** Resolves when the Host accepts the announcement; rejects with an AespError otherwise. */
  readonly accepted: Promise<RuntimeAcceptance>;
  /** Resolves (never rejects) when the stream is over and every resource is released. */
  readonly ended: Promise<ConnectionEnd>;

  readonly #config: ConnectionConfig;
  readonly #outbound = new MessageQueue<RuntimeMessage>();
  readonly #abort = new AbortController();
  readonly #sessionManager: Http2SessionManager;
  readonly #acceptance = Promise.withResolvers<RuntimeAcceptance>();
  readonly #calls = new Map<string, ActiveCall>();
  #waiting: ActiveCall[] = [];
  #running = 0;
  #state: "announcing" | "open" | "draining" | "closed" = "announcing";
  #wasAccepted = false;
  #endReason: EndReason | null = null;
  #error: AespError | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #idleWaiters: Array<() => void> = [];
  #drainPromise: Promise<void> | null = null;

  constructor(config: ConnectionConfig) {
    this.#config = config;
    this.accepted = this.#acceptance.promise;
    // The Runtime awaits `accepted` only while starting; later rejections must not go unhandled.
    this.accepted.catch(() => undefined);
    this.#sessionManager = new Http2SessionManager(config.runtimePlaneUrl, { pingIntervalMs: 30_000, pingTimeoutMs: 15_000 }, {
      ca: [...config.caCertificatesPem],
      cert: config.certificatePem,
      key: config.privateKeyPem,
      minVersion: "TLSv1.3",
    });
    const transport = createGrpcTransport({ baseUrl: config.runtimePlaneUrl, sessionManager: this.#sessionManager });
    const client = createClient(RuntimeService, transport);
    this.#outbound.push(config.announcement);
    this.ended = this.#readLoop(client.connect(this.#outbound, { signal: this.#abort.signal }));
  }

  /** Calls the Host considers outstanding on this stream. */
  get inFlight(): number {
    return this.#calls.size;
  }

  /**
   * Stops taking calls, waits up to `graceMs` for in-flight calls, aborts the rest, then closes
   * the stream. A runtime-initiated drain first tells the Host (DrainNotice).
   */
  drain(graceMs: number, initiator: "runtime" | "host"): Promise<void> {
    if (this.#drainPromise !== null) return this.#drainPromise;
    if (this.#state === "closed") return this.ended.then(() => undefined);
    this.#endReason ??= initiator === "runtime" ? "drained" : "host_drain";
    if (initiator === "runtime" && this.#wasAccepted) {
      this.#send({ case: "drain", value: { gracePeriodMs: Math.max(0, Math.round(graceMs)) } });
    }
    this.#state = "draining";
    this.#drainPromise = (async () => {
      await withTimeout(this.#whenIdle(), graceMs);
      this.#dropAll("drain");
      this.#outbound.end();
      const closedByHost = await withTimeout(this.ended.then(() => true), closeHandshakeMs);
      if (closedByHost !== true) this.#abort.abort();
      await this.ended;
    })();
    return this.#drainPromise;
  }

  /** Ends the stream at once; in-flight calls are aborted and their results dropped. */
  close(): void {
    this.#endReason ??= "closed";
    this.#dropAll("disconnected");
    this.#outbound.discard();
    this.#abort.abort();
  }

  async #readLoop(responses: AsyncIterable<HostMessage>): Promise<ConnectionEnd> {
    let failure: AespError | undefined;
    try {
      for await (const message of responses) this.#dispatch(message);
    } catch (err) {
      // After our own close() the cancellation error says nothing new.
      if (this.#endReason === null || this.#endReason === "host_drain") failure = toAespError(err);
    } finally {
      this.#teardown();
    }
    const error = this.#error ?? failure;
    if (!this.#wasAccepted) {
      this.#acceptance.reject(
        error ??
          new AespError({
            code: "UNAVAILABLE",
            message: "The Host closed the runtime stream before answering the announcement.",
            retryAfterMs: 1000,
            remediation: ["Check that the runtime plane URL points at the Host's runtime listener."],
          }),
      );
    }
    const reason: EndReason = this.#endReason ?? (error === undefined ? "host_closed" : "error");
    return { reason, error, accepted: this.#wasAccepted };
  }

  #dispatch(message: HostMessage): void {
    switch (message.kind.case) {
      case "accepted": {
        if (this.#state !== "announcing") return;
        const accepted = message.kind.value;
        this.#wasAccepted = true;
        this.#state = "open";
        const heartbeatMs = accepted.heartbeatIntervalMs > 0 ? accepted.heartbeatIntervalMs : defaultHeartbeatMs;
        this.#heartbeat = setInterval(() => this.#send({ case: "heartbeat", value: { sentAtUnixMs: BigInt(Date.now()), inFlight: this.#calls.size } }), heartbeatMs);
        const acceptedSet = new Set(accepted.acceptedContracts);
        this.#acceptance.resolve({
          runtimeId: accepted.runtimeId,
          acceptedContracts: [...accepted.acceptedContracts],
          notAccepted: this.#config.declaredContracts.filter((contract) => !acceptedSet.has(contract)),
          heartbeatIntervalMs: heartbeatMs,
          maxInFlight: accepted.maxInFlight,
        });
        return;
      }
      case "rejected":
        this.#error = rejectionError(message.kind.value);
        this.#endReason = "rejected";
        this.#acceptance.reject(this.#error);
        this.#outbound.end();
        return;
      case "call":
        this.#onCall(message.kind.value);
        return;
      case "cancel":
        this.#onCancel(message.kind.value.invocationId);
        return;
      case "drain":
        void this.drain(message.kind.value.gracePeriodMs, "host");
        return;
      case "error":
        this.#error = fromEnterpriseError(message.kind.value, { fallbackMessage: "The Host reported a protocol error." });
        return;
      case "heartbeat":
      case undefined:
        return;
    }
  }

  #onCall(toolCall: ToolCall): void {
    const name = toolCall.call?.name ?? "";
    const contract = `${name}@${toolCall.contractVersion}`;
    if (this.#state !== "open") {
      this.#sendResult(toolCall, { status: ResultStatus.ERROR, error: { type: "UNAVAILABLE", message: "The runtime is shutting down and takes no new calls." } }, 0);
      return;
    }
    if (this.#calls.has(toolCall.invocationId)) return;
    const handler = this.#config.handlers.get(contract);
    if (handler === undefined) {
      this.#sendResult(toolCall, { status: ResultStatus.ERROR, error: { type: "CONTRACT_NOT_FULFILLED", message: `This runtime does not fulfil ${contract}.` } }, 0);
      return;
    }
    const deadlineMs = toolCall.deadlineUnixMs > 0n ? Number(toolCall.deadlineUnixMs) : noDeadline;
    const call: ActiveCall = { toolCall, contract, handler, controller: new AbortController(), deadlineMs, deadlineTimer: undefined, settled: false, nextSequence: 0 };
    this.#calls.set(toolCall.invocationId, call);
    if (deadlineMs !== noDeadline) {
      call.deadlineTimer = setTimeout(() => this.#onDeadline(call), Math.max(0, deadlineMs - Date.now()));
    }
    if (this.#running < this.#config.maxConcurrency) this.#start(call);
    else this.#waiting.push(call);
  }

  #onDeadline(call: ActiveCall): void {
    call.deadlineTimer = undefined;
    const waitingIndex = this.#waiting.indexOf(call);
    if (waitingIndex !== -1) {
      this.#waiting.splice(waitingIndex, 1);
      this.#settle(call, { status: ResultStatus.ERROR, error: deadlineErrorObject }, 0);
      return;
    }
    // The handler sees the abort; its (late) outcome is still reported when it returns.
    call.controller.abort(new CallAbortedError("deadline"));
  }

  #onCancel(invocationId: string): void {
    const call = this.#calls.get(invocationId);
    if (call === undefined) return;
    const waitingIndex = this.#waiting.indexOf(call);
    if (waitingIndex !== -1) this.#waiting.splice(waitingIndex, 1);
    this.#markSettled(call);
    call.controller.abort(new CallAbortedError("cancelled"));
    this.#send({ case: "cancelAck", value: { invocationId } });
  }

  #start(call: ActiveCall): void {
    this.#running++;
    void this.#execute(call).finally(() => {
      this.#running--;
      const next = this.#waiting.shift();
      if (next !== undefined) this.#start(next);
    });
  }

  async #execute(call: ActiveCall): Promise<void> {
    const startedAt = performance.now();
    let outcome: ToolOutcome;
    try {
      const value: unknown = await call.handler(call.toolCall.call?.args ?? {}, this.#context(call));
      outcome = call.toolCall.stream ? { status: ResultStatus.SUCCESS } : { status: ResultStatus.SUCCESS, content: toValue(value, "result") };
    } catch (err) {
      outcome = { status: ResultStatus.ERROR, error: this.#errorObject(call, err) };
    }
    this.#settle(call, outcome, performance.now() - startedAt);
  }

  #context(call: ActiveCall): ToolContext {
    const { toolCall } = call;
    const security = toolCall.securityContext;
    return {
      invocationId: toolCall.invocationId,
      callId: toolCall.call?.callId ?? "",
      correlationId: toolCall.correlationId,
      sessionId: toolCall.sessionId,
      contract: call.contract,
      deadline: new Date(call.deadlineMs),
      signal: call.controller.signal,
      stream: toolCall.stream,
      security: {
        principalId: security?.principalId ?? "",
        tenantId: security?.tenantId ?? "",
        roles: security?.roles ?? [],
        permissions: security?.permissions ?? [],
        claims: security?.claims ?? {},
      },
      emit: (chunk) => {
        if (!toolCall.stream) throw new TypeError("ctx.emit() is only available on streamed calls (check ctx.stream).");
        if (call.settled) return Promise.resolve();
        const payload = toValue(chunk, "chunk");
        const sequence = BigInt(call.nextSequence++);
        this.#send({ case: "chunk", value: { invocationId: toolCall.invocationId, sequence, payload } });
        return this.#outbound.whenWritable();
      },
    };
  }

  #errorObject(call: ActiveCall, err: unknown): { type: string; message: string } {
    if (err instanceof ToolError) return { type: err.type, message: err.message };
    const reason: unknown = call.controller.signal.reason;
    if (reason instanceof CallAbortedError && reason.kind === "deadline") return deadlineErrorObject;
    this.#config.onHandlerError({ error: err, invocationId: call.toolCall.invocationId, contract: call.contract });
    return internalErrorObject;
  }

  #settle(call: ActiveCall, outcome: ToolOutcome, elapsedMs: number): void {
    if (call.settled) return;
    this.#markSettled(call);
    this.#sendResult(call.toolCall, outcome, elapsedMs);
  }

  #markSettled(call: ActiveCall): void {
    call.settled = true;
    if (call.deadlineTimer !== undefined) clearTimeout(call.deadlineTimer);
    call.deadlineTimer = undefined;
    this.#calls.delete(call.toolCall.invocationId);
    if (this.#calls.size === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  #sendResult(toolCall: ToolCall, outcome: ToolOutcome, elapsedMs: number): void {
    this.#send({
      case: "result",
      value: {
        invocationId: toolCall.invocationId,
        result: { callId: toolCall.call?.callId ?? "", name: toolCall.call?.name ?? "", ...outcome },
        executionTimeMs: BigInt(Math.max(0, Math.round(elapsedMs))),
      },
    });
  }

  #send(kind: RuntimeMessageKind): void {
    this.#outbound.push(create(RuntimeMessageSchema, { kind }));
  }

  #whenIdle(): Promise<void> {
    if (this.#calls.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Aborts every outstanding call and forgets it: no message will be sent for any of them. */
  #dropAll(kind: "drain" | "disconnected"): void {
    this.#waiting = [];
    for (const call of [...this.#calls.values()]) {
      this.#markSettled(call);
      call.controller.abort(new CallAbortedError(kind));
    }
  }

  #teardown(): void {
    this.#state = "closed";
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#dropAll("disconnected");
    this.#outbound.discard();
    this.#sessionManager.abort();
  }
}

type ToolOutcome = { status: ResultStatus.SUCCESS; content?: Value } | { status: ResultStatus.ERROR; error: Pick<ErrorObject, "type" | "message"> };

type RuntimeMessageKind =
  | { case: "result"; value: { invocationId: string; result: { callId: string; name: string } & ToolOutcome; executionTimeMs: bigint } }
  | { case: "chunk"; value: { invocationId: string; sequence: bigint; payload: Value } }
  | { case: "heartbeat"; value: { sentAtUnixMs: bigint; inFlight: number } }
  | { case: "drain"; value: { gracePeriodMs: number } }
  | { case: "cancelAck"; value: { invocationId: string } };

const deadlineErrorObject = { type: "DEADLINE_EXCEEDED", message: "The call's deadline passed before the tool finished." } as const;

/** {@link toProtoValue}, naming what failed to convert. */
function toValue(value: unknown, what: "result" | "chunk"): Value {
  try {
    return toProtoValue(value);
  } catch (err) {
    throw new TypeError(`The tool's ${what} is not JSON.`, { cause: err });
  }
}

function rejectionError(rejected: AnnouncementRejected): AespError {
  const details: Record<string, string> = {};
  for (const rejection of rejected.rejections) details[`contract:${rejection.contract}`] = rejection.reason;
  const base = rejected.error === undefined ? undefined : fromEnterpriseError(rejected.error);
  return new AespError({
    code: base?.code ?? "RUNTIME_REJECTED",
    message: base?.message ?? "The Host rejected the runtime's announcement.",
    retryAfterMs: base?.retryAfterMs ?? 0,
    correlationId: base?.correlationId ?? "",
    details: { ...base?.details, ...details },
    remediation: base !== undefined && base.remediation.length > 0 ? base.remediation : ["Check the runtime's registration (aesp runtime list) and that its contracts are ACTIVE."],
    escalationRequired: base?.escalationRequired ?? false,
  });
}

/** Resolves with the promise's value, or with undefined after `ms`; never leaves a timer behind. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
