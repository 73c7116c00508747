// BreakGlassService as the Host wires it, over a real SQLite store and the real audit log, with a
// clock the test moves and a recording AlertNotifier: activation rules, one active grant per
// principal, expiry by the clock alone, ending, the mandatory review (never by the holder), the
// housekeeping sweep (expiry and overdue reviews recorded once, also with two Hosts) and the
// enhanced audit and first-use alert of a use.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BreakGlassService, EnterpriseError, TenantDirectory, grantCovers, provisionTenant } from "@aesp/core";
import type { Alert, AlertNotifier, AuditRecord, Clock, Decision, RequestOrigin, SecurityContext, Store } from "@aesp/core";
import { AuditLog } from "@aesp/core/audit";
import { auditRecorder } from "./audit/recorder.ts";
import { createEd25519Signer, nodeHasher, nodeIdSource } from "./crypto/node-crypto-ports.ts";
import { HostMetrics } from "./observability/metrics.ts";
import { openStore } from "./storage/index.ts";

const directory = mkdtempSync(join(tmpdir(), "aesp-break-glass-"));
const origin: RequestOrigin = { sourceIp: "192.0.2.10", userAgent: "test", correlationId: "cor_test" };
const justification = "INC-4711: payments outage, the after-hours policy blocks the fix";

class RecordingAlerts implements AlertNotifier {
  readonly raised: Alert[] = [];
  raise(alert: Alert): void {
    this.raised.push(alert);
  }
  take(): Alert[] {
    return this.raised.splice(0);
  }
}

const clock: Clock & { advance(ms: number): void } = {
  current: 1_700_000_000_000,
  now() {
    return this.current;
  },
  advance(ms: number) {
    this.current += ms;
  },
} as Clock & { advance(ms: number): void; current: number };

function caller(principalId: string, permissions: string[], tenantId = "acme"): SecurityContext {
  return {
    principalId,
    tenantId,
    principalType: "USER",
    displayName: principalId,
    roles: [],
    permissions,
    clearance: "internal",
    attributes: {},
    claims: {},
    tokenId: "",
    tokenExpiresAt: 0,
  };
}

const operator = caller("usr_oncall", ["break_glass:activate", "tools:invoke"]);
const otherOperator = caller("usr_other", ["break_glass:activate"]);
const agent = caller("usr_agent", ["tools:invoke", "sessions:create"]);
const reviewer = caller("usr_ciso", ["governance:adjudicate"]);
const admin = caller("usr_admin", ["*"]);

