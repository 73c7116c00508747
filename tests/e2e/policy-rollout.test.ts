/**
 * Staged policy rollouts through the real gateway, on SQLite and PostgreSQL: a shadow records
 * disagreements and never changes an outcome; a canary waits for its approval, then acts for the
 * chosen principal only and is promoted; a canary that disagrees past its threshold rolls back by
 * itself (audited as a security event) and afterwards only the baseline acts. Then the rules are
 * attacked: another tenant's rollout, unapproved canaries, missing permissions, bad settings.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { SessionService, ToolService } from "@aesp/proto/client";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { EnterprisePolicyService } from "@aesp/proto/policy";
import type { PolicyRollout } from "@aesp/proto/policy";
import type { AuditEvent, PolicyDefinitionSchema } from "@aesp/proto/enterprise";
import { ResultStatus } from "@aesp/proto/adm";
import { assertRefused, enterpriseErrorOf, startTestHost, textStatsContract } from "../support/harness.ts";
import type { Actor, StorageKind, TestHost } from "../support/harness.ts";
import { connectRawRuntime } from "../support/raw-runtime.ts";
import type { RawHandler, RawRuntime } from "../support/raw-runtime.ts";

type PolicyInit = MessageInitShape<typeof PolicyDefinitionSchema>;

const textStats: RawHandler = async (call) => {
  const arg = call.call?.args?.["text"];
  const text = typeof arg === "string" ? arg : "";
  return { words: text.split(/\s+/).filter(Boolean).length, characters: text.length };
};

/** The policy under rollout: texts longer than `limit` are refused. */
function capAt(limit: number): PolicyInit {
  return {
    policyId: "cap-text",
    name: "Cap text length",
    description: `Texts longer than ${limit} characters are refused.`,
    rule: { condition: `has(args.text) && size(args.text) > ${limit}`, effect: "DENY", actions: ["tools:invoke"] },
    appliesTo: ["contract:text_stats"],
    enabled: true,
  };
}

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

async function approvalOf(author: Actor, artifactId: string, metadata: Record<string, string> = {}): Promise<string> {
  const requested = await author.client(EnterpriseGovernanceService).requestApproval({ artifactType: "POLICY", artifactId, justification: "test", metadata });
  assert.equal(requested.responseType.case, "successDetails");
  return requested.responseType.case === "successDetails" ? requested.responseType.value.approvalRequestId : "";
}

