/**
 * EnterpriseAuthorizationService and RoleService through the real gateway, on SQLite and
 * PostgreSQL: hierarchical roles (a DAG, cycles refused), wildcards, deny by default, clearance,
 * roles bound to directory groups and granted to principals taking effect on the next call (on
 * every Host sharing the database), no escalation, tenant isolation of every RPC, and AuthorizeAction
 * deciding exactly as the governed call does.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, createClient } from "@connectrpc/connect";
import type { Client, Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ResultStatus } from "@aesp/proto/adm";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { EnterpriseAuthorizationService } from "@aesp/proto/authorization";
import { SessionService, ToolService } from "@aesp/proto/client";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { EnterpriseIdentityService } from "@aesp/proto/identity";
import { EnterprisePolicyService } from "@aesp/proto/policy";
import { RoleService } from "@aesp/proto/role";
import type { AuditEvent, EnterpriseToolContractSchema } from "@aesp/proto/enterprise";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { startHost } from "@aesp/host";
import type { RunningHost } from "@aesp/host";
import { assertRefused, openHostStore, refusalOf, startTestHost, textStatsContract } from "../support/harness.ts";
import type { Actor, StorageKind, TestHost } from "../support/harness.ts";
import { connectRawRuntime } from "../support/raw-runtime.ts";
import type { RawHandler, RawRuntime } from "../support/raw-runtime.ts";

type ContractInit = MessageInitShape<typeof EnterpriseToolContractSchema>;

const textStats: RawHandler = async (call) => {
  const arg = call.call?.args?.["text"];
  const text = typeof arg === "string" ? arg : "";
  return { words: text.split(/\s+/).filter(Boolean).length, characters: text.length };
};

/** A contract like text_stats under another name, with overrides. */
function variant(name: string, overrides: { requiredRoles?: string[]; requiredPermissions?: string[]; securityClassification?: string; riskAssessment?: string } = {}): ContractInit {
  return { ...textStatsContract, name, description: `${name} (test)`, ...overrides };
}

const contracts = {
  memo: variant("memo"),
  ledger: variant("ledger", { requiredRoles: ["finance"], requiredPermissions: ["ledger:read"], riskAssessment: "HIGH" }),
  vault: variant("vault", { securityClassification: "confidential" }),
  payments: variant("payments", { requiredRoles: [], requiredPermissions: ["payments:approve"] }),
  broken: variant("broken_tool"),
} satisfies Record<string, ContractInit>;

/** Every audit event of the actor's tenant of these types, oldest first. */
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

/** Sets a principal's directory groups in storage, as a directory synchronisation would. */
async function setGroups(t: TestHost, tenantId: string, principalId: string, groups: string[]): Promise<void> {
  const store = await openHostStore(t);
  try {
    const principals = store.forTenant(tenantId).principals;
    const current = await principals.get(principalId);
    assert.ok(current !== null);
    await principals.update({ ...current, groups, revision: current.revision + 1 }, current.revision);
  } finally {
    await store.close();
  }
}

/** Submits a policy as `author` (who needs policies:submit and governance:request) and has `approver` activate it. */
async function activatePolicy(author: Actor, approver: Actor, condition: string, effect: "ALLOW" | "DENY" | "AUDIT", appliesTo: string[]): Promise<string> {
  const created = await author.client(EnterprisePolicyService).createPolicy({
    policy: { name: `${effect.toLowerCase()} ${appliesTo.join(" ")}`, rule: { condition, effect, actions: [] }, appliesTo, enabled: true },
  });
  const policyId = created.policy?.policyId ?? "";
  const requested = await author.client(EnterpriseGovernanceService).requestApproval({ artifactType: "POLICY", artifactId: `${policyId}@${created.policy?.version ?? "1"}`, justification: "test" });
  if (requested.responseType.case !== "successDetails") throw new Error("approval not requested");
  await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: requested.responseType.value.approvalRequestId, decision: "APPROVE" });
  return policyId;
}

/** What a governed call did: allowed (with the decision recorded in authz.allowed), or refused. */
interface CallOutcome {
  readonly authorized: boolean;
  readonly code: string;
  readonly reason: string;
  readonly appliedPolicies: string;
}

