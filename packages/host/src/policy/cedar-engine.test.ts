// The Cedar engine behind the core's PolicySet: the decision semantics of the CEL unit tests on
// Cedar conditions, the input mapping, compile refusals with positions, the per-call batch, and
// equivalence with CEL over a table of condition pairs. Every decision is made twice, with and
// without input projection, so the projection can never change a decision.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CelPolicyEngine, EnterpriseError, PolicyCompiler, PolicySet, type Decision, type PolicyEffect, type PolicyEngine, type PolicyInput, type PolicyRecord } from "@aesp/core";
import { CEDAR_VERSION, CedarPolicyEngine } from "./cedar-engine.ts";

interface PolicySpec {
  id: string;
  condition: string;
  effect: PolicyEffect;
  appliesTo?: string[];
  actions?: string[];
  version?: number;
  enabled?: boolean;
  status?: PolicyRecord["status"];
}

function policy(spec: PolicySpec): PolicyRecord {
  return {
    tenantId: "acme",
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

interface InputOverrides {
  amount?: number | null;
  args?: Record<string, unknown>;
  roles?: string[];
  contract?: string;
  version?: string;
  hour?: number;
  day?: number;
  action?: string;
  department?: string;
  amr?: string;
  idp?: string;
  type?: PolicyInput["principal"]["type"];
  clearance?: PolicyInput["principal"]["clearance"];
  classification?: PolicyInput["contract"]["classification"];
  tags?: string[];
  risk?: PolicyInput["contract"]["risk"];
  sourceIp?: string;
  sessionAgeHours?: number;
  principalId?: string;
  tenant?: string;
}

function input(overrides: InputOverrides = {}): PolicyInput {
  const timeMs = Date.UTC(2025, 0, 6 + (overrides.day ?? 1) - 1, overrides.hour ?? 10, 0); // 2025-01-06 is a Monday
  const args: Record<string, unknown> = overrides.args ?? { items: ["a", "x"], note: null };
  const withAmount = overrides.amount === null ? args : { ...args, amount: overrides.amount ?? 100 };
  const claims: Record<string, string> = { amr: overrides.amr ?? "pwd" };
  if (overrides.idp !== undefined) claims["idp"] = overrides.idp;
  return {
    action: overrides.action ?? "tools:invoke",
    principal: {
      id: overrides.principalId ?? "user-1",
      type: overrides.type ?? "USER",
      roles: overrides.roles ?? ["agent"],
      permissions: ["tools:invoke"],
      clearance: overrides.clearance ?? "internal",
      attributes: { department: overrides.department ?? "finance" },
      claims,
    },
    tenant: { id: overrides.tenant ?? "acme" },
    session: { id: "ses_1", createdAt: timeMs - (overrides.sessionAgeHours ?? 2) * 3_600_000 },
    contract: {
      name: overrides.contract ?? "transfer_funds",
      version: overrides.version ?? "1.0.0",
      classification: overrides.classification ?? "confidential",
      complianceTags: overrides.tags ?? ["SOX"],
      risk: overrides.risk ?? "HIGH",
      requiredRoles: [],
    },
    args: withAmount,
    request: { timeMs, sourceIp: overrides.sourceIp ?? "10.0.0.1", userAgent: "test", correlationId: "c-1" },
  };
}

// One engine per mode for the whole file, as the Host shares one per process.
const projected = new CedarPolicyEngine();
const unprojected = new CedarPolicyEngine({ projectInputs: false });

/** A Cedar policy set that decides with and without projection and checks that both agree. */
function cedar(...specs: PolicySpec[]): { decide(input: PolicyInput): Decision; readonly set: PolicySet } {
  const records = specs.map(policy);
  const set = PolicySet.build(records, { engine: projected });
  const reference = PolicySet.build(records, { engine: unprojected });
  return {
    set,
    decide(call) {
      const decision = set.decide(call);
      assert.deepEqual(decision, reference.decide(call), "projection changed the decision");
      return decision;
    },
  };
}

function refusal(engine: PolicyEngine, record: PolicyRecord): EnterpriseError {
  try {
    engine.compile(record);
  } catch (error) {
    assert.ok(error instanceof EnterpriseError);
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.equal(error.details["policy_id"], record.policyId);
    return error;
  }
  assert.fail("expected INVALID_ARGUMENT");
}

void describe("CedarPolicyEngine", () => {
  void it("runs on the Cedar version the Host ships", () => {
    assert.match(CEDAR_VERSION, /^4\./);
    assert.equal(projected.id, "cedar");
    assert.equal(cedar().set.engine, "cedar");
  });
});

void describe("Cedar decisions: effects", () => {
  void it("allows when no policy applies", () => {
    assert.deepEqual(cedar().decide(input()), { effect: "ALLOW", auditFlags: [], appliedPolicies: [], reason: "no applicable policy", errors: [] });
  });

  void it("lets any matching DENY win over matching ALLOWs", () => {
    const policies = cedar(
      { id: "allow-small", condition: "context.args.amount < 1000", effect: "ALLOW" },
      { id: "deny-agents", condition: 'principal.roles.contains("agent")', effect: "DENY" },
      { id: "allow-all", condition: "", effect: "ALLOW" },
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
    const policies = cedar(
      { id: "audit-large", condition: "context.args.amount > 500", effect: "AUDIT" },
      { id: "audit-any", condition: "true", effect: "AUDIT" },
      { id: "audit-never", condition: "false", effect: "AUDIT" },
    );
    const large = policies.decide(input({ amount: 900 }));
    assert.equal(large.effect, "ALLOW");
    assert.deepEqual(large.auditFlags, ["audit-any", "audit-large"]);
    assert.deepEqual(policies.decide(input({ amount: 10 })).auditFlags, ["audit-any"]);
    const denied = cedar({ id: "audit-any", condition: "true", effect: "AUDIT" }, { id: "deny", condition: "true", effect: "DENY" }).decide(input());
    assert.equal(denied.effect, "DENY");
    assert.deepEqual(denied.auditFlags, ["audit-any"]);
  });

  void it("denies when an applicable ALLOW exists and none matches", () => {
    const policies = cedar(
      { id: "allow-small", condition: "context.args.amount < 1000", effect: "ALLOW" },
      { id: "allow-finance", condition: 'principal.roles.contains("finance")', effect: "ALLOW" },
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
    const decision = cedar({ id: "deny-huge", condition: "context.args.amount > 1000000", effect: "DENY" }).decide(input());
    assert.equal(decision.effect, "ALLOW");
    assert.equal(decision.reason, "no applicable ALLOW policy; RBAC decision stands");
  });
});

void describe("Cedar decisions: failing closed", () => {
  void it("denies when a condition errors, even if the policy is an ALLOW or AUDIT", () => {
    for (const effect of ["ALLOW", "AUDIT", "DENY"] as const) {
      const decision = cedar({ id: "needs-limit", condition: "context.args.limit < 10", effect }, { id: "allow", condition: "true", effect: "ALLOW" }).decide(input());
      assert.equal(decision.effect, "DENY", effect);
      assert.equal(decision.reason, "policy evaluation failed: needs-limit");
      assert.equal(decision.denyingPolicy, "needs-limit");
      assert.equal(decision.errors.length, 1);
      assert.match(decision.errors[0] ?? "", /^needs-limit: .*limit/);
    }
  });

  void it("fails a condition that is not a bool with a type error (Cedar has no non-boolean result)", () => {
    const decision = cedar({ id: "number", condition: "context.args.amount", effect: "AUDIT" }).decide(input());
    assert.equal(decision.effect, "DENY");
    assert.equal(decision.reason, "policy evaluation failed: number");
    assert.match(decision.errors[0] ?? "", /^number: .*type error/);
  });

  void it("fails bad overloads and overflows, not only absent attributes", () => {
    const decision = cedar(
      { id: "a-overload", condition: 'context.args.amount < "text"', effect: "DENY" },
      { id: "b-overflow", condition: "context.args.amount + 9223372036854775807 > 0", effect: "ALLOW" },
      { id: "c-fine", condition: "true", effect: "ALLOW" },
    ).decide(input());
    assert.equal(decision.reason, "policy evaluation failed: a-overload");
    assert.deepEqual(
      decision.errors.map((error) => error.split(":")[0]),
      ["a-overload", "b-overflow"],
    );
  });

  void it("names the evaluation failure when a DENY also matched", () => {
    const decision = cedar({ id: "a-deny", condition: "true", effect: "DENY" }, { id: "b-broken", condition: "context.args.nope", effect: "ALLOW" }).decide(input());
    assert.equal(decision.effect, "DENY");
    assert.equal(decision.reason, "policy evaluation failed: b-broken");
  });

  void it("keeps a policy that cannot compile as one that denies where it applies", () => {
    const policies = cedar(
      { id: "syntax", condition: "context.args.amount <", effect: "ALLOW", appliesTo: ["contract:transfer_funds"] },
      { id: "fine", condition: "true", effect: "ALLOW" },
    );
    assert.deepEqual(policies.set.broken.map((broken) => broken.policyId), ["syntax"]);
    assert.match(policies.set.broken[0]?.error ?? "", /syntax error/);
    const decision = policies.decide(input());
    assert.equal(decision.effect, "DENY");
    assert.equal(decision.reason, "policy evaluation failed: syntax");
    assert.equal(policies.decide(input({ contract: "other_tool" })).effect, "ALLOW");
  });

  void it("applies a broken policy everywhere when its scope cannot be read", () => {
    const policies = cedar({ id: "bad-scope", condition: "true", effect: "DENY", appliesTo: ["principal:bob"] });
    assert.equal(policies.decide(input({ contract: "anything" })).reason, "policy evaluation failed: bad-scope");
  });

  void it("fails a policy compiled by another engine instead of evaluating it", () => {
    const cel = new CelPolicyEngine({ compiler: new PolicyCompiler() }).compile(policy({ id: "cel", condition: "true", effect: "ALLOW" }));
    const own = projected.compile(policy({ id: "own", condition: "true", effect: "ALLOW" }));
    const outcomes = projected.evaluateAll([cel, own], input());
    assert.equal(outcomes[0]?.kind, "error");
    assert.deepEqual(outcomes[1], { kind: "match" });
    assert.equal(new CelPolicyEngine().evaluateAll([own], input())[0]?.kind, "error");
  });
});

void describe("Cedar decisions: applicability", () => {
  // Each of these would deny if it were evaluated, so an ALLOW proves it was skipped.
  const policies = cedar(
    { id: "for-transfer", condition: "context.args.amount > 1000", effect: "DENY", appliesTo: ["contract:transfer_funds"] },
    { id: "for-transfer-v2", condition: "true", effect: "DENY", appliesTo: ["contract:transfer_funds@2.0.0"] },
    { id: "for-finance", condition: "context.args.amount > 10000", effect: "DENY", appliesTo: ["role:finance"] },
    { id: "for-any-role", condition: "context.args.amount > 20000", effect: "DENY", appliesTo: ["role:*"] },
    { id: "for-other-tenant", condition: "true", effect: "DENY", appliesTo: ["tenant:globex"] },
    { id: "two-targets", condition: "context.args.amount > 50000", effect: "DENY", appliesTo: ["contract:transfer_funds", "role:finance"] },
    { id: "adjudication-only", condition: "true", effect: "DENY", actions: ["governance:adjudicate"] },
    { id: "everything", condition: "context.args.amount > 100000", effect: "DENY", appliesTo: ["tenant:*"] },
  );

  void it("evaluates only the policies whose targets and actions apply", () => {
    assert.deepEqual(policies.decide(input({ contract: "lookup" })).appliedPolicies, ["everything", "for-any-role"]);
    assert.deepEqual(policies.decide(input()).appliedPolicies, ["everything", "for-any-role", "for-transfer", "two-targets"]);
    assert.deepEqual(policies.decide(input({ roles: ["finance"], contract: "lookup" })).appliedPolicies, ["everything", "for-any-role", "for-finance", "two-targets"]);
    assert.deepEqual(policies.decide(input({ roles: [], contract: "lookup" })).appliedPolicies, ["everything"]);
    assert.equal(policies.decide(input()).effect, "ALLOW");
  });

  void it("matches versioned contract targets only for that version", () => {
    assert.equal(policies.decide(input({ version: "2.0.0" })).denyingPolicy, "for-transfer-v2");
    assert.equal(policies.decide(input({ version: "1.0.0" })).effect, "ALLOW");
  });

  void it("restricts a rule to its actions, wildcards honoured", () => {
    assert.equal(policies.decide(input({ action: "governance:adjudicate", contract: "lookup", roles: [] })).denyingPolicy, "adjudication-only");
    const wildcard = cedar({ id: "tools-only", condition: "true", effect: "DENY", actions: ["tools:*"] });
    assert.equal(wildcard.decide(input()).effect, "DENY");
    assert.equal(wildcard.decide(input({ action: "sessions:create" })).effect, "ALLOW");
  });

  void it("uses the highest ACTIVE, enabled version of a policy", () => {
    const versions = cedar(
      { id: "limit", version: 1, condition: "context.args.amount > 10", effect: "DENY" },
      { id: "limit", version: 3, condition: "context.args.amount > 1000", effect: "DENY" },
      { id: "limit", version: 4, condition: "true", effect: "DENY", status: "DRAFT" },
      { id: "other", condition: "true", effect: "DENY", enabled: false },
    );
    assert.equal(versions.set.size, 1);
    assert.equal(versions.decide(input({ amount: 500 })).effect, "ALLOW");
    assert.equal(versions.decide(input({ amount: 5000 })).effect, "DENY");
  });
});

void describe("Cedar decisions: time, arguments and the input mapping", () => {
  void it("enforces office hours with the UTC hour and with datetime values", () => {
    for (const condition of ["context.request.hourUtc >= 9 && context.request.hourUtc < 17", 'context.request.time.toTime() >= duration("9h") && context.request.time.toTime() < duration("17h")']) {
      const policies = cedar({ id: "office-hours", condition, effect: "ALLOW" });
      assert.equal(policies.decide(input({ hour: 10 })).effect, "ALLOW", condition);
      assert.equal(policies.decide(input({ hour: 16 })).effect, "ALLOW", condition);
      assert.equal(policies.decide(input({ hour: 17 })).effect, "DENY", condition);
      assert.equal(policies.decide(input({ hour: 3 })).effect, "DENY", condition);
    }
  });

  void it("limits session age with datetime arithmetic", () => {
    const policies = cedar({ id: "fresh", condition: 'context.request.time.durationSince(context.session.createdAt) < duration("8h")', effect: "ALLOW" });
    assert.equal(policies.decide(input({ sessionAgeHours: 2 })).effect, "ALLOW");
    assert.equal(policies.decide(input({ sessionAgeHours: 9 })).effect, "DENY");
  });

  void it("exposes every documented principal, resource and context attribute", () => {
    const call = input({ roles: ["agent", "finance"], amr: "pwd otp", idp: "corp-okta", clearance: "confidential", classification: "internal", tags: ["PCI"], risk: "MEDIUM", version: "2.1.0", sourceIp: "10.1.2.3", hour: 11, day: 6, principalId: "user-9" });
    const checks = [
      'principal == Aesp::Principal::"user-9" && principal.id == "user-9"',
      'principal.type == "USER"',
      'principal.roles.containsAll(["agent", "finance"])',
      'principal.permissions.contains("tools:invoke")',
      'principal.clearance == "confidential" && principal.clearanceRank == 2',
      'principal.attributes.department == "finance"',
      'principal.claims.amr == "pwd otp" && principal.claims.idp == "corp-okta"',
      "principal.mfa",
      'action == Aesp::Action::"tools:invoke"',
      'resource == Aesp::Contract::"transfer_funds" && resource.name == "transfer_funds"',
      'resource.version like "2.*"',
      'resource.classification == "internal" && resource.classificationRank == 1',
      "principal.clearanceRank >= resource.classificationRank",
      'resource.complianceTags.contains("PCI")',
      'resource.risk == "MEDIUM"',
      "resource.requiredRoles.isEmpty()",
      'context.tenant.id == "acme"',
      'context.session.id == "ses_1" && context.session.createdAtMs == context.request.timeMs - 7200000',
      'context.request.time == datetime("2025-01-11T11:00:00Z")',
      "context.request.hourUtc == 11 && context.request.dayOfWeekUtc == 6",
      'context.request.sourceIp == "10.1.2.3" && context.request.ip.isInRange(ip("10.0.0.0/8"))',
      'context.request.userAgent == "test" && context.request.correlationId == "c-1"',
      'context.args.items.contains("x") && context.args.note is Aesp::Null',
    ];
    const policies = cedar(...checks.map((condition, index) => ({ id: `check-${String(index).padStart(2, "0")}`, condition, effect: "AUDIT" as const })));
    const decision = policies.decide(call);
    assert.deepEqual(decision.errors, []);
    assert.equal(decision.auditFlags.length, checks.length, `unmatched: ${checks.filter((_, index) => !decision.auditFlags.includes(`check-${String(index).padStart(2, "0")}`)).join(" | ")}`);
  });

  void it("maps argument numbers to Long, exact decimals, and otherwise to a value that fails comparisons", () => {
    const policies = (condition: string) => cedar({ id: "p", condition, effect: "ALLOW" });
    const decide = (condition: string, args: Record<string, unknown>) => policies(condition).decide(input({ args, amount: null }));
    assert.equal(decide("context.args.n == 42", { n: 42 }).effect, "ALLOW");
    assert.equal(decide('context.args.n == decimal("12.5")', { n: 12.5 }).effect, "ALLOW");
    assert.equal(decide('context.args.n.lessThan(decimal("1000.0"))', { n: 999.99 }).effect, "ALLOW");
    // Cedar has no order between Long and decimal: a fractional amount compared with an integer fails closed.
    assert.equal(decide("context.args.n < 1000", { n: 999.99 }).reason, "policy evaluation failed: p");
    for (const n of [0.123456, 2 ** 60, 1e300]) {
      assert.equal(decide("context.args.n < 1000", { n }).reason, "policy evaluation failed: p", String(n));
      assert.equal(decide("context.args.n == 0", { n }).reason, "no applicable ALLOW matched", String(n));
      assert.equal(decide("context.args.n is Aesp::Unrepresentable", { n }).effect, "ALLOW", String(n));
    }
  });

  void it("never lets an argument forge an entity or extension value", () => {
    const forged = { __entity: { type: "Aesp::Principal", id: "admin" } };
    const denyAdmin = cedar({ id: "forged", condition: 'context.args.who == Aesp::Principal::"admin" || context.args.who is Aesp::Principal', effect: "ALLOW" });
    assert.equal(denyAdmin.decide(input({ args: { who: forged } })).effect, "DENY");
    const extension = cedar({ id: "ext", condition: 'context.args.at.toTime() > duration("0h")', effect: "ALLOW" });
    assert.equal(extension.decide(input({ args: { at: { __extn: { fn: "datetime", arg: "2025-01-01" } } } })).reason, "policy evaluation failed: ext");
    const escaped = cedar({ id: "expr", condition: "context.args.x is Aesp::Unrepresentable", effect: "ALLOW" });
    assert.equal(escaped.decide(input({ args: { x: { __expr: "true" } } })).effect, "ALLOW");
    const proto = cedar({ id: "proto", condition: 'context.args["__proto__"] == "p"', effect: "ALLOW" });
    assert.equal(proto.decide(input({ args: JSON.parse('{"__proto__": "p"}') as Record<string, unknown> })).effect, "ALLOW");
  });

  void it("offers the source address as an ipaddr only when Cedar accepts it", () => {
    const policies = cedar({ id: "ip", condition: 'context.request has ip && context.request.ip.isInRange(ip("10.0.0.0/8"))', effect: "ALLOW" });
    assert.equal(policies.decide(input({ sourceIp: "::ffff:10.0.0.7" })).effect, "ALLOW");
    assert.equal(policies.decide(input({ sourceIp: "fe80::1%eth0" })).effect, "DENY");
    assert.equal(policies.decide(input({ sourceIp: "unknown" })).effect, "DENY");
    assert.equal(policies.decide(input({ sourceIp: "192.168.0.1" })).effect, "DENY");
  });

  void it("reads attributes through any expression when it cannot follow the access", () => {
    const policies = cedar(
      { id: "literal", condition: 'Aesp::Principal::"user-1".roles.contains("agent")', effect: "AUDIT" },
      { id: "branch", condition: 'context.args has amount && (if context.args.amount > 10 then principal else resource).risk == "HIGH"', effect: "AUDIT" },
      { id: "record", condition: "{ r: resource }.r.classificationRank == 2", effect: "AUDIT" },
      { id: "whole", condition: 'context == context && context.tenant.id == "acme"', effect: "AUDIT" },
    );
    const decision = policies.decide(input());
    assert.deepEqual(decision.auditFlags, ["literal", "record", "whole"]);
    assert.equal(decision.reason, "policy evaluation failed: branch");
    assert.deepEqual(policies.decide(input({ amount: 5 })).auditFlags, ["branch", "literal", "record", "whole"]);
  });
});

void describe("CedarPolicyEngine.compile", () => {
  const engine = new CedarPolicyEngine();

  void it("reports Cedar syntax errors with the policy id, line and column within the condition", () => {
    const cases: [string, number, number][] = [
      ["context.args.amount <", 1, 22],
      ['principal.roles.contains("a") &&\n  context.x ==', 2, 15],
      ["foo(1) && true", 1, 1],
      ['"é" == "é" &&\n bar(2)', 2, 2],
    ];
    for (const [condition, line, column] of cases) {
      const error = refusal(engine, policy({ id: "pol-syntax", condition, effect: "DENY" }));
      assert.match(error.details["error"] ?? "", /^syntax error: /, condition);
      assert.equal(error.details["line"], String(line), condition);
      assert.equal(error.details["column"], String(column), condition);
    }
    assert.deepEqual(engine.validate(policy({ id: "v", condition: "foo(1)", effect: "DENY" })), [{ message: "syntax error: `foo` is not a valid function", line: 1, column: 1 }]);
    assert.deepEqual(engine.validate(policy({ id: "v", condition: "true", effect: "DENY" })), []);
  });

  void it("accepts only the body of one when clause", () => {
    for (const condition of ["true } unless { false", "true }; forbid(principal, action, resource) when { true", 'principal == ?principal', "true };\n@id(\"x\") permit(principal, action, resource) when { true"]) {
      const error = refusal(engine, policy({ id: "inject", condition, effect: "ALLOW" }));
      assert.ok(error.details["error"] !== undefined, condition);
    }
    const commented = engine.compile(policy({ id: "comment", condition: "true // a trailing comment }", effect: "ALLOW" }));
    assert.equal(engine.evaluateAll([commented], input())[0]?.kind, "match");
  });

  void it("treats an empty condition as always matching", () => {
    const always = engine.compile(policy({ id: "always", condition: "  ", effect: "AUDIT" }));
    assert.equal(always.text, "permit(principal, action, resource);");
    assert.deepEqual(engine.evaluateAll([always], input()), [{ kind: "match" }]);
  });

  void it("refuses long conditions and the same malformed scopes as the CEL engine", () => {
    assert.match(refusal(engine, policy({ id: "long", condition: `true${" ".repeat(4093)}`, effect: "DENY" })).details["error"] ?? "", /longer than 4096/);
    assert.doesNotThrow(() => engine.compile(policy({ id: "at-limit", condition: `true${" ".repeat(4092)}`, effect: "DENY" })));
    assert.match(refusal(engine, { ...policy({ id: "effect", condition: "true", effect: "DENY" }), rule: { condition: "true", effect: "MAYBE" as "DENY", actions: [], parameters: {} } }).details["error"] ?? "", /effect/);
    assert.match(refusal(engine, policy({ id: "action", condition: "true", effect: "DENY", actions: ["invoke"] })).details["error"] ?? "", /action "invoke"/);
    assert.match(refusal(engine, policy({ id: "target", condition: "true", effect: "DENY", appliesTo: ["principal:bob"] })).details["error"] ?? "", /applies_to/);
  });

  void it("compiles a version once and recompiles a rule rewritten under the same version", () => {
    const fresh = new CedarPolicyEngine();
    const first = fresh.compile(policy({ id: "p", condition: "context.args.amount > 5", effect: "DENY" }));
    assert.equal(fresh.compile(policy({ id: "p", condition: "context.args.amount > 5", effect: "DENY" })), first);
    const rewritten = fresh.compile(policy({ id: "p", condition: "context.args.amount > 500", effect: "DENY" }));
    assert.notEqual(rewritten, first);
    assert.equal(fresh.compilations, 2);
    assert.deepEqual(fresh.evaluateAll([first, rewritten], input()), [{ kind: "match" }, { kind: "no-match" }]);
  });
});

void describe("CedarPolicyEngine.evaluateAll: one request per call, policies parsed once", () => {
  const records = [
    policy({ id: "a", condition: "context.args.amount < 1000", effect: "ALLOW", appliesTo: ["contract:transfer_funds"] }),
    policy({ id: "b", condition: 'principal.roles.contains("blocked")', effect: "DENY" }),
    policy({ id: "c", condition: "context.args.amount > 50", effect: "AUDIT", appliesTo: ["contract:lookup"] }),
  ];

  void it("preparses each distinct applicable subset once, across calls and rebuilt snapshots", () => {
    const engine = new CedarPolicyEngine();
    let policies = PolicySet.build(records, { engine });
    for (let call = 0; call < 5; call++) policies.decide(input());
    assert.equal(engine.preparations, 1);
    policies.decide(input({ contract: "lookup" }));
    assert.equal(engine.preparations, 2);
    policies = PolicySet.build(records, { engine });
    policies.decide(input());
    policies.decide(input({ contract: "lookup" }));
    assert.equal(engine.preparations, 2);
    assert.equal(engine.compilations, 3);
    assert.equal(engine.preparedSets, 2);
  });

  void it("keeps deciding correctly when its bound evicts subsets", () => {
    const engine = new CedarPolicyEngine({ maxPreparedSets: 1 });
    const policies = PolicySet.build(records, { engine });
    for (let round = 0; round < 3; round++) {
      assert.equal(policies.decide(input({ amount: 5000 })).reason, "no applicable ALLOW matched");
      assert.deepEqual(policies.decide(input({ contract: "lookup", amount: 60 })).auditFlags, ["c"]);
      assert.equal(policies.decide(input({ roles: ["blocked"] })).denyingPolicy, "b");
    }
    assert.equal(engine.preparedSets, 1);
    engine.clear();
    assert.equal(engine.preparedSets, 0);
    assert.equal(policies.decide(input()).reason, "allowed by policy a");
  });

  void it("returns one outcome per policy in order, and none for none", () => {
    const engine = new CedarPolicyEngine();
    const compiled = [
      engine.compile(policy({ id: "x", condition: "context.args.missing", effect: "ALLOW" })),
      engine.compile(policy({ id: "y", condition: "false", effect: "ALLOW" })),
      engine.compile(policy({ id: "z", condition: "true", effect: "ALLOW" })),
    ];
    const outcomes = engine.evaluateAll(compiled, input());
    assert.deepEqual(outcomes.map((outcome) => outcome.kind), ["error", "no-match", "match"]);
    assert.deepEqual(engine.evaluateAll([], input()), []);
  });
});

// The same decision, condition for condition: the left column is CEL, the right Cedar.
const EQUIVALENT: readonly (readonly [string, string])[] = [
  ["args.amount < 1000", "context.args.amount < 1000"],
  ["has(args.amount) && args.amount >= 1000", "context.args has amount && context.args.amount >= 1000"],
  ["'finance' in principal.roles", 'principal.roles.contains("finance")'],
  ['principal.attributes["department"] == "finance"', 'principal.attributes["department"] == "finance"'],
  ['principal.claims["idp"] == "corp-okta"', 'principal.claims["idp"] == "corp-okta"'],
  ['principal.id == "user-1"', 'principal == Aesp::Principal::"user-1"'],
  ['principal.type == "SERVICE_ACCOUNT"', 'principal.type == "SERVICE_ACCOUNT"'],
  ['principal.clearance in ["confidential", "restricted"]', "principal.clearanceRank >= 2"],
  ['contract.risk != "HIGH" || principal.mfa', 'resource.risk != "HIGH" || principal.mfa'],
  ['"PCI" in contract.compliance_tags', 'resource.complianceTags.contains("PCI")'],
  ['contract.name == "transfer_funds" && contract.version.startsWith("2.")', 'resource == Aesp::Contract::"transfer_funds" && resource.version like "2.*"'],
  ['tenant.id == "acme"', 'context.tenant.id == "acme"'],
  ['request.action == "tools:invoke"', 'action == Aesp::Action::"tools:invoke"'],
  ["request.time.getHours() >= 9 && request.time.getHours() < 17", "context.request.hourUtc >= 9 && context.request.hourUtc < 17"],
  ["request.time.getDayOfWeek() in [0, 6]", "[0, 6].contains(context.request.dayOfWeekUtc)"],
  ['request.time - session.created_at < duration("8h")', 'context.request.time.durationSince(context.session.createdAt) < duration("8h")'],
  ['request.source_ip.startsWith("10.")', 'context.request.ip.isInRange(ip("10.0.0.0/8"))'],
  ["'x' in args.items", 'context.args.items.contains("x")'],
  // `is` would be a type error on a non-entity value; equality across types is simply false.
  ["args.note == null", 'context.args.note == Aesp::Null::"null"'],
  ["args.missing > 1", "context.args.missing > 1"],
  ["args.amount", "context.args.amount"],
];

const EQUIVALENCE_INPUTS: readonly PolicyInput[] = [
  input(),
  input({ amount: 5000, roles: ["finance"], hour: 20, day: 6, sessionAgeHours: 10, amr: "pwd otp", tags: ["PCI"], sourceIp: "192.168.1.1", version: "2.1.0", clearance: "restricted", type: "SERVICE_ACCOUNT" }),
  input({ amount: null, roles: [], idp: "corp-okta", department: "sales", risk: "LOW", hour: 9, day: 7, principalId: "user-2", tenant: "globex" }),
  input({ amount: 999, action: "tools:list", hour: 16, sessionAgeHours: 7.99, clearance: "confidential", args: { items: [], note: "set" } }),
];

function comparable(decision: Decision): unknown {
  // Error messages are each engine's own; which policies failed is what must agree.
  return { ...decision, errors: decision.errors.map((error) => error.slice(0, error.indexOf(":"))) };
}

void describe("CEL and Cedar decide the same", () => {
  const celEngine = new CelPolicyEngine({ compiler: new PolicyCompiler() });

  void it("for each condition pair alone, with every effect, over every input", () => {
    for (const [celCondition, cedarCondition] of EQUIVALENT) {
      for (const effect of ["ALLOW", "DENY", "AUDIT"] as const) {
        const celSet = PolicySet.build([policy({ id: "p", condition: celCondition, effect })], { engine: celEngine });
        const cedarSet = cedar({ id: "p", condition: cedarCondition, effect });
        assert.deepEqual(celSet.broken, [], celCondition);
        assert.deepEqual(cedarSet.set.broken, [], cedarCondition);
        EQUIVALENCE_INPUTS.forEach((call, index) => {
          assert.deepEqual(comparable(cedarSet.decide(call)), comparable(celSet.decide(call)), `${effect} ${celCondition} ⇔ ${cedarCondition} on input ${index}`);
        });
      }
    }
  });

  void it("for every pair together in one tenant, targets and actions included", () => {
    const effects: PolicyEffect[] = ["ALLOW", "DENY", "AUDIT"];
    const targets = [[], ["contract:transfer_funds"], ["role:finance"], ["role:*"], ["contract:transfer_funds@2.1.0"]];
    const specs = (pick: 0 | 1): PolicySpec[] =>
      EQUIVALENT.map((pair, index) => ({
        id: `p${String(index).padStart(2, "0")}`,
        condition: pair[pick],
        effect: effects[index % effects.length] as PolicyEffect,
        appliesTo: targets[index % targets.length] as string[],
        actions: index % 4 === 3 ? ["tools:list"] : [],
      }));
    // Without the always-failing pairs, so that the combination (not only the failure) is compared.
    const healthy = (list: PolicySpec[]): PolicySpec[] => list.filter((_, index) => !["args.missing > 1", "args.amount"].includes(EQUIVALENT[index]?.[0] ?? ""));
    for (const select of [(list: PolicySpec[]) => list, healthy]) {
      const celSet = PolicySet.build(select(specs(0)).map(policy), { engine: celEngine });
      const cedarSet = cedar(...select(specs(1)));
      EQUIVALENCE_INPUTS.forEach((call, index) => {
        assert.deepEqual(comparable(cedarSet.decide(call)), comparable(celSet.decide(call)), `input ${index}`);
      });
    }
  });
});
