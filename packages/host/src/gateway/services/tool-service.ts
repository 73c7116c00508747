import type { HandlerContext } from "@connectrpc/connect";
import { fromJson } from "@bufbuild/protobuf";
import type { JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { ResultStatus } from "@aesp/proto/adm";
import type { InvokeToolRequest, ListToolsRequest } from "@aesp/proto/client";
import { EnterpriseError, invokeTool } from "@aesp/core";
import type { DispatchOutcome, ToolCallRequest } from "@aesp/core";
import { callerOf, originOf } from "../context.ts";
import { contractToWire } from "../mappers.ts";
import type { GatewayDeps } from "./deps.ts";

const callIdPattern = /^[\x20-\x7E]{1,128}$/;

function decodeCall(req: InvokeToolRequest, stream: boolean, deps: GatewayDeps): ToolCallRequest {
  if (req.call === undefined || req.call.name === "") throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "call.name" } });
  if (req.call.callId !== "" && !callIdPattern.test(req.call.callId)) {
    throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "call.call_id", expected: "1-128 printable ASCII characters" } });
  }
  return {
    sessionId: req.sessionId,
    callId: req.call.callId === "" ? deps.ids.newId("call") : req.call.callId,
    name: req.call.name,
    contractVersion: req.contractVersion,
    args: req.call.args ?? {},
    timeoutMs: req.timeoutMs,
    stream,
  };
}

function toolResult(call: ToolCallRequest, outcome: DispatchOutcome) {
  return outcome.kind === "success"
    ? { callId: call.callId, name: call.name, status: ResultStatus.SUCCESS, ...(call.stream ? {} : { content: fromJson(ValueSchema, (outcome.content ?? null) as JsonValue) }) }
    : { callId: call.callId, name: call.name, status: ResultStatus.ERROR, error: { type: outcome.errorType, message: outcome.message } };
}

/** ToolService: the governed tool call, unary and server-streaming. */
export function toolService(deps: GatewayDeps) {
  return {
    async invokeTool(req: InvokeToolRequest, ctx: HandlerContext) {
      const request = decodeCall(req, false, deps);
      const origin = originOf(ctx);
      const invocationId = deps.ids.newId("inv");
      const done = await invokeTool(deps.pipeline, { invocationId, security: callerOf(ctx), origin, request, signal: ctx.signal });
      return { result: toolResult(request, done.outcome), invocationId, correlationId: origin.correlationId };
    },

    async *invokeToolStream(req: InvokeToolRequest, ctx: HandlerContext) {
      const request = decodeCall(req, true, deps);
      const origin = originOf(ctx);
      const invocationId = deps.ids.newId("inv");
      const queue = new ChunkQueue();
      const running = invokeTool(deps.pipeline, {
        invocationId,
        security: callerOf(ctx),
        origin,
        request,
        signal: ctx.signal,
        onChunk: (payload) => queue.push(payload),
      }).finally(() => queue.close());
      // Observed at once: a failure while the generator waits on a slow reader must not be an
      // unhandled rejection. The await below still delivers it to the caller.
      running.catch(() => undefined);
      // Chunks are released as they validate; the final result only after the outcome is durable.
      let sequence = 0n;
      for await (const payload of queue) {
        yield { kind: { case: "chunk" as const, value: { invocationId, sequence: sequence++, payload: fromJson(ValueSchema, payload as JsonValue) } }, invocationId, correlationId: origin.correlationId };
      }
      const done = await running;
      yield { kind: { case: "result" as const, value: toolResult(request, done.outcome) }, invocationId, correlationId: origin.correlationId };
    },

    async listTools(req: ListToolsRequest, ctx: HandlerContext) {
      const security = callerOf(ctx);
      if (req.sessionId !== "") await deps.sessions.resolve(security, originOf(ctx), req.sessionId);
      const snapshot = await deps.tenants.activeSnapshot(security.tenantId);
      const tools = [];
      for (const versions of snapshot.contracts.values()) for (const v of versions.values()) tools.push(contractToWire(v.record));
      return { tools };
    },
  };
}

/** A single-consumer async queue bridging chunk callbacks to an async generator. */
class ChunkQueue implements AsyncIterable<unknown> {
  readonly #items: unknown[] = [];
  #closed = false;
  #wake: (() => void) | null = null;

  push(item: unknown): void {
    this.#items.push(item);
    this.#wake?.();
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<unknown> {
    for (;;) {
      if (this.#items.length > 0) {
        yield this.#items.shift();
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = null;
    }
  }
}
