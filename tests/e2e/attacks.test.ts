/**
 * Security by attack: each test tries to break one invariant of BRIEF §2 against a real Host
 * (gateway over TLS, runtime plane over mTLS 1.3, real storage) and asserts that it holds.
 * Tenancy runs on SQLite and PostgreSQL; everything else on SQLite.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Code, createClient } from "@connectrpc/connect";
import { SignJWT } from "jose";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { EnterpriseAuthenticationService } from "@aesp/proto/authentication";
import { SessionService, ToolService } from "@aesp/proto/client";
import { ContractService } from "@aesp/proto/contract";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { EnterpriseIdentityService } from "@aesp/proto/identity";
import { RuntimeAdminService } from "@aesp/proto/runtime_admin";
import { TenantService } from "@aesp/proto/tenant";
import { ResultStatus } from "@aesp/proto/adm";
import type { AuditEvent } from "@aesp/proto/enterprise";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { EnterpriseToolContractSchema } from "@aesp/proto/enterprise";
import {
  assertRefused,
  countToContract,
  mintHostAccessToken,
  openHostStore,
  rawGatewayRequest,
  readAllAuditRecords,
  startTestHost,
  textStatsContract,
} from "../support/harness.ts";
import type { Actor, RuntimeCredentials, StorageKind, TestHost } from "../support/harness.ts";
import { connectRawRuntime, jsonOf } from "../support/raw-runtime.ts";
import type { RawHandler, RawRuntime } from "../support/raw-runtime.ts";

const run = promisify(execFile);
type ContractInit = MessageInitShape<typeof EnterpriseToolContractSchema>;

const textStats: RawHandler = async (call) => {
  const arg = call.call?.args?.["text"];
  const text = typeof arg === "string" ? arg : "";
  return { words: text.split(/\s+/).filter(Boolean).length, characters: text.length };
};

/** A contract like text_stats under another name, with overrides. */
function variant(name: string, overrides: { requiredRoles?: string[]; securityClassification?: string } = {}): ContractInit {
  return { ...textStatsContract, name, description: `${name} (test)`, ...overrides };
}

/** JSON text of anything a test inspects, bigints included. */
function text(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? String(v) : v)) ?? "";
}

function base64url(bytes: Uint8Array | string): string {
  return Buffer.from(bytes).toString("base64url");
}

function jwtParts(token: string): { header: Record<string, unknown>; payload: Record<string, unknown>; signature: Buffer } {
  const [header = "", payload = "", signature = ""] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>,
    signature: Buffer.from(signature, "base64url"),
  };
}

/** Every audit event of the caller's tenant, all pages. */
async function allEvents(actor: Actor, eventTypes: string[] = []): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  let cursor = "";
  for (;;) {
    const page = await actor.client(EnterpriseAuditService).queryEvents({ limit: 1000, cursor, eventTypes });
    events.push(...page.events);
    if (page.nextCursor === "") return events;
    cursor = page.nextCursor;
  }
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

