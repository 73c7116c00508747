import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { benchPolicyDecisions } from "./bench.ts";
import { CelPolicyEngine } from "./cel-engine.ts";
import { PolicyCompiler } from "./compile.ts";

// Shape only: timings are measured by `npm run bench`, never asserted in tests.
void describe("benchPolicyDecisions", () => {
  void it("reports percentiles and throughput over the applicable policies", () => {
    const result = benchPolicyDecisions(100, 200);
    assert.equal(result.policyCount, 100);
    assert.equal(result.applicablePerDecision, 10);
    assert.equal(result.iterations, 200);
    assert.ok(result.p50Ns > 0 && result.p50Ns <= result.p99Ns);
    assert.ok(result.evalsPerSecond > 0);
  });

  void it("can make every policy applicable", () => {
    assert.equal(benchPolicyDecisions(20, 20, { applicablePerDecision: 20 }).applicablePerDecision, 20);
  });

  void it("reports the engine, the build, the decision, and memory when given a sampler", () => {
    let samples = 0;
    const result = benchPolicyDecisions(12, 20, {
      engine: new CelPolicyEngine({ compiler: new PolicyCompiler() }),
      conditions: [{ condition: "args.amount > 1000", effect: "DENY" }],
      sampleMemory: () => ({ heapUsed: 1_000 * ++samples, rss: 0 }),
    });
    assert.equal(result.engine, "cel");
    assert.ok(result.buildMs >= 0 && result.firstDecisionUs >= 0);
    assert.deepEqual(result.decision, { effect: "ALLOW", reason: "no applicable ALLOW policy; RBAC decision stands", auditFlags: 0 });
    assert.deepEqual(result.memoryDelta, { afterBuild: { heapUsed: 1_000, rss: 0 }, afterDecisions: { heapUsed: 2_000, rss: 0 } });
    assert.equal(benchPolicyDecisions(1, 1).memoryDelta, null);
  });
});
