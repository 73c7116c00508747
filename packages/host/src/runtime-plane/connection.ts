import { create, toJson } from "@bufbuild/protobuf";
import type { JsonObject } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { ResultStatus } from "@aesp/proto/adm";
import { HostMessageSchema } from "@aesp/proto/runtime";
import type { HostMessage, RuntimeToolResult, StreamChunk } from "@aesp/proto/runtime";
import { EnterpriseError, toEnterpriseError } from "@aesp/core";
import type { Clock, DispatchOutcome, DispatchRequest, RuntimeConnection } from "@aesp/core";
import { securityContextToWire } from "../gateway/mappers.ts";
import { OutboundQueue } from "./outbound-queue.ts";

interface PendingCall {
  readonly request: DispatchRequest;
  readonly resolve: (outcome: DispatchOutcome) => void;
  readonly reject: (error: EnterpriseError) => void;
  readonly onChunk: ((payload: unknown) => void) | undefined;
  nextSequence: bigint;
}

/** Facts about the connected runtime, for listings and metrics. */
export interface ConnectionFacts {
  readonly connectionId: string;
  readonly runtimeId: string;
  readonly tenantId: string;
  readonly serial: string;
  readonly language: string;
  readonly version: string;
  readonly contracts: ReadonlySet<string>;
  readonly heartbeatIntervalMs: number;
  readonly maxInFlight: number;
}

/** A protocol violation by the runtime: reported back, audited by the caller of `handle*`. */
export class RuntimeProtocolViolation extends Error {}

const recentlyFinishedLimit = 4096;

/**
 * One admitted runtime stream, seen from the Host: dispatches calls with an
 * in-flight window, matches results to calls, enforces deadlines, and fails
 * every pending call with UNAVAILABLE when the stream ends — no call hangs.
 */
export class RuntimeStreamConnection implements RuntimeConnection {
  readonly connectionId: string;
  readonly runtimeId: string;
  readonly tenantId: string;
  readonly contracts: ReadonlySet<string>;
  readonly facts: ConnectionFacts;
  readonly connectedAt: number;
  readonly outbound = new OutboundQueue<HostMessage>();
  lastHeartbeat: number;
  #draining = false;
  #closed = false;
  readonly #clock: Clock;
  readonly #pending = new Map<string, PendingCall>();
  readonly #recentlyFinished = new Set<string>();
  readonly #waiters: (() => void)[] = [];

