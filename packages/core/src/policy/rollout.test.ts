import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PolicyRecord, PolicyRolloutRecord } from "../records.ts";
import { PolicyCompiler } from "./compile.ts";
import { PolicySet } from "./evaluate.ts";
import { cohortBucket, decideWithRollout, disagreementRate, inCohort, rolloutRecords, shouldRollBack } from "./rollout.ts";
import type { RolloutView } from "./rollout.ts";
import type { PolicyInput } from "./variables.ts";

function policy(id: string, version: number, condition: string, status: PolicyRecord["status"] = "ACTIVE"): PolicyRecord {
  return {
    tenantId: "acme",
    policyId: id,
    name: id,
    description: "",
    version,
    rule: { condition, effect: "DENY", actions: [], parameters: {} },
    appliesTo: ["contract:transfer_funds"],
    enabled: true,
    status,
    createdBy: "author",
    createdAt: 0,
    updatedAt: 0,
    revision: 0,
  };
}

function rollout(overrides: Partial<PolicyRolloutRecord> = {}): PolicyRolloutRecord {
  return {
    tenantId: "acme",
    rolloutId: "rol_1",
    policyId: "cap",
    candidateVersion: 2,
    baselineVersion: 1,
    mode: "SHADOW",
    percent: 0,
    principals: [],
    threshold: 0.05,
    minSamples: 100,
    endsAt: 0,
    evaluated: 0,
    disagreements: 0,
    status: "RUNNING",
    approvalRequestId: "",
    startedBy: "author",
    createdAt: 0,
    startedAt: 0,
    endedAt: 0,
    endedBy: "",
    endReason: "",
    revision: 0,
    ...overrides,
  };
}

function input(principalId: string, amount: number, roles: string[] = ["agent"], contract = "transfer_funds"): PolicyInput {
  return {
    action: "tools:invoke",
    principal: { id: principalId, type: "USER", roles, permissions: ["tools:invoke"], clearance: "internal", attributes: {} },
    tenant: { id: "acme" },
    session: { id: "ses_1", createdAt: 0 },
    contract: { name: contract, version: "1.0.0", classification: "internal", complianceTags: [], risk: "LOW", requiredRoles: [] },
    args: { amount },
    request: { timeMs: 1_000, sourceIp: "10.0.0.1", userAgent: "test", correlationId: "c-1" },
  };
}

const compiler = new PolicyCompiler();

/** Both sides of a rollout of `cap` (v1 denies above 1000, v2 above 100), as the tenant snapshot builds them. */
function sides(record: PolicyRolloutRecord, canary: boolean): { baseline: PolicySet; view: RolloutView } {
  const v1 = policy("cap", 1, "args.amount > 1000");
  const v2 = policy("cap", 2, "args.amount > 100", canary ? "ACTIVE" : "DRAFT");
  const other = policy("other", 1, "args.amount == 7");
  const active = canary ? [v1, v2, other] : [v1, other];
  const records = rolloutRecords(active, record, v2);
  return { baseline: PolicySet.build(records.baseline, { compiler }), view: { record, candidate: PolicySet.build(records.candidate, { compiler }) } };
}

void describe("policy rollouts: cohort selection", () => {
  void it("is stable for a principal and close to the share over many principals", () => {
    for (const percent of [1, 10, 50]) {
      const record = rollout({ mode: "CANARY", percent });
      let chosen = 0;
      for (let i = 0; i < 20_000; i++) {
        const id = `svc_${i.toString(36)}`;
        const first = inCohort(record, id, []);
        assert.equal(inCohort(record, id, []), first, "the same principal always lands on the same side");
        if (first) chosen += 1;
      }
      const share = chosen / 20_000;
      // Binomial standard deviation at 20,000 draws is below 0.36 points; allow about four.
      assert.ok(Math.abs(share - percent / 100) < 0.015, `${percent}%: chose ${(share * 100).toFixed(2)}%`);
    }
  });

  void it("spreads buckets over 0..99 and salts them with the rollout id", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 5_000; i++) seen.add(cohortBucket("rol_1", `p${i}`));
    assert.equal(seen.size, 100);
    let same = 0;
    for (let i = 0; i < 1_000; i++) if (cohortBucket("rol_1", `p${i}`) === cohortBucket("rol_2", `p${i}`)) same += 1;
    assert.ok(same < 50, "another rollout picks another cohort");
  });

  void it("takes chosen principals by id and by role; a shadow without a choice covers everyone", () => {
    const chosen = rollout({ mode: "CANARY", principals: ["svc_alice", "role:beta"] });
    assert.equal(inCohort(chosen, "svc_alice", []), true);
    assert.equal(inCohort(chosen, "svc_bob", ["beta"]), true);
    assert.equal(inCohort(chosen, "svc_bob", ["agent"]), false);
    assert.equal(inCohort(rollout({ mode: "SHADOW" }), "anyone", []), true);
    assert.equal(inCohort(rollout({ mode: "CANARY" }), "anyone", []), false);
  });
});

