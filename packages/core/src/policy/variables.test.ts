import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PolicyRecord } from "../records.ts";
import { PolicyCompiler } from "./compile.ts";
import { buildActivation, POLICY_VARIABLES, POLICY_VARIABLES_VERSION, renderPolicyVariablesMarkdown, type PolicyInput } from "./variables.ts";

const INPUT: PolicyInput = {
  action: "tools:invoke",
  principal: {
    id: "user-7",
    type: "SERVICE_ACCOUNT",
    roles: ["agent", "finance"],
    permissions: ["tools:invoke", "payments:*"],
    clearance: "confidential",
    attributes: { department: "finance" },
  },
  tenant: { id: "acme" },
  session: { id: "ses_1", createdAt: Date.UTC(2025, 0, 6, 8, 0) },
  contract: {
    name: "transfer_funds",
    version: "2.1.0",
    classification: "restricted",
    complianceTags: ["SOX", "PCI"],
    risk: "HIGH",
    requiredRoles: ["finance"],
  },
  args: { amount: 250, currency: "EUR", lines: [{ sku: "a", qty: 2 }], meta: { flags: ["urgent"] }, note: null },
  request: { timeMs: Date.UTC(2025, 0, 6, 10, 30, 15), sourceIp: "10.1.2.3", userAgent: "agent-sdk/1.0", correlationId: "client-1-abc" },
};

const compiler = new PolicyCompiler();
let counter = 0;

function evaluate(condition: string, input: PolicyInput = INPUT): string {
  counter += 1;
  const record: PolicyRecord = {
    tenantId: "acme",
    policyId: `var-${counter}`,
    name: "",
    description: "",
    version: 1,
    rule: { condition, effect: "DENY", actions: [], parameters: {} },
    appliesTo: [],
    enabled: true,
    status: "ACTIVE",
    createdBy: "",
    createdAt: 0,
    updatedAt: 0,
    revision: 0,
  };
  const outcome = compiler.compile(record).evaluate(buildActivation(input));
  return outcome.kind === "error" ? `error: ${outcome.message}` : outcome.kind;
}

void describe("buildActivation", () => {
  void it("exposes every documented principal, tenant and session field", () => {
    for (const condition of [
      'principal.id == "user-7"',
      'principal.type == "SERVICE_ACCOUNT"',
      '"finance" in principal.roles && size(principal.roles) == 2',
      '"payments:*" in principal.permissions',
      'principal.clearance == "confidential"',
      'principal.attributes["department"] == "finance"',
      'tenant.id == "acme"',
      'session.id == "ses_1"',
      'session.created_at == timestamp("2025-01-06T08:00:00Z")',
    ]) {
      assert.equal(evaluate(condition), "match", condition);
    }
  });

  void it("exposes every documented contract and request field", () => {
    for (const condition of [
      'contract.name == "transfer_funds" && contract.version == "2.1.0"',
      'contract.classification == "restricted" && contract.risk == "HIGH"',
      '"PCI" in contract.compliance_tags && contract.required_roles == ["finance"]',
      'request.time == timestamp("2025-01-06T10:30:15Z")',
      'request.action == "tools:invoke"',
      'request.source_ip == "10.1.2.3" && request.user_agent == "agent-sdk/1.0" && request.correlation_id == "client-1-abc"',
      'request.time - session.created_at == duration("2h30m15s")',
      "request.time.getHours() == 10 && request.time.getMinutes() == 30",
      'request.time.getHours("Europe/Paris") == 11',
    ]) {
      assert.equal(evaluate(condition), "match", condition);
    }
  });

  void it("exposes arguments as JSON: numbers are doubles, objects maps, arrays lists", () => {
    for (const condition of [
      "args.amount < 1000 && args.amount == 250.0",
      "type(args.amount) == double",
      'args.lines[0].sku == "a" && args.lines[0].qty == 2',
      '"urgent" in args.meta.flags',
      "args.note == null",
      "has(args.amount) && !has(args.missing)",
      "size(args) == 5",
      'args.all(k, k != "")',
    ]) {
      assert.equal(evaluate(condition), "match", condition);
    }
    assert.match(evaluate("args.amount * 2 > 1"), /^error: /);
    assert.equal(evaluate("args.amount * 2.0 == 500.0"), "match");
  });

  void it("makes absent fields errors, so unguarded conditions fail closed", () => {
    assert.match(evaluate("args.limit < 5"), /^error: /);
    assert.match(evaluate("principal.attributes.team == 'x'"), /^error: /);
  });

  void it("exposes only own properties of arguments", () => {
    assert.equal(evaluate("has(args.constructor) || has(args.toString) || has(args.__proto__)"), "no-match");
    assert.match(evaluate("args.hasOwnProperty == null"), /^error: /);
  });

  void it("reads each binding once per activation and reuses it", () => {
    const activation = buildActivation(INPUT);
    assert.equal(activation["principal"], activation["principal"]);
    assert.equal(activation["args"], activation["args"]);
  });
});

void describe("renderPolicyVariablesMarkdown", () => {
  void it("documents the schema version and every variable", () => {
    const markdown = renderPolicyVariablesMarkdown();
    assert.equal(POLICY_VARIABLES_VERSION, "1");
    assert.match(markdown, /Variable schema version: \*\*1\*\*/);
    for (const variable of POLICY_VARIABLES) assert.ok(markdown.includes(`| \`${variable.path}\` |`), variable.path);
  });

  void it("gives examples that are valid CEL over the documented variables", () => {
    for (const variable of POLICY_VARIABLES) {
      if (variable.example === "") continue;
      assert.doesNotMatch(evaluate(variable.example), /syntax error|unresolved/, variable.example);
    }
  });
});
