/**
 * Bad input, from callers (raw Connect JSON and gRPC frames over HTTP/2, no generated
 * client to tidy them up) and from runtimes (garbage on the runtime stream): every one
 * gets a clear refusal with the right code, nothing is stored, and the Host keeps serving.
 */
import { after, before, describe, test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { ResultStatus } from "@aesp/proto/adm";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { SessionService, ToolService } from "@aesp/proto/client";
import { assertRefused, countToContract, rawGatewayRequest, readAllAuditRecords, startTestHost, textStatsContract } from "../support/harness.ts";
import type { Actor, RawResponse, TestHost } from "../support/harness.ts";
import { connectRawRuntime, jsonOf } from "../support/raw-runtime.ts";
import type { RawHandler, RawRuntime } from "../support/raw-runtime.ts";

const maxRequestBytes = 4096;

const textStats: RawHandler = async (call) => {
  const arg = call.call?.args?.["text"];
  const text = typeof arg === "string" ? arg : "";
  return { words: text.split(/\s+/).filter(Boolean).length, characters: text.length };
};

/** A gRPC length-prefixed message frame. */
function grpcFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + payload.length);
  frame.writeUInt32BE(payload.length, 1);
  frame.set(payload, 5);
  return frame;
}

/** A Connect error body: `{ code, message, details: [{ type, value, debug }] }`. */
interface ConnectErrorBody {
  code?: string;
  message?: string;
  details?: { type?: string; debug?: { code?: string } }[];
}

function enterpriseDetail(response: RawResponse): { code?: string } | undefined {
  return (response.json as ConnectErrorBody | undefined)?.details?.find((d) => d.type === "aesp.v1.EnterpriseError")?.debug;
}

/** Records, for the report, whether a framework-level refusal carried an EnterpriseError detail. */
function noteDetail(t: TestContext, what: string, response: RawResponse): void {
  const detail = enterpriseDetail(response) ?? (response.trailers["grpc-status-details-bin"] === undefined ? undefined : { code: "(binary detail)" });
  t.diagnostic(`${what}: EnterpriseError detail ${detail === undefined ? "ABSENT" : `present (${detail.code})`}`);
}

/** Asserts a framework or stack trace leaked nothing internal (paths, stacks). */
function assertNoInternals(response: RawResponse): void {
  const shown = response.body.toString("utf8") + decodeURIComponent(String(response.trailers["grpc-message"] ?? ""));
  assert.doesNotMatch(shown, /\/work\/|node_modules|\bat .+:\d+:\d+|Error:\s*\n/);
}

