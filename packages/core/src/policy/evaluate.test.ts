import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnterpriseError } from "../errors.ts";
import type { PolicyEffect, PolicyRecord } from "../records.ts";
import { PolicyCompiler } from "./compile.ts";
import { PolicySet } from "./evaluate.ts";
import type { PolicyInput } from "./variables.ts";

interface PolicySpec {
  id: string;
  condition: string;
  effect: PolicyEffect;
  appliesTo?: string[];
  actions?: string[];
  version?: number;
  enabled?: boolean;
  status?: PolicyRecord["status"];
  tenantId?: string;
}

function policy(spec: PolicySpec): PolicyRecord {
  return {
    tenantId: spec.tenantId ?? "acme",
    policyId: spec.id,
    name: spec.id,
    description: "",
    version: spec.version ?? 1,
    rule: { condition: spec.condition, effect: spec.effect, actions: spec.actions ?? [], parameters: {} },
    appliesTo: spec.appliesTo ?? [],
    enabled: spec.enabled ?? true,
    status: spec.status ?? "ACTIVE",
    createdBy: "author",
    createdAt: 0,
    updatedAt: 0,
    revision: 0,
  };
}

function set(...specs: PolicySpec[]): PolicySet {
  return PolicySet.build(specs.map(policy), { compiler: new PolicyCompiler() });
}

function input(overrides: { amount?: number; roles?: string[]; contract?: string; version?: string; hour?: number; action?: string } = {}): PolicyInput {
  return {
    action: overrides.action ?? "tools:invoke",
    principal: {
      id: "user-1",
      type: "USER",
      roles: overrides.roles ?? ["agent"],
      permissions: ["tools:invoke"],
      clearance: "internal",
      attributes: {},
    },
    tenant: { id: "acme" },
    session: { id: "ses_1", createdAt: Date.UTC(2025, 0, 6, 7, 0) },
    contract: {
      name: overrides.contract ?? "transfer_funds",
      version: overrides.version ?? "1.0.0",
      classification: "confidential",
      complianceTags: [],
      risk: "HIGH",
      requiredRoles: [],
    },
    args: { amount: overrides.amount ?? 100 },
    request: { timeMs: Date.UTC(2025, 0, 6, overrides.hour ?? 10, 0), sourceIp: "10.0.0.1", userAgent: "test", correlationId: "c-1" },
  };
}

void describe("PolicySet.decide: effects", () => {
  void it("allows when no policy applies (the RBAC decision stands)", () => {
    assert.deepEqual(set().decide(input()), { effect: "ALLOW", auditFlags: [], appliedPolicies: [], reason: "no applicable policy", errors: [] });
    assert.equal(PolicySet.EMPTY.decide(input()).effect, "ALLOW");
  });

  void it("lets any matching DENY win over matching ALLOWs", () => {
    const policies = set(
      { id: "allow-small", condition: "args.amount < 1000", effect: "ALLOW" },
      { id: "deny-agents", condition: "'agent' in principal.roles", effect: "DENY" },
      { id: "allow-all", condition: "true", effect: "ALLOW" },
    );
    assert.deepEqual(policies.decide(input()), {
      effect: "DENY",
      auditFlags: [],
      appliedPolicies: ["allow-all", "allow-small", "deny-agents"],
      reason: "denied by policy deny-agents",
      denyingPolicy: "deny-agents",
      errors: [],
    });
    assert.equal(policies.decide(input({ roles: ["finance"] })).effect, "ALLOW");
  });

  void it("adds AUDIT flags without changing the effect", () => {
    const policies = set(
      { id: "audit-large", condition: "args.amount > 500", effect: "AUDIT" },
      { id: "audit-any", condition: "true", effect: "AUDIT" },
      { id: "audit-never", condition: "false", effect: "AUDIT" },
    );
    const large = policies.decide(input({ amount: 900 }));
    assert.equal(large.effect, "ALLOW");
    assert.deepEqual(large.auditFlags, ["audit-any", "audit-large"]);
    assert.deepEqual(policies.decide(input({ amount: 10 })).auditFlags, ["audit-any"]);
    const denied = set({ id: "audit-any", condition: "true", effect: "AUDIT" }, { id: "deny", condition: "true", effect: "DENY" }).decide(input());
    assert.equal(denied.effect, "DENY");
    assert.deepEqual(denied.auditFlags, ["audit-any"]);
  });

  void it("denies when an applicable ALLOW exists and none matches", () => {
    const policies = set(
      { id: "allow-small", condition: "args.amount < 1000", effect: "ALLOW" },
      { id: "allow-finance", condition: "'finance' in principal.roles", effect: "ALLOW" },
    );
    assert.deepEqual(policies.decide(input({ amount: 5000 })), {
      effect: "DENY",
      auditFlags: [],
      appliedPolicies: ["allow-finance", "allow-small"],
      reason: "no applicable ALLOW matched",
      errors: [],
    });
    assert.equal(policies.decide(input({ amount: 5000, roles: ["finance"] })).reason, "allowed by policy allow-finance");
    assert.equal(policies.decide(input({ amount: 5 })).reason, "allowed by policy allow-small");
  });

  void it("allows with only AUDIT or non-matching DENY policies applicable", () => {
    const decision = set({ id: "deny-huge", condition: "args.amount > 1e6", effect: "DENY" }).decide(input());
    assert.equal(decision.effect, "ALLOW");
    assert.equal(decision.reason, "no applicable ALLOW policy; RBAC decision stands");
  });
});

