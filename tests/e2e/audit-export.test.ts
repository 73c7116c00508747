/**
 * Audit export and compliance evidence through the gateway, on SQLite and PostgreSQL: exports in
 * JSONL, CSV, CEF and OCSF (OCSF schema-valid); tenant A's verifiable export holds no tenant-B
 * event and verifies offline with only the public key; a platform auditor's export spans tenants;
 * a principal without audit:read is AUTHORIZATION_DENIED and another tenant's id is NOT_FOUND; the
 * compliance report's counts match the seeded events (denials, approvals, a break-glass
 * activation) and its evidence items carry proofs that verify.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { BreakGlassService } from "@aesp/proto/break_glass";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { EnterprisePolicyService } from "@aesp/proto/policy";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ExportAuditLogsRequestSchema } from "@aesp/proto/audit";
import { ocsfExportValidator } from "@aesp/core/audit";
import { verifyAuditExport, verifyAuditInclusion } from "@aesp/host";
import { assertRefused, startTestHost } from "../support/harness.ts";
import type { Actor, StorageKind, TestHost } from "../support/harness.ts";

type Audit = Client<typeof EnterpriseAuditService>;

async function exportText(client: Audit, request: MessageInitShape<typeof ExportAuditLogsRequestSchema>): Promise<{ text: string; events: number; treeSize: bigint }> {
  let text = "";
  let events = 0;
  let treeSize = 0n;
  const decoder = new TextDecoder();
  for await (const chunk of client.exportAuditLogs(request)) {
    text += decoder.decode(chunk.data, { stream: true });
    events += chunk.eventCount;
    if (chunk.checkpoint !== undefined) treeSize = chunk.checkpoint.treeSize;
  }
  return { text, events, treeSize };
}

const lines = (text: string) => text.split("\n").filter((line) => line !== "");

for (const kind of ["sqlite", "postgres"] as StorageKind[]) {
  void describe(`audit export and compliance report (${kind})`, () => {
    let t: TestHost;
    let acme: Actor;
    let globex: Actor;
    let auditor: Actor;
    let globexAuditor: Actor;
    let platformAuditor: Actor;
    let agent: Actor;
    let work: string;
    let pemPath: string;
    let globexEventIds: Set<string>;

    before(async () => {
      t = await startTestHost(kind, { "audit.checkpoint_every": 9 });
      work = await mkdtemp(join(tmpdir(), "aesp-export-"));
      acme = await t.tenant("acme");
      globex = await t.tenant("globex");
      auditor = await t.actor("acme-auditor", ["auditor"], acme);
      agent = await t.actor("acme-agent", ["agent"], acme);
      globexAuditor = await t.actor("globex-auditor", ["auditor"], globex);
      platformAuditor = await t.actor("platform-auditor", ["platform-auditor"]);
      const approver = await t.actor("acme-approver", ["approver"], acme);
      const oncall = await t.actor("acme-oncall", ["agent", "break-glass-operator"], acme);
      // Seed: a policy change approved by someone else, a self-approval attempt, denials, a break-glass activation.
      const created = await acme.client(EnterprisePolicyService).createPolicy({
        policy: { policyId: "freeze", name: "Freeze", rule: { condition: "true", effect: "DENY", actions: ["tools:invoke"] }, appliesTo: ["contract:nothing"], enabled: true },
      });
      const requested = await acme.client(EnterpriseGovernanceService).requestApproval({ artifactType: "POLICY", artifactId: `${created.policy?.policyId ?? ""}@1`, justification: "freeze" });
      const requestId = requested.responseType.case === "successDetails" ? requested.responseType.value.approvalRequestId : "";
      await assertRefused(acme.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: requestId, decision: "APPROVE" }), "SELF_APPROVAL_FORBIDDEN", Code.PermissionDenied);
      await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: requestId, decision: "APPROVE" });
      await assertRefused(auditor.client(EnterpriseAuditService).queryEvents({ tenantId: "globex" }), "NOT_FOUND", Code.NotFound);
      await assertRefused(agent.client(BreakGlassService).activateBreakGlass({ justification: "INC-1: not allowed to do this at all", durationSeconds: 600n }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await oncall.client(BreakGlassService).activateBreakGlass({ justification: "INC-4711: payments outage needs the override", durationSeconds: 600n });
      globexEventIds = new Set((await globexAuditor.client(EnterpriseAuditService).queryEvents({ limit: 1000 })).events.map((e) => e.eventId));
      assert.ok(globexEventIds.size > 0);
      const { keys } = await auditor.client(EnterpriseAuditService).getAuditVerifierKeys({});
      pemPath = join(work, "audit-public-key.pem");
      await writeFile(pemPath, keys.at(-1)!.publicKeyPem);
    });

    after(async () => {
      await t?.stop();
      if (work !== undefined) await rm(work, { recursive: true, force: true });
    });

    test("exports in JSONL, CSV, CEF and OCSF hold only the caller's tenant's events; OCSF is schema-valid", async () => {
      const client = auditor.client(EnterpriseAuditService);
      const jsonl = await exportText(client, { format: "JSONL" });
      const events = lines(jsonl.text).map((line) => JSON.parse(line) as { tenantId: string; eventId: string; seq: number });
      assert.equal(events.length, jsonl.events);
      assert.ok(events.length >= 8);
      assert.ok(events.every((e) => e.tenantId === "acme"));
      assert.ok(events.some((e) => (e as unknown as { eventType: string }).eventType === "audit.exported"), "the export itself is audited, before it starts");

      const csv = await exportText(client, { format: "csv" });
      const rows = csv.text.split("\r\n").filter((row) => row !== "");
      assert.match(rows[0]!, /^seq,event_id,time,/);
      assert.equal(rows.length - 1, csv.events);
      assert.ok(csv.events >= events.length);

      const cef = await exportText(client, { format: "CEF" });
      assert.equal(lines(cef.text).length, cef.events);
      assert.ok(lines(cef.text).every((line) => line.startsWith("CEF:0|AESP|AESP Host|") && line.includes("cs1=acme")));

      const ocsf = await exportText(client, { format: "OCSF" });
      const validate = ocsfExportValidator();
      const objects = lines(ocsf.text).map((line) => JSON.parse(line) as { metadata: { tenant_uid: string; uid: string } });
      assert.equal(objects.length, ocsf.events);
      for (const object of objects) {
        assert.equal(validate(object), null);
        assert.equal(object.metadata.tenant_uid, "acme");
        assert.equal(globexEventIds.has(object.metadata.uid), false);
      }
      await assertRefused(exportText(client, { format: "XML" }), "INVALID_ARGUMENT", Code.InvalidArgument);
    });

    test("tenant A's verifiable export holds no tenant-B event and verifies offline with only the public key", async () => {
      const { text, treeSize } = await exportText(auditor.client(EnterpriseAuditService), { format: "JSONL", includeProofs: true });
      const file = join(work, `acme-${kind}.jsonl`);
      await writeFile(file, text);
      const parsed = lines(text).map((line) => JSON.parse(line) as { type: string; event?: { tenantId: string; eventId: string } });
      assert.equal(parsed[0]!.type, "header");
      assert.equal(parsed.at(-1)!.type, "manifest");
      const exported = parsed.filter((line) => line.type === "event");
      assert.ok(exported.length >= 8);
      assert.ok(exported.every((line) => line.event!.tenantId === "acme" && !globexEventIds.has(line.event!.eventId)));
      for (const id of globexEventIds) assert.equal(text.includes(id), false, "no trace of another tenant's events");

      const result = await verifyAuditExport(file, [await readFile(pemPath, "utf8")]);
      assert.equal(result.ok, true, JSON.stringify(result));
      assert.ok(result.ok && result.events === exported.length && result.tenantId === "acme" && BigInt(result.treeSize) === treeSize);

      // One changed byte in an event: refused, naming it.
      const victim = exported[3]!.event!.eventId;
      await writeFile(file, text.replace(`"eventId":"${victim}"`, `"eventId":"${victim}x"`));
      const tampered = await verifyAuditExport(file, [await readFile(pemPath, "utf8")]);
      assert.equal(tampered.ok, false);
      assert.ok(!tampered.ok && tampered.eventId === `${victim}x` && /leaf hash mismatch/.test(tampered.reason));
    });

    test("a platform auditor exports across tenants, verifiably; filters are honoured", async () => {
      const client = platformAuditor.client(EnterpriseAuditService);
      const { text } = await exportText(client, { format: "JSONL", includeProofs: true });
      const tenants = new Set(lines(text).map((line) => (JSON.parse(line) as { event?: { tenantId: string } }).event?.tenantId).filter((id) => id !== undefined));
      assert.ok(tenants.has("acme") && tenants.has("globex"), [...tenants].join(","));
      const file = join(work, `all-${kind}.jsonl`);
      await writeFile(file, text);
      const { keys } = await client.getAuditVerifierKeys({});
      const result = await verifyAuditExport(file, keys.map((key) => key.verifierKey));
      assert.equal(result.ok, true, JSON.stringify(result));

      const globexOnly = await exportText(client, { format: "JSONL", tenantId: "globex", outcome: "SUCCESS", eventTypes: ["authn.succeeded"] });
      const events = lines(globexOnly.text).map((line) => JSON.parse(line) as { tenantId: string; outcome: string; eventType: string });
      assert.ok(events.length > 0);
      assert.ok(events.every((e) => e.tenantId === "globex" && e.outcome === "SUCCESS" && e.eventType === "authn.succeeded"));
    });

    test("without audit:read the export is AUTHORIZATION_DENIED; naming another tenant is NOT_FOUND", async () => {
      await assertRefused(exportText(agent.client(EnterpriseAuditService), { format: "CSV" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(exportText(auditor.client(EnterpriseAuditService), { format: "JSONL", tenantId: "globex" }), "NOT_FOUND", Code.NotFound);
      await assertRefused(auditor.client(EnterpriseAuditService).getComplianceReport({ framework: "SOC2", tenantId: "globex" }), "NOT_FOUND", Code.NotFound);
      await assertRefused(agent.client(EnterpriseAuditService).getComplianceReport({ framework: "SOC2" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(auditor.client(EnterpriseAuditService).getComplianceReport({ framework: "NIST" }), "INVALID_ARGUMENT", Code.InvalidArgument);
    });

    test("the compliance report's counts match the seeded events, and its evidence proves inclusion", async () => {
      const client = auditor.client(EnterpriseAuditService);
      const endTime = BigInt(Date.now() + 1);
      const { report } = await client.getComplianceReport({ framework: "soc2", endTime, evidenceLimit: 1000 });
      assert.ok(report !== undefined);
      assert.equal(report.framework, "SOC2");
      assert.equal(report.tenantId, "acme");
      assert.equal(report.verification?.status, "VERIFIED", report.verification?.detail);
      const all = (await client.queryEvents({ limit: 1000, endTime })).events;
      const count = (predicate: (type: string, outcome: string) => boolean) => all.filter((e) => predicate(e.eventType, e.outcome)).length;
      assert.equal(Number(report.categoryCounts["access_denials"]), count((_, outcome) => outcome === "DENIED"));
      assert.ok(Number(report.categoryCounts["access_denials"]) >= 2, "the cross-tenant attempt and the refused activation");
      assert.equal(Number(report.categoryCounts["break_glass"]), count((type) => type.startsWith("break_glass.")));
      assert.ok(count((type) => type === "break_glass.activated") === 1);
      assert.equal(Number(report.categoryCounts["approvals"]), count((type) => type.startsWith("approval.")));
      assert.ok(count((type) => type === "approval.granted") >= 1);
      assert.equal(count((type) => type === "approval.self_approval_blocked"), 1);
      const change = report.controls.find((c) => c.controlId === "CC8.1")!;
      assert.ok(change.findings.some((f) => /1 self-approval attempt\(s\) blocked/.test(f)), change.findings.join("; "));
      for (const [type, n] of Object.entries(report.eventCounts)) assert.equal(Number(n), count((t2) => t2 === type), type);

      const monitoring = report.controls.find((c) => c.controlId === "CC7.2")!;
      const activation = monitoring.evidence.find((e) => e.eventType === "break_glass.activated");
      assert.ok(activation !== undefined, "the break-glass activation is evidence");
      assert.equal(activation.proofTreeSize, report.checkpoint?.treeSize);
      assert.ok(monitoring.findings.some((f) => /1 break-glass activation\(s\), 0 reviewed/.test(f)));
      assert.equal(monitoring.status, "NOT_SATISFIED", "an unreviewed activation is a finding");
      assert.equal(report.controls.find((c) => c.controlId === "CC4.1")?.status, "SATISFIED");

      const proof = await client.getInclusionProof({ eventId: activation.eventId, treeSize: activation.proofTreeSize });
      const { keys, origin } = await client.getAuditVerifierKeys({});
      const e = proof.event!;
      const verdict = verifyAuditInclusion(
        {
          event: {
            eventId: e.eventId, timestampMs: Number(e.timestampMs), eventType: e.eventType, tenantId: e.tenantId, principalId: e.principalId, sessionId: e.sessionId,
            resource: e.resource, action: e.action, outcome: e.outcome as "SUCCESS", sourceIp: e.sourceIp, userAgent: e.userAgent, correlationId: e.correlationId,
            riskScore: e.riskScore, policyViolations: [...e.policyViolations], metadata: { ...e.metadata },
          },
          leafIndex: Number(proof.leafIndex), leafHash: proof.leafHash, treeSize: Number(proof.treeSize), proof: proof.proof, signedNote: proof.checkpoint!.signedNote,
        },
        keys.map((key) => key.verifierKey),
        origin,
      );
      assert.equal(verdict.ok, true, JSON.stringify(verdict));
      for (const framework of ["ISO27001", "GDPR", "HIPAA", "PCI_DSS"]) {
        const other = await client.getComplianceReport({ framework });
        assert.ok((other.report?.controls.length ?? 0) >= 4, framework);
      }
    });
  });
}
