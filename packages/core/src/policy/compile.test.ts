import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnterpriseError } from "../errors.ts";
import type { PolicyRecord, PolicyRuleDefinition } from "../records.ts";
import { actionMatcher, compilePolicy, MAX_CONDITION_LENGTH, parsePolicyTarget, PolicyCompiler } from "./compile.ts";
import { buildActivation, type PolicyInput } from "./variables.ts";

function record(condition: string, overrides: Partial<PolicyRecord> = {}, rule: Partial<PolicyRuleDefinition> = {}): PolicyRecord {
  return {
    tenantId: "acme",
    policyId: "pol-1",
    name: "test",
    description: "",
    version: 1,
    rule: { condition, effect: "DENY", actions: [], parameters: {}, ...rule },
    appliesTo: [],
    enabled: true,
    status: "ACTIVE",
    createdBy: "author",
    createdAt: 0,
    updatedAt: 0,
    revision: 0,
    ...overrides,
  };
}

const INPUT: PolicyInput = {
  action: "tools:invoke",
  principal: { id: "u1", type: "USER", roles: ["agent"], permissions: ["tools:invoke"], clearance: "internal", attributes: {} },
  tenant: { id: "acme" },
  session: { id: "s1", createdAt: 0 },
  contract: { name: "t", version: "1.0.0", classification: "public", complianceTags: [], risk: "LOW", requiredRoles: [] },
  args: { amount: 10 },
  request: { timeMs: 0, sourceIp: "127.0.0.1", userAgent: "test", correlationId: "c1" },
};

function refusal(fn: () => unknown): EnterpriseError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof EnterpriseError);
    assert.equal(error.code, "INVALID_ARGUMENT");
    return error;
  }
  assert.fail("expected INVALID_ARGUMENT");
}

void describe("PolicyCompiler", () => {
  void it("compiles a policy version once and serves it from the cache", () => {
    const compiler = new PolicyCompiler();
    const first = compiler.compile(record("args.amount > 5"));
    const second = compiler.compile(record("args.amount > 5"));
    assert.equal(second, first);
    assert.equal(compiler.compilations, 1);
    assert.equal(compiler.size, 1);
    assert.equal(first.key, "acme/pol-1@1");
  });

  void it("compiles each version, and each tenant, separately", () => {
    const compiler = new PolicyCompiler();
    const v1 = compiler.compile(record("true"));
    const v2 = compiler.compile(record("true", { version: 2 }));
    const otherTenant = compiler.compile(record("true", { tenantId: "globex" }));
    assert.notEqual(v1, v2);
    assert.notEqual(v1, otherTenant);
    assert.equal(compiler.compilations, 3);
  });

  void it("never serves a cached program for a rule that changed under the same version", () => {
    const compiler = new PolicyCompiler();
    const original = compiler.compile(record("args.amount > 5"));
    const rewritten = compiler.compile(record("args.amount > 50"));
    assert.notEqual(rewritten, original);
    assert.equal(rewritten.evaluate(buildActivation(INPUT)).kind, "no-match");
    assert.equal(compiler.compilations, 2);
    assert.equal(compiler.size, 1);
  });

  void it("evicts the oldest version beyond its bound", () => {
    const compiler = new PolicyCompiler({ maxEntries: 2 });
    const first = compiler.compile(record("true", { version: 1 }));
    compiler.compile(record("true", { version: 2 }));
    compiler.compile(record("true", { version: 3 }));
    assert.equal(compiler.size, 2);
    assert.notEqual(compiler.compile(record("true", { version: 1 })), first);
    assert.equal(compiler.compilations, 4);
  });

  void it("uses the process-wide compiler by default", () => {
    const policy = record("true", { policyId: "pol-default-cache" });
    assert.equal(compilePolicy(policy), compilePolicy(policy));
  });
});

