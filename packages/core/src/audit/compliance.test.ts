import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { linkRecords } from "./canonical.ts";
import { COMPLIANCE_CONTROLS, COMPLIANCE_FRAMEWORKS, ComplianceReportBuilder, evidenceCategories, parseComplianceFramework } from "./compliance.ts";
import type { ComplianceVerificationResult } from "./compliance.ts";
import { ZERO_HASH_HEX } from "./encoding.ts";
import { draft, sha256 } from "./test-kit.test.ts";

const verified: ComplianceVerificationResult = { status: "VERIFIED", treeSize: 100, checkedEvents: 3, detail: "" };

void describe("compliance evidence", () => {
  it("classifies events by outcome, type prefix and catalogue severity", () => {
    assert.deepEqual(evidenceCategories({ eventType: "authz.denied", outcome: "DENIED" }), ["access_denials"]);
    assert.deepEqual(evidenceCategories({ eventType: "principal.roles_updated", outcome: "SUCCESS" }), ["privileged_actions"]);
    assert.deepEqual(evidenceCategories({ eventType: "policy.activated", outcome: "SUCCESS" }), ["policy_config_changes"]);
    assert.deepEqual(evidenceCategories({ eventType: "config.changed", outcome: "SUCCESS" }), ["privileged_actions", "policy_config_changes"]);
    assert.deepEqual(evidenceCategories({ eventType: "approval.self_approval_blocked", outcome: "DENIED" }), ["access_denials", "approvals", "security_events"]);
    assert.deepEqual(evidenceCategories({ eventType: "break_glass.activated", outcome: "SUCCESS" }), ["privileged_actions", "break_glass", "security_events"]);
    assert.deepEqual(evidenceCategories({ eventType: "tool_call.completed", outcome: "SUCCESS" }), []);
  });

  it("every framework has a verification control and only known categories", () => {
    for (const framework of COMPLIANCE_FRAMEWORKS) {
      assert.ok(COMPLIANCE_CONTROLS[framework].some((c) => c.categories.includes("verification")), framework);
    }
    assert.equal(parseComplianceFramework("soc2"), "SOC2");
    assert.equal(parseComplianceFramework("pci-dss"), "PCI_DSS");
    assert.equal(parseComplianceFramework("iso-27001"), "ISO27001");
    assert.equal(parseComplianceFramework("nist"), null);
  });

  it("counts per control, caps evidence, and flags an unreviewed break-glass grant", () => {
    const events = [
      draft(0, { eventType: "authz.denied", outcome: "DENIED" }),
      draft(1, { eventType: "authz.denied", outcome: "DENIED" }),
      draft(2, { eventType: "authz.denied", outcome: "DENIED" }),
      draft(3, { eventType: "approval.granted" }),
      draft(4, { eventType: "approval.self_approval_blocked", outcome: "DENIED" }),
      draft(5, { eventType: "break_glass.activated", resource: "break_glass:g1" }),
      draft(6, { eventType: "tool_call.completed" }),
    ];
    const records = linkRecords({ size: 0, chainHash: ZERO_HASH_HEX }, events, sha256);
    const builder = new ComplianceReportBuilder("HIPAA", 2);
    for (const r of records) builder.add(r);
    assert.deepEqual(builder.categoryCounts, { access_denials: 4, privileged_actions: 1, approvals: 2, policy_config_changes: 0, break_glass: 1, security_events: 2 });
    const controls = builder.controls(verified);
    const access = controls.find((c) => c.id === "164.312(a)(1)")!;
    assert.equal(access.evidenceCount, 5);
    assert.equal(access.evidence.length, 2, "evidence is capped, counts are not");
    assert.equal(access.status, "SATISFIED");
    const emergency = controls.find((c) => c.id === "164.312(a)(2)(ii)")!;
    assert.equal(emergency.status, "NOT_SATISFIED");
    assert.ok(emergency.findings.some((f) => f.includes("break_glass:g1") && f.includes("not been reviewed")));
    assert.equal(controls.find((c) => c.id === "164.312(c)(1)")!.status, "INSUFFICIENT_EVIDENCE");
    assert.equal(controls.find((c) => c.id === "164.312(b)")!.status, "SATISFIED");

    builder.add(linkRecords({ size: 7, chainHash: ZERO_HASH_HEX }, [draft(7, { eventType: "break_glass.reviewed", resource: "break_glass:g1" })], sha256)[0]!);
    assert.equal(builder.controls(verified).find((c) => c.id === "164.312(a)(2)(ii)")!.status, "SATISFIED");
    const failed = builder.controls({ status: "FAILED", treeSize: 100, checkedEvents: 0, detail: "event x modified" });
    assert.equal(failed.find((c) => c.id === "164.312(b)")!.status, "NOT_SATISFIED");
    assert.equal(failed.find((c) => c.id === "164.312(a)(1)")!.status, "NOT_SATISFIED", "evidence from a log that does not verify is not relied on");
  });
});
