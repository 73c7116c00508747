/**
 * Calls held by a REQUIRE_APPROVAL policy, through the real gateway on SQLite and PostgreSQL:
 * the call waits while an approver decides; approved it runs, rejected it is refused; a call
 * nobody decided in time is refused with the request to approve, and its retry uses the approval
 * once. Attacks: approving one's own call, another tenant approving, opening a TOOL_CALL request
 * by hand, another principal riding on someone's approval, different arguments.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { EnterpriseAuthorizationService } from "@aesp/proto/authorization";
import { SessionService, ToolService } from "@aesp/proto/client";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import type { Approval } from "@aesp/proto/governance";
import { EnterprisePolicyService } from "@aesp/proto/policy";
import { ResultStatus } from "@aesp/proto/adm";
import { assertRefused, refusalOf, startTestHost, textStatsContract } from "../support/harness.ts";
import type { Actor, StorageKind, TestHost } from "../support/harness.ts";
import { connectRawRuntime } from "../support/raw-runtime.ts";
import type { RawRuntime } from "../support/raw-runtime.ts";

const LONG = "a long text that needs a human yes";

for (const kind of ["sqlite", "postgres"] as StorageKind[]) {
  void describe(`calls held for approval on ${kind}`, () => {
    let t: TestHost;
    let approver: Actor;
    let agent: Actor;
    let otherAgent: Actor;
    /** An agent that may also approve: it must still never approve its own call. */
    let approvingAgent: Actor;
    let runtime: RawRuntime;
    const sessions = new Map<Actor, string>();

    const invoke = (actor: Actor, text: string, timeoutMs = 0) =>
      actor.client(ToolService).invokeTool({ sessionId: sessions.get(actor) ?? "", call: { name: "text_stats", args: { text } }, timeoutMs });

    /** The pending TOOL_CALL request of `requester`, once the held call has opened it. */
    async function pendingRequestOf(requester: Actor): Promise<Approval> {
      for (let attempt = 0; attempt < 200; attempt++) {
        const { approvals } = await approver.client(EnterpriseGovernanceService).listPendingApprovals({ artifactType: "TOOL_CALL", limit: 500 });
        const found = approvals.find((a) => a.requesterId === requester.principalId && a.status === "PENDING");
        if (found !== undefined) return found;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error("the held call opened no approval request");
    }

    const decide = (actor: Actor, approvalRequestId: string, decision: "APPROVE" | "REJECT", comments = "") =>
      actor.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId, decision, comments });

    before(async () => {
      t = await startTestHost(kind, { "governance.call_approval_wait_seconds": 30, "governance.call_approval_poll_ms": 100 });
      approver = await t.actor("approver", ["approver"]);
      agent = await t.actor("agent", ["agent"]);
      otherAgent = await t.actor("other-agent", ["agent"]);
      approvingAgent = await t.actor("approving-agent", ["agent", "approver"]);
      await t.activate(textStatsContract, t.admin, approver);
      runtime = await connectRawRuntime({
        url: t.host.runtimePlaneUrl,
        credentials: await t.enroll(t.admin, "text-tools", ["text_stats"]),
        contracts: ["text_stats@1.0.0"],
        handlers: { "text_stats@1.0.0": async (call) => { const text = call.call?.args?.["text"]; return { words: 1, characters: typeof text === "string" ? text.length : 0 }; } },
      });
      for (const actor of [agent, otherAgent, approvingAgent]) sessions.set(actor, (await actor.client(SessionService).createSession({ ttlSeconds: 3600 })).sessionId);
      const policies = t.admin.client(EnterprisePolicyService);
      await policies.createPolicy({
        policy: {
          policyId: "approve-long-texts",
          name: "Long texts need an approver",
          rule: { condition: "has(args.text) && size(args.text) > 20", effect: "REQUIRE_APPROVAL", actions: ["tools:invoke"], parameters: { approvers: "role:approver" } },
          appliesTo: ["contract:text_stats"],
          enabled: true,
        },
      });
      const requested = await t.admin.client(EnterpriseGovernanceService).requestApproval({ artifactType: "POLICY", artifactId: "approve-long-texts@1", justification: "held calls" });
      const id = requested.responseType.case === "successDetails" ? requested.responseType.value.approvalRequestId : "";
      await decide(approver, id, "APPROVE");
    });

    after(async () => {
      runtime?.close();
      await t?.stop();
    });

    test("ValidatePolicy checks the approvers of a REQUIRE_APPROVAL policy", async () => {
      const { issues } = await t.admin.client(EnterprisePolicyService).validatePolicy({
        policy: { name: "x", rule: { condition: "true", effect: "REQUIRE_APPROVAL", parameters: { approvers: "role:approver, everyone" } }, enabled: true },
      });
      assert.deepEqual(
        issues.map((i) => [i.severity, i.field]),
        [["ERROR", "rule.parameters[approvers]"]],
      );
      assert.match(issues[0]?.message ?? "", /"everyone" is not an approver/);
    });

    test("a call the policy does not hold runs at once", async () => {
      const response = await invoke(agent, "short");
      assert.equal(response.result?.status, ResultStatus.SUCCESS);
    });

    test("a held call waits; once an approver approves it runs, and the audit log tells the story", async () => {
      const pending = invoke(agent, LONG);
      const request = await pendingRequestOf(agent);
      assert.deepEqual([request.artifactType, request.requiredApprovers, request.metadata["contract"], request.metadata["policies"]], ["TOOL_CALL", ["role:approver"], "text_stats", "approve-long-texts"]);
      assert.match(request.artifactId, /^call:[0-9a-f]{64}$/);
      // The agent cannot decide (no governance:adjudicate); the approver can.
      await assertRefused(decide(agent, request.approvalRequestId, "APPROVE"), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await decide(approver, request.approvalRequestId, "APPROVE", "looks fine");
      const response = await pending;
      assert.equal(response.result?.status, ResultStatus.SUCCESS);

      const { events } = await t.admin.client(EnterpriseAuditService).queryEvents({ limit: 1000, eventTypes: ["tool_call.approval_requested", "tool_call.approval_used", "approval.granted"] });
      const mine = events.filter((e) => e.metadata["approval_request_id"] === request.approvalRequestId);
      assert.deepEqual(mine.map((e) => e.eventType).sort(), ["approval.granted", "tool_call.approval_requested", "tool_call.approval_used"]);
      assert.equal(mine.find((e) => e.eventType === "tool_call.approval_used")?.metadata["approved_by"], approver.principalId);
    });

    test("a rejected call is refused with APPROVAL_REJECTED and the approver's comments", async () => {
      const pending = refusalOf(invoke(agent, `${LONG}, rejected`));
      const request = await pendingRequestOf(agent);
      await decide(approver, request.approvalRequestId, "REJECT", "not today");
      const refusal = await pending;
      assert.equal(refusal.error?.code, "APPROVAL_REJECTED");
      assert.equal(refusal.error?.details["comments"], "not today");
      assert.equal(refusal.error?.details["applied_policies"], "approve-long-texts");
    });

    test("nobody may approve their own call, even holding the approver role", async () => {
      const pending = refusalOf(invoke(approvingAgent, `${LONG}, self`, 3000));
      const request = await pendingRequestOf(approvingAgent);
      await assertRefused(decide(approvingAgent, request.approvalRequestId, "APPROVE"), "SELF_APPROVAL_FORBIDDEN", Code.PermissionDenied);
      const refusal = await pending;
      assert.equal(refusal.error?.code, "APPROVAL_REQUIRED");
      assert.equal(refusal.error?.details["approval_request_id"], request.approvalRequestId);
    });

    test("undecided in time: APPROVAL_REQUIRED names the request; the retry uses a later approval exactly once", async () => {
      const text = `${LONG}, approved later`;
      const first = await refusalOf(invoke(agent, text, 1500));
      assert.equal(first.error?.code, "APPROVAL_REQUIRED");
      const approvalRequestId = first.error?.details["approval_request_id"] ?? "";
      assert.equal(first.error?.details["required_approvers"], "role:approver");
      assert.equal(first.error?.details["decision_reason"], "approval required by policy approve-long-texts");

      // An identical retry while undecided joins the same request rather than opening another.
      const joined = await refusalOf(invoke(agent, text, 1000));
      assert.equal(joined.error?.details["approval_request_id"], approvalRequestId);

      await decide(approver, approvalRequestId, "APPROVE");
      // Another principal's identical call, and the agent's call with other arguments, get nothing from it.
      const other = await refusalOf(invoke(otherAgent, text, 1000));
      assert.equal(other.error?.code, "APPROVAL_REQUIRED");
      assert.notEqual(other.error?.details["approval_request_id"], approvalRequestId);
      const otherArgs = await refusalOf(invoke(agent, `${text}!`, 1000));
      assert.notEqual(otherArgs.error?.details["approval_request_id"], approvalRequestId);

      const retried = await invoke(agent, text, 1000);
      assert.equal(retried.result?.status, ResultStatus.SUCCESS);
      const again = await refusalOf(invoke(agent, text, 1000));
      assert.equal(again.error?.code, "APPROVAL_REQUIRED", "an approval is used once");
      assert.notEqual(again.error?.details["approval_request_id"], approvalRequestId);
    });

    test("TOOL_CALL requests cannot be opened by hand, and another tenant cannot see or decide them", async () => {
      await assertRefused(
        t.admin.client(EnterpriseGovernanceService).requestApproval({ artifactType: "TOOL_CALL", artifactId: "call:00", justification: "forged" }),
        "INVALID_ARGUMENT",
        Code.InvalidArgument,
      );
      const pending = refusalOf(invoke(agent, `${LONG}, cross-tenant`, 3000));
      const request = await pendingRequestOf(agent);
      const otherAdmin = await t.tenant(`other-${kind}`);
      const foreign = await otherAdmin.client(EnterpriseGovernanceService).listPendingApprovals({ artifactType: "TOOL_CALL", limit: 500 });
      assert.deepEqual(foreign.approvals, []);
      await assertRefused(decide(otherAdmin, request.approvalRequestId, "APPROVE"), "NOT_FOUND", Code.NotFound);
      assert.equal((await pending).error?.code, "APPROVAL_REQUIRED");
    });

    test("AuthorizeAction does not call a held call authorized, and says why", async () => {
      const authorization = agent.client(EnterpriseAuthorizationService);
      const held = await authorization.authorizeAction({ resource: "contract:text_stats", action: "tools:invoke", context: { args: JSON.stringify({ text: LONG }) } });
      assert.deepEqual([held.authorized, held.decisionReason], [false, "approval required by policy approve-long-texts"]);
      const free = await authorization.authorizeAction({ resource: "contract:text_stats", action: "tools:invoke", context: { args: JSON.stringify({ text: "short" }) } });
      assert.equal(free.authorized, true);
    });
  });
}