/** Invokes `name` as `actor`; reads the allow decision from the audit log as `auditor`. */
async function governedCall(actor: Actor, auditor: Actor, sessionId: string, name: string, args: Record<string, string>): Promise<CallOutcome> {
  const invocation = actor.client(ToolService).invokeTool({ sessionId, call: { name, args } });
  let invocationId: string;
  try {
    const response = await invocation;
    assert.equal(response.result?.status, ResultStatus.SUCCESS);
    invocationId = response.invocationId;
  } catch {
    const refusal = await refusalOf(invocation);
    const details = refusal.error?.details ?? {};
    return { authorized: false, code: refusal.error?.code ?? "", reason: details["decision_reason"] ?? details["reason"] ?? "", appliedPolicies: details["applied_policies"] ?? "" };
  }
  const allowed = (await events(auditor, ["authz.allowed"])).find((e) => e.metadata["invocation_id"] === invocationId);
  assert.ok(allowed !== undefined, "an allowed call records authz.allowed");
  return { authorized: true, code: "", reason: allowed.metadata["decision_reason"] ?? "", appliedPolicies: allowed.metadata["applied_policies"] ?? "" };
}

/** A transport to another Host, presenting `token`. */
function transportTo(host: RunningHost, token: string): Transport {
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return createConnectTransport({ baseUrl: host.gatewayUrl, httpVersion: "2", nodeOptions: { ca: host.caCertificatePem }, interceptors: [auth] });
}

