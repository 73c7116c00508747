/**
 * The policy engine chosen per tenant, through the real gateway on SQLite and PostgreSQL: a tenant
 * created on Cedar validates and stores Cedar conditions (and refuses CEL); a platform
 * administrator may move a tenant to another engine only while every ACTIVE policy compiles with
 * it; nobody else may. Decisions through the gateway on Cedar tenants are covered by the
 * conformance cases (tests/conformance/decisions.test.ts).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { EnterprisePolicyService } from "@aesp/proto/policy";
import { TenantService } from "@aesp/proto/tenant";
import { assertRefused, startTestHost } from "../support/harness.ts";
import type { Actor, StorageKind, TestHost } from "../support/harness.ts";

for (const kind of ["sqlite", "postgres"] as StorageKind[]) {
  void describe(`per-tenant policy engines on ${kind}`, () => {
    let t: TestHost;
    let owner: Actor;
    let approver: Actor;

    before(async () => {
      t = await startTestHost(kind);
      const created = await t.admin.client(TenantService).createTenant({ tenantId: "globex", displayName: "Globex", policyEngine: "cedar" });
      assert.equal(created.tenant?.policyEngine, "cedar");
      owner = await t.signIn(created.adminApiKey);
      approver = await t.actor("approver", ["approver"], owner);
    });

    after(async () => {
      await t?.stop();
    });

    test("a Cedar tenant validates conditions as Cedar and refuses CEL", async () => {
      const policies = owner.client(EnterprisePolicyService);
      const cedar = await policies.validatePolicy({ policy: { name: "deny big", rule: { condition: "context.args has amount && context.args.amount > 1000", effect: "DENY" }, enabled: true } });
      assert.equal(cedar.valid, true);
      const cel = await policies.validatePolicy({ policy: { name: "deny big", rule: { condition: 'principal.roles.exists(r, r == "agent")', effect: "DENY" }, enabled: true } });
      assert.equal(cel.valid, false);
      assert.equal(cel.issues[0]?.field, "rule.condition");
    });

    test("moving a tenant to another engine is refused while an ACTIVE policy does not compile with it", async () => {
      const created = await owner.client(EnterprisePolicyService).createPolicy({
        policy: { policyId: "deny-big", name: "deny big", rule: { condition: "context.args has amount && context.args.amount > 1000", effect: "DENY", actions: ["tools:invoke"] }, enabled: true },
      });
      const requested = await owner.client(EnterpriseGovernanceService).requestApproval({ artifactType: "POLICY", artifactId: `deny-big@${created.policy?.version ?? ""}`, justification: "test" });
      const id = requested.responseType.case === "successDetails" ? requested.responseType.value.approvalRequestId : "";
      await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: id, decision: "APPROVE" });

      const refusal = await assertRefused(t.admin.client(TenantService).setTenantPolicyEngine({ tenantId: "globex", policyEngine: "cel" }), "INVALID_ARGUMENT", Code.InvalidArgument);
      assert.equal(refusal.error?.details["policy_id"], "deny-big");
      const { tenant } = await t.admin.client(TenantService).getTenant({ tenantId: "globex" });
      assert.equal(tenant?.policyEngine, "cedar", "nothing changed");
    });

    test("once no ACTIVE policy is in the way the switch takes effect at once, audited", async () => {
      // Retire the Cedar policy: its next version, disabled, approved.
      const updated = await owner.client(EnterprisePolicyService).updatePolicy({
        policy: { policyId: "deny-big", name: "deny big", rule: { condition: "context.args has amount && context.args.amount > 1000", effect: "DENY", actions: ["tools:invoke"] }, enabled: false },
      });
      const requested = await owner.client(EnterpriseGovernanceService).requestApproval({ artifactType: "POLICY", artifactId: `deny-big@${updated.policy?.version ?? ""}`, justification: "retire" });
      const id = requested.responseType.case === "successDetails" ? requested.responseType.value.approvalRequestId : "";
      await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: id, decision: "APPROVE" });

      const switched = await t.admin.client(TenantService).setTenantPolicyEngine({ tenantId: "globex", policyEngine: "cel" });
      assert.equal(switched.tenant?.policyEngine, "cel");
      const cel = await owner.client(EnterprisePolicyService).validatePolicy({ policy: { name: "x", rule: { condition: 'principal.roles.exists(r, r == "agent")', effect: "DENY" }, enabled: true } });
      assert.equal(cel.valid, true, "validation follows the tenant's engine on the next request");
      const { events } = await owner.client(EnterpriseAuditService).queryEvents({ limit: 100, eventTypes: ["tenant.policy_engine_changed"] });
      assert.deepEqual(
        events.map((e) => [e.metadata["from"], e.metadata["to"]]),
        [["cedar", "cel"]],
      );
    });

    test("only a platform administrator may choose a tenant's engine; bad engines and unknown tenants are refused", async () => {
      await assertRefused(owner.client(TenantService).setTenantPolicyEngine({ tenantId: "globex", policyEngine: "cedar" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(t.admin.client(TenantService).setTenantPolicyEngine({ tenantId: "globex", policyEngine: "rego" }), "INVALID_ARGUMENT", Code.InvalidArgument);
      await assertRefused(t.admin.client(TenantService).setTenantPolicyEngine({ tenantId: "no-such-tenant", policyEngine: "cedar" }), "NOT_FOUND", Code.NotFound);
      await assertRefused(t.admin.client(TenantService).createTenant({ tenantId: "initech", displayName: "Initech", policyEngine: "opa" }), "INVALID_ARGUMENT", Code.InvalidArgument);
    });
  });
}
