import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { benchPolicyDecisions } from "./bench.ts";

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
});
