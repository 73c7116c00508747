// The policy-engine port as PolicySet uses it: one batch per decision with exactly the applicable
// policies, failures of the engine itself failing closed, and the CEL engine's validate().
// The engines below wrap the real CEL engine; only what the port does around them is altered.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnterpriseError } from "../errors.ts";
import type { PolicyEffect, PolicyRecord } from "../records.ts";
import { CelPolicyEngine, celPolicyEngine } from "./cel-engine.ts";
import { compilePolicyScope, PolicyCompiler } from "./compile.ts";
import { conditionPosition, diagnosticsOf, type CompiledPolicy, type PolicyEngine, type PolicyOutcome } from "./engine.ts";
import { PolicySet } from "./evaluate.ts";
import type { PolicyInput } from "./variables.ts";

function policy(id: string, condition: string, effect: PolicyEffect, appliesTo: string[] = []): PolicyRecord {
  return {
    tenantId: "acme",
    policyId: id,
    name: id,
    description: "",
    version: 1,
    rule: { condition, effect, actions: [], parameters: {} },
    appliesTo,
    enabled: true,
    status: "ACTIVE",
    createdBy: "author",
    createdAt: 0,
    updatedAt: 0,
    revision: 0,
  };
}

const INPUT: PolicyInput = {
  action: "tools:invoke",
  principal: { id: "u1", type: "USER", roles: ["agent"], permissions: ["tools:invoke"], clearance: "internal", attributes: {} },
  tenant: { id: "acme" },
  session: { id: "s1", createdAt: 0 },
  contract: { name: "transfer_funds", version: "1.0.0", classification: "public", complianceTags: [], risk: "LOW", requiredRoles: [] },
  args: { amount: 10 },
  request: { timeMs: 0, sourceIp: "127.0.0.1", userAgent: "test", correlationId: "c1" },
};

/** The CEL engine with its batches recorded, or altered by `alter`. */
function wrapped(alter: (outcomes: PolicyOutcome[]) => PolicyOutcome[] = (outcomes) => outcomes): PolicyEngine & { batches: string[][] } {
  const inner = new CelPolicyEngine({ compiler: new PolicyCompiler() });
  const batches: string[][] = [];
  return {
    id: "recording",
    batches,
    compile: (record) => inner.compile(record),
    validate: (record) => inner.validate(record),
    evaluateAll(policies: readonly CompiledPolicy[], input: PolicyInput) {
      batches.push(policies.map((compiled) => compiled.policyId));
      return alter(inner.evaluateAll(policies, input));
    },
  };
}

void describe("PolicySet over the engine port", () => {
  void it("uses CEL unless told otherwise", () => {
    assert.equal(PolicySet.build([]).engine, "cel");
    assert.equal(PolicySet.EMPTY.engine, "cel");
    assert.equal(PolicySet.build([policy("p", "true", "ALLOW")], { compiler: new PolicyCompiler() }).engine, "cel");
    assert.equal(celPolicyEngine.id, "cel");
  });

  void it("sends one batch per decision holding exactly the applicable, compilable policies in id order", () => {
    const engine = wrapped();
    const policies = PolicySet.build(
      [
        policy("c-other", "true", "DENY", ["contract:other"]),
        policy("b-broken", "args.amount <", "ALLOW"),
        policy("a-all", "args.amount < 100", "ALLOW"),
        policy("d-transfer", "args.amount > 5", "AUDIT", ["contract:transfer_funds"]),
      ],
      { engine },
    );
    assert.equal(policies.engine, "recording");
    const decision = policies.decide(INPUT);
    assert.deepEqual(engine.batches, [["a-all", "d-transfer"]]);
    assert.deepEqual(decision.appliedPolicies, ["a-all", "b-broken", "d-transfer"]);
    assert.deepEqual(decision.auditFlags, ["d-transfer"]);
    assert.equal(decision.reason, "policy evaluation failed: b-broken");
    policies.decide({ ...INPUT, contract: { ...INPUT.contract, name: "unrelated" } });
    assert.deepEqual(engine.batches[1], ["a-all"]);
  });

  void it("never calls the engine when nothing (or only broken policies) applies", () => {
    const engine = wrapped();
    const policies = PolicySet.build([policy("broken", "(", "DENY"), policy("elsewhere", "true", "DENY", ["contract:other"])], { engine });
    assert.equal(policies.decide(INPUT).reason, "policy evaluation failed: broken");
    assert.deepEqual(engine.batches, []);
  });

  void it("fails every policy of the call closed when the engine throws", () => {
    const engine = wrapped(() => {
      throw new Error("wasm trap");
    });
    const decision = PolicySet.build([policy("a", "true", "ALLOW"), policy("b", "true", "AUDIT")], { engine }).decide(INPUT);
    assert.equal(decision.effect, "DENY");
    assert.equal(decision.reason, "policy evaluation failed: a");
    assert.deepEqual(decision.errors, ["a: engine recording failed: wasm trap", "b: engine recording failed: wasm trap"]);
  });

  void it("fails a policy closed when the engine returns no outcome for it", () => {
    const engine = wrapped((outcomes) => outcomes.slice(0, 1));
    const decision = PolicySet.build([policy("a", "true", "ALLOW"), policy("b", "true", "ALLOW")], { engine }).decide(INPUT);
    assert.equal(decision.effect, "DENY");
    assert.equal(decision.reason, "policy evaluation failed: b");
  });
});