void describe("PolicySet.decide: failing closed", () => {
  void it("denies when a condition errors, even if the policy is an ALLOW or AUDIT", () => {
    for (const effect of ["ALLOW", "AUDIT", "DENY"] as const) {
      const decision = set({ id: "needs-limit", condition: "args.limit < 10", effect }, { id: "allow", condition: "true", effect: "ALLOW" }).decide(input());
      assert.equal(decision.effect, "DENY", effect);
      assert.equal(decision.reason, "policy evaluation failed: needs-limit");
      assert.equal(decision.denyingPolicy, "needs-limit");
      assert.equal(decision.errors.length, 1);
      assert.match(decision.errors[0] ?? "", /^needs-limit: /);
    }
  });

  void it("denies when a condition is not a bool", () => {
    const decision = set({ id: "number", condition: "args.amount", effect: "AUDIT" }).decide(input());
    assert.equal(decision.effect, "DENY");
    assert.deepEqual(decision.errors, ["number: condition did not evaluate to a bool"]);
  });

  void it("names the evaluation failure when a DENY also matched", () => {
    const decision = set({ id: "a-deny", condition: "true", effect: "DENY" }, { id: "b-broken", condition: "args.nope", effect: "ALLOW" }).decide(input());
    assert.equal(decision.effect, "DENY");
    assert.equal(decision.reason, "policy evaluation failed: b-broken");
  });

  void it("keeps a policy that cannot compile as one that denies where it applies", () => {
    const policies = set(
      { id: "syntax", condition: "args.amount <", effect: "ALLOW", appliesTo: ["contract:transfer_funds"] },
      { id: "fine", condition: "true", effect: "ALLOW" },
    );
    assert.deepEqual(policies.broken.map((broken) => broken.policyId), ["syntax"]);
    assert.match(policies.broken[0]?.error ?? "", /syntax error/);
    const decision = policies.decide(input());
    assert.equal(decision.effect, "DENY");
    assert.equal(decision.reason, "policy evaluation failed: syntax");
    assert.equal(policies.decide(input({ contract: "other_tool" })).effect, "ALLOW");
  });

  void it("applies a broken policy everywhere when its scope cannot be read", () => {
    const policies = set({ id: "bad-scope", condition: "true", effect: "DENY", appliesTo: ["principal:bob"] });
    assert.equal(policies.decide(input({ contract: "anything" })).reason, "policy evaluation failed: bad-scope");
  });
});