  constructor(facts: ConnectionFacts, clock: Clock) {
    this.facts = facts;
    this.connectionId = facts.connectionId;
    this.runtimeId = facts.runtimeId;
    this.tenantId = facts.tenantId;
    this.contracts = facts.contracts;
    this.#clock = clock;
    this.connectedAt = clock.now();
    this.lastHeartbeat = this.connectedAt;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  get draining(): boolean {
    return this.#draining;
  }

  isHealthy(now: number): boolean {
    return !this.#closed && !this.#draining && now - this.lastHeartbeat < this.facts.heartbeatIntervalMs * 3;
  }

  async dispatch(request: DispatchRequest, handlers: { signal: AbortSignal; onChunk?: (payload: unknown) => void }): Promise<DispatchOutcome> {
    await this.#acquireSlot(request, handlers.signal);
    if (this.#closed || this.#draining) throw unavailable(this.runtimeId, "runtime_draining_or_gone");
    return new Promise<DispatchOutcome>((resolve, reject) => {
      const timeoutMs = Math.max(0, request.deadlineMs - this.#clock.now());
      let settled = false;
      const finish = () => {
        settled = true;
        clearTimeout(timer);
        handlers.signal.removeEventListener("abort", onAbort);
        this.#pending.delete(request.invocationId);
        this.#remember(request.invocationId);
        this.#waiters.shift()?.();
      };
      const cancel = (reason: string) => this.outbound.push(create(HostMessageSchema, { kind: { case: "cancel", value: { invocationId: request.invocationId, reason } } }));
      const onAbort = () => {
        if (settled) return;
        finish();
        cancel("cancelled");
        reject(toEnterpriseError(handlers.signal.reason));
      };
      const timer = setTimeout(() => {
        if (settled) return;
        finish();
        cancel("deadline_exceeded");
        reject(new EnterpriseError("DEADLINE_EXCEEDED", { details: { runtime_id: this.runtimeId } }));
      }, timeoutMs);
      handlers.signal.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(request.invocationId, {
        request,
        onChunk: handlers.onChunk,
        nextSequence: 0n,
        resolve: (outcome) => {
          if (settled) return;
          finish();
          resolve(outcome);
        },
        reject: (error) => {
          if (settled) return;
          finish();
          reject(error);
        },
      });
      this.outbound.push(
        create(HostMessageSchema, {
          kind: {
            case: "call",
            value: {
              invocationId: request.invocationId,
              correlationId: request.correlationId,
              call: { callId: request.callId, name: request.contractName, args: request.args as JsonObject },
              contractVersion: request.contractVersion,
              deadlineUnixMs: BigInt(request.deadlineMs),
              stream: request.stream,
              securityContext: securityContextToWire(request.security),
              sessionId: request.sessionId,
            },
          },
        }),
      );
    });
  }

  /**
   * Completes a call with the runtime's result.
   * @throws RuntimeProtocolViolation for a result of a call this runtime was never given.
   */
  handleResult(message: RuntimeToolResult): void {
    const pending = this.#pending.get(message.invocationId);
    if (pending === undefined) {
      if (this.#recentlyFinished.has(message.invocationId)) return;
      throw new RuntimeProtocolViolation("result_for_unknown_invocation");
    }
    const result = message.result;
    const executionTimeMs = Number(message.executionTimeMs);
    if (result === undefined || result.status === ResultStatus.RESULT_STATUS_UNSPECIFIED) {
      pending.reject(new EnterpriseError("RESULT_VALIDATION_FAILED", { details: { reason: "malformed_tool_result", runtime_id: this.runtimeId } }));
      return;
    }
    if (result.status === ResultStatus.ERROR) {
      pending.resolve({ kind: "error", errorType: (result.error?.type ?? "") || "TOOL_ERROR", message: (result.error?.message ?? "").slice(0, 1000) || "The tool failed.", executionTimeMs });
      return;
    }
    const content = result.content === undefined ? null : toJson(ValueSchema, result.content);
    pending.resolve({ kind: "success", content, executionTimeMs });
  }

  /**
   * Delivers a streamed chunk in order.
   * @throws RuntimeProtocolViolation for chunks of unknown or non-streaming calls, or out of order.
   */
  handleChunk(message: StreamChunk): void {
    const pending = this.#pending.get(message.invocationId);
    if (pending === undefined) {
      if (this.#recentlyFinished.has(message.invocationId)) return;
      throw new RuntimeProtocolViolation("chunk_for_unknown_invocation");
    }
    if (!pending.request.stream || pending.onChunk === undefined || message.sequence !== pending.nextSequence) {
      pending.reject(new EnterpriseError("RESULT_VALIDATION_FAILED", { details: { reason: "unexpected_stream_chunk", runtime_id: this.runtimeId } }));
      throw new RuntimeProtocolViolation("unexpected_stream_chunk");
    }
    pending.nextSequence++;
    pending.onChunk(message.payload === undefined ? null : toJson(ValueSchema, message.payload));
  }

  /** Stops routing new calls here; in-flight calls continue until done. */
  startDrain(): void {
    this.#draining = true;
  }

  /** Resolves when no call is in flight, or after `graceMs`. */
  async drained(graceMs: number): Promise<void> {
    const until = this.#clock.now() + graceMs;
    while (this.#pending.size > 0 && this.#clock.now() < until) await new Promise((r) => setTimeout(r, 25));
  }

  /** Ends the connection: every pending call fails with UNAVAILABLE and retry advice. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of [...this.#pending.values()]) pending.reject(unavailable(this.runtimeId, reason));
    for (const wake of this.#waiters.splice(0)) wake();
    this.outbound.close();
  }

  /** Waits for a free slot in the in-flight window, bounded by the call's deadline and signal. */
  async #acquireSlot(request: DispatchRequest, signal: AbortSignal): Promise<void> {
    while (this.#pending.size >= this.facts.maxInFlight && !this.#closed) {
      const waitMs = request.deadlineMs - this.#clock.now();
      if (waitMs <= 0) throw new EnterpriseError("DEADLINE_EXCEEDED", { details: { runtime_id: this.runtimeId, reason: "window_full" } });
      if (signal.aborted) throw toEnterpriseError(signal.reason);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        function done() {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        }
        signal.addEventListener("abort", done, { once: true });
        this.#waiters.push(done);
      });
    }
  }

  #remember(invocationId: string): void {
    this.#recentlyFinished.add(invocationId);
    if (this.#recentlyFinished.size > recentlyFinishedLimit) {
      const oldest = this.#recentlyFinished.values().next().value;
      if (oldest !== undefined) this.#recentlyFinished.delete(oldest);
    }
  }
}

function unavailable(runtimeId: string, reason: string): EnterpriseError {
  return new EnterpriseError("UNAVAILABLE", { details: { runtime_id: runtimeId, reason } });
}

