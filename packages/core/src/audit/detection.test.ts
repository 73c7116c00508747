import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AuditRecord } from "../records.ts";
import { Detector } from "./detection.ts";

let seq = 0;

/** A committed record with defaults; only what detection reads matters. */
function rec(fields: Partial<AuditRecord> & { eventType: string; timestampMs: number }): AuditRecord {
  seq += 1;
  return {
    eventId: `evt_${String(seq)}`,
    tenantId: "acme",
    principalId: "usr_a",
    sessionId: "",
    resource: "contract:x@1",
    action: "invoke",
    outcome: "DENIED",
    sourceIp: "",
    userAgent: "",
    correlationId: "",
    riskScore: "",
    policyViolations: [],
    metadata: {},
    seq,
    leafHash: "",
    chainHash: "",
    ...fields,
  };
}

const denial = (at: number, principalId = "usr_a") => rec({ eventType: "authz.denied", timestampMs: at, principalId });

describe("Detector: denials in a sliding window", () => {
  it("fires when the Nth denial of one principal falls within the window, then starts afresh", () => {
    const detector = new Detector({ denialThreshold: 3, denialWindowMs: 1000, cooldownMs: 0 });
    assert.deepEqual(detector.observe(denial(0)), []);
    assert.deepEqual(detector.observe(denial(500)), []);
    const hits = detector.observe(denial(999));
    assert.equal(hits.length, 1);
    assert.equal(hits[0]?.rule, "denials");
    assert.equal(hits[0]?.count, 3);
    assert.equal(hits[0]?.principalId, "usr_a");
    assert.equal(hits[0]?.windowMs, 1000);
    assert.deepEqual(detector.observe(denial(1000)), [], "the window restarted after firing");
  });

  it("does not fire when the denials are spread wider than the window", () => {
    const detector = new Detector({ denialThreshold: 3, denialWindowMs: 1000, cooldownMs: 0 });
    for (const at of [0, 600, 1200, 1800, 2400]) assert.deepEqual(detector.observe(denial(at)), [], `at ${String(at)}`);
  });

  it("counts each principal and each tenant apart", () => {
    const detector = new Detector({ denialThreshold: 2, denialWindowMs: 1000, cooldownMs: 0 });
    assert.deepEqual(detector.observe(denial(0, "usr_a")), []);
    assert.deepEqual(detector.observe(denial(1, "usr_b")), []);
    assert.deepEqual(detector.observe(rec({ eventType: "authz.denied", timestampMs: 2, tenantId: "other" })), []);
    assert.equal(detector.observe(denial(3, "usr_a")).length, 1);
  });

  it("counts POLICY_VIOLATION refusals but not what-if evaluations", () => {
    const detector = new Detector({ denialThreshold: 2, denialWindowMs: 1000, cooldownMs: 0 });
    assert.deepEqual(detector.observe(rec({ eventType: "authz.evaluated", timestampMs: 0, metadata: { error_code: "POLICY_VIOLATION" } })), []);
    assert.deepEqual(detector.observe(rec({ eventType: "authz.evaluated", timestampMs: 1, metadata: { error_code: "POLICY_VIOLATION" } })), []);
    assert.deepEqual(detector.observe(rec({ eventType: "tool_call.failed", timestampMs: 2, metadata: { error_code: "POLICY_VIOLATION" } })), []);
    assert.equal(detector.observe(denial(3)).length, 1);
  });

  it("a cooldown keeps a flood to one alert per key", () => {
    const detector = new Detector({ denialThreshold: 2, denialWindowMs: 1000, cooldownMs: 10_000 });
    const fired = Array.from({ length: 20 }, (_, i) => detector.observe(denial(i * 10)).length).reduce((a, b) => a + b, 0);
    assert.equal(fired, 1);
    detector.observe(denial(20_000));
    assert.equal(detector.observe(denial(20_001)).length, 1, "fires again after the cooldown");
  });

  it("memory stays bounded however many principals are denied", () => {
    const detector = new Detector({ denialThreshold: 5, denialWindowMs: 1000, maxKeys: 100 });
    for (let i = 0; i < 10_000; i++) detector.observe(denial(i, `usr_${String(i)}`));
    assert.ok(detector.trackedKeys <= 100, `tracked ${String(detector.trackedKeys)}`);
  });
});

describe("Detector: single-event rules", () => {
  it("any break_glass.* event fires break_glass as CRITICAL", () => {
    const detector = new Detector();
    const hits = detector.observe(rec({ eventType: "break_glass.activated", timestampMs: 0, outcome: "SUCCESS" }));
    assert.equal(hits[0]?.rule, "break_glass");
    assert.equal(hits[0]?.severity, "CRITICAL");
    assert.equal(new Detector().observe(rec({ eventType: "break_glass.used", timestampMs: 0 }))[0]?.rule, "break_glass");
  });

  it("a cross-tenant attempt fires cross_tenant", () => {
    const hits = new Detector().observe(rec({ eventType: "security.cross_tenant_attempt", timestampMs: 0 }));
    assert.equal(hits[0]?.rule, "cross_tenant");
    assert.equal(hits[0]?.trigger.eventType, "security.cross_tenant_attempt");
  });

  it("an audit verification failure fires audit_verification", () => {
    assert.equal(new Detector().observe(rec({ eventType: "audit.verification_failed", timestampMs: 0 }))[0]?.rule, "audit_verification");
  });

  it("repeated failed sign-ins for one account and any lockout fire sign_in_failures", () => {
    const detector = new Detector({ signInFailureThreshold: 3, signInFailureWindowMs: 1000 });
    const failed = (at: number) => rec({ eventType: "authn.failed", timestampMs: at, principalId: "", resource: "alice" });
    assert.deepEqual(detector.observe(failed(0)), []);
    assert.deepEqual(detector.observe(failed(1)), []);
    assert.equal(detector.observe(failed(2))[0]?.rule, "sign_in_failures");
    assert.equal(new Detector().observe(rec({ eventType: "authn.locked", timestampMs: 0, resource: "alice" }))[0]?.rule, "sign_in_failures");
  });

  it("ignores alert.raised, so an alert cannot feed the detector", () => {
    const detector = new Detector({ denialThreshold: 1 });
    assert.deepEqual(detector.observe(rec({ eventType: "alert.raised", timestampMs: 0, metadata: { rule: "denials" } })), []);
    assert.deepEqual(detector.observe(rec({ eventType: "alert.raised", timestampMs: 0, metadata: { trigger_event_type: "break_glass.used", error_code: "POLICY_VIOLATION" } })), []);
  });

  it("disabled rules never fire", () => {
    const detector = new Detector({ disabled: ["cross_tenant"] });
    assert.deepEqual(detector.observe(rec({ eventType: "security.cross_tenant_attempt", timestampMs: 0 })), []);
  });

  it("refuses nonsensical thresholds", () => {
    assert.throws(() => new Detector({ denialThreshold: 0 }), RangeError);
    assert.throws(() => new Detector({ denialWindowMs: 1.5 }), RangeError);
  });
});