void describe("PolicySet: applicability", () => {
  // Each of these would deny if it were evaluated, so an ALLOW proves it was skipped.
  const policies = set(
    { id: "for-transfer", condition: "args.amount > 1000", effect: "DENY", appliesTo: ["contract:transfer_funds"] },
    { id: "for-transfer-v2", condition: "true", effect: "DENY", appliesTo: ["contract:transfer_funds@2.0.0"] },
    { id: "for-finance", condition: "args.amount > 10000", effect: "DENY", appliesTo: ["role:finance"] },
    { id: "for-any-role", condition: "args.amount > 20000", effect: "DENY", appliesTo: ["role:*"] },
    { id: "for-other-tenant", condition: "true", effect: "DENY", appliesTo: ["tenant:globex"] },
    { id: "two-targets", condition: "args.amount > 50000", effect: "DENY", appliesTo: ["contract:transfer_funds", "role:finance"] },
    { id: "adjudication-only", condition: "true", effect: "DENY", actions: ["governance:adjudicate"] },
    { id: "everything", condition: "args.amount > 100000", effect: "DENY", appliesTo: ["tenant:*"] },
  );

  void it("evaluates only the policies whose targets and actions apply", () => {
    assert.deepEqual(policies.decide(input({ contract: "lookup" })).appliedPolicies, ["everything", "for-any-role"]);
    assert.deepEqual(policies.decide(input()).appliedPolicies, ["everything", "for-any-role", "for-transfer", "two-targets"]);
    assert.deepEqual(policies.decide(input({ roles: ["finance"], contract: "lookup" })).appliedPolicies, [
      "everything",
      "for-any-role",
      "for-finance",
      "two-targets",
    ]);
    assert.deepEqual(policies.decide(input({ roles: [], contract: "lookup" })).appliedPolicies, ["everything"]);
    assert.equal(policies.decide(input()).effect, "ALLOW");
  });

  void it("matches versioned contract targets only for that version", () => {
    assert.equal(policies.decide(input({ version: "2.0.0" })).denyingPolicy, "for-transfer-v2");
    assert.equal(policies.decide(input({ version: "1.0.0" })).effect, "ALLOW");
  });

  void it("restricts a rule to its actions, wildcards honoured", () => {
    assert.equal(policies.decide(input({ action: "governance:adjudicate", contract: "lookup", roles: [] })).denyingPolicy, "adjudication-only");
    const wildcard = set({ id: "tools-only", condition: "true", effect: "DENY", actions: ["tools:*"] });
    assert.equal(wildcard.decide(input()).effect, "DENY");
    assert.equal(wildcard.decide(input({ action: "sessions:create" })).effect, "ALLOW");
  });

  void it("lists the applicable policies without evaluating them", () => {
    assert.deepEqual(policies.applicable(input()).map((compiled) => compiled.policyId), ["everything", "for-any-role", "for-transfer", "two-targets"]);
  });
});

void describe("PolicySet: conditions over time and arguments", () => {
  void it("enforces office hours with request.time", () => {
    const policies = set({ id: "office-hours", condition: "request.time.getHours() >= 9 && request.time.getHours() < 17", effect: "ALLOW" });
    assert.equal(policies.decide(input({ hour: 10 })).effect, "ALLOW");
    assert.equal(policies.decide(input({ hour: 16 })).effect, "ALLOW");
    assert.equal(policies.decide(input({ hour: 17 })).effect, "DENY");
    assert.equal(policies.decide(input({ hour: 3 })).effect, "DENY");
  });

  void it("limits amounts with an argument-based DENY", () => {
    const policies = set({ id: "limit", condition: "has(args.amount) && args.amount >= 1000", effect: "DENY", appliesTo: ["contract:transfer_funds"] });
    assert.equal(policies.decide(input({ amount: 999.99 })).effect, "ALLOW");
    assert.equal(policies.decide(input({ amount: 1000 })).effect, "DENY");
  });
});

void describe("PolicySet.build", () => {
  void it("keeps only ACTIVE, enabled policies", () => {
    const policies = set(
      { id: "draft", condition: "true", effect: "DENY", status: "DRAFT" },
      { id: "deprecated", condition: "true", effect: "DENY", status: "DEPRECATED" },
      { id: "disabled", condition: "true", effect: "DENY", enabled: false },
      { id: "pending", condition: "true", effect: "DENY", status: "PENDING_APPROVAL" },
    );
    assert.equal(policies.size, 0);
    assert.equal(policies.decide(input()).effect, "ALLOW");
  });

  void it("uses the highest ACTIVE version of a policy", () => {
    const policies = set(
      { id: "limit", version: 1, condition: "args.amount > 10", effect: "DENY" },
      { id: "limit", version: 3, condition: "args.amount > 1000", effect: "DENY" },
      { id: "limit", version: 2, condition: "args.amount > 100", effect: "DENY" },
    );
    assert.equal(policies.size, 1);
    assert.equal(policies.decide(input({ amount: 500 })).effect, "ALLOW");
    assert.equal(policies.decide(input({ amount: 5000 })).effect, "DENY");
  });

  void it("refuses records of several tenants", () => {
    assert.throws(
      () => set({ id: "a", condition: "true", effect: "DENY" }, { id: "b", condition: "true", effect: "DENY", tenantId: "globex" }),
      (error: unknown) => error instanceof EnterpriseError && error.code === "INVALID_ARGUMENT",
    );
  });

  void it("compiles each policy version once across snapshots", () => {
    const compiler = new PolicyCompiler();
    const records = [policy({ id: "a", condition: "true", effect: "ALLOW" }), policy({ id: "b", condition: "false", effect: "AUDIT" })];
    PolicySet.build(records, { compiler });
    PolicySet.build(records, { compiler });
    PolicySet.build([...records, policy({ id: "c", condition: "true", effect: "AUDIT" })], { compiler });
    assert.equal(compiler.compilations, 3);
  });
});