void describe("compilePolicy refusals", () => {
  void it("reports CEL syntax errors with the policy id and position", () => {
    const error = refusal(() => compilePolicy(record("args.amount >", { policyId: "pol-syntax" }), new PolicyCompiler()));
    assert.equal(error.details["policy_id"], "pol-syntax");
    assert.match(error.details["error"] ?? "", /^syntax error: /);
    assert.equal(error.details["line"], "1");
    assert.ok(Number(error.details["column"]) >= 1);
  });

  void it(`refuses conditions longer than ${MAX_CONDITION_LENGTH} characters`, () => {
    const atLimit = `${"true && ".repeat(511)}true`.padEnd(MAX_CONDITION_LENGTH, " ");
    assert.equal(atLimit.length, MAX_CONDITION_LENGTH);
    assert.doesNotThrow(() => compilePolicy(record(atLimit), new PolicyCompiler()));
    const error = refusal(() => compilePolicy(record(`${atLimit} `), new PolicyCompiler()));
    assert.match(error.details["error"] ?? "", /longer than 4096/);
  });

  void it("refuses empty conditions, unknown effects, malformed actions and targets", () => {
    const compiler = new PolicyCompiler();
    assert.match(refusal(() => compiler.compile(record("  "))).details["error"] ?? "", /empty/);
    assert.match(refusal(() => compiler.compile(record("true", {}, { effect: "MAYBE" as "DENY" }))).details["error"] ?? "", /effect/);
    assert.match(refusal(() => compiler.compile(record("true", {}, { actions: ["invoke"] }))).details["error"] ?? "", /action "invoke"/);
    assert.match(refusal(() => compiler.compile(record("true", { appliesTo: ["principal:bob"] }))).details["error"] ?? "", /applies_to/);
    assert.equal(compiler.size, 0);
  });
});

void describe("CompiledPolicy.evaluate", () => {
  const compiler = new PolicyCompiler();
  const activation = buildActivation(INPUT);
  const outcome = (condition: string) => compiler.compile(record(condition, { policyId: condition.slice(0, 60).replace(/[^a-z0-9]/g, "-") })).evaluate(activation);

  void it("matches on true and not on false", () => {
    assert.deepEqual(outcome("args.amount == 10"), { kind: "match" });
    assert.deepEqual(outcome("args.amount == 11"), { kind: "no-match" });
  });

  void it("reports a non-boolean result as an error", () => {
    assert.equal(outcome("args.amount + 1.0").kind, "error");
    assert.equal(outcome("'text'").kind, "error");
  });

  void it("reports evaluation errors (absent fields, bad overloads, unknown identifiers) as errors", () => {
    assert.equal(outcome("args.missing > 1").kind, "error");
    assert.equal(outcome("args.amount + 1 > 1").kind, "error");
    assert.equal(outcome("nobody == 1").kind, "error");
    assert.equal(outcome("constructor == 1").kind, "error");
  });
});

void describe("parsePolicyTarget", () => {
  void it("parses every target form", () => {
    assert.deepEqual(parsePolicyTarget("contract:get_weather", "acme"), { kind: "contract", name: "get_weather", version: null });
    assert.deepEqual(parsePolicyTarget("contract:get_weather@1.2.0", "acme"), { kind: "contract", name: "get_weather", version: "1.2.0" });
    assert.deepEqual(parsePolicyTarget("contract:*", "acme"), { kind: "all" });
    assert.deepEqual(parsePolicyTarget("role:finance", "acme"), { kind: "role", name: "finance" });
    assert.deepEqual(parsePolicyTarget("role:*", "acme"), { kind: "any-role" });
    assert.deepEqual(parsePolicyTarget("tenant:*", "acme"), { kind: "all" });
    assert.deepEqual(parsePolicyTarget("tenant:acme", "acme"), { kind: "all" });
    assert.deepEqual(parsePolicyTarget("tenant:globex", "acme"), { kind: "none" });
  });

  void it("refuses malformed targets", () => {
    for (const target of ["", "contract:", "role:", "tenant:", "role:Finance", "contract:2bad", "principal:bob", "contract:a b"]) {
      assert.equal(parsePolicyTarget(target, "acme"), null, target);
    }
  });
});

void describe("actionMatcher", () => {
  void it("covers every action when empty, otherwise as permissions match", () => {
    assert.equal(actionMatcher([])("anything:at-all"), true);
    const invokeOnly = actionMatcher(["tools:invoke"]);
    assert.equal(invokeOnly("tools:invoke"), true);
    assert.equal(invokeOnly("tools:list"), false);
    assert.equal(invokeOnly("tools:list"), false);
    const allTools = actionMatcher(["tools:*"]);
    assert.equal(allTools("tools:list"), true);
    assert.equal(allTools("governance:adjudicate"), false);
  });
});
