import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SecurityContext } from "../identity/security-context.ts";
import { PolicySet } from "../policy/index.ts";
import type { Classification, PolicyEffect, PolicyRecord, RoleRecord, ToolContractDefinition } from "../records.ts";
import { builtInRoles } from "./built-in-roles.ts";
import { authorizeCall, callPolicyInput, tracePolicies } from "./call-authorization.ts";
import type { CallAuthorizationInput } from "./call-authorization.ts";
import { RoleGraph } from "./role-graph.ts";

function role(name: string, permissions: string[], inherits: string[] = []): RoleRecord {
  return { tenantId: "acme", name, description: "", permissions, inherits, builtIn: false, createdAt: 0 };
}

function policy(policyId: string, effect: PolicyEffect, condition: string, overrides: Partial<PolicyRecord> = {}): PolicyRecord {
  return {
    tenantId: "acme",
    policyId,
    name: policyId,
    description: "",
    version: 1,
    rule: { condition, effect, actions: [], parameters: {} },
    appliesTo: ["contract:pay"],
    enabled: true,
    status: "ACTIVE",
    createdBy: "usr_author",
    createdAt: 0,
    updatedAt: 0,
    revision: 1,
    ...overrides,
  };
}

const roles = RoleGraph.build([...builtInRoles("acme", 0), role("finance", ["payments:send"], ["agent"]), role("finance-lead", ["payments:approve"], ["finance"])]);

const contract: ToolContractDefinition = {
  name: "pay",
  contractVersion: "1.0.0",
  description: "Pays.",
  parameters: { type: "OBJECT", properties: { amount: { type: "NUMBER" } }, required: ["amount"] },
  returnType: null,
  supportsStreaming: false,
  securityClassification: "confidential",
  requiredRoles: ["finance"],
  requiredPermissions: ["payments:send"],
  complianceTags: ["sox"],
  riskAssessment: "HIGH",
  governanceMetadata: {},
};

function security(boundRoles: string[], clearance: Classification = "confidential", direct: string[] = []): SecurityContext {
  return {
    principalId: "sa_payer",
    tenantId: "acme",
    principalType: "SERVICE_ACCOUNT",
    displayName: "Payer",
    roles: boundRoles,
    permissions: [...new Set([...roles.effectivePermissions(boundRoles), ...direct])],
    clearance,
    attributes: { department: "finance" },
    claims: { amr: "pwd" },
    tokenId: "tok_1",
    tokenExpiresAt: 0,
  };
}

function input(overrides: Partial<CallAuthorizationInput> = {}): CallAuthorizationInput {
  return {
    security: security(["finance"]),
    roles,
    policies: PolicySet.EMPTY,
    contract,
    session: { id: "ses_1", createdAt: 1_000 },
    args: { amount: 10 },
    request: { timeMs: 2_000, sourceIp: "10.0.0.1", userAgent: "test", correlationId: "cor_1" },
    ...overrides,
  };
}

