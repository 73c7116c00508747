/**
 * The policy lifecycle through the real gateway, on SQLite and PostgreSQL: validate (errors with
 * positions, nothing stored) → create (DRAFT, acts only once approved) → approve → a tool call is
 * denied and the error names the policy → update (optimistic versions) → TestPolicy replays the
 * recorded decisions and reports exactly the calls whose decision changes → approve → the next
 * call behaves differently → delete through approval → the policy no longer applies.
 * Then every RPC of EnterprisePolicyService attacked across tenants.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { SessionService, ToolService } from "@aesp/proto/client";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { EnterprisePolicyService } from "@aesp/proto/policy";
import type { PolicyDefinitionSchema } from "@aesp/proto/enterprise";
import type { AuditEvent } from "@aesp/proto/enterprise";
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

/** text_stats with a secret argument, to see what the recorded decision keeps of it. */
const tokenStatsContract = {
  ...textStatsContract,
  name: "token_stats",
  description: "Counts words; takes a secret token too.",
  parameters: { type: 6, properties: { text: { type: 1, maxLength: 10_000 }, api_token: { type: 1, secret: true } }, required: ["text"] },
};

function denyLongerThan(limit: number, overrides: { policyId?: string; rule?: { condition: string; effect: string; actions?: string[] }; appliesTo?: string[]; enabled?: boolean } = {}): PolicyInit {
  return {
    policyId: overrides.policyId ?? "deny-long-text",
    name: "Deny long texts",
    description: `Texts longer than ${limit} characters are refused.`,
    rule: overrides.rule ?? { condition: `has(args.text) && size(args.text) > ${limit}`, effect: "DENY", actions: ["tools:invoke"] },
    appliesTo: overrides.appliesTo ?? ["contract:text_stats"],
    enabled: overrides.enabled ?? true,
  };
}

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

/** Asks for approval of a policy version as `author` and has `approver` approve it. */
async function approve(author: Actor, approver: Actor, artifactId: string): Promise<void> {
  const requested = await author.client(EnterpriseGovernanceService).requestApproval({ artifactType: "POLICY", artifactId, justification: "test" });
  assert.equal(requested.responseType.case, "successDetails");
  const id = requested.responseType.case === "successDetails" ? requested.responseType.value.approvalRequestId : "";
  await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: id, decision: "APPROVE" });
}