void describe("attacks on a SQLite Host", () => {
  let t: TestHost;
  let approver: Actor;
  let agent: Actor;
  let runtime: RawRuntime;
  let runtimeCredentials: RuntimeCredentials;
  const opened: RawRuntime[] = [];
  const track = (r: RawRuntime) => (opened.push(r), r);
  /** Every secret this file handles; none may surface in audit, metrics or the database. */
  const secrets: { label: string; value: string }[] = [];
  const keep = (label: string, value: string) => secrets.push({ label, value });
  const keepActor = (label: string, actor: Actor) => {
    keep(`${label} api key`, actor.apiKey);
    keep(`${label} api key secret`, actor.apiKey.split(".").at(-1) ?? "");
    keep(`${label} token`, actor.token);
    keep(`${label} token signature`, actor.token.split(".").at(-1) ?? "");
  };

  const contracts = {
    liar: variant("liar_tool"),
    badStream: { ...countToContract, name: "bad_stream", description: "Streams, then lies." },
    audited: variant("audited_tool", { requiredRoles: ["auditor"] }),
    open: variant("open_tool", { requiredRoles: [], securityClassification: "public" }),
    restricted: variant("restricted_tool", { securityClassification: "restricted" }),
  } satisfies Record<string, ContractInit>;
  const leakMarker = `LEAK-${randomBytes(6).toString("hex")}`;

  before(async () => {
    t = await startTestHost("sqlite");
    keepActor("admin", t.admin);
    if (t.host.bootstrapToken !== null) keep("bootstrap token", t.host.bootstrapToken);
    approver = await t.actor("approver", ["approver"]);
    agent = await t.actor("agent", ["agent"]);
    keepActor("approver", approver);
    keepActor("agent", agent);
    for (const contract of [textStatsContract, countToContract, ...Object.values(contracts)]) await t.activate(contract, t.admin, approver);
    runtimeCredentials = await t.enroll(t.admin, "main-rt", ["*"]);
    runtime = await connectRawRuntime({
      url: t.host.runtimePlaneUrl,
      credentials: runtimeCredentials,
      contracts: ["text_stats@1.0.0", "count_to@1.0.0", "liar_tool@1.0.0", "bad_stream@1.0.0", "audited_tool@1.0.0", "open_tool@1.0.0", "restricted_tool@1.0.0"],
      handlers: {
        "text_stats@1.0.0": textStats,
        "audited_tool@1.0.0": textStats,
        "open_tool@1.0.0": textStats,
        "restricted_tool@1.0.0": textStats,
        "count_to@1.0.0": async (call, emit) => {
          for (let i = 1; i <= Number(call.call?.args?.["n"] ?? 0); i++) emit({ i });
          return null;
        },
        // Violates the return type (words must be an integer) and carries content that must never reach the caller.
        "liar_tool@1.0.0": async () => ({ words: leakMarker, characters: 1, note: leakMarker }),
        "bad_stream@1.0.0": async (_call, emit) => {
          emit({ i: 1 });
          emit({ i: 2 });
          emit({ i: leakMarker });
          emit({ i: 4 });
          return null;
        },
      },
    });
    assert.equal(runtime.first.kind.case, "accepted");
  });

  after(async () => {
    for (const r of [runtime, ...opened]) r?.close();
    await t?.stop();
  });

  void describe("access tokens and API keys", () => {
    const sessionsWith = (token: string) => createClient(SessionService, t.transport(token));

    test("no bearer token is refused", async () => {
      await assertRefused(createClient(SessionService, t.anonymous).createSession({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    });

    test("a token with one flipped signature byte is refused", async () => {
      const [header, payload, signature = ""] = agent.token.split(".");
      const bytes = Buffer.from(signature, "base64url");
      bytes[7] = (bytes[7] ?? 0) ^ 0x01;
      await assertRefused(sessionsWith(`${header}.${payload}.${base64url(bytes)}`).createSession({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    });

    test("a token with the same claims signed by another Ed25519 key is refused", async () => {
      const { header, payload } = jwtParts(agent.token);
      const { privateKey } = generateKeyPairSync("ed25519");
      const forged = await new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(privateKey);
      assert.notEqual(forged, agent.token);
      await assertRefused(sessionsWith(forged).createSession({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    });

    test("an `alg: none` token is refused, with or without a signature segment", async () => {
      const { header, payload } = jwtParts(agent.token);
      const unsigned = `${base64url(JSON.stringify({ ...header, alg: "none" }))}.${base64url(JSON.stringify(payload))}`;
      await assertRefused(sessionsWith(`${unsigned}.`).createSession({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);
      await assertRefused(sessionsWith(`${unsigned}.${base64url("x")}`).createSession({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    });

    test("an HS256 token keyed with the Host's public key (key confusion) is refused", async () => {
      const store = await openHostStore(t);
      const key = await store.platform.keys.current("token-signing");
      await store.close();
      assert.ok(key !== null);
      const { header, payload } = jwtParts(agent.token);
      const der = Buffer.from(key.publicKeyPem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
      for (const secret of [Buffer.from(key.publicKeyPem), der, der.subarray(-32)]) {
        const forged = await new SignJWT(payload).setProtectedHeader({ ...header, alg: "HS256" }).sign(new Uint8Array(secret));
        await assertRefused(sessionsWith(forged).createSession({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);
      }
    });

    test("a genuine token whose tenant claim was edited is refused", async () => {
      const [header, , signature] = agent.token.split(".");
      const { payload } = jwtParts(agent.token);
      const edited = `${header}.${base64url(JSON.stringify({ ...payload, tid: "other-tenant" }))}.${signature}`;
      await assertRefused(sessionsWith(edited).createSession({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    });

    test("an expired token signed with the Host's own key is refused as TOKEN_EXPIRED (a fresh one minted the same way works)", async () => {
      const fresh = await mintHostAccessToken(t, { principalId: agent.principalId, tenantId: agent.tenantId, expiresInSeconds: 60 });
      const expired = await mintHostAccessToken(t, { principalId: agent.principalId, tenantId: agent.tenantId, expiresInSeconds: -5, issuedSecondsAgo: 65 });
      keep("minted token", fresh);
      keep("minted expired token", expired);
      const session = await sessionsWith(fresh).createSession({});
      assert.match(session.sessionId, /^ses_/);
      await assertRefused(sessionsWith(expired).createSession({}), "TOKEN_EXPIRED", Code.Unauthenticated);
    });

    test("a revoked service account's unexpired token fails on the next call and its API key no longer exchanges", async () => {
      const victim = await t.actor("victim", ["agent"]);
      keepActor("victim", victim);
      await victim.client(SessionService).createSession({});
      const revoked = await t.admin.client(EnterpriseIdentityService).revokeServiceAccount({ serviceAccountId: victim.principalId, reason: "attack test" });
      assert.equal(revoked.revoked, true);
      await assertRefused(victim.client(SessionService).createSession({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);
      await assertRefused(t.signIn(victim.apiKey), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    });

    test("a wrong API key secret and an unknown key id fail identically, without echoing the key", async () => {
      const [prefix, tenant, keyId] = agent.apiKey.split(".");
      const wrongSecret = `${prefix}.${tenant}.${keyId}.${randomBytes(32).toString("base64url")}`;
      const unknownId = `${prefix}.${tenant}.key_${randomBytes(13).toString("hex")}.${agent.apiKey.split(".").at(-1)}`;
      const a = await assertRefused(t.signIn(wrongSecret), "AUTHENTICATION_FAILED", Code.Unauthenticated);
      const b = await assertRefused(t.signIn(unknownId), "AUTHENTICATION_FAILED", Code.Unauthenticated);
      assert.equal(a.error?.message, b.error?.message);
      assert.deepEqual(a.error?.details, b.error?.details);
      for (const refusal of [a, b]) {
        const shown = text(refusal.error) + refusal.connectError.rawMessage;
        assert.ok(!shown.includes(agent.apiKey.split(".").at(-1) ?? "?"), "the key secret must not be echoed");
      }
    });

    test(
      "an API key naming an unknown tenant fails exactly like a wrong secret (no tenant-existence oracle)",
      async () => {
        const [prefix, tenant, keyId, secret] = agent.apiKey.split(".");
        const known = await assertRefused(t.signIn(`${prefix}.${tenant}.${keyId}.${randomBytes(32).toString("base64url")}`), "AUTHENTICATION_FAILED", Code.Unauthenticated);
        const unknown = await assertRefused(t.signIn(`${prefix}.no-such-tenant.${keyId}.${secret}`), "AUTHENTICATION_FAILED", Code.Unauthenticated);
        assert.deepEqual(unknown.error?.details, known.error?.details);
      },
    );
  });

  void describe("governance", () => {
    test("self-approval is forbidden even to a principal holding the approver role; the contract stays PENDING_APPROVAL", async () => {
      const both = await t.actor("author-and-approver", ["contract-author", "approver"]);
      keepActor("author-and-approver", both);
      await both.client(ContractService).submitContract({ contract: variant("self_approved") });
      const requested = await both.client(EnterpriseGovernanceService).requestApproval({ artifactType: "TOOL_CONTRACT", artifactId: "self_approved@1.0.0", justification: "mine" });
      assert.equal(requested.responseType.case, "successDetails");
      const approvalRequestId = requested.responseType.case === "successDetails" ? requested.responseType.value.approvalRequestId : "";
      await assertRefused(both.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId, decision: "APPROVE" }), "SELF_APPROVAL_FORBIDDEN", Code.PermissionDenied);
      const { contract } = await both.client(ContractService).getContract({ name: "self_approved", contractVersion: "1.0.0" });
      assert.equal(contract?.approvalStatus, "PENDING_APPROVAL");
      const blocked = await allEvents(t.admin, ["approval.self_approval_blocked"]);
      assert.ok(blocked.some((e) => e.principalId === both.principalId), "self-approval attempts are audited");
    });

    test("a principal without the approver role cannot adjudicate", async () => {
      await t.admin.client(ContractService).submitContract({ contract: variant("needs_approver") });
      const requested = await t.admin.client(EnterpriseGovernanceService).requestApproval({ artifactType: "TOOL_CONTRACT", artifactId: "needs_approver@1.0.0", justification: "test" });
      const approvalRequestId = requested.responseType.case === "successDetails" ? requested.responseType.value.approvalRequestId : "";
      const author = await t.actor("author", ["contract-author"]);
      keepActor("author", author);
      for (const outsider of [agent, author]) {
        await assertRefused(outsider.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId, decision: "APPROVE" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      }
      const { contract } = await t.admin.client(ContractService).getContract({ name: "needs_approver", contractVersion: "1.0.0" });
      assert.equal(contract?.approvalStatus, "PENDING_APPROVAL");
    });

    test("a DRAFT or PENDING_APPROVAL contract cannot be invoked", async () => {
      await t.admin.client(ContractService).submitContract({ contract: variant("draft_tool") });
      const { sessionId } = await agent.client(SessionService).createSession({});
      const before = runtime.calls().length;
      for (const name of ["draft_tool", "needs_approver", "self_approved"]) {
        await assertRefused(agent.client(ToolService).invokeTool({ sessionId, call: { name, args: { text: "x" } } }), "CONTRACT_NOT_FOUND", Code.NotFound);
        await assertRefused(agent.client(ToolService).invokeTool({ sessionId, contractVersion: "1.0.0", call: { name, args: { text: "x" } } }), "CONTRACT_NOT_FOUND", Code.NotFound);
      }
      assert.equal(runtime.calls().length, before);
    });

    test("a runtime cannot announce a DRAFT contract (rejected, contract_not_active in audit)", async () => {
      const credentials = await t.enroll(t.admin, "draft-rt", ["draft_tool"]);
      const rogue = track(await connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials, contracts: ["draft_tool@1.0.0"] }));
      assert.equal(rogue.first.kind.case, "rejected");
      assert.equal(rogue.first.kind.case === "rejected" ? rogue.first.kind.value.error?.code : "", "RUNTIME_REJECTED");
      const rejected = await allEvents(t.admin, ["runtime.rejected"]);
      assert.ok(
        rejected.some((e) => e.resource === "runtime:draft-rt" && (e.metadata["rejected"] ?? "").includes("draft_tool@1.0.0:contract_not_active")),
        "the rejection names the contract and contract_not_active",
      );
      assert.ok(await settlesWithin(rogue.ended, 2000), "the Host closes a rejected stream");
    });

    test(
      "the rejection tells the runtime why each declared contract was refused",
      async () => {
        const credentials = await t.enroll(t.admin, "draft-rt-2", ["draft_tool"]);
        const rogue = track(await connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials, contracts: ["draft_tool@1.0.0"] }));
        const rejections = rogue.first.kind.case === "rejected" ? rogue.first.kind.value.rejections : [];
        assert.deepEqual(rejections.map((r) => r.contract), ["draft_tool@1.0.0"]);
        assert.match(rejections[0]?.reason ?? "", /not_active|not ACTIVE/);
      },
    );

    test("a runtime announcing a contract it was not enrolled for is not routed that contract", async () => {
      const credentials = await t.enroll(t.admin, "narrow-rt", ["open_tool"]);
      const narrow = track(await connectRawRuntime({
        url: t.host.runtimePlaneUrl,
        credentials,
        contracts: ["open_tool@1.0.0", "restricted_tool@1.0.0"],
        handlers: { "open_tool@1.0.0": textStats, "restricted_tool@1.0.0": textStats },
      }));
      try {
        assert.equal(narrow.first.kind.case, "accepted");
        assert.deepEqual(narrow.first.kind.case === "accepted" ? narrow.first.kind.value.acceptedContracts : [], ["open_tool@1.0.0"]);
        const rejected = await allEvents(t.admin, ["runtime.rejected"]);
        assert.ok(rejected.some((e) => e.resource === "runtime:narrow-rt" && (e.metadata["rejected"] ?? "").includes("restricted_tool@1.0.0:not_enrolled_for_contract")));
        // A runtime enrolled for nothing it declares is refused outright.
        const none = track(await connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials: await t.enroll(t.admin, "wrong-rt", ["open_tool"]), contracts: ["text_stats@1.0.0"] }));
        assert.equal(none.first.kind.case === "rejected" ? none.first.kind.value.error?.code : "", "RUNTIME_REJECTED");
      } finally {
        narrow.close();
      }
    });
  });

  void describe("authorization", () => {
    let sessionOf: (actor: Actor) => Promise<string>;
    before(() => {
      sessionOf = async (actor) => (await actor.client(SessionService).createSession({})).sessionId;
    });

    test("an agent lacking the contract's required role is denied (and one holding it is served)", async () => {
      const before = runtime.calls().length;
      await assertRefused(agent.client(ToolService).invokeTool({ sessionId: await sessionOf(agent), call: { name: "audited_tool", args: { text: "x" } } }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      assert.equal(runtime.calls().length, before);
      const auditorAgent = await t.actor("auditor-agent", ["agent", "auditor"]);
      keepActor("auditor-agent", auditorAgent);
      const served = await auditorAgent.client(ToolService).invokeTool({ sessionId: await sessionOf(auditorAgent), call: { name: "audited_tool", args: { text: "x y" } } });
      assert.deepEqual(jsonOf(served.result?.content), { words: 2, characters: 3 });
    });

    test("a principal without tools:invoke is denied even for a contract that requires no role", async () => {
      const created = await t.admin.client(EnterpriseIdentityService).createServiceAccount({ name: "session-only", roles: ["auditor"], permissions: ["sessions:create"] });
      assert.equal(created.responseType.case, "successDetails");
      const sessionOnly = await t.signIn(created.responseType.case === "successDetails" ? created.responseType.value.apiKey : "");
      keepActor("session-only", sessionOnly);
      const before = runtime.calls().length;
      const refusal = await assertRefused(
        sessionOnly.client(ToolService).invokeTool({ sessionId: await sessionOf(sessionOnly), call: { name: "open_tool", args: { text: "x" } } }),
        "AUTHORIZATION_DENIED",
        Code.PermissionDenied,
      );
      assert.match(JSON.stringify(refusal.error?.details), /tools:invoke/);
      assert.equal(runtime.calls().length, before);
    });

    test("a restricted contract is refused to an internal-clearance agent (and served to a restricted one)", async () => {
      const internal = await t.actor("internal-agent", ["agent"], t.admin, "internal");
      const cleared = await t.actor("restricted-agent", ["agent"], t.admin, "restricted");
      keepActor("internal-agent", internal);
      keepActor("restricted-agent", cleared);
      await assertRefused(
        internal.client(ToolService).invokeTool({ sessionId: await sessionOf(internal), call: { name: "restricted_tool", args: { text: "x" } } }),
        "SECURITY_CLEARANCE_INSUFFICIENT",
        Code.PermissionDenied,
      );
      const served = await cleared.client(ToolService).invokeTool({ sessionId: await sessionOf(cleared), call: { name: "restricted_tool", args: { text: "x" } } });
      assert.equal(served.result?.status, ResultStatus.SUCCESS);
    });

    test("a service account cannot be given a role, permission or clearance beyond its creator's", async () => {
      const created = await t.admin.client(EnterpriseIdentityService).createServiceAccount({ name: "manager", roles: ["agent"], permissions: ["principals:create"] });
      const manager = await t.signIn(created.responseType.case === "successDetails" ? created.responseType.value.apiKey : "");
      keepActor("manager", manager);
      const identity = manager.client(EnterpriseIdentityService);
      for (const roles of [["approver"], ["tenant-admin"], ["agent", "runtime-operator"]]) {
        await assertRefused(identity.createServiceAccount({ name: "escalated", roles }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      }
      await assertRefused(identity.createServiceAccount({ name: "escalated", roles: ["agent"], permissions: ["*"] }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(identity.createServiceAccount({ name: "escalated", roles: ["agent"], metadata: { clearance: "restricted" } }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      const allowed = await identity.createServiceAccount({ name: "peer", roles: ["agent"] });
      assert.equal(allowed.responseType.case, "successDetails");
      const names = (await t.admin.client(EnterpriseIdentityService).listServiceAccounts({ limit: 500 })).serviceAccounts.map((p) => p.displayName);
      assert.ok(!names.includes("escalated"), "no escalated account was stored");
    });

    test("a tenant administrator outside the platform tenant cannot create, list or suspend tenants", async () => {
      const tenantAdmin = await t.tenant("acme");
      keepActor("acme admin", tenantAdmin);
      const tenants = tenantAdmin.client(TenantService);
      await assertRefused(tenants.createTenant({ tenantId: "evil-corp", displayName: "Evil" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(tenants.listTenants({}), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(tenants.suspendTenant({ tenantId: "platform" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(t.admin.client(TenantService).getTenant({ tenantId: "evil-corp" }), "NOT_FOUND", Code.NotFound);
    });
  });

  void describe("contract authority", () => {
    let sessionId: string;
    before(async () => {
      ({ sessionId } = await agent.client(SessionService).createSession({}));
    });

    test("arguments violating the schema are refused and never reach the runtime", async () => {
      const before = runtime.calls().length;
      for (const args of [{ text: 5 }, {}, { text: "ok", extra: true }, { text: "x".repeat(10_001) }]) {
        await assertRefused(agent.client(ToolService).invokeTool({ sessionId, call: { name: "text_stats", args } }), "PARAMETER_VALIDATION_FAILED", Code.InvalidArgument);
      }
      assert.equal(runtime.calls().length, before, "the runtime received no call");
      const rejected = await allEvents(t.admin, ["tool_call.arguments_rejected"]);
      assert.ok(rejected.length >= 4);
    });

    test("a result violating the return type is withheld (RESULT_VALIDATION_FAILED) and audited as tool_call.result_rejected", async () => {
      const refusal = await assertRefused(agent.client(ToolService).invokeTool({ sessionId, call: { name: "liar_tool", args: { text: "x" } } }), "RESULT_VALIDATION_FAILED", Code.Internal);
      const everything = text(refusal.error) + refusal.connectError.message;
      assert.ok(!everything.includes(leakMarker), "the runtime's content never reaches the caller");
      const rejected = await allEvents(t.admin, ["tool_call.result_rejected"]);
      assert.equal(rejected.length, 1);
      assert.equal(rejected[0]?.resource, "contract:liar_tool@1.0.0");
      assert.equal(rejected[0]?.metadata["runtime_id"], "main-rt");
    });

    test("an invalid streamed chunk ends the call with RESULT_VALIDATION_FAILED and never reaches the caller", async () => {
      const chunks: unknown[] = [];
      const stream = agent.client(ToolService).invokeToolStream({ sessionId, call: { name: "bad_stream", args: { n: 4 } } });
      const refusal = await assertRefused(
        (async () => {
          for await (const message of stream) if (message.kind.case === "chunk") chunks.push(jsonOf(message.kind.value.payload));
        })(),
        "RESULT_VALIDATION_FAILED",
        Code.Internal,
      );
      assert.ok(!text(chunks).includes(leakMarker));
      assert.ok(!text(refusal.error).includes(leakMarker) && !refusal.connectError.message.includes(leakMarker));
      // Only the valid chunks that preceded the bad one may have been delivered, in order.
      assert.deepEqual(chunks, [{ i: 1 }, { i: 2 }].slice(0, chunks.length));
      // The Host keeps serving the same contract family afterwards.
      const ok: unknown[] = [];
      for await (const message of agent.client(ToolService).invokeToolStream({ sessionId, call: { name: "count_to", args: { n: 2 } } })) {
        if (message.kind.case === "chunk") ok.push(jsonOf(message.kind.value.payload));
      }
      assert.deepEqual(ok, [{ i: 1 }, { i: 2 }]);
    });
  });

  void describe("runtime plane TLS", () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), "aesp-tls-"));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    const port = () => new URL(t.host.runtimePlaneUrl).port;

    test("a client presenting no certificate cannot connect", async () => {
      await assert.rejects(
        connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials: runtimeCredentials, contracts: ["text_stats@1.0.0"], tls: { noCertificate: true } }),
        /alert certificate required/,
      );
    });

    test("a TLS 1.2-only client cannot connect (node and openssl s_client), while TLS 1.3 with the certificate can", async () => {
      await assert.rejects(
        connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials: runtimeCredentials, contracts: ["text_stats@1.0.0"], tls: { minVersion: "TLSv1.2", maxVersion: "TLSv1.2" } }),
        /alert protocol version/,
      );
      await writeFile(path.join(dir, "rt.pem"), runtimeCredentials.certificatePem);
      await writeFile(path.join(dir, "rt.key"), runtimeCredentials.privateKeyPem);
      await writeFile(path.join(dir, "ca.pem"), runtimeCredentials.caCertificatePem);
      const sClient = (version: string) => {
        const probe = run("openssl", ["s_client", version, "-connect", `127.0.0.1:${port()}`, "-cert", path.join(dir, "rt.pem"), "-key", path.join(dir, "rt.key"), "-CAfile", path.join(dir, "ca.pem"), "-alpn", "h2"], {
          timeout: 10_000,
        });
        // EOF on stdin: s_client closes the connection once the handshake is done (or failed).
        probe.child.stdin?.end();
        return probe.then(
          (out) => ({ ok: true, output: out.stdout + out.stderr }),
          (err: { stdout?: string; stderr?: string }) => ({ ok: false, output: (err.stdout ?? "") + (err.stderr ?? "") }),
        );
      };
      const tls12 = await sClient("-tls1_2");
      assert.equal(tls12.ok, false, tls12.output);
      assert.match(tls12.output, /Cipher is \(NONE\)/, tls12.output);
      assert.match(tls12.output, /alert protocol version/, tls12.output);
      const tls13 = await sClient("-tls1_3");
      assert.match(tls13.output, /New, TLSv1\.3, Cipher is TLS_/, `control: the same probe with TLS 1.3 completes a handshake\n${tls13.output}`);
    });

    test("a certificate for the same runtime identity issued by another CA is refused", async () => {
      const file = (name: string) => path.join(dir, name);
      await writeFile(file("ext.cnf"), `subjectAltName=URI:${runtimeCredentials.spiffeId}\nextendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n`);
      await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", file("rogue-ca.key"), "-out", file("rogue-ca.pem"), "-days", "1", "-subj", "/CN=Rogue CA"]);
      await run("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", file("rogue.key"), "-out", file("rogue.csr"), "-subj", "/CN=main-rt"]);
      await run("openssl", ["x509", "-req", "-in", file("rogue.csr"), "-CA", file("rogue-ca.pem"), "-CAkey", file("rogue-ca.key"), "-CAcreateserial", "-out", file("rogue.pem"), "-days", "1", "-extfile", file("ext.cnf")]);
      const rogue: RuntimeCredentials = {
        ...runtimeCredentials,
        certificatePem: await readFile(file("rogue.pem"), "utf8"),
        privateKeyPem: await readFile(file("rogue.key"), "utf8"),
      };
      // Refused by TLS itself: a handler would have answered with an AnnouncementRejected instead.
      await assert.rejects(connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials: rogue, contracts: ["text_stats@1.0.0"] }));
      // The same with openssl, waiting for the Host's verdict after the TLS 1.3 client flight: it hangs up.
      const probe = run("openssl", ["s_client", "-tls1_3", "-ign_eof", "-connect", `127.0.0.1:${port()}`, "-cert", file("rogue.pem"), "-key", file("rogue.key"), "-alpn", "h2"], { timeout: 5000 });
      probe.child.stdin?.end();
      const verdict = await probe.then(
        () => ({ killed: false, output: "" }),
        (err: { killed?: boolean; stdout?: string; stderr?: string }) => ({ killed: err.killed === true, output: (err.stdout ?? "") + (err.stderr ?? "") }),
      );
      assert.equal(verdict.killed, false, "the Host closed the connection instead of serving it");
      assert.match(verdict.output, /unexpected eof|alert/, verdict.output);
    });

    test("a revoked certificate is no longer routed to and is refused on reconnect", async () => {
      const credentials = await t.enroll(t.admin, "revoked-rt", ["open_tool"]);
      const doomed = track(await connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials, contracts: ["open_tool@1.0.0"], handlers: { "open_tool@1.0.0": textStats } }));
      assert.equal(doomed.first.kind.case, "accepted");
      await t.admin.client(RuntimeAdminService).revokeCertificate({ serialNumber: credentials.serial, reason: "key compromise" });
      const listed = await t.admin.client(RuntimeAdminService).listRuntimes({ runtimeId: "revoked-rt" });
      assert.equal(listed.runtimes[0]?.connected, false);
      assert.ok((listed.runtimes[0]?.certificates[0]?.revokedAtUnixMs ?? 0n) > 0n);
      const { sessionId } = await agent.client(SessionService).createSession({});
      for (let i = 0; i < 4; i++) await agent.client(ToolService).invokeTool({ sessionId, call: { name: "open_tool", args: { text: "x" } } });
      assert.equal(doomed.calls().length, 0, "no call reaches the revoked runtime");
      const again = await connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials, contracts: ["open_tool@1.0.0"] }).catch((err: unknown) => err);
      if (again instanceof Error) return; // refused during the handshake: also acceptable
      track(again as RawRuntime);
      const first = (again as RawRuntime).first;
      assert.equal(first.kind.case, "rejected");
      assert.equal(first.kind.case === "rejected" ? first.kind.value.error?.code : "", "CERTIFICATE_INVALID");
    });

    test(
      "revoking a certificate closes its live stream",
      async () => {
        const credentials = await t.enroll(t.admin, "revoked-rt-2", ["open_tool"]);
        const doomed = track(await connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials, contracts: ["open_tool@1.0.0"], handlers: { "open_tool@1.0.0": textStats } }));
        assert.equal(doomed.first.kind.case, "accepted");
        await t.admin.client(RuntimeAdminService).revokeCertificate({ serialNumber: credentials.serial, reason: "key compromise" });
        assert.ok(await settlesWithin(doomed.ended, 1500), "the live stream is closed by the Host");
      },
    );
  });

  void describe("secrets", () => {
    test("no API key, access token, join token or bootstrap token appears in audit, metrics or the database", async () => {
      // One more join token, redeemed, so enrolment is covered too.
      const { joinToken } = await t.admin.client(RuntimeAdminService).createJoinToken({ runtimeId: "secret-rt", allowedContracts: ["text_stats"] });
      keep("join token", joinToken);
      keep("join token secret", joinToken.split(".").at(-1) ?? "");
      const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      await createClient(RuntimeAdminService, t.anonymous).enrollRuntime({ joinToken, runtimeId: "secret-rt", publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString() });
      // A replayed join token and a bad API key both fail, and must not be recorded either.
      await assertRefused(
        createClient(RuntimeAdminService, t.anonymous).enrollRuntime({ joinToken, runtimeId: "secret-rt", publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString() }),
        "AUTHENTICATION_FAILED",
        Code.Unauthenticated,
      );
      await assertRefused(createClient(EnterpriseAuthenticationService, t.anonymous).authenticateServiceAccount({ credential: { case: "apiKey", value: `${agent.apiKey}x` } }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
      const values = secrets.filter((s) => s.value.length >= 16);
      assert.ok(values.length > 20, "the run handled secrets to look for");

      const records = await readAllAuditRecords(t);
      assert.ok(records.length > 50);
      const wire = [...(await allEvents(t.admin)), ...(await allEvents(await t.signIn(secrets.find((s) => s.label === "acme admin api key")?.value ?? "")))];
      const metrics = await rawGatewayRequest(t, { method: "GET", path: "/metrics" });
      assert.equal(metrics.status, 200);
      const sqlite = path.join(t.host.dataDir, "aesp.db");
      const database = [await readFile(sqlite, "latin1"), await readFile(`${sqlite}-wal`, "latin1").catch(() => "")].join("");
      const haystacks = {
        "audit store": records.map((r) => JSON.stringify(r)).join("\n"),
        "QueryEvents": text(wire),
        "/metrics": metrics.body.toString("utf8"),
        "database files": database,
      };
      for (const [where, text] of Object.entries(haystacks)) {
        for (const secret of values) assert.ok(!text.includes(secret.value), `${secret.label} appears in ${where}`);
      }
    });
  });
});

for (const kind of ["sqlite", "postgres"] as StorageKind[]) {
  void describe(`tenants never meet on ${kind}`, () => {
    let t: TestHost;
    let adminA: Actor;
    let adminB: Actor;
    let agentA: Actor;
    let agentB: Actor;
    let runtimeA: RawRuntime;
    let sessionA: string;
    let pendingApprovalA: string;
    const opened: RawRuntime[] = [];
    const track = (r: RawRuntime) => (opened.push(r), r);

    before(async () => {
      t = await startTestHost(kind);
      adminA = await t.tenant("tenant-a");
      adminB = await t.tenant("tenant-b");
      const approverA = await t.actor("approver", ["approver"], adminA);
      const approverB = await t.actor("approver", ["approver"], adminB);
      agentA = await t.actor("agent", ["agent"], adminA);
      agentB = await t.actor("agent", ["agent"], adminB);
      await t.activate(textStatsContract, adminA, approverA);
      await t.activate(textStatsContract, adminB, approverB);
      await t.activate(variant("b_only"), adminB, approverB);
      await adminA.client(ContractService).submitContract({ contract: variant("a_secret") });
      const requested = await adminA.client(EnterpriseGovernanceService).requestApproval({ artifactType: "TOOL_CONTRACT", artifactId: "a_secret@1.0.0", justification: "pending" });
      pendingApprovalA = requested.responseType.case === "successDetails" ? requested.responseType.value.approvalRequestId : "";
      runtimeA = await connectRawRuntime({
        url: t.host.runtimePlaneUrl,
        credentials: await t.enroll(adminA, "a-tools", ["text_stats", "b_only"]),
        contracts: ["text_stats@1.0.0", "b_only@1.0.0"],
        handlers: { "text_stats@1.0.0": textStats, "b_only@1.0.0": textStats },
      });
      ({ sessionId: sessionA } = await agentA.client(SessionService).createSession({}));
    });

    after(async () => {
      for (const r of [runtimeA, ...opened]) r?.close();
      await t?.stop();
    });

    test("tenant A's runtime is admitted only for A's ACTIVE contracts, not for one ACTIVE only in B", async () => {
      assert.equal(runtimeA.first.kind.case, "accepted");
      assert.deepEqual(runtimeA.first.kind.case === "accepted" ? runtimeA.first.kind.value.acceptedContracts : [], ["text_stats@1.0.0"]);
      const onlyB = track(await connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials: await t.enroll(adminA, "a-wants-b", ["b_only"]), contracts: ["b_only@1.0.0"] }));
      assert.equal(onlyB.first.kind.case === "rejected" ? onlyB.first.kind.value.error?.code : onlyB.first.kind.case, "RUNTIME_REJECTED");
      const rejected = await allEvents(adminA, ["runtime.rejected"]);
      assert.ok(rejected.some((e) => (e.metadata["rejected"] ?? "").includes("b_only@1.0.0:contract_not_active")));
    });

    test("a runtime enrolled in A announcing tenant B (or another runtime id) is rejected", async () => {
      const credentials = await t.enroll(adminA, "a-liar", ["text_stats"]);
      for (const claim of [{ tenantId: "tenant-b" }, { runtimeId: "a-tools" }]) {
        const liar = track(await connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials, contracts: ["text_stats@1.0.0"], ...claim }));
        assert.equal(liar.first.kind.case, "rejected");
        assert.equal(liar.first.kind.case === "rejected" ? liar.first.kind.value.error?.code : "", "RUNTIME_REJECTED");
      }
      const rejected = await allEvents(adminA, ["runtime.rejected"]);
      assert.ok(rejected.some((e) => e.metadata["reason"] === "tenant_does_not_match_certificate" && e.riskScore === "HIGH"));
      assert.deepEqual((await allEvents(adminB, ["runtime.rejected", "runtime.admitted"])).length, 0, "nothing about A's runtimes lands in B");
    });

    test("B using A's session id gets SESSION_NOT_FOUND, exactly as for a session that never existed, and it is audited", async () => {
      const tools = agentB.client(ToolService);
      const foreign = await assertRefused(tools.invokeTool({ sessionId: sessionA, call: { name: "text_stats", args: { text: "x" } } }), "SESSION_NOT_FOUND", Code.NotFound);
      const missing = await assertRefused(tools.invokeTool({ sessionId: `ses_${"0".repeat(26)}`, call: { name: "text_stats", args: { text: "x" } } }), "SESSION_NOT_FOUND", Code.NotFound);
      assert.equal(foreign.error?.message, missing.error?.message);
      assert.deepEqual(foreign.error?.details, missing.error?.details);
      await assertRefused(agentB.client(SessionService).getSession({ sessionId: sessionA }), "SESSION_NOT_FOUND", Code.NotFound);
      await assertRefused(agentB.client(SessionService).destroySession({ sessionId: sessionA, force: true }), "SESSION_NOT_FOUND", Code.NotFound);
      const attempts = await allEvents(adminB, ["security.cross_tenant_attempt"]);
      assert.ok(attempts.some((e) => e.principalId === agentB.principalId && e.resource === `session:${sessionA}`));
      // A's session is untouched.
      const still = await agentA.client(ToolService).invokeTool({ sessionId: sessionA, call: { name: "text_stats", args: { text: "still mine" } } });
      assert.equal(still.result?.status, ResultStatus.SUCCESS);
    });

    test("B cannot read A's contract, and B's listings hold only B's contracts, approvals, principals and events", async () => {
      await assertRefused(adminB.client(ContractService).getContract({ name: "a_secret", contractVersion: "1.0.0" }), "CONTRACT_NOT_FOUND", Code.NotFound);
      await assertRefused(adminB.client(ContractService).getContract({ name: "a_secret", contractVersion: "" }), "CONTRACT_NOT_FOUND", Code.NotFound);
      const contractsB = (await adminB.client(ContractService).listContracts({ limit: 500 })).contracts.map((c) => c.name).sort();
      assert.deepEqual(contractsB, ["b_only", "text_stats"]);
      const governance = adminB.client(EnterpriseGovernanceService);
      const approvalsB = [...(await governance.listPendingApprovals({ limit: 500 })).approvals, ...(await governance.getApprovalHistory({ limit: 500 })).approvals];
      assert.ok(approvalsB.length > 0);
      assert.ok(approvalsB.every((a) => a.tenantId === "tenant-b" && a.approvalRequestId !== pendingApprovalA));
      const principalsB = (await adminB.client(EnterpriseIdentityService).listPrincipals({ limit: 500, includeInactive: true })).principals;
      assert.ok(principalsB.length >= 3);
      assert.ok(principalsB.every((p) => p.tenantId === "tenant-b"));
      assert.ok(!principalsB.some((p) => [adminA.principalId, agentA.principalId].includes(p.principalId)));
      await assertRefused(adminB.client(EnterpriseIdentityService).getPrincipalDetails({ principalId: agentA.principalId }), "NOT_FOUND", Code.NotFound);
      const eventsB = await allEvents(adminB);
      assert.ok(eventsB.length > 0);
      assert.ok(eventsB.every((e) => e.tenantId === "tenant-b"));
      assert.ok(!JSON.stringify(eventsB.map((e) => [e.principalId, e.resource, e.metadata])).includes(agentA.principalId));
      const runtimesB = (await adminB.client(RuntimeAdminService).listRuntimes({})).runtimes;
      assert.deepEqual(runtimesB, []);
    });

    test("B cannot adjudicate A's approval: NOT_FOUND, and it stays pending", async () => {
      await assertRefused(adminB.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: pendingApprovalA, decision: "APPROVE" }), "NOT_FOUND", Code.NotFound);
      const pending = (await adminA.client(EnterpriseGovernanceService).listPendingApprovals({ limit: 500 })).approvals;
      assert.ok(pending.some((a) => a.approvalRequestId === pendingApprovalA && a.status === "PENDING"));
      const { contract } = await adminA.client(ContractService).getContract({ name: "a_secret", contractVersion: "1.0.0" });
      assert.equal(contract?.approvalStatus, "PENDING_APPROVAL");
    });

    test("naming tenant A in a tenant_id field is NOT_FOUND, the same as naming no tenant at all", async () => {
      for (const tenantId of ["tenant-a", "no-such-tenant"]) {
        await assertRefused(adminB.client(EnterpriseAuditService).queryEvents({ tenantId }), "NOT_FOUND", Code.NotFound);
        await assertRefused(adminB.client(EnterpriseIdentityService).listPrincipals({ tenantId }), "NOT_FOUND", Code.NotFound);
        await assertRefused(
          adminB.client(EnterpriseGovernanceService).requestApproval({ tenantId, artifactType: "TOOL_CONTRACT", artifactId: "a_secret@1.0.0", justification: "steal" }),
          "NOT_FOUND",
          Code.NotFound,
        );
        await assertRefused(adminB.client(EnterpriseGovernanceService).listPendingApprovals({ tenantId }), "NOT_FOUND", Code.NotFound);
      }
    });

    test(
      "a request naming another tenant's tenant_id is audited as a security event",
      async () => {
        const before = (await allEvents(adminB, ["security.cross_tenant_attempt"])).length;
        await assertRefused(adminB.client(EnterpriseAuditService).queryEvents({ tenantId: "tenant-a" }), "NOT_FOUND", Code.NotFound);
        const afterwards = (await allEvents(adminB, ["security.cross_tenant_attempt"])).length;
        assert.equal(afterwards, before + 1);
      },
    );

    test("a call from B is never routed to A's runtime, even for a same-named contract", async () => {
      const before = runtimeA.calls().length;
      const { sessionId } = await agentB.client(SessionService).createSession({});
      const refusal = await assertRefused(agentB.client(ToolService).invokeTool({ sessionId, call: { name: "text_stats", args: { text: "from b" } } }), "UNAVAILABLE", Code.Unavailable);
      assert.ok(Number(refusal.error?.retryAfterMs ?? 0n) > 0);
      await assertRefused(agentB.client(ToolService).invokeTool({ sessionId, call: { name: "b_only", args: { text: "from b" } } }), "UNAVAILABLE", Code.Unavailable);
      assert.equal(runtimeA.calls().length, before, "A's runtime received no call from B");
      // Control: A's runtime is alive and serves A.
      const served = await agentA.client(ToolService).invokeTool({ sessionId: sessionA, call: { name: "text_stats", args: { text: "from a" } } });
      assert.equal(served.result?.status, ResultStatus.SUCCESS);
      assert.equal(runtimeA.calls().length, before + 1);
      assert.ok(runtimeA.calls().every((c) => c.securityContext?.tenantId === "tenant-a"));
    });
  });
}
