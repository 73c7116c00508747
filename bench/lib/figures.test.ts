import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { meets, targeted, targets } from "./figures.ts";
import type { Target } from "./figures.ts";

describe("targets", () => {
  it("compares each way, and never lets a missing measurement meet a target", () => {
    const at = (comparison: Target["comparison"]): Target => ({ description: "", comparison, value: 10, unit: "x" });
    assert.equal(meets(10, at(">=")), true);
    assert.equal(meets(9.99, at(">=")), false);
    assert.equal(meets(10, at("<=")), true);
    assert.equal(meets(10.01, at("<=")), false);
    assert.equal(meets(10, at("<")), false);
    assert.equal(meets(9, at("<")), true);
    assert.equal(meets(10, at("==")), true);
    assert.equal(meets(Number.NaN, at(">=")), false);
    assert.equal(meets(Number.POSITIVE_INFINITY, at(">=")), false);
  });

  it("writes the value, its unit, the target and the verdict", () => {
    assert.deepEqual(targeted(0.7, "ratio", targets.throughputRatio), { value: 0.7, unit: "ratio", target: targets.throughputRatio, meets_target: true });
    assert.equal(targeted(21, "µs", targets.authorizationP99).meets_target, false);
    assert.equal(targeted(100_000, "events/s", targets.verification).meets_target, true);
  });
});