void describe("bad input on SQLite", () => {
  let t: TestHost;
  let agent: Actor;
  let good: RawRuntime;
  let sessionId: string;
  let auditSize: number;

  before(async () => {
    t = await startTestHost("sqlite", { "gateway.max_request_bytes": maxRequestBytes });
    const approver = await t.actor("approver", ["approver"]);
    agent = await t.actor("agent", ["agent"]);
    await t.activate(textStatsContract, t.admin, approver);
    await t.activate(countToContract, t.admin, approver);
    await t.activate({ ...textStatsContract, name: "echo_len", description: "Served only by a misbehaving runtime." }, t.admin, approver);
    good = await connectRawRuntime({
      url: t.host.runtimePlaneUrl,
      credentials: await t.enroll(t.admin, "good-rt", ["text_stats"]),
      contracts: ["text_stats@1.0.0"],
      handlers: { "text_stats@1.0.0": textStats },
    });
    assert.equal(good.first.kind.case, "accepted");
    ({ sessionId } = await agent.client(SessionService).createSession({}));
  });

  after(async () => {
    good?.close();
    await t?.stop();
  });

  const headers = (contentType = "application/json") => ({ "content-type": contentType, authorization: `Bearer ${agent.token}` });
  const invokeJson = (body: string | Uint8Array, contentType?: string) => rawGatewayRequest(t, { path: "/aesp.v1.ToolService/InvokeTool", headers: headers(contentType), body });
  const invokeBody = (args: string) => `{"session_id":"${sessionId}","call":{"name":"text_stats","args":${args}}}`;

  /** The Host still answers a well-formed call correctly. */
  async function stillServing(): Promise<void> {
    const response = await agent.client(ToolService).invokeTool({ sessionId, call: { name: "text_stats", args: { text: "still serving" } } });
    assert.equal(response.result?.status, ResultStatus.SUCCESS);
    assert.deepEqual(jsonOf(response.result?.content), { words: 2, characters: 13 });
  }

  /** Remembers the audit log's size, to prove a refused request recorded (and so stored) nothing. */
  async function markAudit(): Promise<void> {
    auditSize = (await readAllAuditRecords(t)).length;
  }

  async function assertNothingRecorded(): Promise<void> {
    const records = await readAllAuditRecords(t);
    assert.deepEqual(records.slice(auditSize).map((r) => r.eventType), [], "a refused request left no trace in the store");
  }

  void describe("from callers", () => {
    test("malformed JSON is INVALID_ARGUMENT (HTTP 400) and stores nothing", async (tc) => {
      await markAudit();
      for (const body of ["{bad", "", "[]", "null", `{"session_id": 5}`, `{"ttl_seconds": -1}`, `{"ttl_seconds": "many"}`]) {
        const response = await rawGatewayRequest(t, { path: "/aesp.v1.SessionService/CreateSession", headers: headers(), body });
        assert.equal(response.status, 400, `${body}: ${response.body.toString()}`);
        assert.equal((response.json as ConnectErrorBody).code, "invalid_argument", body);
        assert.equal(enterpriseDetail(response)?.code, "INVALID_ARGUMENT", body);
        assertNoInternals(response);
        if (body === "{bad") noteDetail(tc, "malformed JSON", response);
      }
      await assertNothingRecorded();
      await stillServing();
    });

    test("a wrong content type is refused (HTTP 415) and stores nothing", async () => {
      await markAudit();
      for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "application/xml"]) {
        const response = await rawGatewayRequest(t, { path: "/aesp.v1.SessionService/CreateSession", headers: headers(contentType), body: "{}" });
        assert.equal(response.status, 415, contentType);
      }
      await assertNothingRecorded();
      await stillServing();
    });

    test("unknown JSON fields (such as a smuggled tenant_id) are INVALID_ARGUMENT and store nothing", async (tc) => {
      await markAudit();
      for (const body of [`{"ttl_seconds": 60, "tenant_id": "other-tenant"}`, `{"ttl_seconds": 60, "principal_id": "usr_x"}`, `{"__proto__": {"ttl_seconds": 1}}`]) {
        const response = await rawGatewayRequest(t, { path: "/aesp.v1.SessionService/CreateSession", headers: headers(), body });
        assert.equal(response.status, 400, `${body}: ${response.body.toString()}`);
        assert.equal((response.json as ConnectErrorBody).code, "invalid_argument");
        assert.equal(enterpriseDetail(response)?.code, "INVALID_ARGUMENT");
        if (body.includes("tenant_id")) noteDetail(tc, "unknown JSON field", response);
      }
      await assertNothingRecorded();
      await stillServing();
    });

    test("__proto__, constructor and prototype keys in tool arguments are PARAMETER_VALIDATION_FAILED and never reach the runtime", async () => {
      const before = good.calls().length;
      const started = async () => (await t.admin.client(EnterpriseAuditService).queryEvents({ eventTypes: ["tool_call.started"], limit: 1000 })).events.length;
      const startedBefore = await started();
      for (const args of [
        `{"text":"a","__proto__":{"polluted":true}}`,
        `{"__proto__":{"text":"a"}}`,
        `{"text":"a","constructor":{"prototype":{"polluted":true}}}`,
        `{"text":"a","prototype":{"polluted":true}}`,
      ]) {
        const response = await invokeJson(invokeBody(args));
        assert.equal(response.status, 400, `${args}: ${response.body.toString()}`);
        assert.equal((response.json as ConnectErrorBody).code, "invalid_argument");
        assert.equal(enterpriseDetail(response)?.code, "PARAMETER_VALIDATION_FAILED", args);
      }
      // The same through the generated client, with own keys built by JSON.parse.
      const polluted = JSON.parse(`{"text":"a","__proto__":{"polluted":true}}`) as Record<string, never>;
      await assertRefused(agent.client(ToolService).invokeTool({ sessionId, call: { name: "text_stats", args: polluted } }), "PARAMETER_VALIDATION_FAILED", Code.InvalidArgument);
      assert.equal(good.calls().length, before, "the runtime received nothing");
      assert.equal((Object.prototype as Record<string, unknown>)["polluted"], undefined, "the Host (in this process) was not prototype-polluted");
      assert.equal(await started(), startedBefore, "no call was started");
      await stillServing();
    });

    test("arguments nested 100 deep are refused before the runtime: INVALID_ARGUMENT (decoder limit); 40 deep: PARAMETER_VALIDATION_FAILED", async (tc) => {
      const before = good.calls().length;
      const nest = (depth: number) => {
        let value = `"leaf"`;
        for (let i = 0; i < depth; i++) value = `{"d":${value}}`;
        return value;
      };
      const deep = await invokeJson(invokeBody(`{"text":"a","nested":${nest(100)}}`));
      assert.equal(deep.status, 400, deep.body.toString());
      assert.equal((deep.json as ConnectErrorBody).code, "invalid_argument");
      noteDetail(tc, "100-deep arguments", deep);
      const deepish = await invokeJson(invokeBody(`{"text":"a","nested":${nest(40)}}`));
      assert.equal(deepish.status, 400, deepish.body.toString());
      assert.equal(enterpriseDetail(deepish)?.code, "PARAMETER_VALIDATION_FAILED");
      assert.equal(good.calls().length, before);
      await stillServing();
    });

    test(
      "invalid UTF-8 in a JSON body is INVALID_ARGUMENT and never reaches the runtime",
      async () => {
        const before = good.calls().length;
        const body = Buffer.concat([Buffer.from(invokeBody(`{"text":"abc`)), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(`"}`), Buffer.from("}}")]);
        const response = await invokeJson(body);
        assert.equal(response.status, 400, response.body.toString());
        assert.equal((response.json as ConnectErrorBody).code, "invalid_argument");
        assert.equal(good.calls().length, before);
      },
    );

    test("malformed protobuf on the gRPC path is refused with an error status, stores nothing, and the Host keeps serving", async (tc) => {
      await markAudit();
      const before = good.calls().length;
      for (const payload of [Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), Buffer.from([0x12, 0x05, 0x01]), Buffer.from([0xff])]) {
        const response = await rawGatewayRequest(t, { path: "/aesp.v1.ToolService/InvokeTool", headers: { ...headers("application/grpc"), te: "trailers" }, body: grpcFrame(payload) });
        const status = Number(response.trailers["grpc-status"] ?? response.headers["grpc-status"]);
        assert.ok(status !== 0 && Number.isInteger(status), `grpc-status ${String(status)}`);
        assertNoInternals(response);
        tc.diagnostic(`malformed protobuf: grpc-status ${status} (${Code[status]}), ${decodeURIComponent(String(response.trailers["grpc-message"] ?? ""))}`);
        noteDetail(tc, "malformed protobuf", response);
      }
      assert.equal(good.calls().length, before);
      await assertNothingRecorded();
      await stillServing();
    });

    test(
      "malformed protobuf is INVALID_ARGUMENT with an EnterpriseError detail, not INTERNAL",
      async () => {
        const response = await rawGatewayRequest(t, { path: "/aesp.v1.ToolService/InvokeTool", headers: { ...headers("application/grpc"), te: "trailers" }, body: grpcFrame(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])) });
        assert.equal(Number(response.trailers["grpc-status"]), Code.InvalidArgument);
        assert.ok(response.trailers["grpc-status-details-bin"] !== undefined, "EnterpriseError detail");
      },
    );

    test(`a body over gateway.max_request_bytes (${maxRequestBytes}) is RESOURCE_EXHAUSTED on Connect and gRPC, and stores nothing`, async (tc) => {
      await markAudit();
      const before = good.calls().length;
      const text = "a".repeat(maxRequestBytes * 2);
      const json = await invokeJson(invokeBody(JSON.stringify({ text })));
      assert.equal(json.status, 429, json.body.toString());
      assert.equal((json.json as ConnectErrorBody).code, "resource_exhausted");
      assert.equal(enterpriseDetail(json)?.code, "PAYLOAD_TOO_LARGE");
      noteDetail(tc, "oversized Connect JSON body", json);
      const anonymous = await rawGatewayRequest(t, { path: "/aesp.v1.ToolService/InvokeTool", headers: { "content-type": "application/json" }, body: invokeBody(JSON.stringify({ text })) });
      assert.equal((anonymous.json as ConnectErrorBody).code, "resource_exhausted", "refused before anything else, even unauthenticated");
      const grpc = await rawGatewayRequest(t, { path: "/aesp.v1.ToolService/InvokeTool", headers: { ...headers("application/grpc"), te: "trailers" }, body: grpcFrame(Buffer.alloc(maxRequestBytes * 2, 0x41)) });
      assert.equal(Number(grpc.trailers["grpc-status"]), Code.ResourceExhausted);
      noteDetail(tc, "oversized gRPC message", grpc);
      assert.equal(good.calls().length, before);
      await assertNothingRecorded();
      await stillServing();
    });
  });

  void describe("from runtimes", () => {
    let garbage: RawRuntime;
    let chunkyCalls = 0;

    before(async () => {
      garbage = await connectRawRuntime({
        url: t.host.runtimePlaneUrl,
        credentials: await t.enroll(t.admin, "garbage-rt", ["echo_len"]),
        contracts: ["echo_len@1.0.0"],
        handlers: {
          // Streams a chunk for a unary call, then answers as if nothing happened.
          "echo_len@1.0.0": async (_call, emit) => {
            chunkyCalls++;
            emit({ words: 99, characters: 99 });
            return { words: 1, characters: 1 };
          },
        },
      });
      assert.equal(garbage.first.kind.case, "accepted");
    });

    after(() => garbage?.close());

    const violation = (reason: string) => (m: { kind: { case: string | undefined; value?: unknown } }) =>
      m.kind.case === "error" && (m.kind.value as { details: Record<string, string> }).details["reason"] === reason;

    async function assertAuditedViolation(reason: string): Promise<void> {
      const { events } = await t.admin.client(EnterpriseAuditService).queryEvents({ eventTypes: ["runtime.protocol_violation"], limit: 1000 });
      assert.ok(events.some((e) => e.resource === "runtime:garbage-rt" && e.metadata["reason"] === reason && e.outcome === "DENIED"), `runtime.protocol_violation ${reason}`);
    }

    test("a result for an invocation the runtime was never given: HostMessage.error INVALID_ARGUMENT, audited, and the Host keeps serving", async () => {
      garbage.send({ kind: { case: "result", value: { invocationId: "inv_never_given", result: { callId: "c", name: "text_stats", status: ResultStatus.SUCCESS } } } });
      const error = await garbage.waitFor(violation("result_for_unknown_invocation"), 3000);
      assert.equal(error.kind.case === "error" ? error.kind.value.code : "", "INVALID_ARGUMENT");
      await assertAuditedViolation("result_for_unknown_invocation");
      await stillServing();
    });

    test("a duplicate announcement: HostMessage.error, audited, the Host keeps serving", async () => {
      garbage.send({ kind: { case: "announcement", value: { runtimeId: "garbage-rt", declaredContracts: ["text_stats@1.0.0"] } } });
      const error = await garbage.waitFor(violation("duplicate_announcement"), 3000);
      assert.equal(error.kind.case === "error" ? error.kind.value.code : "", "INVALID_ARGUMENT");
      await assertAuditedViolation("duplicate_announcement");
      // The second announcement granted nothing: text_stats is still served by the good runtime only.
      const before = garbage.calls().length;
      await stillServing();
      await stillServing();
      assert.equal(garbage.calls().length, before);
    });

    test("a stream chunk for a unary call: the caller gets RESULT_VALIDATION_FAILED (chunk withheld), the runtime a HostMessage.error", async () => {
      const refusal = await assertRefused(agent.client(ToolService).invokeTool({ sessionId, call: { name: "echo_len", args: { text: "x" } } }), "RESULT_VALIDATION_FAILED", Code.Internal);
      assert.ok(!JSON.stringify(refusal.error?.details).includes("99"), "the chunk's content is not shown");
      assert.equal(chunkyCalls, 1);
      const error = await garbage.waitFor(violation("unexpected_stream_chunk"), 3000);
      assert.equal(error.kind.case === "error" ? error.kind.value.code : "", "INVALID_ARGUMENT");
      await assertAuditedViolation("unexpected_stream_chunk");
      await stillServing();
    });
  });
});