for (const kind of ["sqlite", "postgres"] satisfies StorageKind[]) {
  void describe(`authorization on ${kind}`, () => {
    let t: TestHost;
    let admin: Actor;
    let approver: Actor;
    let foreignAdmin: Actor;
    let runtime: RawRuntime | undefined;
    let hostB: RunningHost | undefined;
    let runtimeB: RawRuntime | undefined;

    before(async () => {
      t = await startTestHost(kind);
      admin = await t.tenant("acme");
      foreignAdmin = await t.tenant("globex");
      approver = await t.actor("approver", ["approver"], admin);
      for (const contract of [textStatsContract, ...Object.values(contracts)]) await t.activate(contract, admin, approver);
      const credentials = await t.enroll(admin, "acme-tools", ["*"]);
      const names = ["text_stats", ...Object.values(contracts).map((c) => c.name)];
      const options = { credentials, contracts: names.map((n) => `${n}@1.0.0`), handlers: Object.fromEntries(names.map((n) => [`${n}@1.0.0`, textStats])) };
      runtime = await connectRawRuntime({ url: t.host.runtimePlaneUrl, ...options });
      assert.equal(runtime.first.kind.case, "accepted");
      // A second Host on the same database, as in a cluster; its own runtime connection.
      hostB = await startHost({
        flags: { ...(await t.storeFlags()), "gateway.port": 0, "runtime_plane.port": 0, "runtime_plane.heartbeat_interval_ms": 1000 },
        env: {},
        logDestination: "silent",
      });
      runtimeB = await connectRawRuntime({ url: hostB.runtimePlaneUrl, ...options });
      assert.equal(runtimeB.first.kind.case, "accepted");
    });

    after(async () => {
      runtime?.close();
      runtimeB?.close();
      await hostB?.close();
      await t?.stop();
    });

    const authz = (actor: Actor): Client<typeof EnterpriseAuthorizationService> => actor.client(EnterpriseAuthorizationService);
    const roles = (actor: Actor): Client<typeof RoleService> => actor.client(RoleService);

    test("a three-level role hierarchy: each role holds its own and every inherited permission", async () => {
      await authz(admin).createRole({ role: { name: "ledger-reader", permissions: ["ledger:read"], description: "Reads the ledger" }, justification: "test" });
      await authz(admin).createRole({ role: { name: "ledger-clerk", permissions: ["ledger:write"], inherits: ["ledger-reader"] } });
      const created = await authz(admin).createRole({ role: { name: "ledger-controller", permissions: ["ledger:approve"], inherits: ["ledger-clerk"] } });
      assert.deepEqual([created.role?.name, created.role?.permissions, created.role?.inherits, created.role?.builtIn, created.role?.tenantId], ["ledger-controller", ["ledger:approve"], ["ledger-clerk"], false, "acme"]);
      assert.equal(created.approvalRequestId, "");

      const top = (await roles(admin).getRole({ name: "ledger-controller" })).role;
      assert.deepEqual(top?.inheritedRoles, ["ledger-clerk", "ledger-reader"]);
      assert.deepEqual(top?.effectivePermissions, ["ledger:approve", "ledger:read", "ledger:write"]);
      const listed = (await roles(admin).listRoles({})).roles.map((r) => r.role?.name ?? "");
      for (const name of ["agent", "approver", "tenant-admin", "ledger-reader", "ledger-clerk", "ledger-controller"]) assert.ok(listed.includes(name), name);
      assert.deepEqual((await roles(admin).getRole({ name: "agent" })).role?.role?.builtIn, true);

      const controller = await t.actor("controller", ["ledger-controller"], admin);
      const rights = await authz(controller).getEffectivePermissions({});
      assert.equal(rights.principalId, controller.principalId);
      assert.deepEqual(rights.roles, ["ledger-clerk", "ledger-controller", "ledger-reader"]);
      assert.deepEqual(rights.permissions, ["ledger:approve", "ledger:read", "ledger:write"]);
      assert.deepEqual(await authz(controller).checkPermission({ permission: "ledger:read" }).then((r) => [r.granted, r.grantedBy]), [true, ["ledger-reader"]]);
      const created3 = await events(admin, ["role.created"]);
      assert.deepEqual(created3.map((e) => e.resource).filter((r) => r.startsWith("role:ledger-")), ["role:ledger-reader", "role:ledger-clerk", "role:ledger-controller"]);
    });

    test("cycles are refused naming them; unknown parents, malformed permissions and built-in or reserved names too", async () => {
      const self = await assertRefused(authz(admin).createRole({ role: { name: "ouroboros", permissions: ["a:b"], inherits: ["ouroboros"] } }), "INVALID_ARGUMENT", Code.InvalidArgument);
      assert.equal(self.error?.details["cycle"], "ouroboros -> ouroboros");
      // A stored role whose parent is not defined yet (an import, an older Host) closes a cycle when that parent is created.
      const store = await openHostStore(t);
      try {
        await store.forTenant("acme").roles.upsert({ tenantId: "acme", name: "imported", description: "", permissions: ["imp:read"], inherits: ["later"], builtIn: false, createdAt: 1 });
      } finally {
        await store.close();
      }
      const cycle = await assertRefused(authz(admin).createRole({ role: { name: "later", permissions: ["imp:write"], inherits: ["imported"] } }), "INVALID_ARGUMENT", Code.InvalidArgument);
      assert.equal(cycle.error?.details["cycle"], "imported -> later -> imported");
      await assertRefused(roles(admin).getRole({ name: "later" }), "NOT_FOUND", Code.NotFound);

      const unknown = await assertRefused(authz(admin).createRole({ role: { name: "orphan", inherits: ["nobody"] } }), "INVALID_ARGUMENT", Code.InvalidArgument);
      assert.equal(unknown.error?.details["unknown_role"], "nobody");
      const malformed = await assertRefused(authz(admin).createRole({ role: { name: "sloppy", permissions: ["ledger:re*"] } }), "INVALID_ARGUMENT", Code.InvalidArgument);
      assert.equal(malformed.error?.details["permission"], "ledger:re*");
      const builtIn = await assertRefused(authz(admin).createRole({ role: { name: "agent", permissions: ["*"] } }), "ALREADY_EXISTS", Code.AlreadyExists);
      assert.equal(builtIn.error?.details["reason"], "built_in");
      await assertRefused(authz(admin).createRole({ role: { name: "ledger-reader", permissions: ["ledger:read"] } }), "ALREADY_EXISTS", Code.AlreadyExists);
      await assertRefused(authz(admin).createRole({ role: { name: "platform-admin", permissions: ["*"] } }), "INVALID_ARGUMENT", Code.InvalidArgument);
      await assertRefused(authz(admin).createRole({ role: { name: "fake-builtin", permissions: ["a:b"], builtIn: true } }), "INVALID_ARGUMENT", Code.InvalidArgument);
      assert.deepEqual((await roles(admin).getRole({ name: "agent" })).role?.effectivePermissions, ["sessions:create", "tools:invoke", "tools:list"], "the built-in role is unchanged");
    });

    test("wildcards: resource:* covers every action of the resource, a narrow grant never covers a wildcard", async () => {
      await authz(admin).createRole({ role: { name: "payments-admin", permissions: ["payments:*"] } });
      await authz(admin).createRole({ role: { name: "payments-viewer", permissions: ["payments:read"] } });
      const wide = await t.actor("payer", ["agent", "payments-admin"], admin);
      const narrow = await t.actor("peeker", ["agent", "payments-viewer"], admin);
      const check = async (actor: Actor, permission: string) => {
        const answer = await authz(admin).checkPermission({ principalId: actor.principalId, permission });
        return [answer.granted, answer.grantedBy];
      };
      assert.deepEqual(await check(wide, "payments:approve"), [true, ["payments-admin"]]);
      assert.deepEqual(await check(wide, "payments:*"), [true, ["payments-admin"]]);
      assert.deepEqual(await check(wide, "refunds:approve"), [false, []]);
      assert.deepEqual(await check(narrow, "payments:*"), [false, []]);
      assert.deepEqual(await check(admin, "anything:at-all"), [true, ["tenant-admin"]]);
      // The governed call honours the same wildcard.
      const { sessionId } = await wide.client(SessionService).createSession({});
      assert.equal((await wide.client(ToolService).invokeTool({ sessionId, call: { name: "payments", args: { text: "pay" } } })).result?.status, ResultStatus.SUCCESS);
      const narrowSession = (await narrow.client(SessionService).createSession({})).sessionId;
      const refused = await assertRefused(narrow.client(ToolService).invokeTool({ sessionId: narrowSession, call: { name: "payments", args: { text: "pay" } } }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      assert.equal(refused.error?.details["required_permissions"], "payments:approve");
      await assertRefused(authz(admin).checkPermission({ permission: "payments" }), "INVALID_ARGUMENT", Code.InvalidArgument);
    });

    test("deny by default: a principal without roles holds nothing, and every answer says so", async () => {
      const nobody = await t.actor("nobody", [], admin);
      const rights = await authz(nobody).getEffectivePermissions({});
      assert.deepEqual([rights.roles, rights.permissions], [[], []]);
      const answer = await authz(nobody).checkPermission({ permission: "tools:invoke" });
      assert.deepEqual([answer.granted, answer.grantedBy], [false, []]);
      await assertRefused(nobody.client(SessionService).createSession({}), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      const decision = await authz(nobody).authorizeAction({ resource: "contract:memo", action: "tools:invoke", context: { args: '{"text":"hi"}' } });
      assert.deepEqual([decision.authorized, decision.decisionReason, decision.appliedPolicies], [false, "requires one of the roles: agent; missing permissions: tools:invoke", []]);
      await assertRefused(authz(nobody).getEffectivePermissions({ principalId: admin.principalId }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(authz(nobody).getEffectivePermissions({ principalId: "group:Finance Analysts" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(authz(nobody).checkPermission({ principalId: "group:Finance Analysts", permission: "tools:invoke" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(authz(nobody).checkPermission({ principalId: admin.principalId, permission: "tools:invoke" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(roles(nobody).listRoles({}), "AUTHORIZATION_DENIED", Code.PermissionDenied);
    });

    test("clearance: a contract classified above the principal's clearance is refused with SECURITY_CLEARANCE_INSUFFICIENT", async () => {
      const internal = await t.actor("internal-agent", ["agent"], admin, "internal");
      const cleared = await t.actor("cleared-agent", ["agent"], admin, "confidential");
      const { sessionId } = await internal.client(SessionService).createSession({});
      const refused = await assertRefused(internal.client(ToolService).invokeTool({ sessionId, call: { name: "vault", args: { text: "secret" } } }), "SECURITY_CLEARANCE_INSUFFICIENT", Code.PermissionDenied);
      assert.equal(refused.error?.details["classification"], "confidential");
      const decision = await authz(admin).authorizeAction({ principalId: internal.principalId, resource: "contract:vault", context: { args: '{"text":"secret"}', session_id: sessionId } });
      assert.deepEqual([decision.authorized, decision.decisionReason], [false, "clearance internal does not reach classification confidential"]);
      const audited = (await events(admin, ["authz.evaluated"])).at(-1);
      assert.equal(audited?.metadata["error_code"], "SECURITY_CLEARANCE_INSUFFICIENT");
      const clearedSession = (await cleared.client(SessionService).createSession({})).sessionId;
      assert.equal((await cleared.client(ToolService).invokeTool({ sessionId: clearedSession, call: { name: "vault", args: { text: "secret" } } })).result?.status, ResultStatus.SUCCESS);
      assert.equal((await authz(admin).authorizeAction({ principalId: cleared.principalId, resource: "contract:vault@1.0.0" })).authorized, true);
    });

    test("a role bound to a directory group holds from the member's next call, and is gone on the next call after unbinding", async () => {
      const member = await t.actor("analyst", [], admin);
      await setGroups(t, "acme", member.principalId, ["Finance Analysts", "CN=Staff,OU=Groups"]);
      await assertRefused(member.client(SessionService).createSession({}), "AUTHORIZATION_DENIED", Code.PermissionDenied);

      const bound = await authz(admin).assignRole({ principalId: "group:Finance Analysts", role: "agent", justification: "analysts run tools" });
      assert.deepEqual(bound.roles, ["agent"]);
      // Same token, next call: the binding holds.
      const { sessionId } = await member.client(SessionService).createSession({});
      assert.equal((await member.client(ToolService).invokeTool({ sessionId, call: { name: "memo", args: { text: "hello" } } })).result?.status, ResultStatus.SUCCESS);
      assert.ok((await authz(member).getEffectivePermissions({})).roles.includes("agent"));
      assert.deepEqual((await authz(admin).getEffectivePermissions({ principalId: "group:Finance Analysts" })).roles, ["agent"]);
      assert.deepEqual((await authz(admin).checkPermission({ principalId: member.principalId, permission: "tools:invoke" })).grantedBy, ["agent"]);
      assert.deepEqual((await roles(admin).getRole({ name: "agent" })).role?.boundGroups, ["Finance Analysts"]);
      // A group binding cannot be withdrawn from the member directly: the refusal says where it comes from.
      const elsewhere = await assertRefused(authz(admin).revokeRole({ principalId: member.principalId, role: "agent" }), "INVALID_ARGUMENT", Code.InvalidArgument);
      assert.deepEqual([elsewhere.error?.details["reason"], elsewhere.error?.details["group"]], ["role_from_group", "Finance Analysts"]);
      // Group names match exactly.
      const other = await t.actor("not-analyst", [], admin);
      await setGroups(t, "acme", other.principalId, ["finance analysts"]);
      await assertRefused(other.client(SessionService).createSession({}), "AUTHORIZATION_DENIED", Code.PermissionDenied);

      const unbound = await authz(admin).revokeRole({ principalId: "group:Finance Analysts", role: "agent", reason: "reorganised" });
      assert.deepEqual(unbound.roles, []);
      await assertRefused(member.client(ToolService).invokeTool({ sessionId, call: { name: "memo", args: { text: "hello" } } }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      assert.deepEqual((await authz(member).getEffectivePermissions({})).roles, []);
      const audited = await events(admin, ["role.bound_to_group", "role.unbound_from_group"]);
      assert.deepEqual(
        audited.map((e) => [e.eventType, e.resource, e.metadata["group"], e.principalId]),
        [
          ["role.bound_to_group", "role:agent", "Finance Analysts", admin.principalId],
          ["role.unbound_from_group", "role:agent", "Finance Analysts", admin.principalId],
        ],
      );
    });

    test("a role assigned to a principal holds from its next call; revoked, it is gone on the next call", async () => {
      const newcomer = await t.actor("newcomer", [], admin);
      await assertRefused(newcomer.client(SessionService).createSession({}), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      const assigned = await authz(admin).assignRole({ principalId: newcomer.principalId, role: "agent", justification: "onboarding" });
      assert.deepEqual([assigned.roles, assigned.approvalRequestId], [["agent"], ""]);
      const { sessionId } = await newcomer.client(SessionService).createSession({});
      assert.equal((await newcomer.client(ToolService).invokeTool({ sessionId, call: { name: "memo", args: { text: "hi" } } })).result?.status, ResultStatus.SUCCESS);
      assert.deepEqual((await authz(admin).assignRole({ principalId: newcomer.principalId, role: "agent" })).roles, ["agent"], "assigning twice changes nothing");
      const revoked = await authz(admin).revokeRole({ principalId: newcomer.principalId, role: "agent", reason: "offboarding" });
      assert.deepEqual(revoked.roles, []);
      await assertRefused(newcomer.client(ToolService).invokeTool({ sessionId, call: { name: "memo", args: { text: "hi" } } }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      const updates = (await events(admin, ["principal.roles_updated"])).filter((e) => e.resource === `principal:${newcomer.principalId}`);
      assert.deepEqual(updates.map((e) => [e.action, e.metadata["added"], e.metadata["removed"]]), [["assign_role", "agent", ""], ["revoke_role", "", "agent"]], "one event per change, none for the no-op");
      await assertRefused(authz(admin).assignRole({ principalId: newcomer.principalId, role: "agent", expiresAt: 1n }), "UNIMPLEMENTED", Code.Unimplemented);
      await assertRefused(authz(admin).assignRole({ principalId: newcomer.principalId, role: "ghost" }), "INVALID_ARGUMENT", Code.InvalidArgument);
      await assertRefused(authz(admin).assignRole({ principalId: "usr_doesnotexist", role: "agent" }), "NOT_FOUND", Code.NotFound);
    });

    test("no escalation: a role steward can define, grant and withdraw only what it holds itself", async () => {
      await authz(admin).createRole({ role: { name: "role-steward", permissions: ["roles:manage", "roles:assign", "roles:read", "ledger:read"] } });
      const steward = await t.actor("steward", ["role-steward"], admin);
      const beyond = await assertRefused(authz(steward).createRole({ role: { name: "ledger-boss", permissions: ["ledger:*"] } }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      assert.deepEqual([beyond.error?.details["reason"], beyond.error?.details["permission"]], ["role_beyond_creator", "ledger:*"]);
      await assertRefused(authz(steward).createRole({ role: { name: "sneaky", inherits: ["tenant-admin"] } }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(authz(steward).createRole({ role: { name: "sneaky2", inherits: ["ledger-reader"], permissions: ["tools:invoke"] } }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await authz(steward).createRole({ role: { name: "ledger-peek", permissions: ["ledger:read"], inherits: ["ledger-reader"] } });

      await assertRefused(authz(steward).assignRole({ principalId: steward.principalId, role: "tenant-admin" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(authz(steward).assignRole({ principalId: "group:Everyone", role: "agent" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(authz(steward).revokeRole({ principalId: admin.principalId, role: "tenant-admin" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      const peer = await t.actor("peer", [], admin);
      assert.deepEqual((await authz(steward).assignRole({ principalId: peer.principalId, role: "ledger-peek" })).roles, ["ledger-peek"]);
      assert.deepEqual((await authz(steward).revokeRole({ principalId: peer.principalId, role: "ledger-peek" })).roles, []);
      assert.ok((await authz(admin).getEffectivePermissions({ principalId: admin.principalId })).roles.includes("tenant-admin"), "the administrator kept its role");

      const nobody = await t.actor("no-rights", [], admin);
      const missing = await assertRefused(authz(nobody).createRole({ role: { name: "anything", permissions: ["a:b"] } }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      assert.equal(missing.error?.details["required_permission"], "roles:manage");
      await assertRefused(authz(nobody).assignRole({ principalId: nobody.principalId, role: "agent" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      const own = await assertRefused(authz(admin).revokeRole({ principalId: admin.principalId, role: "tenant-admin" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      assert.equal(own.error?.details["reason"], "cannot_remove_own_admin_role");
    });

    test("tenant isolation: every RPC refuses another tenant's id and principals with NOT_FOUND, and groups never cross", async () => {
      const tenantId = "globex";
      const foreignPrincipal = foreignAdmin.principalId;
      await authz(foreignAdmin).createRole({ role: { name: "globex-only", permissions: ["globex:read"] } });
      const calls: [string, () => Promise<unknown>][] = [
        ["AuthorizeAction", () => authz(admin).authorizeAction({ tenantId, resource: "contract:memo" })],
        ["CheckPermission", () => authz(admin).checkPermission({ tenantId, permission: "tools:invoke" })],
        ["GetEffectivePermissions", () => authz(admin).getEffectivePermissions({ tenantId })],
        ["EvaluatePolicy", () => authz(admin).evaluatePolicy({ tenantId, resource: "contract:memo" })],
        ["CreateRole", () => authz(admin).createRole({ tenantId, role: { name: "intruder", permissions: ["a:b"] } })],
        ["CreateRole (role.tenant_id)", () => authz(admin).createRole({ role: { name: "intruder", permissions: ["a:b"], tenantId } })],
        ["AssignRole", () => authz(admin).assignRole({ tenantId, principalId: foreignPrincipal, role: "agent" })],
        ["RevokeRole", () => authz(admin).revokeRole({ tenantId, principalId: foreignPrincipal, role: "tenant-admin" })],
        ["ListRoles", () => roles(admin).listRoles({ tenantId })],
        ["GetRole", () => roles(admin).getRole({ tenantId, name: "agent" })],
        ["AuthorizeAction (foreign principal)", () => authz(admin).authorizeAction({ principalId: foreignPrincipal, resource: "contract:memo" })],
        ["CheckPermission (foreign principal)", () => authz(admin).checkPermission({ principalId: foreignPrincipal, permission: "tools:invoke" })],
        ["GetEffectivePermissions (foreign principal)", () => authz(admin).getEffectivePermissions({ principalId: foreignPrincipal })],
        ["EvaluatePolicy (foreign principal)", () => authz(admin).evaluatePolicy({ principalId: foreignPrincipal, resource: "contract:memo" })],
        ["AssignRole (foreign principal)", () => authz(admin).assignRole({ principalId: foreignPrincipal, role: "agent" })],
        ["RevokeRole (foreign principal)", () => authz(admin).revokeRole({ principalId: foreignPrincipal, role: "tenant-admin" })],
        ["GetRole (foreign role)", () => roles(admin).getRole({ name: "globex-only" })],
      ];
      for (const [name, call] of calls) {
        const refusal = await refusalOf(call());
        assert.deepEqual([refusal.error?.code, refusal.connectCode], ["NOT_FOUND", Code.NotFound], name);
      }
      // A foreign role name is simply unknown here.
      await assertRefused(authz(admin).assignRole({ principalId: admin.principalId, role: "globex-only" }), "INVALID_ARGUMENT", Code.InvalidArgument);
      const attempts = (await events(admin, ["security.cross_tenant_attempt"])).filter((e) => e.resource.startsWith("aesp.v1.EnterpriseAuthorizationService/") || e.resource.startsWith("aesp.v1.RoleService/"));
      assert.ok(attempts.length >= 10, `every tenant_id naming another tenant is audited (${attempts.length})`);

      // Nothing moved in globex.
      assert.deepEqual((await authz(foreignAdmin).getEffectivePermissions({})).roles, ["tenant-admin"]);
      assert.ok(!(await roles(foreignAdmin).listRoles({})).roles.some((r) => r.role?.name.startsWith("ledger-")));
      await assertRefused(roles(foreignAdmin).getRole({ name: "intruder" }), "NOT_FOUND", Code.NotFound);
      // A binding in acme reaches no principal of globex carrying the same group name.
      await authz(admin).assignRole({ principalId: "group:Shared Name", role: "agent" });
      const globexMember = await t.actor("globex-member", [], foreignAdmin);
      await setGroups(t, "globex", globexMember.principalId, ["Shared Name"]);
      await assertRefused(globexMember.client(SessionService).createSession({}), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      assert.deepEqual((await authz(foreignAdmin).getEffectivePermissions({ principalId: "group:Shared Name" })).roles, []);
      await authz(admin).revokeRole({ principalId: "group:Shared Name", role: "agent" });
    });

    test("AuthorizeAction decides exactly as the governed call does, for the same principal, contract, session and arguments", async () => {
      const denyForbidden = await activatePolicy(admin, approver, 'args.text == "forbidden"', "DENY", ["contract:memo"]);
      const auditLong = await activatePolicy(admin, approver, "size(args.text) > 10", "AUDIT", ["contract:memo"]);
      const broken = await activatePolicy(admin, approver, "args.nothing == 1", "DENY", ["contract:broken_tool"]);
      await authz(admin).createRole({ role: { name: "finance", permissions: ["ledger:read"] } });
      const agent = await t.actor("compare-agent", ["agent"], admin);
      const financier = await t.actor("compare-financier", ["agent", "finance"], admin);
      const lowClearance = await t.actor("compare-low", ["agent"], admin, "internal");
      const cases: [Actor, string, Record<string, string>][] = [
        [agent, "memo", { text: "short" }],
        [agent, "memo", { text: "a rather long memo text" }],
        [agent, "memo", { text: "forbidden" }],
        [agent, "broken_tool", { text: "x" }],
        [agent, "ledger", { text: "x" }],
        [financier, "ledger", { text: "x" }],
        [lowClearance, "vault", { text: "x" }],
        [financier, "text_stats", { text: "x" }],
      ];
      const seen = new Set<string>();
      for (const [actor, name, args] of cases) {
        const { sessionId } = await actor.client(SessionService).createSession({});
        const decision = await authz(admin).authorizeAction({ principalId: actor.principalId, resource: `contract:${name}`, action: "tools:invoke", context: { args: JSON.stringify(args), session_id: sessionId } });
        const evaluated = (await events(admin, ["authz.evaluated"])).at(-1);
        const call = await governedCall(actor, admin, sessionId, name, args);
        const label = `${name} ${JSON.stringify(args)}`;
        assert.equal(decision.authorized, call.authorized, label);
        assert.equal(evaluated?.metadata["error_code"] ?? "", call.code, label);
        assert.equal(decision.appliedPolicies.join(","), call.appliedPolicies, label);
        if (call.code !== "SECURITY_CLEARANCE_INSUFFICIENT") assert.equal(decision.decisionReason, call.reason, label);
        seen.add(call.code);
        if (name === "memo" && args["text"] === "a rather long memo text") assert.deepEqual(decision.conditions, [`audit:${auditLong}`]);
        if (name === "ledger") assert.equal(decision.riskScore, "HIGH");
      }
      assert.deepEqual([...seen].sort(), ["", "AUTHORIZATION_DENIED", "POLICY_EVALUATION_FAILED", "POLICY_VIOLATION", "SECURITY_CLEARANCE_INSUFFICIENT"], "every kind of outcome was compared");

      // Bad questions fail as the call would.
      const { sessionId } = await agent.client(SessionService).createSession({});
      await assertRefused(authz(admin).authorizeAction({ principalId: agent.principalId, resource: "contract:memo", context: { args: "{}", session_id: sessionId } }), "PARAMETER_VALIDATION_FAILED", Code.InvalidArgument);
      await assertRefused(authz(admin).authorizeAction({ principalId: agent.principalId, resource: "contract:nowhere" }), "CONTRACT_NOT_FOUND", Code.NotFound);
      await assertRefused(authz(admin).authorizeAction({ principalId: agent.principalId, resource: "contract:memo", context: { session_id: "ses_nope" } }), "SESSION_NOT_FOUND", Code.NotFound);
      await assertRefused(authz(admin).authorizeAction({ principalId: financier.principalId, resource: "contract:memo", context: { session_id: sessionId } }), "SESSION_NOT_FOUND", Code.NotFound);
      await assertRefused(authz(admin).authorizeAction({ resource: "memo" }), "INVALID_ARGUMENT", Code.InvalidArgument);
      await assertRefused(authz(admin).authorizeAction({ resource: "contract:memo", action: "contracts:read" }), "INVALID_ARGUMENT", Code.InvalidArgument);
      await assertRefused(authz(admin).authorizeAction({ resource: "contract:memo", context: { colour: "red" } }), "INVALID_ARGUMENT", Code.InvalidArgument);

      // EvaluatePolicy: the policy stage alone, one trace per applicable policy.
      const traced = await authz(admin).evaluatePolicy({ principalId: agent.principalId, resource: "contract:memo", context: { args: '{"text":"forbidden but long"}' } });
      assert.deepEqual([traced.decision, traced.decisionReason, traced.auditFlags], ["ALLOW", "no applicable ALLOW policy; RBAC decision stands", [auditLong]]);
      const forbidden = await authz(admin).evaluatePolicy({ principalId: agent.principalId, resource: "contract:memo", context: { args: '{"text":"forbidden"}' } });
      assert.equal(forbidden.decision, "DENY");
      assert.deepEqual(
        forbidden.decisions.map((d) => [d.policyId, d.version, d.matched, d.effect, d.error]).sort(),
        [[denyForbidden, "1", true, "DENY", ""], [auditLong, "1", false, "", ""]].sort(),
      );
      const failing = await authz(admin).evaluatePolicy({ principalId: agent.principalId, resource: "contract:broken_tool", context: { args: '{"text":"x"}' } });
      assert.deepEqual([failing.decision, failing.decisionReason, failing.decisions.length, failing.decisions[0]?.policyId, failing.decisions[0]?.matched], ["DENY", `policy evaluation failed: ${broken}`, 1, broken, false]);
      assert.notEqual(failing.decisions[0]?.error, "");
      // EvaluatePolicy skips RBAC: an agent without the finance role still gets a policy answer for the ledger.
      assert.equal((await authz(admin).evaluatePolicy({ principalId: agent.principalId, resource: "contract:ledger" })).decision, "ALLOW");
      // policies:read is enough to trace one's own calls; someone else's also need principals:read.
      assert.equal((await authz(approver).evaluatePolicy({ resource: "contract:memo", context: { args: '{"text":"forbidden"}' } })).decision, "DENY");
      await assertRefused(authz(approver).evaluatePolicy({ principalId: agent.principalId, resource: "contract:memo" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(authz(agent).evaluatePolicy({ resource: "contract:memo" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
    });

    test("every Host sharing the database sees a role, assignment or binding change on its next call", async () => {
      assert.ok(hostB !== undefined);
      const member = await t.actor("cluster-member", [], admin);
      await setGroups(t, "acme", member.principalId, ["Cluster Operators"]);
      const onB = <S extends Parameters<typeof createClient>[0]>(actor: Actor, service: S) => createClient(service, transportTo(hostB as RunningHost, actor.token));
      // Warm Host B's snapshot of acme before the changes.
      await assertRefused(onB(member, SessionService).createSession({}), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await onB(admin, RoleService).listRoles({});

      // A role created on A, bound on A: Host B honours both on the member's next call there.
      await authz(admin).createRole({ role: { name: "cluster-agent", permissions: ["memo:use"], inherits: ["agent"] } });
      await authz(admin).assignRole({ principalId: "group:Cluster Operators", role: "cluster-agent" });
      assert.deepEqual((await onB(admin, RoleService).getRole({ name: "cluster-agent" })).role?.boundGroups, ["Cluster Operators"]);
      const { sessionId } = await onB(member, SessionService).createSession({});
      assert.equal((await onB(member, ToolService).invokeTool({ sessionId, call: { name: "memo", args: { text: "via B" } } })).result?.status, ResultStatus.SUCCESS);

      // Unbound on B: gone on A's next call.
      await onB(admin, EnterpriseAuthorizationService).revokeRole({ principalId: "group:Cluster Operators", role: "cluster-agent" });
      await assertRefused(member.client(ToolService).invokeTool({ sessionId, call: { name: "memo", args: { text: "via A" } } }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(onB(member, ToolService).invokeTool({ sessionId, call: { name: "memo", args: { text: "via B" } } }), "AUTHORIZATION_DENIED", Code.PermissionDenied);

      // A direct assignment on B: effective on A's next call; a policy activated on A denies on B.
      await onB(admin, EnterpriseAuthorizationService).assignRole({ principalId: member.principalId, role: "agent" });
      assert.equal((await member.client(ToolService).invokeTool({ sessionId, call: { name: "memo", args: { text: "cluster" } } })).result?.status, ResultStatus.SUCCESS);
      await activatePolicy(admin, approver, 'args.text == "cluster"', "DENY", ["contract:memo"]);
      await assertRefused(onB(member, ToolService).invokeTool({ sessionId, call: { name: "memo", args: { text: "cluster" } } }), "POLICY_VIOLATION", Code.PermissionDenied);
      await onB(admin, EnterpriseIdentityService).getPrincipalDetails({ principalId: member.principalId });
    });
  });
}
