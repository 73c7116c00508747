import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { EnterpriseErrorSchema } from "@aesp/proto/enterprise";
import { errorKind, runClosedLoop, summarize } from "./load.ts";
import type { LoadPlan } from "./load.ts";

const quickPlan = (overrides: Partial<LoadPlan>): LoadPlan => ({
  concurrency: 4,
  warmupMs: 20,
  measureMs: 100,
  minCompletions: 0,
  maxMeasureMs: 100,
  maxCalls: 1_000_000,
  drainTimeoutMs: 1_000,
  ...overrides,
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("runClosedLoop", () => {
  it("keeps exactly `concurrency` calls in flight and counts only calls completed in the window", async () => {
    let inFlight = 0;
    let peak = 0;
    const result = await runClosedLoop(quickPlan({ concurrency: 8 }), async () => {
      peak = Math.max(peak, ++inFlight);
      await sleep(5);
      inFlight--;
    });
    assert.equal(peak, 8);
    assert.ok(result.completed > 0 && result.completed < result.issued, `${result.completed} of ${result.issued}`);
    assert.ok(result.latencyMs.p50 >= 4, `p50 ${result.latencyMs.p50}`);
    assert.equal(result.abandoned, 0);
    assert.equal(result.errorsTotal, 0);
    const expected = (result.completed / result.measuredMs) * 1000;
    assert.ok(Math.abs(result.throughputPerSecond - expected) < 1);
  });

  it("stops at maxCalls", async () => {
    const result = await runClosedLoop(quickPlan({ concurrency: 3, maxCalls: 10, measureMs: 2_000, maxMeasureMs: 2_000 }), async () => sleep(1));
    assert.equal(result.issued, 10);
    assert.ok(result.measuredMs < 1_500, "the window ends when every worker is done");
  });

  it("counts failures by kind and never as latency samples", async () => {
    const result = await runClosedLoop(quickPlan({ concurrency: 2 }), async (sequence) => {
      await sleep(2);
      if (sequence % 2 === 0) throw new ConnectError("slow down", Code.ResourceExhausted);
    });
    assert.ok(result.errorsTotal > 0);
    assert.equal(result.errorKinds["resource_exhausted"], result.errorsTotal);
    assert.ok(result.errorSamples[0]?.startsWith("resource_exhausted"));
    assert.ok(result.completed + result.errorsInWindow > 0);
  });

  it("reports calls still running after the drain timeout as abandoned, and its report does not change later", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const result = await runClosedLoop(quickPlan({ concurrency: 5, drainTimeoutMs: 50 }), async () => {
      await gate;
      throw new Error("late failure");
    });
    assert.equal(result.abandoned, 5);
    assert.equal(result.completed, 0);
    release();
    await sleep(10);
    assert.deepEqual(result.errorKinds, {});
  });

  it("extends the window until minCompletions calls completed, up to maxMeasureMs", async () => {
    const result = await runClosedLoop(quickPlan({ concurrency: 2, warmupMs: 0, measureMs: 10, minCompletions: 4, maxMeasureMs: 2_000 }), async () => sleep(60));
    assert.ok(result.completed >= 4, `completed ${result.completed}`);
    assert.ok(result.measuredMs >= 100, `window ${result.measuredMs} ms`);
  });
});

describe("summarize", () => {
  it("uses nearest-rank percentiles", () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.deepEqual(summarize(samples), { p50: 50, p95: 95, p99: 99, mean: 50.5, max: 100 });
  });

  it("reports NaN for no samples", () => {
    assert.ok(Number.isNaN(summarize([]).p50));
  });
});

describe("errorKind", () => {
  it("names the Connect code and the EnterpriseError code", () => {
    const err = new ConnectError("busy", Code.Unavailable, undefined, [{ desc: EnterpriseErrorSchema, value: create(EnterpriseErrorSchema, { code: "AUDIT_UNAVAILABLE" }) }]);
    assert.equal(errorKind(err), "unavailable/AUDIT_UNAVAILABLE");
    assert.equal(errorKind(new ConnectError("x", Code.DeadlineExceeded)), "deadline_exceeded");
    assert.equal(errorKind(new Error("UNAVAILABLE: runtime stream ended")), "UNAVAILABLE");
  });
});
