/**
 * Runtimes that fail, stall or vanish, and callers that give up: no call hangs, every
 * failure has one code with retry advice where a retry can help, the runtime is told to
 * cancel what nobody waits for any more, and routing prefers the least loaded runtime.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { SessionService, ToolService } from "@aesp/proto/client";
import { ResultStatus } from "@aesp/proto/adm";
import { RuntimeAdminService } from "@aesp/proto/runtime_admin";
import type { ToolCall } from "@aesp/proto/runtime";
import { assertRefused, countToContract, refusalOf, startTestHost, textStatsContract } from "../support/harness.ts";
import type { Actor, TestHost } from "../support/harness.ts";
import { connectRawRuntime, jsonOf } from "../support/raw-runtime.ts";
import type { RawHandler, RawRuntime } from "../support/raw-runtime.ts";

/** Calls held by a runtime until the test releases them (or the Host cancels them). */
class Gate {
  readonly #held = new Map<string, () => void>();

  readonly handler: RawHandler = (call, _emit, signal) =>
    new Promise((resolve) => {
      this.#held.set(call.invocationId, () => resolve({ words: 1, characters: 1 }));
      signal.addEventListener("abort", () => resolve(null), { once: true });
    });

  releaseAll(): void {
    for (const release of this.#held.values()) release();
    this.#held.clear();
  }
}

/** Waits until one of `runtimes` receives a call it had not received before. */
async function nextCall(runtimes: readonly RawRuntime[], timeoutMs = 5000): Promise<{ runtime: RawRuntime; call: ToolCall }> {
  const seen = new Set(runtimes.flatMap((r) => r.calls().map((c) => c.invocationId)));
  const until = Date.now() + timeoutMs;
  for (;;) {
    for (const runtime of runtimes) {
      const call = runtime.calls().find((c) => !seen.has(c.invocationId));
      if (call !== undefined) return { runtime, call };
    }
    if (Date.now() > until) throw new Error("no runtime received the call");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const isCancelOf = (invocationId: string) => (m: { kind: { case: string | undefined; value?: unknown } }) =>
  m.kind.case === "cancel" && (m.kind.value as { invocationId: string }).invocationId === invocationId;

void describe("runtime failures on SQLite", () => {
  let t: TestHost;
  let agent: Actor;
  let flaky: RawRuntime;
  let slowA: RawRuntime;
  let slowB: RawRuntime;
  let streamer: RawRuntime;
  const gate = new Gate();

  before(async () => {
    t = await startTestHost("sqlite");
    const approver = await t.actor("approver", ["approver"]);
    agent = await t.actor("agent", ["agent"]);
    for (const name of ["hang_tool", "orphan_tool", "slow_tool"]) {
      await t.activate({ ...textStatsContract, name, description: `${name} (test)` }, t.admin, approver);
    }
    flaky = await connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials: await t.enroll(t.admin, "flaky", ["hang_tool"]), contracts: ["hang_tool@1.0.0"], handlers: { "hang_tool@1.0.0": gate.handler } });
    slowA = await connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials: await t.enroll(t.admin, "slow-a", ["slow_tool"]), contracts: ["slow_tool@1.0.0"], handlers: { "slow_tool@1.0.0": gate.handler } });
    slowB = await connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials: await t.enroll(t.admin, "slow-b", ["slow_tool"]), contracts: ["slow_tool@1.0.0"], handlers: { "slow_tool@1.0.0": gate.handler } });
    // Streams far more than one HTTP/2 flow-control window, then crashes.
    await t.activate(
      { ...countToContract, name: "flood", description: "Streams 600 KB.", returnType: { type: 6, properties: { i: { type: 3 }, pad: { type: 1 } }, required: ["i"] } },
      t.admin,
      approver,
    );
    streamer = await connectRawRuntime({
      url: t.host.runtimePlaneUrl,
      credentials: await t.enroll(t.admin, "streamer", ["flood"]),
      contracts: ["flood@1.0.0"],
      handlers: {
        "flood@1.0.0": async (_call, emit) => {
          for (let i = 1; i <= 300; i++) emit({ i, pad: "x".repeat(2000) });
          await new Promise((resolve) => setTimeout(resolve, 100));
          streamer.abort();
          return null;
        },
      },
    });
    for (const runtime of [flaky, slowA, slowB, streamer]) assert.equal(runtime.first.kind.case, "accepted");
  });

  after(async () => {
    gate.releaseAll();
    for (const runtime of [flaky, slowA, slowB, streamer]) runtime?.close();
    await t?.stop();
  });

  const session = async () => (await agent.client(SessionService).createSession({})).sessionId;
  const invoke = (sessionId: string, name: string, extra: { timeoutMs?: number } = {}, signal?: AbortSignal) =>
    agent.client(ToolService).invokeTool({ sessionId, call: { name, args: { text: "x" } }, ...extra }, signal === undefined ? {} : { signal });

  test("a runtime that drops mid-call fails the call quickly with UNAVAILABLE and retry advice", async () => {
    const pending = refusalOf(invoke(await session(), "hang_tool"));
    await flaky.waitFor((m) => m.kind.case === "call");
    const droppedAt = Date.now();
    flaky.abort();
    const refusal = await pending;
    const elapsed = Date.now() - droppedAt;
    assert.equal(refusal.error?.code, "UNAVAILABLE");
    assert.equal(refusal.connectCode, Code.Unavailable);
    assert.ok(Number(refusal.error?.retryAfterMs ?? 0n) > 0, "retry advice");
    assert.ok(elapsed < 2000, `failed after ${elapsed} ms, not at the 30 s default deadline`);
    // The contract now has no runtime: refused at once, not queued.
    const again = await assertRefused(invoke(await session(), "hang_tool"), "UNAVAILABLE", Code.Unavailable);
    assert.ok(Number(again.error?.retryAfterMs ?? 0n) > 0);
  });

  test("a contract with no connected runtime is UNAVAILABLE with retry advice", async () => {
    const refusal = await assertRefused(invoke(await session(), "orphan_tool"), "UNAVAILABLE", Code.Unavailable);
    assert.ok(Number(refusal.error?.retryAfterMs ?? 0n) > 0);
    assert.equal(refusal.error?.details["reason"], "no_runtime_connected");
  });

  test("a runtime slower than the call's timeout_ms: DEADLINE_EXCEEDED, and the runtime is told to cancel", async () => {
    const startedAt = Date.now();
    const pending = refusalOf(invoke(await session(), "slow_tool", { timeoutMs: 300 }));
    const { runtime, call } = await nextCall([slowA, slowB]);
    const refusal = await pending;
    const elapsed = Date.now() - startedAt;
    assert.equal(refusal.error?.code, "DEADLINE_EXCEEDED");
    assert.equal(refusal.connectCode, Code.DeadlineExceeded);
    assert.ok(elapsed >= 280 && elapsed < 3000, `took ${elapsed} ms`);
    await runtime.waitFor(isCancelOf(call.invocationId), 2000);
  });

  /** Aborts a call from the client side once a runtime has it; returns the call and how it failed. */
  const abortedCall = async () => {
    const controller = new AbortController();
    const pending = refusalOf(invoke(await session(), "slow_tool", {}, controller.signal));
    const { runtime, call } = await nextCall([slowA, slowB]);
    controller.abort();
    return { runtime, call, refusal: await pending };
  };

  /** The audited outcome of an invocation, waiting for it to become durable. */
  const auditedOutcome = async (invocationId: string) => {
    const until = Date.now() + 3000;
    for (;;) {
      const { events } = await t.admin.client(EnterpriseAuditService).queryEvents({ eventTypes: ["tool_call.failed", "tool_call.completed"], limit: 1000 });
      const outcome = events.find((e) => e.metadata["invocation_id"] === invocationId);
      if (outcome !== undefined) return outcome;
      assert.ok(Date.now() < until, `invocation ${invocationId} was never audited`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  test("a caller that aborts cancels the call on the runtime, and the outcome is audited", async () => {
    const { runtime, call, refusal } = await abortedCall();
    assert.equal(refusal.connectCode, Code.Canceled);
    await runtime.waitFor(isCancelOf(call.invocationId), 2000);
    const outcome = await auditedOutcome(call.invocationId);
    assert.equal(outcome.eventType, "tool_call.failed");
  });

  test(
    "a caller's abort is audited as CANCELLED, not as an internal error",
    async () => {
      const { call } = await abortedCall();
      const outcome = await auditedOutcome(call.invocationId);
      assert.equal(outcome.metadata["error_code"], "CANCELLED");
      assert.equal(outcome.outcome, "FAILURE");
    },
  );

  test("DestroySession refuses while a call is in flight; with force it aborts the call (CANCELLED)", async () => {
    const sessionId = await session();
    let settled = false;
    const pending = refusalOf(invoke(sessionId, "slow_tool")).finally(() => (settled = true));
    const { runtime, call } = await nextCall([slowA, slowB]);
    const sessions = agent.client(SessionService);
    const refused = await assertRefused(sessions.destroySession({ sessionId, force: false }), "INVALID_STATE_TRANSITION", Code.FailedPrecondition);
    assert.equal(refused.error?.details["in_flight"], "1");
    assert.equal(settled, false, "the call is still running");
    const destroyed = await sessions.destroySession({ sessionId, force: true });
    assert.equal(destroyed.destroyed, true);
    assert.equal(destroyed.abortedInvocations, 1);
    const refusal = await pending;
    assert.equal(refusal.error?.code, "CANCELLED");
    assert.equal(refusal.connectCode, Code.Canceled);
    await runtime.waitFor(isCancelOf(call.invocationId), 2000);
    await assertRefused(invoke(sessionId, "slow_tool"), "SESSION_NOT_FOUND", Code.NotFound);
  });

  test("least-outstanding routing: with one call blocked on a runtime, the next call goes to the other", async () => {
    const { runtimes } = await t.admin.client(RuntimeAdminService).listRuntimes({});
    assert.deepEqual(runtimes.filter((r) => r.runtimeId.startsWith("slow-")).map((r) => [r.runtimeId, r.connected, r.inFlight]).sort(), [["slow-a", true, 0], ["slow-b", true, 0]], "both idle and connected");
    const sessionId = await session();
    const first = invoke(sessionId, "slow_tool");
    const one = await nextCall([slowA, slowB]);
    const second = invoke(sessionId, "slow_tool");
    const two = await nextCall([slowA, slowB]);
    assert.notEqual(two.runtime, one.runtime, "the idle runtime takes the second call");
    gate.releaseAll();
    for (const response of await Promise.all([first, second])) {
      assert.equal(response.result?.status, ResultStatus.SUCCESS);
      assert.deepEqual(jsonOf(response.result?.content), { words: 1, characters: 1 });
    }
  });

  test("a runtime that stops sending heartbeats is dropped: its stream ends and calls to it are UNAVAILABLE", async () => {
    const silent = await connectRawRuntime({
      url: t.host.runtimePlaneUrl,
      credentials: await t.enroll(t.admin, "silent", ["orphan_tool"]),
      contracts: ["orphan_tool@1.0.0"],
      heartbeats: false,
    });
    assert.equal(silent.first.kind.case, "accepted");
    // The harness's Host expects a heartbeat every second and drops a runtime after three missed.
    const ended = await Promise.race([silent.ended.then(() => true), new Promise((r) => setTimeout(() => r(false), 6000))]);
    assert.equal(ended, true, "the Host ended the stream of a runtime that went quiet");
    const refusal = await assertRefused(invoke(await session(), "orphan_tool"), "UNAVAILABLE", Code.Unavailable);
    assert.equal(refusal.error?.details["reason"], "no_runtime_connected");
  });

  void describe("a runtime that crashes in the middle of a burst of streamed chunks", () => {
    const unhandled: unknown[] = [];
    const capture = (reason: unknown) => unhandled.push(reason);
    const ignore = () => undefined;
    // The runner's own listeners would fail the whole file on a stray rejection; the test below
    // asserts there is none instead.
    let runnerListeners: NodeJS.UnhandledRejectionListener[] = [];
    const chunks: number[] = [];
    let refusal: Awaited<ReturnType<typeof refusalOf>>;

    before(async () => {
      // Held for the whole scenario: without a listener an unhandled rejection ends this process.
      runnerListeners = process.listeners("unhandledRejection");
      process.removeAllListeners("unhandledRejection");
      process.on("unhandledRejection", capture);
      process.on("rejectionHandled", ignore);
      const { sessionId } = await agent.client(SessionService).createSession({});
      const stream = agent.client(ToolService).invokeToolStream({ sessionId, call: { name: "flood", args: { n: 1 } } });
      refusal = await refusalOf(
        (async () => {
          for await (const message of stream) if (message.kind.case === "chunk") chunks.push(Number((jsonOf(message.kind.value.payload) as { i: number }).i));
        })(),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
    });

    after(() => {
      process.off("unhandledRejection", capture);
      process.off("rejectionHandled", ignore);
      for (const listener of runnerListeners) process.on("unhandledRejection", listener);
    });

    test("the caller gets the chunks in order, then UNAVAILABLE with retry advice", () => {
      assert.equal(refusal.error?.code, "UNAVAILABLE");
      assert.equal(refusal.connectCode, Code.Unavailable);
      assert.ok(Number(refusal.error?.retryAfterMs ?? 0n) > 0);
      assert.ok(chunks.length > 0);
      assert.deepEqual(chunks, chunks.map((_, i) => i + 1), "chunks arrive in order, none twice");
    });

    test(
      "the Host is left with no unhandled rejection (which terminates a Node process by default)",
      () => {
        assert.deepEqual(unhandled.map(String), []);
      },
    );
  });
});