for (const kind of ["sqlite", "postgres"] as StorageKind[]) {
  void describe(`policy rollouts on ${kind}`, () => {
    let t: TestHost;
    let approver: Actor;
    let agent: Actor;
    let bystander: Actor;
    let runtime: RawRuntime;
    const sessions = new Map<string, string>();

    /** One text_stats call; ALLOW or the refusal code. */
    async function call(actor: Actor, correlationId: string, length: number): Promise<string> {
      let sessionId = sessions.get(actor.principalId);
      if (sessionId === undefined) {
        ({ sessionId } = await actor.client(SessionService).createSession({ ttlSeconds: 3600 }));
        sessions.set(actor.principalId, sessionId);
      }
      try {
        const response = await actor.client(ToolService).invokeTool({ sessionId, call: { name: "text_stats", args: { text: "x".repeat(length) } } }, { headers: { "x-correlation-id": correlationId } });
        assert.equal(response.result?.status, ResultStatus.SUCCESS);
        return "ALLOW";
      } catch (err) {
        assert.equal(ConnectError.from(err).code, Code.PermissionDenied);
        return enterpriseErrorOf(err)?.code ?? "?";
      }
    }

    async function rollout(rolloutId: string): Promise<PolicyRollout> {
      const found = (await approver.client(EnterprisePolicyService).getPolicyRollout({ rolloutId })).rollout;
      assert.ok(found !== undefined);
      return found;
    }

    async function status(version: number): Promise<string> {
      return (await t.admin.client(EnterprisePolicyService).getPolicy({ policyId: "cap-text", version: String(version) })).policy?.status ?? "";
    }

    /** The `policy.decided` event of a call, by correlation id. */
    async function decided(correlationId: string): Promise<AuditEvent | undefined> {
      return (await events(t.admin, ["policy.decided"])).find((e) => e.correlationId === correlationId);
    }

    before(async () => {
      // Two counted calls per batch: the call that fills it flushes the counts to the store.
      t = await startTestHost(kind, { "policy_rollouts.flush_every": 2 });
      approver = await t.actor("approver", ["approver"]);
      agent = await t.actor("agent", ["agent"]);
      bystander = await t.actor("bystander", ["agent"]);
      await t.activate(textStatsContract, t.admin, approver);
      runtime = await connectRawRuntime({
        url: t.host.runtimePlaneUrl,
        credentials: await t.enroll(t.admin, "text-tools", ["text_stats"]),
        contracts: ["text_stats@1.0.0"],
        handlers: { "text_stats@1.0.0": textStats },
      });
      const policies = t.admin.client(EnterprisePolicyService);
      await policies.createPolicy({ policy: capAt(20) });
      await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: await approvalOf(t.admin, "cap-text@1"), decision: "APPROVE" });
      await policies.updatePolicy({ policy: capAt(10), expectedVersion: "1" });
    });

    after(async () => {
      runtime?.close();
      await t?.stop();
    });

    test("a shadow records disagreements and never changes an outcome", async () => {
      const started = (await t.admin.client(EnterprisePolicyService).startPolicyRollout({ policyId: "cap-text", version: "2", mode: "SHADOW", minSamples: 1000n })).rollout;
      assert.deepEqual([started?.status, started?.candidateVersion, started?.baselineVersion, started?.mode], ["RUNNING", "2", "1", "SHADOW"]);
      const rolloutId = started?.rolloutId ?? "";
      // v1 (acting) allows 15 characters, v2 (shadow) would deny them.
      assert.equal(await call(agent, "shadow-15", 15), "ALLOW");
      assert.equal(await call(agent, "shadow-25", 25), "POLICY_VIOLATION");
      assert.equal(await call(agent, "shadow-5", 5), "ALLOW");
      assert.equal(await call(bystander, "shadow-15b", 15), "ALLOW");
      const counted = await rollout(rolloutId);
      assert.deepEqual([counted.evaluated, counted.disagreements, counted.status], [4n, 2n, "RUNNING"]);

      const disagreements = await events(t.admin, ["policy.shadow_disagreement"]);
      assert.deepEqual(disagreements.map((e) => e.correlationId).sort(), ["shadow-15", "shadow-15b"]);
      const first = disagreements.find((e) => e.correlationId === "shadow-15");
      const decision = await decided("shadow-15");
      assert.deepEqual(
        [first?.metadata["rollout_id"], first?.metadata["baseline_decision"], first?.metadata["candidate_decision"], first?.metadata["candidate_reason"], first?.metadata["acting_version"]],
        [rolloutId, "ALLOW", "DENY", "denied by policy cap-text", "baseline"],
      );
      assert.equal(first?.metadata["invocation_id"], decision?.metadata["invocation_id"]);
      assert.deepEqual([decision?.metadata["rollout_id"], decision?.metadata["acting_version"], decision?.metadata["acting_policy_version"], decision?.metadata["decision"]], [rolloutId, "baseline", "cap-text@1", "ALLOW"]);

      // While it runs, no second rollout starts and the shadowed version cannot be activated ordinarily.
      await assertRefused(t.admin.client(EnterprisePolicyService).startPolicyRollout({ policyId: "cap-text", version: "2", mode: "SHADOW" }), "INVALID_STATE_TRANSITION", Code.FailedPrecondition);
      const ordinary = await approvalOf(t.admin, "cap-text@2");
      await assertRefused(approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: ordinary, decision: "APPROVE" }), "INVALID_STATE_TRANSITION", Code.FailedPrecondition);
      await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: ordinary, decision: "REJECT", comments: "use the canary" });
      await assertRefused(approver.client(EnterprisePolicyService).promotePolicyRollout({ rolloutId, reason: "x" }), "INVALID_STATE_TRANSITION", Code.FailedPrecondition);

      const stopped = (await approver.client(EnterprisePolicyService).stopPolicyRollout({ rolloutId, reason: "seen enough" })).rollout;
      assert.deepEqual([stopped?.status, stopped?.endedBy, stopped?.endReason], ["STOPPED", approver.principalId, "seen enough"]);
      assert.equal(await status(1), "ACTIVE");
      assert.equal(await call(agent, "after-shadow", 15), "ALLOW");
      assert.equal((await decided("after-shadow"))?.metadata["rollout_id"], undefined, "no rollout runs any more");
    });

    test("a canary waits for its approval, then acts for the chosen principal only, and is promoted", async () => {
      const policies = t.admin.client(EnterprisePolicyService);
      // The rejected v2 cannot be a canary; v3 (same rule) can.
      await assertRefused(policies.startPolicyRollout({ policyId: "cap-text", version: "2", mode: "CANARY", principals: [agent.principalId] }), "INVALID_STATE_TRANSITION", Code.FailedPrecondition);
      await policies.updatePolicy({ policy: capAt(10), expectedVersion: "2" });
      const started = (await policies.startPolicyRollout({ policyId: "cap-text", version: "3", mode: "CANARY", principals: [agent.principalId], justification: "tighter cap" })).rollout;
      assert.deepEqual([started?.status, started?.baselineVersion], ["PENDING_APPROVAL", "1"]);
      const rolloutId = started?.rolloutId ?? "";
      const approvalId = started?.approvalRequestId ?? "";
      assert.notEqual(approvalId, "");

      // Unapproved: nothing acts, it cannot be promoted, and its starter cannot approve it.
      assert.equal(await call(agent, "pending-15", 15), "ALLOW");
      await assertRefused(approver.client(EnterprisePolicyService).promotePolicyRollout({ rolloutId, reason: "skip approval" }), "INVALID_STATE_TRANSITION", Code.FailedPrecondition);
      await assertRefused(t.admin.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: approvalId, decision: "APPROVE" }), "SELF_APPROVAL_FORBIDDEN", Code.PermissionDenied);

      await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: approvalId, decision: "APPROVE" });
      assert.equal((await rollout(rolloutId)).status, "RUNNING");
      assert.deepEqual([await status(1), await status(3)], ["ACTIVE", "ACTIVE"], "the baseline stays in force next to the canary");

      assert.equal(await call(agent, "canary-15", 15), "POLICY_VIOLATION");
      assert.equal(await call(bystander, "bystander-15", 15), "ALLOW");
      assert.equal(await call(agent, "canary-5", 5), "ALLOW");
      const canary = await decided("canary-15");
      assert.deepEqual([canary?.metadata["acting_version"], canary?.metadata["acting_policy_version"], canary?.metadata["rollout_id"]], ["candidate", "cap-text@3", rolloutId]);
      assert.equal((await decided("bystander-15"))?.metadata["acting_policy_version"], "cap-text@1");
      const counted = await rollout(rolloutId);
      assert.deepEqual([counted.evaluated, counted.disagreements], [3n, 2n], "both versions are decided on every call");
      assert.ok((await events(t.admin, ["policy.rollout_started"])).some((e) => e.metadata["rollout_id"] === rolloutId && e.principalId === approver.principalId));

      // Promotion needs governance:adjudicate.
      await assertRefused(agent.client(EnterprisePolicyService).promotePolicyRollout({ rolloutId, reason: "mine" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      const promoted = (await approver.client(EnterprisePolicyService).promotePolicyRollout({ rolloutId, reason: "no surprises" })).rollout;
      assert.equal(promoted?.status, "PROMOTED");
      assert.deepEqual([await status(1), await status(3)], ["RETIRED", "ACTIVE"]);
      assert.equal(await call(bystander, "promoted-15", 15), "POLICY_VIOLATION");
      assert.ok((await events(t.admin, ["policy.rollout_promoted"])).some((e) => e.metadata["rollout_id"] === rolloutId));
    });

    test("a canary that disagrees past its threshold rolls back by itself; then only the baseline acts", async () => {
      const policies = t.admin.client(EnterprisePolicyService);
      await policies.updatePolicy({ policy: capAt(3), expectedVersion: "3" });
      const started = (await policies.startPolicyRollout({ policyId: "cap-text", version: "4", mode: "CANARY", principals: [bystander.principalId], threshold: 0.25, minSamples: 4n })).rollout;
      const rolloutId = started?.rolloutId ?? "";
      await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: started?.approvalRequestId ?? "", decision: "APPROVE" });
      // v3 allows 5 characters, v4 denies them: every call disagrees; the bystander is in the canary.
      const outcomes = [];
      for (let i = 0; i < 4; i++) outcomes.push(await call(bystander, `rollback-${i}`, 5));
      assert.deepEqual(outcomes, ["POLICY_VIOLATION", "POLICY_VIOLATION", "POLICY_VIOLATION", "POLICY_VIOLATION"]);

      const ended = await rollout(rolloutId);
      assert.deepEqual([ended.status, ended.evaluated, ended.disagreements, ended.endedBy], ["ROLLED_BACK", 4n, 4n, ""]);
      assert.match(ended.endReason, /disagreement rate 1\.0000 exceeded the threshold 0\.25 after 4 evaluations/);
      assert.deepEqual([await status(3), await status(4)], ["ACTIVE", "RETIRED"]);
      assert.equal(await call(bystander, "after-rollback", 5), "ALLOW");
      assert.equal((await decided("after-rollback"))?.metadata["rollout_id"], undefined);

      const audited = (await events(t.admin, ["policy.rollout_rolled_back"])).filter((e) => e.metadata["rollout_id"] === rolloutId);
      assert.equal(audited.length, 1);
      assert.deepEqual([audited[0]?.riskScore, audited[0]?.metadata["evaluated"], audited[0]?.metadata["disagreements"]], ["HIGH", "4", "4"]);
      assert.ok((await events(t.admin, ["policy.retired"])).some((e) => e.resource === "policy:cap-text@4"));
    });

    test("attacks: other tenants, missing permissions, forged canary approvals and bad settings are refused", async () => {
      const policies = t.admin.client(EnterprisePolicyService);
      await policies.updatePolicy({ policy: capAt(8), expectedVersion: "4" });
      const live = (await policies.startPolicyRollout({ policyId: "cap-text", version: "5", mode: "SHADOW" })).rollout;
      const rolloutId = live?.rolloutId ?? "";

      const other = await t.tenant("rollout-other");
      const foreign = other.client(EnterprisePolicyService);
      await assertRefused(foreign.getPolicyRollout({ rolloutId }), "NOT_FOUND", Code.NotFound);
      await assertRefused(foreign.stopPolicyRollout({ rolloutId, reason: "x" }), "NOT_FOUND", Code.NotFound);
      await assertRefused(foreign.promotePolicyRollout({ rolloutId, reason: "x" }), "NOT_FOUND", Code.NotFound);
      assert.deepEqual((await foreign.listPolicyRollouts({})).rollouts, []);
      await assertRefused(foreign.startPolicyRollout({ policyId: "cap-text", version: "5", mode: "SHADOW" }), "NOT_FOUND", Code.NotFound);
      await assertRefused(foreign.getPolicyRollout({ rolloutId, tenantId: t.admin.tenantId }), "NOT_FOUND", Code.NotFound);

      await assertRefused(agent.client(EnterprisePolicyService).startPolicyRollout({ policyId: "cap-text", version: "5", mode: "SHADOW" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(approver.client(EnterprisePolicyService).startPolicyRollout({ policyId: "cap-text", version: "5", mode: "SHADOW" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(agent.client(EnterprisePolicyService).stopPolicyRollout({ rolloutId, reason: "x" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);

      // An approval that names a rollout not waiting for it can never activate the version.
      await approver.client(EnterprisePolicyService).stopPolicyRollout({ rolloutId, reason: "make room" });
      const forged = await approvalOf(t.admin, "cap-text@5", { rollout_id: rolloutId });
      const refused = await assertRefused(approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: forged, decision: "APPROVE" }), "INVALID_STATE_TRANSITION", Code.FailedPrecondition);
      assert.equal(refused.error?.details["approval_request_id"], forged);
      assert.equal(await status(5), "PENDING_APPROVAL");
      await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: forged, decision: "REJECT" });

      await policies.updatePolicy({ policy: capAt(9), expectedVersion: "5" });
      const bad = (settings: Record<string, unknown>) => policies.startPolicyRollout({ policyId: "cap-text", version: "6", mode: "CANARY", principals: [agent.principalId], ...settings });
      for (const [settings, field] of [
        [{ percent: 101 }, "percent"],
        [{ percent: 0, principals: [] }, "percent"],
        [{ threshold: 1.5 }, "threshold"],
        [{ threshold: -0.1 }, "threshold"],
        [{ principals: ["no spaces allowed"] }, "principals[0]"],
        [{ mode: "BLUE_GREEN" }, "mode"],
        [{ endsAt: 1n }, "ends_at"],
      ] as const) {
        const refusal = await assertRefused(bad(settings), "INVALID_ARGUMENT", Code.InvalidArgument);
        assert.equal(refusal.error?.details["field"], field, JSON.stringify(settings, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)));
      }
      await assertRefused(policies.startPolicyRollout({ policyId: "cap-text", version: "99", mode: "SHADOW" }), "NOT_FOUND", Code.NotFound);
      assert.deepEqual((await policies.listPolicyRollouts({ status: "RUNNING" })).rollouts, [], "nothing was started by the refused attempts");
    });
  });
}
