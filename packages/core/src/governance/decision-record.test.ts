// The recorded inputs of a policy decision: they rebuild the same decision, secrets never enter
// them, and what cannot be recorded faithfully is marked so replay skips it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PolicyCompiler } from "../policy/compile.ts";
import { PolicySet } from "../policy/evaluate.ts";
import type { PolicyInput } from "../policy/variables.ts";
import type { AdmSchema, AuditEventDraft, PolicyEffect, PolicyRecord } from "../records.ts";
import { DECISION_INPUT_KEY, MAX_RECORDED_ARGUMENTS, decisionInputOf, recordDecisionInput } from "./decision-record.ts";
import { differingPolicies, verdictsOf } from "./policy-simulation.ts";
import { celPolicyEngine } from "../policy/cel-engine.ts";

const INPUT: PolicyInput = {
  action: "tools:invoke",
  principal: { id: "svc-1", type: "SERVICE_ACCOUNT", roles: ["agent"], permissions: ["tools:invoke", "sessions:create"], clearance: "internal", attributes: { department: "finance" }, claims: { amr: "pwd mfa" } },
  tenant: { id: "acme" },
  session: { id: "ses_1", createdAt: 1_700_000_000_000 },
  contract: { name: "transfer", version: "1.2.0", classification: "confidential", complianceTags: ["PCI"], risk: "HIGH", requiredRoles: ["agent"] },
  args: { amount: 1200, account: { iban: "DE00", pin: "1234" }, note: "rent" },
  request: { timeMs: 1_700_000_360_000, sourceIp: "10.0.0.7", userAgent: "agent/1.0", correlationId: "corr-1" },
};

const SCHEMA: AdmSchema = {
  type: "OBJECT",
  properties: { amount: { type: "NUMBER" }, account: { type: "OBJECT", properties: { iban: { type: "STRING" }, pin: { type: "STRING", secret: true } } }, note: { type: "STRING" } },
};

/** The audit event the pipeline would write for INPUT. */
function event(metadata: Record<string, string>): AuditEventDraft {
  return {
    eventId: "evt_1",
    timestampMs: INPUT.request.timeMs,
    eventType: "policy.decided",
    tenantId: "acme",
    principalId: INPUT.principal.id,
    sessionId: INPUT.session.id,
    resource: "contract:transfer@1.2.0",
    action: "tools:invoke",
    outcome: "SUCCESS",
    sourceIp: INPUT.request.sourceIp,
    userAgent: INPUT.request.userAgent,
    correlationId: INPUT.request.correlationId,
    riskScore: "",
    policyViolations: [],
    metadata,
  };
}

function policy(id: string, condition: string, effect: PolicyEffect, appliesTo: string[] = []): PolicyRecord {
  return { tenantId: "acme", policyId: id, name: id, description: "", version: 1, rule: { condition, effect, actions: [], parameters: {} }, appliesTo, enabled: true, status: "ACTIVE", createdBy: "a", createdAt: 0, updatedAt: 0, revision: 0 };
}

void describe("recorded decision inputs", () => {
  void it("rebuild the input exactly, except secret arguments, which are redacted", () => {
    const text = recordDecisionInput(INPUT, SCHEMA);
    assert.ok(!text.includes("1234"), "the secret PIN never enters the record");
    const rebuilt = decisionInputOf(event({ [DECISION_INPUT_KEY]: text }));
    assert.ok("input" in rebuilt);
    assert.deepEqual(rebuilt.input, { ...INPUT, args: { amount: 1200, account: { iban: "DE00", pin: "[REDACTED]" }, note: "rent" } });
  });

  void it("decide as the original input did, for every kind of variable", () => {
    const compiler = new PolicyCompiler();
    const set = PolicySet.build(
      [
        policy("a-amount", "args.amount > 1000 && args.account.iban.startsWith('DE')", "DENY"),
        policy("b-time", "request.time - session.created_at > duration('5m') && request.time.getHours() >= 0", "AUDIT"),
        policy("c-who", "principal.mfa && 'PCI' in contract.compliance_tags && principal.attributes.department == 'finance' && request.source_ip.startsWith('10.')", "AUDIT"),
      ],
      { compiler },
    );
    const rebuilt = decisionInputOf(event({ [DECISION_INPUT_KEY]: recordDecisionInput(INPUT, SCHEMA) }));
    assert.ok("input" in rebuilt);
    assert.deepEqual(set.decide(rebuilt.input), set.decide(INPUT));
    assert.deepEqual(set.decide(INPUT).auditFlags, ["b-time", "c-who"]);
  });

  void it("leave out arguments larger than the cap and mark the decision unreplayable", () => {
    const large = { ...INPUT, args: { note: "x".repeat(MAX_RECORDED_ARGUMENTS) } };
    const text = recordDecisionInput(large, null);
    assert.ok(text.length < 2048);
    assert.deepEqual(decisionInputOf(event({ [DECISION_INPUT_KEY]: text })), { unreplayable: "arguments_not_recorded" });
  });

  void it("refuse what they cannot read rather than guess", () => {
    assert.deepEqual(decisionInputOf(event({})), { unreplayable: "no_input" });
    assert.deepEqual(decisionInputOf(event({ [DECISION_INPUT_KEY]: "{not json" })), { unreplayable: "unreadable" });
    assert.deepEqual(decisionInputOf(event({ [DECISION_INPUT_KEY]: JSON.stringify({ v: 2 }) })), { unreplayable: "unreadable" });
  });
});

void describe("policy verdicts", () => {
  void it("trace each applicable policy: match, no match, evaluation error, compile error", () => {
    const set = PolicySet.build(
      [
        policy("deny-big", "args.amount > 1000", "DENY"),
        policy("allow-note", "args.note == 'salary'", "ALLOW"),
        policy("broken", "args.amount >", "AUDIT"),
        policy("missing-arg", "args.absent == 1", "AUDIT"),
        policy("elsewhere", "true", "DENY", ["contract:other"]),
      ],
      { compiler: new PolicyCompiler() },
    );
    const verdicts = verdictsOf(set, celPolicyEngine, INPUT);
    assert.deepEqual(
      verdicts.map((v) => [v.policyId, v.matched, v.effect, v.error === "" ? "" : "error"]),
      [
        ["allow-note", false, "", ""],
        ["broken", false, "", "error"],
        ["deny-big", true, "DENY", ""],
        ["missing-arg", false, "", "error"],
      ],
    );
    assert.match(verdicts[1]?.error ?? "", /^policy could not be compiled: syntax error/);
  });

  void it("name exactly the policies whose outcome differs between two sets", () => {
    const before = PolicySet.build([policy("p1", "args.amount > 2000", "DENY"), policy("p2", "true", "AUDIT")], { compiler: new PolicyCompiler() });
    const after = PolicySet.build([policy("p1", "args.amount > 1000", "DENY"), policy("p2", "true", "AUDIT"), policy("p3", "false", "DENY")], { compiler: new PolicyCompiler() });
    assert.deepEqual(differingPolicies(verdictsOf(before, celPolicyEngine, INPUT), verdictsOf(after, celPolicyEngine, INPUT)), ["p1", "p3"]);
    assert.deepEqual(differingPolicies(verdictsOf(before, celPolicyEngine, INPUT), verdictsOf(before, celPolicyEngine, INPUT)), []);
  });
});