for (const kind of ["sqlite", "postgres"] as StorageKind[]) {
  void describe(`the policy lifecycle on ${kind}`, () => {
    let t: TestHost;
    let approver: Actor;
    let agent: Actor;
    let runtime: RawRuntime;
    let sessionId: string;
    const startedAt = Date.now();

    /** One text_stats call as the agent, tagged with a correlation id; its outcome as ALLOW or the refusal code. */
    async function call(correlationId: string, text: string, contract = "text_stats", extra: Record<string, string> = {}): Promise<string> {
      let response;
      try {
        response = await agent.client(ToolService).invokeTool({ sessionId, call: { name: contract, args: { text, ...extra } } }, { headers: { "x-correlation-id": correlationId } });
      } catch (err) {
        assert.equal(ConnectError.from(err).code, Code.PermissionDenied);
        return enterpriseErrorOf(err)?.code ?? "?";
      }
      assert.equal(response.result?.status, ResultStatus.SUCCESS);
      return "ALLOW";
    }

    before(async () => {
      t = await startTestHost(kind);
      approver = await t.actor("approver", ["approver"]);
      agent = await t.actor("agent", ["agent"]);
      await t.activate(textStatsContract, t.admin, approver);
      await t.activate(tokenStatsContract, t.admin, approver);
      runtime = await connectRawRuntime({
        url: t.host.runtimePlaneUrl,
        credentials: await t.enroll(t.admin, "text-tools", ["text_stats", "token_stats"]),
        contracts: ["text_stats@1.0.0", "token_stats@1.0.0"],
        handlers: { "text_stats@1.0.0": textStats, "token_stats@1.0.0": textStats },
      });
      ({ sessionId } = await agent.client(SessionService).createSession({ ttlSeconds: 3600 }));
    });

    after(async () => {
      runtime?.close();
      await t?.stop();
    });

    test("ValidatePolicy reports every problem with its field and position; CreatePolicy refuses it and stores nothing", async () => {
      const policies = t.admin.client(EnterprisePolicyService);
      const broken = denyLongerThan(20, {
        rule: { condition: 'has(args.text) &&\n  principal.rolez.exists(r, r == "x") && principal.clearance == 3', effect: "BLOCK", actions: ["Tools:Invoke"] },
        appliesTo: ["contract:txt_stats"],
      });
      const validation = await policies.validatePolicy({ policy: broken });
      assert.equal(validation.valid, false);
      assert.deepEqual(
        validation.issues.map((i) => [i.severity, i.field, i.line, i.column]),
        [
          ["ERROR", "rule.effect", 0, 0],
          ["ERROR", "rule.actions[0]", 0, 0],
          ["ERROR", "rule.condition", 2, 13],
          ["ERROR", "rule.condition", 2, 65],
          ["WARNING", "applies_to[0]", 0, 0],
        ],
      );
      assert.match(validation.issues[2]?.message ?? "", /principal has no field "rolez" \(did you mean "roles"\?\)/);
      assert.match(validation.issues[3]?.message ?? "", /compares a string with an int/);

      const refused = await assertRefused(policies.createPolicy({ policy: broken }), "INVALID_ARGUMENT", Code.InvalidArgument);
      assert.equal(refused.error?.details["field"], "rule.effect");
      const conditionOnly = await assertRefused(policies.createPolicy({ policy: denyLongerThan(20, { rule: { condition: "has(args.text) &&\n  principal.rolez == 'x'", effect: "DENY" } }) }), "INVALID_ARGUMENT", Code.InvalidArgument);
      assert.deepEqual([conditionOnly.error?.details["field"], conditionOnly.error?.details["line"], conditionOnly.error?.details["column"]], ["rule.condition", "2", "13"]);
      await assertRefused(policies.getPolicy({ policyId: "deny-long-text" }), "NOT_FOUND", Code.NotFound);

      const dryRun = await policies.createPolicy({ policy: denyLongerThan(20), dryRun: true });
      assert.deepEqual([dryRun.policy?.policyId, dryRun.policy?.version, dryRun.policy?.status], ["deny-long-text", "1", "DRAFT"]);
      assert.deepEqual((await policies.listPolicies({})).policies, [], "a dry run stores nothing");
    });

    test("a created policy is a DRAFT and does not act until approved", async () => {
      const created = await t.admin.client(EnterprisePolicyService).createPolicy({ policy: denyLongerThan(20) });
      assert.deepEqual([created.policy?.version, created.policy?.status, created.policy?.createdBy], ["1", "DRAFT", t.admin.principalId]);
      assert.deepEqual(created.issues, []);
      await assertRefused(t.admin.client(EnterprisePolicyService).createPolicy({ policy: denyLongerThan(5) }), "ALREADY_EXISTS", Code.AlreadyExists);
      assert.equal(await call("pre-long", "x".repeat(25)), "ALLOW");
      assert.equal(await call("pre-mid", "y".repeat(15)), "ALLOW");
    });

    test("once approved, a call is denied and the error names the policy and the reason", async () => {
      await approve(t.admin, approver, "deny-long-text@1");
      const { policy } = await t.admin.client(EnterprisePolicyService).getPolicy({ policyId: "deny-long-text" });
      assert.equal(policy?.status, "ACTIVE");
      const refusal = await assertRefused(
        agent.client(ToolService).invokeTool({ sessionId, call: { name: "text_stats", args: { text: "z".repeat(30) } } }, { headers: { "x-correlation-id": "v1-long" } }),
        "POLICY_VIOLATION",
        Code.PermissionDenied,
      );
      assert.equal(refusal.error?.details["applied_policies"], "deny-long-text");
      assert.equal(refusal.error?.details["decision_reason"], "denied by policy deny-long-text");
      assert.equal(refusal.error?.details["denying_policy"], "deny-long-text");
      assert.equal(await call("v1-mid", "m".repeat(15)), "ALLOW");
      assert.equal(await call("v1-mid-2", "n".repeat(12)), "ALLOW");
      assert.equal(await call("v1-short", "short"), "ALLOW");
      const denied = (await events(t.admin, ["authz.denied"])).find((e) => e.correlationId === "v1-long");
      assert.equal(denied?.metadata["decision_reason"], "denied by policy deny-long-text");
      assert.deepEqual(denied?.policyViolations, ["deny-long-text"]);
    });

    test("an update is a new DRAFT version; a stale expected_version is a CONFLICT; a dry run stores nothing", async () => {
      const policies = t.admin.client(EnterprisePolicyService);
      const dry = await policies.updatePolicy({ policy: denyLongerThan(10), expectedVersion: "1", dryRun: true });
      assert.deepEqual([dry.policy?.version, dry.policy?.status], ["2", "DRAFT"]);
      await assertRefused(policies.getPolicy({ policyId: "deny-long-text", version: "2" }), "NOT_FOUND", Code.NotFound);
      const updated = await policies.updatePolicy({ policy: denyLongerThan(10), expectedVersion: "1" });
      assert.deepEqual([updated.policy?.version, updated.policy?.status], ["2", "DRAFT"]);
      await assertRefused(policies.updatePolicy({ policy: denyLongerThan(8), expectedVersion: "1" }), "CONFLICT", Code.Aborted);
      await assertRefused(policies.updatePolicy({ policy: denyLongerThan(8, { policyId: "no-such-policy" }) }), "NOT_FOUND", Code.NotFound);
      // Version 1 still acts: the 15-character text passes.
      assert.equal(await call("v2-draft-mid", "d".repeat(15)), "ALLOW");
      const submitted = await events(t.admin, ["policy.submitted"]);
      assert.deepEqual(
        submitted.map((e) => [e.resource, e.metadata["operation"], e.metadata["based_on_version"] ?? ""]),
        [
          ["policy:deny-long-text@1", "create", ""],
          ["policy:deny-long-text@2", "update", "1"],
        ],
      );
    });

    test("TestPolicy replays the window and reports exactly the calls whose decision the candidate changes", async () => {
      const policies = approver.client(EnterprisePolicyService);
      // The approver may simulate but may not read other principals' recorded decisions.
      await assertRefused(policies.testPolicy({ candidatePolicies: [denyLongerThan(10)], history: { startTime: BigInt(startedAt) } }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      const result = await t.admin.client(EnterprisePolicyService).testPolicy({
        candidatePolicies: [denyLongerThan(10)],
        history: { startTime: BigInt(startedAt), endTime: 0n },
        cases: [
          { name: "short passes", resource: "contract:text_stats", context: { args: JSON.stringify({ text: "tiny" }) }, expectedDecision: "ALLOW", securityContext: { roles: ["agent"] } },
          { name: "twelve is now too long", resource: "text_stats", context: { args: JSON.stringify({ text: "twelve chars" }) }, expectedDecision: "ALLOW" },
        ],
      });
      // Every call that reached the policy stage so far: pre-long, pre-mid, v1-long, v1-mid, v1-mid-2, v1-short, v2-draft-mid.
      assert.equal(result.replay?.decisionsReplayed, 7n);
      assert.deepEqual(
        result.replay?.samples.map((s) => [s.correlationId, s.previousDecision, s.newDecision, s.policyIds.join(","), s.principalId, s.resource]),
        ["pre-mid", "v1-mid", "v1-mid-2", "v2-draft-mid"].map((id) => [id, "ALLOW", "DENY", "deny-long-text", agent.principalId, "contract:text_stats@1.0.0"]),
      );
      assert.equal(result.replay?.decisionsChanged, 4n);
      assert.equal(result.replay?.newlyDenied, 4n);
      assert.equal(result.replay?.newlyAllowed, 0n);
      const decided = await events(t.admin, ["policy.decided"]);
      for (const sample of result.replay?.samples ?? []) assert.ok(decided.some((e) => e.eventId === sample.eventId && e.correlationId === sample.correlationId));

      assert.deepEqual(
        result.caseResults.map((c) => [c.name, c.decision, c.passed, c.decisions.map((d) => `${d.policyId}@${d.version}:${d.matched}:${d.effect}`).join(",")]),
        [
          ["short passes", "ALLOW", true, "deny-long-text@0:false:"],
          ["twelve is now too long", "DENY", false, "deny-long-text@0:true:DENY"],
        ],
      );

      const disabled = await t.admin.client(EnterprisePolicyService).testPolicy({ candidatePolicies: [denyLongerThan(20, { enabled: false })], history: { startTime: BigInt(startedAt), limit: 100 } });
      assert.deepEqual(disabled.replay?.samples.map((s) => [s.correlationId, s.newDecision]), [
        ["pre-long", "ALLOW"],
        ["v1-long", "ALLOW"],
      ]);
      assert.equal(disabled.replay?.newlyAllowed, 2n);
      const limited = await t.admin.client(EnterprisePolicyService).testPolicy({ candidatePolicies: [denyLongerThan(10)], history: { startTime: BigInt(startedAt), limit: 2 } });
      assert.equal(limited.replay?.decisionsReplayed, 2n);
      assert.deepEqual(limited.replay?.samples.map((s) => s.correlationId), ["pre-mid"]);

      const invalid = await assertRefused(
        t.admin.client(EnterprisePolicyService).testPolicy({ candidatePolicies: [denyLongerThan(10), denyLongerThan(5, { policyId: "second", rule: { condition: "args.txt.size() > 3 &&\n request.tme > 1", effect: "DENY" } })] }),
        "INVALID_ARGUMENT",
        Code.InvalidArgument,
      );
      assert.deepEqual([invalid.error?.details["field"], invalid.error?.details["line"], invalid.error?.details["column"]], ["candidate_policies[1].rule.condition", "2", "10"]);
      assert.ok((await events(t.admin, ["policy.tested"])).length >= 3);
    });

    test("after approval the new version acts on the next call, and the previous version is retired", async () => {
      await approve(t.admin, approver, "deny-long-text@2");
      assert.equal(await call("v2-mid", "m".repeat(15)), "POLICY_VIOLATION");
      assert.equal(await call("v2-short", "tiny"), "ALLOW");
      const v1 = await t.admin.client(EnterprisePolicyService).getPolicy({ policyId: "deny-long-text", version: "1" });
      assert.equal(v1.policy?.status, "RETIRED");
      const listed = await t.admin.client(EnterprisePolicyService).listPolicies({ status: "ACTIVE" });
      assert.deepEqual(listed.policies.map((p) => `${p.policyId}@${p.version}`), ["deny-long-text@2"]);
    });

    test("EvaluatePolicy evaluates the ACTIVE version for a principal of the tenant and says how long it took", async () => {
      const policies = t.admin.client(EnterprisePolicyService);
      const matched = await policies.evaluatePolicy({ policyId: "deny-long-text", principalId: agent.principalId, resource: "contract:text_stats", context: { args: JSON.stringify({ text: "a text of some length" }) } });
      assert.deepEqual([matched.decision?.policyId, matched.decision?.version, matched.decision?.matched, matched.decision?.effect, matched.decision?.error], ["deny-long-text", "2", true, "DENY", ""]);
      assert.equal(typeof matched.evaluationTimeUs, "bigint");
      const missed = await policies.evaluatePolicy({ policyId: "deny-long-text", resource: "text_stats", context: { args: JSON.stringify({ text: "short" }) } });
      assert.equal(missed.decision?.matched, false);
      const elsewhere = await policies.evaluatePolicy({ policyId: "deny-long-text", resource: "token_stats", context: { args: JSON.stringify({ text: "a text of some length" }) } });
      assert.deepEqual([elsewhere.decision?.matched, elsewhere.decision?.effect], [false, ""], "the policy does not apply to token_stats");
      await assertRefused(policies.evaluatePolicy({ policyId: "deny-long-text", resource: "text_stats", context: { args: JSON.stringify({ text: 3 }) } }), "PARAMETER_VALIDATION_FAILED", Code.InvalidArgument);
      await assertRefused(policies.evaluatePolicy({ policyId: "deny-long-text", resource: "no_such_tool" }), "CONTRACT_NOT_FOUND", Code.NotFound);
      await assertRefused(policies.evaluatePolicy({ policyId: "deny-long-text", resource: "text_stats", context: { evil: "1" } }), "INVALID_ARGUMENT", Code.InvalidArgument);
      await assertRefused(agent.client(EnterprisePolicyService).evaluatePolicy({ policyId: "deny-long-text", resource: "text_stats" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      assert.ok((await events(t.admin, ["policy.evaluated"])).some((e) => e.resource === "policy:deny-long-text@2" && e.metadata["subject"] === agent.principalId && e.metadata["matched"] === "true"));
    });

    test("recorded decisions keep the inputs replay needs, never a secret argument", async () => {
      const secret = `tok-${Date.now()}-secret`;
      assert.equal(await call("secret-call", "hello", "token_stats", { api_token: secret }), "ALLOW");
      const decided = (await events(t.admin, ["policy.decided"])).find((e) => e.correlationId === "secret-call");
      const input = JSON.parse(decided?.metadata["decision_input"] ?? "{}") as { args?: Record<string, unknown>; contract?: { name?: string }; principal?: { roles?: string[] } };
      assert.deepEqual(input.args, { text: "hello", api_token: "[REDACTED]" });
      assert.equal(input.contract?.name, "token_stats");
      assert.deepEqual(input.principal?.roles, ["agent"]);
      assert.equal(decided?.metadata["decision"], "ALLOW");
      const everything = JSON.stringify(await events(t.admin, []), (_key, value: unknown) => (typeof value === "bigint" ? String(value) : value));
      assert.ok(!everything.includes(secret), "the secret is nowhere in the tenant's audit log");
    });

    test("deleting goes through approval; once approved no version acts and the policy reads RETIRED", async () => {
      const policies = t.admin.client(EnterprisePolicyService);
      await assertRefused(policies.deletePolicy({ policyId: "deny-long-text" }), "INVALID_ARGUMENT", Code.InvalidArgument);
      const requested = await policies.deletePolicy({ policyId: "deny-long-text", reason: "texts are short anyway" });
      assert.equal(requested.deleted, false);
      const pending = await policies.getPolicy({ policyId: "deny-long-text" });
      assert.deepEqual([pending.policy?.version, pending.policy?.status, pending.policy?.enabled], ["3", "PENDING_APPROVAL", false]);
      // Still acting while the deletion awaits approval.
      assert.equal(await call("delete-pending-long", "l".repeat(30)), "POLICY_VIOLATION");
      await assertRefused(policies.updatePolicy({ policy: denyLongerThan(50) }), "INVALID_STATE_TRANSITION", Code.FailedPrecondition);
      await assertRefused(policies.deletePolicy({ policyId: "deny-long-text", reason: "again" }), "INVALID_STATE_TRANSITION", Code.FailedPrecondition);
      const approvals = (await approver.client(EnterpriseGovernanceService).listPendingApprovals({ artifactType: "POLICY" })).approvals;
      const deletion = approvals.find((a) => a.artifactId === "deny-long-text@3");
      assert.ok(deletion !== undefined, JSON.stringify(approvals.map((a) => a.artifactId)));
      assert.match(deletion.justification, /texts are short anyway/);
      await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: deletion.approvalRequestId, decision: "APPROVE" });

      assert.equal(await call("deleted-long", "l".repeat(30)), "ALLOW");
      for (const version of ["1", "2", "3"]) {
        assert.equal((await policies.getPolicy({ policyId: "deny-long-text", version })).policy?.status, "RETIRED", `version ${version}`);
      }
      assert.deepEqual((await policies.listPolicies({ status: "ACTIVE" })).policies, []);
      assert.deepEqual((await policies.listPolicies({ status: "RETIRED" })).policies.map((p) => p.version), ["3"]);
      assert.equal((await policies.deletePolicy({ policyId: "deny-long-text", reason: "idempotent" })).deleted, true);
      await assertRefused(policies.evaluatePolicy({ policyId: "deny-long-text", resource: "text_stats" }), "NOT_FOUND", Code.NotFound);
      await assertRefused(policies.updatePolicy({ policy: denyLongerThan(50) }), "INVALID_STATE_TRANSITION", Code.FailedPrecondition);
      const requestedEvents = await events(t.admin, ["policy.deletion_requested"]);
      assert.deepEqual(requestedEvents.map((e) => [e.resource, e.metadata["reason"], e.metadata["active_version"]]), [["policy:deny-long-text@3", "texts are short anyway", "2"]]);
    });

    test("ListPolicies pages through the newest version of each policy", async () => {
      const policies = t.admin.client(EnterprisePolicyService);
      for (const id of ["page-a", "page-b", "page-c"]) await policies.createPolicy({ policy: denyLongerThan(100, { policyId: id }) });
      await policies.updatePolicy({ policy: denyLongerThan(90, { policyId: "page-b" }) });
      const first = await policies.listPolicies({ limit: 2 });
      assert.deepEqual(first.policies.map((p) => `${p.policyId}@${p.version}`), ["deny-long-text@3", "page-a@1"]);
      assert.equal(first.nextCursor, "page-a");
      const second = await policies.listPolicies({ limit: 2, cursor: first.nextCursor });
      assert.deepEqual(second.policies.map((p) => `${p.policyId}@${p.version}`), ["page-b@2", "page-c@1"]);
      assert.equal(second.nextCursor, "");
      assert.deepEqual((await policies.listPolicies({ status: "DRAFT" })).policies.map((p) => `${p.policyId}@${p.version}`), ["page-a@1", "page-b@2", "page-c@1"]);
      await assertRefused(policies.listPolicies({ status: "BOGUS" }), "INVALID_ARGUMENT", Code.InvalidArgument);
    });
  });
}

for (const kind of ["sqlite", "postgres"] as StorageKind[]) {
  void describe(`policies never cross tenants on ${kind}`, () => {
    let t: TestHost;
    let adminA: Actor;
    let adminB: Actor;
    let agentA: Actor;
    let agentB: Actor;
    const runtimes: RawRuntime[] = [];
    const startedAt = Date.now();

    before(async () => {
      t = await startTestHost(kind);
      adminA = await t.tenant("tenant-a");
      adminB = await t.tenant("tenant-b");
      const approverA = await t.actor("approver", ["approver"], adminA);
      const approverB = await t.actor("approver", ["approver"], adminB);
      agentA = await t.actor("agent", ["agent"], adminA);
      agentB = await t.actor("agent", ["agent"], adminB);
      for (const [admin, approver, runtimeId] of [
        [adminA, approverA, "a-tools"],
        [adminB, approverB, "b-tools"],
      ] as const) {
        await t.activate(textStatsContract, admin, approver);
        runtimes.push(await connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials: await t.enroll(admin, runtimeId, ["text_stats"]), contracts: ["text_stats@1.0.0"], handlers: { "text_stats@1.0.0": textStats } }));
      }
      await adminA.client(EnterprisePolicyService).createPolicy({ policy: denyLongerThan(10, { policyId: "a-secret" }) });
      await approve(adminA, approverA, "a-secret@1");
      for (const [agent, correlationId] of [
        [agentA, "a-call"],
        [agentB, "b-call"],
      ] as const) {
        const { sessionId } = await agent.client(SessionService).createSession({});
        await agent.client(ToolService).invokeTool({ sessionId, call: { name: "text_stats", args: { text: "hello" } } }, { headers: { "x-correlation-id": correlationId } });
      }
    });

    after(async () => {
      for (const r of runtimes) r.close();
      await t?.stop();
    });

    test("naming tenant A's tenant_id in any policy RPC is NOT_FOUND, like naming no tenant, and is audited", async () => {
      const policies = adminB.client(EnterprisePolicyService);
      const before = (await events(adminB, ["security.cross_tenant_attempt"])).length;
      for (const tenantId of ["tenant-a", "no-such-tenant"]) {
        await assertRefused(policies.createPolicy({ tenantId, policy: denyLongerThan(3, { policyId: "b-sneaky" }) }), "NOT_FOUND", Code.NotFound);
        await assertRefused(policies.updatePolicy({ tenantId, policy: denyLongerThan(3, { policyId: "a-secret" }) }), "NOT_FOUND", Code.NotFound);
        await assertRefused(policies.deletePolicy({ tenantId, policyId: "a-secret", reason: "steal" }), "NOT_FOUND", Code.NotFound);
        await assertRefused(policies.getPolicy({ tenantId, policyId: "a-secret" }), "NOT_FOUND", Code.NotFound);
        await assertRefused(policies.listPolicies({ tenantId }), "NOT_FOUND", Code.NotFound);
        await assertRefused(policies.validatePolicy({ tenantId, policy: denyLongerThan(3) }), "NOT_FOUND", Code.NotFound);
        await assertRefused(policies.testPolicy({ tenantId, candidatePolicies: [denyLongerThan(3)] }), "NOT_FOUND", Code.NotFound);
        await assertRefused(
          policies.testPolicy({ cases: [{ name: "x", resource: "text_stats", securityContext: { tenantId, principalId: agentA.principalId } }] }),
          "NOT_FOUND",
          Code.NotFound,
        );
      }
      const afterwards = (await events(adminB, ["security.cross_tenant_attempt"])).length;
      assert.equal(afterwards, before + 16);
      assert.deepEqual((await policies.listPolicies({})).policies, [], "nothing was created in B either");
    });

    test("tenant A's policy does not exist for B: get, update, delete, evaluate and approve are NOT_FOUND", async () => {
      const policies = adminB.client(EnterprisePolicyService);
      const foreign = await assertRefused(policies.getPolicy({ policyId: "a-secret" }), "NOT_FOUND", Code.NotFound);
      const missing = await assertRefused(policies.getPolicy({ policyId: "a-secreu" }), "NOT_FOUND", Code.NotFound);
      assert.equal(foreign.error?.message, missing.error?.message);
      await assertRefused(policies.getPolicy({ policyId: "a-secret", version: "1" }), "NOT_FOUND", Code.NotFound);
      await assertRefused(policies.updatePolicy({ policy: denyLongerThan(3, { policyId: "a-secret" }) }), "NOT_FOUND", Code.NotFound);
      await assertRefused(policies.deletePolicy({ policyId: "a-secret", reason: "steal" }), "NOT_FOUND", Code.NotFound);
      await assertRefused(policies.evaluatePolicy({ policyId: "a-secret", resource: "text_stats" }), "NOT_FOUND", Code.NotFound);
      await assertRefused(adminB.client(EnterpriseGovernanceService).requestApproval({ artifactType: "POLICY", artifactId: "a-secret@1", justification: "steal" }), "NOT_FOUND", Code.NotFound);
      // A's policy is untouched and still acts in A only.
      const { policy } = await adminA.client(EnterprisePolicyService).getPolicy({ policyId: "a-secret" });
      assert.deepEqual([policy?.version, policy?.status], ["1", "ACTIVE"]);
    });

    test("B may reuse A's policy id: the two never meet, and B's policy does not act in A", async () => {
      const policies = adminB.client(EnterprisePolicyService);
      const created = await policies.createPolicy({ policy: denyLongerThan(1, { policyId: "a-secret" }) });
      assert.equal(created.policy?.version, "1");
      assert.deepEqual((await policies.listPolicies({})).policies.map((p) => [p.policyId, p.status, p.rule?.condition]), [["a-secret", "DRAFT", "has(args.text) && size(args.text) > 1"]]);
      assert.equal((await adminA.client(EnterprisePolicyService).getPolicy({ policyId: "a-secret" })).policy?.rule?.condition, "has(args.text) && size(args.text) > 10");
    });

    test("EvaluatePolicy in B cannot name A's principal", async () => {
      const policies = adminB.client(EnterprisePolicyService);
      await assertRefused(policies.evaluatePolicy({ policyId: "a-secret", principalId: agentA.principalId, resource: "text_stats" }), "NOT_FOUND", Code.NotFound);
    });

    test("B's replay decides B's recorded calls only, never A's", async () => {
      const result = await adminB.client(EnterprisePolicyService).testPolicy({
        candidatePolicies: [{ policyId: "deny-all", name: "Deny all", rule: { condition: "true", effect: "DENY" }, enabled: true }],
        history: { startTime: BigInt(startedAt) },
      });
      assert.deepEqual(result.replay?.samples.map((s) => [s.correlationId, s.principalId]), [["b-call", agentB.principalId]]);
      assert.equal(result.replay?.decisionsReplayed, 1n);
      const aResult = await adminA.client(EnterprisePolicyService).testPolicy({
        candidatePolicies: [{ policyId: "deny-all", name: "Deny all", rule: { condition: "true", effect: "DENY" }, enabled: true }],
        history: { startTime: BigInt(startedAt) },
      });
      assert.deepEqual(aResult.replay?.samples.map((s) => s.correlationId), ["a-call"]);
    });

    test("without policies:read or policies:submit, an agent can neither read, test, validate nor change policies", async () => {
      const policies = agentA.client(EnterprisePolicyService);
      for (const attempt of [
        () => policies.listPolicies({}),
        () => policies.getPolicy({ policyId: "a-secret" }),
        () => policies.validatePolicy({ policy: denyLongerThan(3) }),
        () => policies.testPolicy({ candidatePolicies: [denyLongerThan(3)] }),
        () => policies.createPolicy({ policy: denyLongerThan(3, { policyId: "agent-made" }) }),
        () => policies.updatePolicy({ policy: denyLongerThan(3, { policyId: "a-secret" }) }),
        () => policies.deletePolicy({ policyId: "a-secret", reason: "x" }),
      ]) {
        await assertRefused(attempt(), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      }
    });
  });
}
