/**
 * Break-glass (emergency override) through the real gateway, on SQLite and PostgreSQL: a DENY
 * policy refuses a call → the holder activates a grant → the same call goes on, audited as
 * break_glass.used → after the grant ends or expires the call is refused again. Then the attacks,
 * each with its exact code: no permission, short justification, too long a duration, a second
 * activation, another tenant's grant id, self-review, a grant limited to contract A used on
 * contract B — and under an active grant covering everything, authentication, tenant isolation,
 * RBAC, clearance, schema validation and capacity limits still refuse.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { BreakGlassService } from "@aesp/proto/break_glass";
import { SessionService, ToolService } from "@aesp/proto/client";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { EnterprisePolicyService } from "@aesp/proto/policy";
import type { AuditEvent } from "@aesp/proto/enterprise";
import { ResultStatus } from "@aesp/proto/adm";
import { assertRefused, startTestHost, textStatsContract } from "../support/harness.ts";
import type { Actor, StorageKind, TestHost } from "../support/harness.ts";
import { connectRawRuntime } from "../support/raw-runtime.ts";
import type { RawHandler, RawRuntime } from "../support/raw-runtime.ts";

const justification = "INC-4711: payments outage; the blanket deny blocks the fix";

const charCountContract = { ...textStatsContract, name: "char_count", description: "Counts characters." };
const vaultContract = { ...textStatsContract, name: "vault", description: "Reads the vault.", securityClassification: "confidential" };
const payrollContract = { ...textStatsContract, name: "payroll", description: "Runs payroll.", requiredPermissions: ["payroll:run"] };
const contracts = [textStatsContract, charCountContract, vaultContract, payrollContract];

/** Every audit event of the caller's tenant of the given types. */
async function events(actor: Actor, eventTypes: string[]): Promise<AuditEvent[]> {
  const all: AuditEvent[] = [];
  let cursor = "";
  for (;;) {
    const page = await actor.client(EnterpriseAuditService).queryEvents({ limit: 1000, cursor, eventTypes });
    all.push(...page.events);
    if (page.nextCursor === "") return all;
    cursor = page.nextCursor;
  }
}

function breakGlass(actor: Actor): Client<typeof BreakGlassService> {
  return actor.client(BreakGlassService);
}

