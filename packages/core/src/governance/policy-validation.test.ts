// Validation of policy definitions as ValidatePolicy, CreatePolicy, UpdatePolicy and TestPolicy see
// it: every problem reported (not only the first), with the field and, in the condition, the position.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CelPolicyEngine } from "../policy/cel-engine.ts";
import { PolicyCompiler } from "../policy/compile.ts";
import type { PolicyEngine } from "../policy/engine.ts";
import { hasErrors, validatePolicyDraft, type PolicyDraftInput } from "./policy-validation.ts";

const engine = new CelPolicyEngine({ compiler: new PolicyCompiler() });

function draft(overrides: Partial<PolicyDraftInput> & { condition?: string; effect?: string; actions?: string[]; parameters?: Record<string, string> } = {}): PolicyDraftInput {
  return {
    name: overrides.name ?? "Deny long texts",
    description: overrides.description ?? "",
    rule: { condition: overrides.condition ?? "size(args.text) > 20", effect: overrides.effect ?? "DENY", actions: overrides.actions ?? [], parameters: overrides.parameters ?? {} },
    appliesTo: overrides.appliesTo ?? ["contract:text_stats"],
    enabled: overrides.enabled ?? true,
  };
}

const context = { contracts: new Set(["text_stats"]), roles: new Set(["agent", "approver"]) };

void describe("validatePolicyDraft", () => {
  void it("accepts a valid policy with no issue at all", () => {
    assert.deepEqual(validatePolicyDraft(engine, "acme", draft(), { context }), []);
  });

  void it("reports every field problem at once, errors first, in wire field names", () => {
    const issues = validatePolicyDraft(
      engine,
      "acme",
      draft({ name: " ", effect: "BLOCK", actions: ["tools:invoke", "Tools:Invoke"], appliesTo: ["contract:text_stats", "team:x"], parameters: { "aesp.deletion": "true" }, enabled: false }),
      { policyId: "Bad Id", context },
    );
    assert.deepEqual(
      issues.map((issue) => [issue.severity, issue.field]),
      [
        ["ERROR", "policy_id"],
        ["ERROR", "name"],
        ["ERROR", "rule.effect"],
        ["ERROR", "rule.actions[1]"],
        ["ERROR", "rule.parameters[aesp.deletion]"],
        ["ERROR", "applies_to[1]"],
        ["WARNING", "enabled"],
      ],
    );
    assert.match(issues[2]?.message ?? "", /effect must be one of ALLOW, DENY, AUDIT, REQUIRE_APPROVAL, not "BLOCK"/);
    assert.ok(issues.every((issue) => issue.line === 0 && issue.column === 0));
  });

  void it("reports a syntax error with its position even when other fields are wrong too", () => {
    const issues = validatePolicyDraft(engine, "acme", draft({ effect: "nope", condition: "size(args.text) > 20 &&\n  args.x = 3" }), { context });
    const syntax = issues.find((issue) => issue.field === "rule.condition");
    assert.ok(syntax !== undefined, JSON.stringify(issues));
    assert.equal(syntax.severity, "ERROR");
    assert.match(syntax.message, /^syntax error/);
    assert.deepEqual([syntax.line, syntax.column], [2, 10]);
    assert.ok(issues.some((issue) => issue.field === "rule.effect"));
  });

  void it("reports unknown fields and type errors of a CEL condition with their positions", () => {
    const issues = validatePolicyDraft(engine, "acme", draft({ condition: 'size(args.text) > 20 &&\n principal.rolez == "x" && principal.clearance == 2' }), { context });
    assert.deepEqual(
      issues.map((issue) => [issue.field, issue.line, issue.column, issue.severity]),
      [
        ["rule.condition", 2, 12, "ERROR"],
        ["rule.condition", 2, 51, "ERROR"],
      ],
    );
    assert.ok(hasErrors(issues));
  });

  void it("warns about targets that name nothing the tenant has, or another tenant", () => {
    const issues = validatePolicyDraft(engine, "acme", draft({ appliesTo: ["contract:txt_stats", "role:agnet", "tenant:globex", "role:agent", "contract:*"] }), { context });
    assert.deepEqual(
      issues.map((issue) => [issue.severity, issue.field]),
      [
        ["WARNING", "applies_to[0]"],
        ["WARNING", "applies_to[1]"],
        ["WARNING", "applies_to[2]"],
      ],
    );
    assert.equal(hasErrors(issues), false);
  });

  void it("names fields inside a larger request with the given prefix", () => {
    const issues = validatePolicyDraft(engine, "acme", draft({ condition: "" }), { fieldPrefix: "candidate_policies[2]." });
    assert.deepEqual(issues.map((issue) => issue.field), ["candidate_policies[2].rule.condition"]);
  });

  void it("leaves the condition language to the engine: no CEL schema check for another engine", () => {
    const other: PolicyEngine = {
      id: "other",
      compile: (record) => engine.compile(record),
      validate: () => [{ message: "unexpected token", line: 1, column: 4 }],
      evaluateAll: () => [],
    };
    const issues = validatePolicyDraft(other, "acme", draft({ condition: "principal.rolez" }), { context });
    assert.deepEqual(issues.map((issue) => [issue.message, issue.line, issue.column]), [["unexpected token", 1, 4]]);
    const clean: PolicyEngine = { ...other, validate: () => [] };
    assert.deepEqual(validatePolicyDraft(clean, "acme", draft({ condition: "principal.rolez" }), { context }), []);
  });
});