void describe("policy rollouts: rollback threshold", () => {
  void it("applies only from the minimum sample and strictly above the rate", () => {
    assert.equal(shouldRollBack({ evaluated: 99, disagreements: 99, minSamples: 100, threshold: 0.05 }), false);
    assert.equal(shouldRollBack({ evaluated: 100, disagreements: 5, minSamples: 100, threshold: 0.05 }), false);
    assert.equal(shouldRollBack({ evaluated: 100, disagreements: 6, minSamples: 100, threshold: 0.05 }), true);
    assert.equal(shouldRollBack({ evaluated: 0, disagreements: 0, minSamples: 0, threshold: 0.05 }), false);
    assert.equal(shouldRollBack({ evaluated: 3, disagreements: 3, minSamples: 3, threshold: 1 }), false, "a rate cannot exceed 1");
    assert.equal(disagreementRate({ evaluated: 200, disagreements: 10 }), 0.05);
  });
});

void describe("policy rollouts: decisions", () => {
  void it("shadow: the baseline acts; the candidate only disagrees", () => {
    const { baseline, view } = sides(rollout(), false);
    const mid = decideWithRollout(baseline, view, input("svc_a", 500), 1_000);
    assert.deepEqual([mid.decision.effect, mid.acting, mid.other?.effect, mid.counted, mid.disagreed], ["ALLOW", "baseline", "DENY", true, true]);
    const small = decideWithRollout(baseline, view, input("svc_a", 50), 1_000);
    assert.deepEqual([small.decision.effect, small.counted, small.disagreed], ["ALLOW", true, false]);
    const elsewhere = decideWithRollout(baseline, view, input("svc_a", 500, ["agent"], "text_stats"), 1_000);
    assert.deepEqual([elsewhere.counted, elsewhere.disagreed], [false, false], "a call the policy does not apply to is not counted");
  });

  void it("canary: the candidate acts for the cohort only; both are decided for everyone", () => {
    const { baseline, view } = sides(rollout({ mode: "CANARY", principals: ["svc_canary"] }), true);
    const canary = decideWithRollout(baseline, view, input("svc_canary", 500), 1_000);
    assert.deepEqual([canary.decision.effect, canary.acting, canary.other?.effect, canary.disagreed], ["DENY", "candidate", "ALLOW", true]);
    assert.equal(canary.decision.reason, "denied by policy cap");
    const rest = decideWithRollout(baseline, view, input("svc_other", 500), 1_000);
    assert.deepEqual([rest.decision.effect, rest.acting, rest.other?.effect, rest.disagreed], ["ALLOW", "baseline", "DENY", true]);
    assert.equal(baseline.decide(input("svc_other", 500)).effect, "ALLOW", "the baseline side leaves the ACTIVE candidate out");
  });

  void it("past the end time only the baseline is decided", () => {
    const { baseline, view } = sides(rollout({ mode: "CANARY", principals: ["svc_canary"], endsAt: 500 }), true);
    const late = decideWithRollout(baseline, view, input("svc_canary", 500), 1_000);
    assert.deepEqual([late.decision.effect, late.acting, late.other, late.expired, late.counted], ["ALLOW", "baseline", null, true, false]);
  });

  void it("a new policy (no baseline) is absent on the baseline side", () => {
    const record = rollout({ policyId: "fresh", candidateVersion: 1, baselineVersion: 0 });
    const records = rolloutRecords([policy("other", 1, "false")], record, policy("fresh", 1, "true", "DRAFT"));
    assert.deepEqual(records.baseline.map((r) => r.policyId), ["other"]);
    assert.deepEqual(records.candidate.map((r) => `${r.policyId}@${r.version}:${r.status}`), ["other@1:ACTIVE", "fresh@1:ACTIVE"]);
  });
});