for (const kind of ["sqlite", "postgres"] as StorageKind[]) {
  void describe(`break-glass on ${kind}`, () => {
    let t: TestHost;
    let approver: Actor;
    let oncall: Actor;
    let lead: Actor;
    let agent: Actor;
    let globex: Actor;
    let runtime: RawRuntime;
    let policyId: string;
    const sessions = new Map<string, string>();
    /** Calls with this text wait at the runtime until released. */
    let release: () => void = () => undefined;
    let held = new Promise<void>((resolve) => (release = resolve));

    const textStats: RawHandler = async (call) => {
      const arg = call.call?.args?.["text"];
      const text = typeof arg === "string" ? arg : "";
      if (text === "hold") await held;
      return { words: text.split(/\s+/).filter(Boolean).length, characters: text.length };
    };

    async function sessionOf(actor: Actor): Promise<string> {
      let id = sessions.get(actor.principalId);
      if (id === undefined) {
        id = (await actor.client(SessionService).createSession({ ttlSeconds: 3600 })).sessionId;
        sessions.set(actor.principalId, id);
      }
      return id;
    }

    async function invoke(actor: Actor, name: string, args: Record<string, string> = { text: "fix the outage" }) {
      return actor.client(ToolService).invokeTool({ sessionId: await sessionOf(actor), call: { name, args } });
    }

    async function succeeds(actor: Actor, name: string): Promise<string> {
      const response = await invoke(actor, name);
      assert.equal(response.result?.status, ResultStatus.SUCCESS);
      return response.invocationId;
    }

    before(async () => {
      t = await startTestHost(kind, { "invocation.max_in_flight_per_session": 1 });
      approver = await t.actor("approver", ["approver"]);
      oncall = await t.actor("oncall", ["agent", "break-glass-operator"]);
      lead = await t.actor("lead", ["agent", "break-glass-operator", "approver"], t.admin, "internal");
      agent = await t.actor("agent", ["agent"]);
      globex = await t.tenant("globex");
      for (const contract of contracts) await t.activate(contract, t.admin, approver);
      runtime = await connectRawRuntime({
        url: t.host.runtimePlaneUrl,
        credentials: await t.enroll(t.admin, "text-tools", contracts.map((c) => c.name)),
        contracts: contracts.map((c) => `${c.name}@1.0.0`),
        handlers: Object.fromEntries(contracts.map((c) => [`${c.name}@1.0.0`, textStats])),
      });
      const created = await t.admin.client(EnterprisePolicyService).createPolicy({
        policy: { policyId: "freeze", name: "Change freeze", rule: { condition: "true", effect: "DENY", actions: ["tools:invoke"] }, appliesTo: contracts.map((c) => `contract:${c.name}`), enabled: true },
      });
      policyId = created.policy?.policyId ?? "";
      const requested = await t.admin.client(EnterpriseGovernanceService).requestApproval({ artifactType: "POLICY", artifactId: `${policyId}@1`, justification: "freeze" });
      assert.equal(requested.responseType.case, "successDetails");
      if (requested.responseType.case === "successDetails") {
        await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: requested.responseType.value.approvalRequestId, decision: "APPROVE" });
      }
    });

    after(async () => {
      release();
      runtime?.close();
      await t?.stop();
    });

    test("the DENY policy refuses; activation is refused without the permission, with a short justification, too long a duration or an unknown contract, each audited", async () => {
      const refused = await assertRefused(invoke(oncall, "text_stats"), "POLICY_VIOLATION", Code.PermissionDenied);
      assert.equal(refused.error?.details["denying_policy"], policyId);

      await assertRefused(breakGlass(agent).activateBreakGlass({ justification, durationSeconds: 600n }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      const short = await assertRefused(breakGlass(oncall).activateBreakGlass({ justification: "it is urgent", durationSeconds: 600n }), "INVALID_ARGUMENT", Code.InvalidArgument);
      assert.equal(short.error?.details["field"], "justification");
      for (const durationSeconds of [3601n, 14_401n, 0n, -1n, 9_007_199_254_740_993n]) {
        const long = await assertRefused(breakGlass(oncall).activateBreakGlass({ justification, durationSeconds }), "INVALID_ARGUMENT", Code.InvalidArgument);
        assert.deepEqual([long.error?.details["field"], long.error?.details["max"]], ["duration_seconds", "3600"]);
      }
      const unknown = await assertRefused(breakGlass(oncall).activateBreakGlass({ justification, durationSeconds: 600n, contracts: ["no_such_tool"] }), "INVALID_ARGUMENT", Code.InvalidArgument);
      assert.equal(unknown.error?.details["field"], "contracts");

      const refusals = await events(t.admin, ["break_glass.activation_refused"]);
      assert.deepEqual(refusals.map((e) => e.metadata["error_code"]), ["AUTHORIZATION_DENIED", ...Array.from({ length: 7 }, () => "INVALID_ARGUMENT")]);
      assert.deepEqual((await breakGlass(t.admin).listBreakGlassGrants({})).grants, [], "nothing was granted");
    });

    test("the holder activates for contract A: the same call goes on under break-glass, audited with the overridden decision; B and other principals stay refused; a second activation is ALREADY_EXISTS", async () => {
      const { grant } = await breakGlass(oncall).activateBreakGlass({ justification, durationSeconds: 600n, contracts: ["text_stats"] });
      assert.ok(grant !== undefined);
      assert.deepEqual([grant.status, grant.principalId, grant.contracts, grant.reviewStatus], ["ACTIVE", oncall.principalId, ["text_stats"], "PENDING"]);
      assert.equal(grant.expiresAt - grant.activatedAt, 600_000n);

      const invocationId = await succeeds(oncall, "text_stats");
      const used = (await events(t.admin, ["break_glass.used"])).filter((e) => e.metadata["invocation_id"] === invocationId);
      assert.equal(used.length, 1);
      assert.equal(used[0]?.riskScore, "CRITICAL");
      assert.equal(used[0]?.principalId, oncall.principalId);
      assert.deepEqual(
        [used[0]?.metadata["grant_id"], used[0]?.metadata["overridden_decision"], used[0]?.metadata["overridden_error"], used[0]?.metadata["denying_policy"], used[0]?.metadata["applied_policies"]],
        [grant.grantId, "DENY", "POLICY_VIOLATION", policyId, policyId],
      );
      const completed = (await events(t.admin, ["tool_call.completed"])).filter((e) => e.metadata["invocation_id"] === invocationId);
      assert.equal(completed.length, 1, "the overridden call completed and was recorded as such");
      const [activated] = await events(t.admin, ["break_glass.activated"]);
      assert.deepEqual([activated?.riskScore, activated?.metadata["justification"], activated?.metadata["grant_id"]], ["CRITICAL", justification, grant.grantId]);

      const again = await assertRefused(breakGlass(oncall).activateBreakGlass({ justification, durationSeconds: 60n }), "ALREADY_EXISTS", Code.AlreadyExists);
      assert.equal(again.error?.details["grant_id"], grant.grantId);
      await assertRefused(invoke(oncall, "char_count"), "POLICY_VIOLATION", Code.PermissionDenied);
      await assertRefused(invoke(agent, "text_stats"), "POLICY_VIOLATION", Code.PermissionDenied);
    });

    test("under a grant covering every contract, authentication, tenant isolation, RBAC, clearance, schema validation and capacity limits still refuse", async () => {
      await breakGlass(lead).activateBreakGlass({ justification, durationSeconds: 600n });
      await succeeds(lead, "char_count");
      const usedBefore = (await events(t.admin, ["break_glass.used"])).length;

      await assertRefused(invoke(lead, "payroll"), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(invoke(lead, "vault"), "SECURITY_CLEARANCE_INSUFFICIENT", Code.PermissionDenied);
      await assertRefused(invoke(lead, "text_stats", {}), "PARAMETER_VALIDATION_FAILED", Code.InvalidArgument);
      const sessionId = await sessionOf(lead);
      await assertRefused(createClient(ToolService, t.anonymous).invokeTool({ sessionId, call: { name: "text_stats", args: { text: "x" } } }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
      await assertRefused(createClient(ToolService, t.transport(`${lead.token}x`)).invokeTool({ sessionId, call: { name: "text_stats", args: { text: "x" } } }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
      const foreignSession = await sessionOf(globex);
      await assertRefused(lead.client(ToolService).invokeTool({ sessionId: foreignSession, call: { name: "text_stats", args: { text: "x" } } }), "SESSION_NOT_FOUND", Code.NotFound);
      assert.equal((await events(t.admin, ["break_glass.used"])).length, usedBefore, "no refusal above reached the policy stage");

      // Capacity: one call in flight per session (the Host runs with max_in_flight_per_session=1).
      const first = invoke(lead, "text_stats", { text: "hold" });
      while (!runtime.calls().some((c) => c.call?.args?.["text"] === "hold")) await sleep(10);
      await assertRefused(invoke(lead, "text_stats"), "QUOTA_EXCEEDED", Code.ResourceExhausted);
      release();
      assert.equal((await first).result?.status, ResultStatus.SUCCESS);
      held = new Promise<void>((resolve) => (release = resolve));
      // Both calls passed the policy stage under the grant (and say so); capacity still refused the second one.
      assert.equal((await events(t.admin, ["break_glass.used"])).length, usedBefore + 2);
      assert.equal((await events(t.admin, ["authz.denied"])).filter((e) => e.principalId === lead.principalId && e.metadata["error_code"] === "QUOTA_EXCEEDED").length, 1);
    });

    test("another tenant cannot see, end or review a grant (NOT_FOUND), nor name this tenant", async () => {
      const [grant] = (await breakGlass(t.admin).listBreakGlassGrants({ principalId: oncall.principalId })).grants;
      assert.ok(grant !== undefined);
      await assertRefused(breakGlass(globex).endBreakGlass({ grantId: grant.grantId, reason: "hostile" }), "NOT_FOUND", Code.NotFound);
      await assertRefused(breakGlass(globex).reviewBreakGlass({ grantId: grant.grantId, outcome: "JUSTIFIED", comments: "hostile" }), "NOT_FOUND", Code.NotFound);
      assert.deepEqual((await breakGlass(globex).listBreakGlassGrants({})).grants, []);
      await assertRefused(breakGlass(globex).listBreakGlassGrants({ tenantId: oncall.tenantId }), "NOT_FOUND", Code.NotFound);
      await assertRefused(breakGlass(globex).activateBreakGlass({ justification, durationSeconds: 60n, tenantId: oncall.tenantId }), "NOT_FOUND", Code.NotFound);
      assert.ok((await events(globex, ["security.cross_tenant_attempt"])).length >= 2);
      assert.equal((await breakGlass(t.admin).listBreakGlassGrants({ principalId: oncall.principalId })).grants[0]?.status, "ACTIVE", "untouched");
    });

    test("ending: only the holder or an administrator; the call is refused again at once; the review is mandatory, after the end, and never by the holder", async () => {
      const [grant] = (await breakGlass(t.admin).listBreakGlassGrants({ principalId: oncall.principalId })).grants;
      const [leadGrant] = (await breakGlass(t.admin).listBreakGlassGrants({ principalId: lead.principalId })).grants;
      assert.ok(grant !== undefined && leadGrant !== undefined);
      await assertRefused(breakGlass(agent).endBreakGlass({ grantId: grant.grantId, reason: "not mine" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(breakGlass(lead).endBreakGlass({ grantId: grant.grantId, reason: "not mine" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(breakGlass(approver).reviewBreakGlass({ grantId: grant.grantId, outcome: "JUSTIFIED", comments: "early" }), "INVALID_STATE_TRANSITION", Code.FailedPrecondition);

      const ended = (await breakGlass(oncall).endBreakGlass({ grantId: grant.grantId, reason: "outage resolved" })).grant;
      assert.deepEqual([ended?.status, ended?.closedBy, ended?.closeReason], ["ENDED", oncall.principalId, "outage resolved"]);
      await assertRefused(invoke(oncall, "text_stats"), "POLICY_VIOLATION", Code.PermissionDenied);
      await breakGlass(t.admin).endBreakGlass({ grantId: leadGrant.grantId, reason: "administrator closes it" });
      await assertRefused(invoke(lead, "char_count"), "POLICY_VIOLATION", Code.PermissionDenied);
      await assertRefused(breakGlass(oncall).endBreakGlass({ grantId: grant.grantId, reason: "again" }), "INVALID_STATE_TRANSITION", Code.FailedPrecondition);

      await assertRefused(breakGlass(oncall).reviewBreakGlass({ grantId: grant.grantId, outcome: "JUSTIFIED", comments: "me" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(breakGlass(lead).reviewBreakGlass({ grantId: leadGrant.grantId, outcome: "JUSTIFIED", comments: "I was right" }), "SELF_APPROVAL_FORBIDDEN", Code.PermissionDenied);
      const blocked = await events(t.admin, ["break_glass.self_review_blocked"]);
      assert.deepEqual(blocked.map((e) => [e.principalId, e.metadata["grant_id"]]), [[lead.principalId, leadGrant.grantId]]);
      await assertRefused(breakGlass(approver).reviewBreakGlass({ grantId: grant.grantId, outcome: "maybe", comments: "?" }), "INVALID_ARGUMENT", Code.InvalidArgument);

      assert.deepEqual((await breakGlass(approver).listBreakGlassGrants({ pendingReview: true })).grants.map((g) => g.grantId).sort(), [grant.grantId, leadGrant.grantId].sort());
      const justified = (await breakGlass(lead).reviewBreakGlass({ grantId: grant.grantId, outcome: "justified", comments: "matches INC-4711" })).grant;
      assert.deepEqual([justified?.reviewStatus, justified?.reviewedBy], ["JUSTIFIED", lead.principalId]);
      await breakGlass(approver).reviewBreakGlass({ grantId: leadGrant.grantId, outcome: "UNJUSTIFIED", comments: "no ticket for char_count" });
      assert.deepEqual((await breakGlass(approver).listBreakGlassGrants({ pendingReview: true })).grants, []);
      const reviewed = await events(t.admin, ["break_glass.reviewed"]);
      assert.deepEqual(reviewed.map((e) => e.metadata["review_outcome"]), ["JUSTIFIED", "UNJUSTIFIED"]);
      assert.equal((await events(t.admin, ["break_glass.ended"])).length, 2);
    });

    test("expiry: past expires_at a grant never acts, recorded or not; the expiry is recorded once when the holder activates again", async () => {
      const { grant } = await breakGlass(oncall).activateBreakGlass({ justification, durationSeconds: 1n, contracts: ["text_stats"] });
      assert.ok(grant !== undefined);
      while (Date.now() <= Number(grant.expiresAt) + 50) await sleep(50);
      await assertRefused(invoke(oncall, "text_stats"), "POLICY_VIOLATION", Code.PermissionDenied);
      const listed = (await breakGlass(oncall).listBreakGlassGrants({})).grants.find((g) => g.grantId === grant.grantId);
      assert.equal(listed?.status, "EXPIRED");
      await assertRefused(breakGlass(oncall).endBreakGlass({ grantId: grant.grantId, reason: "late" }), "INVALID_STATE_TRANSITION", Code.FailedPrecondition);

      const next = (await breakGlass(oncall).activateBreakGlass({ justification, durationSeconds: 60n })).grant;
      assert.equal(next?.status, "ACTIVE");
      const expired = await events(t.admin, ["break_glass.expired"]);
      assert.deepEqual(expired.map((e) => e.metadata["grant_id"]), [grant.grantId]);
      await breakGlass(oncall).endBreakGlass({ grantId: next?.grantId ?? "", reason: "done" });
      await assertRefused(invoke(oncall, "text_stats"), "POLICY_VIOLATION", Code.PermissionDenied);
    });
  });
}