/** An `assert.rejects` validator for an EnterpriseError with `code` and these details. */
function refused(code: string, details: Record<string, string> = {}) {
  return (error: unknown): true => {
    assert.ok(error instanceof EnterpriseError, `expected EnterpriseError ${code}, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const [key, value] of Object.entries(details)) assert.equal(error.details[key], value, key);
    return true;
  };
}

let store: Store;
let auditLog: AuditLog;
let tenants: TenantDirectory;
let alerts: RecordingAlerts;
let service: BreakGlassService;
/** A second Host on the same database. */
let secondHost: BreakGlassService;

async function events(eventType: string, tenantId = "acme"): Promise<AuditRecord[]> {
  return store.forTenant(tenantId).audit.query({ eventTypes: [eventType], limit: 1000 });
}

before(async () => {
  store = await openStore({ kind: "sqlite", path: join(directory, "aesp.db") });
  for (const tenantId of ["acme", "globex"]) await provisionTenant(store, { tenantId, displayName: tenantId, now: clock.now() });
  // A contract the grants may be limited to.
  await store.forTenant("acme").contracts.create({
    tenantId: "acme",
    contractId: "issue_refund@1.0.0",
    definition: {
      name: "issue_refund",
      contractVersion: "1.0.0",
      description: "Refunds a payment.",
      parameters: { type: "OBJECT", properties: {} },
      returnType: { type: "OBJECT", properties: {} },
      supportsStreaming: false,
      securityClassification: "internal",
      requiredRoles: [],
      requiredPermissions: [],
      complianceTags: [],
      riskAssessment: "LOW",
      governanceMetadata: {},
    },
    status: "ACTIVE",
    createdBy: "usr_admin",
    createdAt: clock.now(),
    updatedAt: clock.now(),
    approvedBy: "usr_ciso",
    approvedAt: clock.now(),
    revision: 1,
  });
  const { privateKey } = generateKeyPairSync("ed25519");
  auditLog = new AuditLog(
    { store: store.platform.auditLog, hasher: nodeHasher, signer: createEd25519Signer("audit-test", privateKey), clock, ids: nodeIdSource, gatherBatch: () => new Promise<void>((resolve) => setImmediate(resolve)) },
    { origin: "break-glass.test/audit", checkpointEvery: 0 },
  );
  await auditLog.open();
  const audit = auditRecorder(auditLog, new HostMetrics());
  tenants = new TenantDirectory({ store, clock, principalTtlMs: 0 });
  alerts = new RecordingAlerts();
  const options = { maxDurationSeconds: 3600, reviewDueSeconds: 86_400 };
  service = new BreakGlassService({ store, clock, ids: nodeIdSource, audit, tenants, alerts, options });
  secondHost = new BreakGlassService({ store, clock, ids: nodeIdSource, audit, tenants: new TenantDirectory({ store, clock, principalTtlMs: 0 }), alerts, options });
});

after(async () => {
  await auditLog.close();
  await store.close();
  rmSync(directory, { recursive: true, force: true });
});

const deny: Decision = { effect: "DENY", reason: "policy deny-after-hours denied", appliedPolicies: ["deny-after-hours"], denyingPolicy: "deny-after-hours", auditFlags: [], errors: [] } as unknown as Decision;

void describe("BreakGlassService", () => {
  void it("refuses callers without break_glass:activate, short or long justifications, bad durations and unknown contracts, auditing each refusal", async () => {
    await assert.rejects(service.activate(agent, origin, { justification, durationSeconds: 60 }), refused("AUTHORIZATION_DENIED", { required_permission: "break_glass:activate" }));
    await assert.rejects(service.activate(operator, origin, { justification: "  urgent, trust me     ", durationSeconds: 60 }), refused("INVALID_ARGUMENT", { field: "justification", length: "16" }));
    await assert.rejects(service.activate(operator, origin, { justification: "x".repeat(2001), durationSeconds: 60 }), refused("INVALID_ARGUMENT", { field: "justification" }));
    for (const durationSeconds of [0, -5, 3601, 1.5, Number.NaN]) {
      await assert.rejects(service.activate(operator, origin, { justification, durationSeconds }), refused("INVALID_ARGUMENT", { field: "duration_seconds", max: "3600" }));
    }
    await assert.rejects(service.activate(operator, origin, { justification, durationSeconds: 60, contracts: ["no_such_tool"] }), refused("INVALID_ARGUMENT", { field: "contracts", contract: "no_such_tool" }));
    const refusals = await events("break_glass.activation_refused");
    assert.deepEqual(
      refusals.map((e) => [e.principalId, e.metadata["error_code"], e.metadata["field"] ?? ""]),
      [
        ["usr_agent", "AUTHORIZATION_DENIED", ""],
        ["usr_oncall", "INVALID_ARGUMENT", "justification"],
        ["usr_oncall", "INVALID_ARGUMENT", "justification"],
        ...Array.from({ length: 5 }, () => ["usr_oncall", "INVALID_ARGUMENT", "duration_seconds"]),
        ["usr_oncall", "INVALID_ARGUMENT", "contracts"],
      ],
    );
    assert.ok(refusals.every((e) => e.outcome === "DENIED"));
    assert.deepEqual(await store.forTenant("acme").breakGlass.list({ limit: 10 }), [], "nothing was granted");
    assert.deepEqual(alerts.take(), []);
  });

  void it("activates: audited with the justification (CRITICAL), a CRITICAL alert, a PENDING review, and the tenant snapshot holds the grant at once", async () => {
    const epochBefore = await store.forTenant("acme").epoch.current();
    const grant = await service.activate(operator, origin, { justification: `  ${justification} `, durationSeconds: 1800, contracts: ["issue_refund", "issue_refund"] });
    assert.equal(grant.principalId, "usr_oncall");
    assert.equal(grant.justification, justification);
    assert.deepEqual(grant.contracts, ["issue_refund"]);
    assert.equal(grant.status, "ACTIVE");
    assert.equal(grant.expiresAt, clock.now() + 1_800_000);
    assert.equal(grant.reviewStatus, "PENDING");
    assert.equal(grant.reviewDueAt, grant.expiresAt + 86_400_000);
    assert.deepEqual(await store.forTenant("acme").breakGlass.get(grant.grantId), grant);

    const [activated] = await events("break_glass.activated");
    assert.equal(activated?.riskScore, "CRITICAL");
    assert.equal(activated?.principalId, "usr_oncall");
    assert.equal(activated?.metadata["justification"], justification);
    assert.equal(activated?.metadata["grant_id"], grant.grantId);
    assert.equal(activated?.metadata["contracts"], "issue_refund");

    const raised = alerts.take();
    assert.deepEqual(raised.map((a) => [a.kind, a.severity, a.tenantId, a.principalId, a.detail["grant_id"]]), [["break_glass.activated", "CRITICAL", "acme", "usr_oncall", grant.grantId]]);
    assert.equal(raised[0]?.detail["justification"], justification);

    assert.ok((await store.forTenant("acme").epoch.current()) > epochBefore, "every Host rebuilds on its next call");
    const snapshot = await tenants.snapshot("acme");
    assert.deepEqual(snapshot?.breakGlass.map((g) => g.grantId), [grant.grantId]);
    assert.ok(grantCovers(grant, "usr_oncall", "issue_refund", clock.now()));
    assert.ok(!grantCovers(grant, "usr_oncall", "other_tool", clock.now()), "limited to the named contract");
    assert.ok(!grantCovers(grant, "usr_other", "issue_refund", clock.now()), "covers its holder only");
  });

  void it("refuses a second activation while one is active, clearly, and audits it", async () => {
    await assert.rejects(service.activate(operator, origin, { justification, durationSeconds: 60 }), (error: unknown) => {
      refused("ALREADY_EXISTS")(error);
      assert.match((error as EnterpriseError).message, /already hold an active break-glass grant/);
      return true;
    });
    assert.equal((await events("break_glass.activation_refused")).at(-1)?.metadata["error_code"], "ALREADY_EXISTS");
  });

  void it("lists: an operator only their own, an adjudicator everyone's, a plain agent nothing", async () => {
    clock.advance(1000);
    const mine = await service.activate(otherOperator, origin, { justification, durationSeconds: 600 });
    alerts.take();
    assert.deepEqual((await service.list(otherOperator, {})).map((g) => g.principalId), ["usr_other"]);
    await assert.rejects(service.list(otherOperator, { principalId: "usr_oncall" }), refused("AUTHORIZATION_DENIED"));
    assert.deepEqual((await service.list(reviewer, { pendingReview: true })).map((g) => g.principalId), ["usr_oncall", "usr_other"]);
    assert.deepEqual((await service.list(reviewer, { principalId: "usr_other" })).map((g) => g.grantId), [mine.grantId]);
    await assert.rejects(service.list(agent, {}), refused("AUTHORIZATION_DENIED"));
    assert.deepEqual(await service.list(caller("usr_admin", ["*"], "globex"), {}), [], "another tenant's grants are invisible");
  });

  void it("ends early: by the holder or break_glass:manage only, audited, gone from the snapshot; reviewed later by someone else", async () => {
    const [grant] = await service.list(operator, {});
    assert.ok(grant !== undefined);
    await assert.rejects(service.end(otherOperator, origin, grant.grantId, "not mine"), refused("AUTHORIZATION_DENIED", { required_permission: "break_glass:manage" }));
    await assert.rejects(service.end(operator, origin, grant.grantId, "   "), refused("INVALID_ARGUMENT", { field: "reason" }));
    await assert.rejects(service.end(caller("usr_admin", ["*"], "globex"), origin, grant.grantId, "cross tenant"), refused("NOT_FOUND"));
    await assert.rejects(service.review(reviewer, origin, grant.grantId, { outcome: "JUSTIFIED", comments: "too early" }), refused("INVALID_STATE_TRANSITION", { status: "ACTIVE" }));
    clock.advance(60_000);
    const ended = await service.end(operator, origin, grant.grantId, "outage resolved");
    assert.equal(ended.status, "ENDED");
    assert.equal(ended.closedBy, "usr_oncall");
    assert.equal(ended.reviewDueAt, clock.now() + 86_400_000, "the review is due a day after the actual end");
    assert.deepEqual((await tenants.snapshot("acme"))?.breakGlass.map((g) => g.principalId), ["usr_other"]);
    await assert.rejects(service.end(admin, origin, grant.grantId, "again"), refused("INVALID_STATE_TRANSITION", { status: "ENDED" }));
    assert.deepEqual((await events("break_glass.ended")).map((e) => [e.principalId, e.metadata["holder_id"], e.metadata["reason"]]), [["usr_oncall", "usr_oncall", "outage resolved"]]);

    await assert.rejects(service.review(operator, origin, grant.grantId, { outcome: "JUSTIFIED", comments: "fine" }), refused("AUTHORIZATION_DENIED", { required_permission: "governance:adjudicate" }));
    const holderWhoAdjudicates = caller("usr_oncall", ["governance:adjudicate", "break_glass:activate"]);
    await assert.rejects(service.review(holderWhoAdjudicates, origin, grant.grantId, { outcome: "JUSTIFIED", comments: "I was right" }), refused("SELF_APPROVAL_FORBIDDEN"));
    const [blocked] = await events("break_glass.self_review_blocked");
    assert.equal(blocked?.outcome, "DENIED");
    assert.equal(blocked?.metadata["grant_id"], grant.grantId);
    await assert.rejects(service.review(reviewer, origin, grant.grantId, { outcome: "MAYBE" as never, comments: "hmm" }), refused("INVALID_ARGUMENT", { field: "outcome" }));
    await assert.rejects(service.review(reviewer, origin, grant.grantId, { outcome: "JUSTIFIED", comments: "" }), refused("INVALID_ARGUMENT", { field: "comments" }));
    assert.deepEqual(alerts.take(), [], "a JUSTIFIED outcome has not been recorded yet, nothing alerted");

    const reviewed = await service.review(reviewer, origin, grant.grantId, { outcome: "UNJUSTIFIED", comments: "no incident ticket" });
    assert.equal(reviewed.reviewStatus, "UNJUSTIFIED");
    assert.equal(reviewed.reviewedBy, "usr_ciso");
    assert.deepEqual(alerts.take().map((a) => [a.kind, a.severity]), [["break_glass.reviewed", "HIGH"]]);
    assert.deepEqual((await events("break_glass.reviewed")).map((e) => [e.principalId, e.metadata["review_outcome"], e.metadata["holder_id"]]), [["usr_ciso", "UNJUSTIFIED", "usr_oncall"]]);
    await assert.rejects(service.review(reviewer, origin, grant.grantId, { outcome: "JUSTIFIED", comments: "changed my mind" }), refused("INVALID_STATE_TRANSITION", { review_status: "UNJUSTIFIED" }));
  });

  void it("a use is audited as break_glass.used (CRITICAL) every time, and alerts once per grant across Hosts", async () => {
    const snapshot = await tenants.snapshot("acme");
    const grant = snapshot?.breakGlass.find((g) => g.principalId === "usr_other");
    assert.ok(grant !== undefined);
    const use = (invocationId: string) => ({
      security: otherOperator,
      origin,
      sessionId: "ses_1",
      invocationId,
      contractId: "issue_refund@1.0.0",
      grant,
      decision: deny,
      refusal: new EnterpriseError("POLICY_VIOLATION"),
    });
    await service.recordUse(use("inv_1"));
    await secondHost.recordUse(use("inv_2"));
    await service.recordUse(use("inv_3"));
    const used = await events("break_glass.used");
    assert.deepEqual(
      used.map((e) => [e.riskScore, e.metadata["invocation_id"], e.metadata["grant_id"], e.metadata["overridden_error"], e.metadata["denying_policy"], e.metadata["decision_reason"]]),
      ["inv_1", "inv_2", "inv_3"].map((id) => ["CRITICAL", id, grant.grantId, "POLICY_VIOLATION", "deny-after-hours", "policy deny-after-hours denied"]),
    );
    assert.deepEqual(alerts.take().map((a) => [a.kind, a.severity, a.detail["invocation_id"]]), [["break_glass.used", "CRITICAL", "inv_1"]]);
    assert.equal((await store.forTenant("acme").breakGlass.get(grant.grantId))?.firstUsedAt, clock.now());
  });

  void it("expires by the clock alone; the sweep records each expiry once even from two Hosts, then the holder may activate again", async () => {
    const [grant] = await service.list(otherOperator, {});
    assert.ok(grant !== undefined && grant.status === "ACTIVE");
    clock.advance(600_000);
    assert.ok(!grantCovers(grant, "usr_other", "issue_refund", clock.now()), "past expiresAt it never acts, recorded or not");
    assert.equal((await service.list(otherOperator, {}))[0]?.status, "EXPIRED", "listed as expired before the sweep records it");
    assert.deepEqual(await Promise.all([service.sweep(), secondHost.sweep()]).then((r) => r.reduce((n, x) => n + x.expired, 0)), 1);
    assert.deepEqual(await service.sweep(), { expired: 0, overdue: 0 });
    const expired = await events("break_glass.expired");
    assert.deepEqual(expired.map((e) => e.metadata["grant_id"]), [grant.grantId]);
    assert.deepEqual((await tenants.snapshot("acme"))?.breakGlass, [], "the swept grant left the snapshot");
    const again = await service.activate(otherOperator, origin, { justification, durationSeconds: 1 });
    assert.equal(again.status, "ACTIVE");
    alerts.take();
  });

  void it("activation itself records an unrecorded expiry of the holder's previous grant, once", async () => {
    clock.advance(2000);
    const next = await service.activate(otherOperator, origin, { justification, durationSeconds: 10 });
    const expired = await events("break_glass.expired");
    assert.equal(expired.length, 2);
    assert.notEqual(expired[1]?.metadata["grant_id"], next.grantId);
    assert.equal((await store.forTenant("acme").breakGlass.list({ status: "ACTIVE", principalId: "usr_other", limit: 10 })).length, 1);
    alerts.take();
  });

  void it("an overdue review raises one WARNING alert per grant, from whichever Host sweeps first", async () => {
    clock.advance(86_400_000 + 60_000);
    const [first, second] = await Promise.all([service.sweep(), secondHost.sweep()]);
    const pending = (await service.list(reviewer, { pendingReview: true })).length;
    assert.equal(pending, 3, "the ended-and-unreviewed and the expired grants still await review");
    assert.equal((first?.overdue ?? 0) + (second?.overdue ?? 0), pending);
    const warnings = alerts.take().filter((a) => a.kind === "break_glass.review_overdue");
    assert.equal(warnings.length, pending);
    assert.ok(warnings.every((a) => a.severity === "WARNING"));
    assert.equal((await service.sweep()).overdue, 0, "once per grant");
    assert.equal((await events("break_glass.review_overdue")).length, pending);
  });
});
