// The schema check of CEL conditions: what it must report (with exact positions) and, as much,
// what it must not (every documented example and the shapes the guide recommends pass clean).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkConditionSchema, type SchemaIssue } from "./schema-check.ts";
import { POLICY_VARIABLES } from "./variables.ts";

function only(condition: string): SchemaIssue {
  const issues = checkConditionSchema(condition);
  assert.equal(issues.length, 1, `expected exactly one issue for ${condition}, got ${JSON.stringify(issues)}`);
  return issues[0] as SchemaIssue;
}

void describe("checkConditionSchema: unknown fields and variables", () => {
  void it("reports a misspelt field of a documented variable as an ERROR at the field's name, with a suggestion", () => {
    const issue = only('"admin" in principal.rolez');
    assert.equal(issue.severity, "ERROR");
    assert.equal(issue.line, 1);
    assert.equal(issue.column, 22);
    assert.match(issue.message, /principal has no field "rolez" \(did you mean "roles"\?\)/);
    assert.match(issue.message, /its fields are id, type, roles, effective_roles, permissions, clearance, attributes, claims, mfa/);
  });

  void it("counts lines and columns from 1 within a multi-line condition", () => {
    const issue = only('principal.id == "svc" &&\n    request.sourceip.startsWith("10.")');
    assert.deepEqual([issue.line, issue.column], [2, 13]);
    assert.match(issue.message, /request has no field "sourceip" \(did you mean "source_ip"\?\)/);
  });

  void it("finds unknown fields in every position: index syntax, nested groups, inside macros", () => {
    assert.deepEqual(
      checkConditionSchema('principal["rolez"] == "x"').map((i) => [i.column, i.severity]),
      [[11, "ERROR"]],
    );
    assert.match(only("contract.risk_level == 'HIGH'").message, /contract has no field "risk_level"/);
    const inMacro = only('principal.roles.exists(r, r == contract.nme)');
    assert.equal(inMacro.column, 41);
    assert.match(inMacro.message, /did you mean "name"/);
  });

  void it("warns (not errors) on has() of an unknown field, which is simply always false", () => {
    const issue = only("has(principal.rolez)");
    assert.equal(issue.severity, "WARNING");
    assert.equal(issue.column, 15);
    assert.match(issue.message, /always false/);
  });

  void it("reports an identifier that is not a variable, but not comprehension variables or type names", () => {
    const issue = only('user.id == "x"');
    assert.deepEqual([issue.severity, issue.line, issue.column], ["ERROR", 1, 1]);
    assert.match(issue.message, /unknown variable "user"; the variables are principal, tenant, session, contract, args, request/);
    assert.deepEqual(checkConditionSchema("principal.roles.all(r, r.startsWith('team-'))"), []);
    assert.deepEqual(checkConditionSchema("type(args.limit) == int"), []);
  });

  void it("reports selecting a field of a value that has none", () => {
    const issue = only('principal.id.name == "x"');
    assert.equal(issue.column, 14);
    assert.match(issue.message, /principal\.id is a string: it has no field "name"/);
  });

  void it("never reports fields of open maps: the arguments, attributes and claims", () => {
    for (const condition of ["args.amount.currency == 'EUR'", "principal.attributes.department == 'finance'", "principal.claims.amr.contains('mfa')", "has(args.x) && args.x.y.z > 1"]) {
      assert.deepEqual(checkConditionSchema(condition), [], condition);
    }
  });
});

void describe("checkConditionSchema: type errors", () => {
  void it("reports a documented string field compared with an int literal as an ERROR at the literal", () => {
    const issue = only("principal.clearance == 3");
    assert.deepEqual([issue.severity, issue.line, issue.column], ["ERROR", 1, 24]);
    assert.match(issue.message, /compares a string with an int: it is always false/);
  });

  void it("reports orderings without an overload, which would fail closed on every call", () => {
    const issue = only('request.time > 5');
    assert.equal(issue.column, 16);
    assert.match(issue.message, /no overload for a timestamp and an int/);
    assert.match(only("principal.roles < ['a']").message, /no overload for a list of strings and a list of strings/);
  });

  void it("reports membership that can never hold and string methods on lists", () => {
    assert.match(only("1 in principal.roles").message, /principal\.roles holds strings, so 1 \(an int\) is never in it/);
    const contains = only('principal.roles.contains("finance")');
    assert.equal(contains.column, 1);
    assert.match(contains.message, /to test membership write "finance" in principal\.roles/);
    assert.match(only("principal.mfa == 'true'").message, /compares a bool with a string/);
    assert.match(only("contract.name.getHours() > 3").message, /getHours\(\) needs a timestamp or duration, but contract\.name is a string/);
  });

  void it("reports non-bool operands of && and a condition that is not a bool", () => {
    assert.match(only("principal.mfa && principal.id").message, /operand of && must be a bool, but principal\.id is a string/);
    const whole = only("principal.id");
    assert.match(whole.message, /must evaluate to a bool, but it is a string/);
  });

  void it("warns that a documented field is never null", () => {
    const issue = only("principal.id != null");
    assert.equal(issue.severity, "WARNING");
    assert.match(issue.message, /never null, so != null is always true/);
  });

  void it("knows CEL's own arithmetic rules (int + double has no overload; time arithmetic does)", () => {
    assert.match(only("1 + 2.0 > 0").message, /\+ has no overload for an int and a double/);
    assert.deepEqual(checkConditionSchema('request.time - session.created_at < duration("8h")'), []);
    assert.deepEqual(checkConditionSchema("request.time + duration('1h') > session.created_at"), []);
  });

  void it("accepts numbers compared across int and double (CEL compares them by value)", () => {
    assert.deepEqual(checkConditionSchema("size(principal.roles) > 0.5"), []);
  });
});

void describe("checkConditionSchema: no false alarms", () => {
  void it("accepts every example of the documented variable schema", () => {
    for (const variable of POLICY_VARIABLES) {
      if (variable.example === "") continue;
      assert.deepEqual(checkConditionSchema(variable.example), [], variable.example);
    }
  });

  void it("accepts the guide's shapes: time windows, zones, guards, macros, conversions", () => {
    for (const condition of [
      "request.time.getHours('Europe/Paris') >= 9 && request.time.getHours('Europe/Paris') < 17",
      "request.time.getDayOfWeek() in [0, 6]",
      "has(args.amount) && args.amount > 10000.0",
      '"PCI" in contract.compliance_tags && principal.clearance in ["confidential", "restricted"]',
      "principal.permissions.exists(p, p.startsWith('payments:'))",
      "size(contract.required_roles) == 0 || contract.required_roles.exists(r, r in principal.roles)",
      "string(args.count) == '3'",
      "request.source_ip.startsWith('10.') && !request.user_agent.contains('curl')",
      "{'a': 1}['a'] == 1",
      "[1, 2].map(x, x * 2).size() == 2",
      "request.time < timestamp('2030-01-01T00:00:00Z')",
    ]) {
      assert.deepEqual(checkConditionSchema(condition), [], condition);
    }
  });

  void it("leaves syntax errors to the engine", () => {
    assert.deepEqual(checkConditionSchema("principal.id =="), []);
  });
});