void describe("CelPolicyEngine", () => {
  const engine = new CelPolicyEngine({ compiler: new PolicyCompiler() });

  void it("validates with positions, and without raising", () => {
    assert.deepEqual(engine.validate(policy("ok", "args.amount > 1", "DENY")), []);
    const [syntax] = engine.validate(policy("bad", "args.amount >", "DENY"));
    assert.match(syntax?.message ?? "", /^syntax error: /);
    assert.equal(syntax?.line, 1);
    assert.ok((syntax?.column ?? 0) >= 1);
    assert.deepEqual(engine.validate(policy("empty", " ", "DENY")), [{ message: "condition is empty" }]);
  });

  void it("evaluates a batch in order over one activation, and refuses policies of another engine", () => {
    const compiled = [engine.compile(policy("a", "args.amount == 10", "ALLOW")), engine.compile(policy("b", "args.nope", "ALLOW")), engine.compile(policy("c", "false", "ALLOW"))];
    assert.deepEqual(
      engine.evaluateAll(compiled, INPUT).map((outcome) => outcome.kind),
      ["match", "error", "no-match"],
    );
    const foreign: CompiledPolicy = { ...compilePolicyScope(policy("f", "true", "ALLOW")), engine: "other" };
    assert.deepEqual(engine.evaluateAll([foreign], INPUT), [{ kind: "error", message: "policy was not compiled by the cel engine" }]);
  });
});

void describe("engine helpers", () => {
  void it("diagnosticsOf reports INVALID_ARGUMENT and rethrows anything else", () => {
    assert.deepEqual(
      diagnosticsOf(() => {
        throw new EnterpriseError("INVALID_ARGUMENT", { details: { error: "bad", line: "2", column: "3" } });
      }, policy("p", "x", "DENY")),
      [{ message: "bad", line: 2, column: 3 }],
    );
    assert.throws(
      () =>
        diagnosticsOf(() => {
          throw new EnterpriseError("INTERNAL_ERROR");
        }, policy("p", "x", "DENY")),
      (error: unknown) => error instanceof EnterpriseError && error.code === "INTERNAL_ERROR",
    );
  });

  void it("conditionPosition counts lines and columns from 1 and clamps to the text", () => {
    assert.deepEqual(conditionPosition("abc", 0), { line: 1, column: 1 });
    assert.deepEqual(conditionPosition("ab\ncd", 4), { line: 2, column: 2 });
    assert.deepEqual(conditionPosition("ab\ncd", 99), { line: 2, column: 3 });
    assert.deepEqual(conditionPosition("ab", -5), { line: 1, column: 1 });
  });

  void it("compilePolicyScope parses the scope the same way for every engine", () => {
    const scope = compilePolicyScope(policy("p", "ignored", "AUDIT", ["contract:transfer_funds@2.0.0", "role:*"]));
    assert.equal(scope.key, "acme/p@1");
    assert.deepEqual(scope.targets, [{ kind: "contract", name: "transfer_funds", version: "2.0.0" }, { kind: "any-role" }]);
    assert.equal(scope.coversAction("anything:at-all"), true);
    assert.throws(() => compilePolicyScope(policy("p", "", "AUDIT", ["nope"])), (error: unknown) => error instanceof EnterpriseError && error.code === "INVALID_ARGUMENT");
  });
});
