import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnterpriseError } from "../errors.ts";
import type { PolicyRecord } from "../records.ts";
import { celPolicyEngine } from "./cel-engine.ts";
import { comprehensionNesting, MAX_COMPREHENSION_NESTING } from "./compile.ts";
import { PolicySet } from "./evaluate.ts";
import { MAX_POLICY_LIST_ELEMENTS, type PolicyInput } from "./variables.ts";
import { parse } from "@bufbuild/cel";

function deny(condition: string): PolicyRecord {
  return {
    tenantId: "t",
    policyId: "deny-listed",
    name: "deny listed",
    description: "",
    version: 1,
    rule: { condition, effect: "DENY", actions: [], parameters: {} },
    appliesTo: [],
    enabled: true,
    status: "ACTIVE",
    createdBy: "author",
    createdAt: 0,
    updatedAt: 0,
    revision: 0,
  };
}

function call(args: Record<string, unknown>): PolicyInput {
  return {
    action: "tools:invoke",
    principal: { id: "agent", type: "SERVICE_ACCOUNT", roles: [], permissions: [], clearance: "public", attributes: {} },
    tenant: { id: "t" },
    session: { id: "s", createdAt: 0 },
    contract: { name: "c", version: "1.0.0", classification: "public", complianceTags: [], risk: "LOW", requiredRoles: [] },
    args,
    request: { timeMs: 0, sourceIp: "", userAgent: "", correlationId: "" },
  };
}

const numbers = (count: number): number[] => Array.from({ length: count }, (_, index) => index);

void describe("policy cost limits", () => {
  void it("counts how deeply comprehensions nest, the range outside the loop", () => {
    assert.equal(comprehensionNesting(parse("true").expr), 0);
    assert.equal(comprehensionNesting(parse("args.a.exists(x, x == 1)").expr), 1);
    assert.equal(comprehensionNesting(parse("args.a.exists(x, args.b.all(y, x != y))").expr), 2);
    assert.equal(comprehensionNesting(parse("args.a.map(x, x * 2).exists(y, y == 4)").expr), 1, "a comprehension over another's result runs them one after the other");
    assert.equal(comprehensionNesting(parse("[args.a.exists(x, x == 1), args.b.exists(y, y == 2)][0]").expr), 1);
  });

  void it(`refuses conditions nesting comprehensions deeper than ${MAX_COMPREHENSION_NESTING}, at validation and at compile`, () => {
    const record = deny("args.a.exists(x, args.b.exists(y, args.c.exists(z, x == y && y == z)))");
    assert.match(celPolicyEngine.validate(record)[0]?.message ?? "", /nest 3 deep; at most 2 are allowed/);
    assert.throws(
      () => celPolicyEngine.compile(record),
      (error: unknown) => error instanceof EnterpriseError && error.code === "INVALID_ARGUMENT",
    );
    assert.deepEqual(celPolicyEngine.validate(deny("args.a.exists(x, args.b.exists(y, x == y))")), []);
  });

  void it(`a policy reading a list of more than ${MAX_POLICY_LIST_ELEMENTS} elements fails closed, naming the cost limit`, () => {
    const set = PolicySet.build([deny("args.items.exists(x, x == 5)")], { engine: celPolicyEngine });
    assert.equal(set.decide(call({ items: numbers(MAX_POLICY_LIST_ELEMENTS) })).reason, "denied by policy deny-listed");
    const over = set.decide(call({ items: numbers(MAX_POLICY_LIST_ELEMENTS + 1) }));
    assert.equal(over.effect, "DENY");
    assert.equal(over.reason, "policy evaluation failed: deny-listed");
    assert.match(over.errors[0] ?? "", /cost limit: a list of 1001 elements is longer than the 1000 a policy may read/);
  });

  void it("the limit applies to nested lists too, and only to lists the policy reads", () => {
    const set = PolicySet.build([deny("args.batch.items.exists(x, x == 5)")], { engine: celPolicyEngine });
    assert.equal(set.decide(call({ batch: { items: numbers(MAX_POLICY_LIST_ELEMENTS + 1) } })).reason, "policy evaluation failed: deny-listed");
    assert.equal(set.decide(call({ batch: { items: [5] }, unread: numbers(10 * MAX_POLICY_LIST_ELEMENTS) })).reason, "denied by policy deny-listed");
  });
});