void describe("authorizeCall", () => {
  void it("allows when RBAC, clearance and policies allow; with no policy the RBAC decision stands", () => {
    assert.deepEqual(authorizeCall(input()), {
      authorized: true,
      refusal: null,
      reason: "no applicable policy",
      appliedPolicies: [],
      auditFlags: [],
      decision: { effect: "ALLOW", auditFlags: [], appliedPolicies: [], reason: "no applicable policy", errors: [] },
    });
  });

  void it("refuses by RBAC first, with the pipeline's reason, and evaluates no policy", () => {
    const policies = PolicySet.build([policy("pol_deny_all", "DENY", "true")]);
    const agent = authorizeCall(input({ security: security(["agent"]), policies }));
    assert.equal(agent.refusal, "AUTHORIZATION_DENIED");
    assert.equal(agent.reason, "requires one of the roles: finance; missing permissions: payments:send");
    assert.deepEqual(agent.appliedPolicies, []);
    assert.equal(agent.decision, null);
    assert.equal(authorizeCall(input({ security: security([]) })).reason, "requires one of the roles: finance; missing permissions: tools:invoke, payments:send");
  });

  void it("counts inherited roles and direct grants, as the pipeline does", () => {
    assert.equal(authorizeCall(input({ security: security(["finance-lead"]) })).authorized, true);
    assert.equal(authorizeCall(input({ security: security(["agent", "finance"], "confidential") })).authorized, true);
    const direct = authorizeCall(input({ contract: { ...contract, requiredRoles: [] }, security: security(["agent"], "confidential", ["payments:*"]) }));
    assert.equal(direct.authorized, true);
  });

  void it("refuses a contract classified above the clearance, after RBAC", () => {
    const low = authorizeCall(input({ security: security(["finance"], "internal") }));
    assert.deepEqual([low.authorized, low.refusal, low.reason], [false, "SECURITY_CLEARANCE_INSUFFICIENT", "clearance internal does not reach classification confidential"]);
    assert.equal(authorizeCall(input({ security: security(["agent"], "internal") })).refusal, "AUTHORIZATION_DENIED");
    assert.equal(authorizeCall(input({ security: security(["finance"], "restricted") })).authorized, true);
  });

  void it("lets policies narrow: DENY wins, failures fail closed, AUDIT flags an allowed call", () => {
    const deny = authorizeCall(input({ policies: PolicySet.build([policy("pol_cap", "DENY", "args.amount > 5"), policy("pol_flag", "AUDIT", "true")]) }));
    assert.deepEqual([deny.refusal, deny.reason, deny.appliedPolicies, deny.auditFlags], ["POLICY_VIOLATION", "denied by policy pol_cap", ["pol_cap", "pol_flag"], ["pol_flag"]]);
    const broken = authorizeCall(input({ policies: PolicySet.build([policy("pol_broken", "ALLOW", "args.missing > 1")]) }));
    assert.deepEqual([broken.refusal, broken.reason], ["POLICY_EVALUATION_FAILED", "policy evaluation failed: pol_broken"]);
    const flagged = authorizeCall(input({ policies: PolicySet.build([policy("pol_flag", "AUDIT", "principal.attributes.department == 'finance'"), policy("pol_small", "ALLOW", "args.amount < 100")]) }));
    assert.deepEqual([flagged.authorized, flagged.reason, flagged.appliedPolicies, flagged.auditFlags], [true, "allowed by policy pol_small", ["pol_flag", "pol_small"], ["pol_flag"]]);
    const gated = authorizeCall(input({ args: { amount: 500 }, policies: PolicySet.build([policy("pol_small", "ALLOW", "args.amount < 100")]) }));
    assert.deepEqual([gated.refusal, gated.reason], ["POLICY_VIOLATION", "no applicable ALLOW matched"]);
  });

  void it("gives policies the pipeline's variables", () => {
    const variables = callPolicyInput(input());
    assert.equal(variables.action, "tools:invoke");
    assert.deepEqual(variables.principal.roles, ["finance"]);
    assert.deepEqual(variables.principal.claims, { amr: "pwd" });
    assert.deepEqual(variables.contract, { name: "pay", version: "1.0.0", classification: "confidential", complianceTags: ["sox"], risk: "HIGH", requiredRoles: ["finance"] });
    assert.deepEqual(variables.session, { id: "ses_1", createdAt: 1_000 });
    assert.deepEqual(variables.request, { timeMs: 2_000, sourceIp: "10.0.0.1", userAgent: "test", correlationId: "cor_1" });
    // A policy on a role bound to the principal applies through `principal.roles`.
    const byRole = authorizeCall(input({ policies: PolicySet.build([policy("pol_role", "DENY", "true", { appliesTo: ["role:finance"] })]) }));
    assert.equal(byRole.reason, "denied by policy pol_role");
  });
});

void describe("tracePolicies", () => {
  const records = [
    policy("pol_a_deny", "DENY", "args.amount > 5"),
    policy("pol_b_deny_quiet", "DENY", "args.amount > 1000"),
    policy("pol_c_allow", "ALLOW", "args.amount < 100", { version: 1 }),
    policy("pol_c_allow", "ALLOW", "args.amount < 1", { version: 2 }),
    policy("pol_c_allow", "ALLOW", "true", { version: 3, status: "DRAFT" }),
    policy("pol_d_audit", "AUDIT", "true"),
    policy("pol_e_broken", "DENY", "args.nothing == 1"),
    policy("pol_f_elsewhere", "DENY", "true", { appliesTo: ["contract:other"] }),
  ];

  void it("traces each applied policy alone: matched, effect when matched, error when failed", () => {
    const variables = callPolicyInput(input());
    const decision = PolicySet.build(records).decide(variables);
    assert.deepEqual(decision.appliedPolicies, ["pol_a_deny", "pol_b_deny_quiet", "pol_c_allow", "pol_d_audit", "pol_e_broken"]);
    const traces = tracePolicies(decision, records, variables, (subset) => PolicySet.build(subset));
    assert.deepEqual(
      traces.map((trace) => [trace.policyId, trace.version, trace.matched, trace.effect, trace.error === "" ? "" : "error"]),
      [
        ["pol_a_deny", 1, true, "DENY", ""],
        ["pol_b_deny_quiet", 1, false, "", ""],
        ["pol_c_allow", 2, false, "", ""],
        ["pol_d_audit", 1, true, "AUDIT", ""],
        ["pol_e_broken", 1, false, "", "error"],
      ],
    );
    assert.doesNotMatch(traces[4]?.error ?? "", /^pol_e_broken:/, "the policy id is not repeated in its own error");
  });

  void it("reports a policy whose record vanished instead of guessing", () => {
    const variables = callPolicyInput(input());
    const decision = PolicySet.build([policy("pol_gone", "DENY", "true")]).decide(variables);
    assert.deepEqual(tracePolicies(decision, [], variables, (subset) => PolicySet.build(subset)), [
      { policyId: "pol_gone", version: 0, matched: false, effect: "", error: "the policy changed while it was evaluated" },
    ]);
  });
});
