/**
 * The governed tool call end to end, on SQLite and on PostgreSQL: bootstrap an admin,
 * approve contracts as a second principal, enrol a runtime over mTLS 1.3, invoke
 * (unary and streaming) as an agent, and verify the audit log offline.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { SessionService, ToolService } from "@aesp/proto/client";
import { ResultStatus } from "@aesp/proto/adm";
import { generateKeyPairSync } from "node:crypto";
import { verifyAuditStore } from "@aesp/host";
import { RuntimeAdminService } from "@aesp/proto/runtime_admin";
import { rpcStatus } from "../../packages/host/src/gateway/rpc-status.ts";
import { countToContract, startTestHost, textStatsContract } from "../support/harness.ts";
import type { Actor, StorageKind, TestHost } from "../support/harness.ts";
import { connectRawRuntime, jsonOf } from "../support/raw-runtime.ts";
import type { RawRuntime } from "../support/raw-runtime.ts";

for (const kind of ["sqlite", "postgres"] as StorageKind[]) {
  void describe(`governed call on ${kind}`, () => {
    let t: TestHost;
    let agent: Actor;
    let runtime: RawRuntime;

    before(async () => {
      t = await startTestHost(kind);
      const approver = await t.actor("approver", ["approver"]);
      agent = await t.actor("agent", ["agent"]);
      await t.activate(textStatsContract, t.admin, approver);
      await t.activate(countToContract, t.admin, approver);
      const credentials = await t.enroll(t.admin, "text-tools", ["text_stats", "count_to"]);
      runtime = await connectRawRuntime({
        url: t.host.runtimePlaneUrl,
        credentials,
        contracts: ["text_stats@1.0.0", "count_to@1.0.0"],
        handlers: {
          "text_stats@1.0.0": async (call) => {
            const text = call.call?.args?.["text"];
            if (typeof text !== "string") return { error: { type: "BAD_ARGS", message: "text must be a string" } };
            return { words: text.split(/\s+/).filter(Boolean).length, characters: text.length };
          },
          "count_to@1.0.0": async (call, emit) => {
            const n = Number(call.call?.args?.["n"] ?? 0);
            for (let i = 1; i <= n; i++) emit({ i });
            return null;
          },
        },
      });
    });

    after(async () => {
      runtime?.close();
      await t?.stop();
    });

    test("the runtime is admitted for exactly its ACTIVE contracts", () => {
      assert.equal(runtime.first.kind.case, "accepted");
      assert.deepEqual([...(runtime.first.kind.case === "accepted" ? runtime.first.kind.value.acceptedContracts : [])].sort(), ["count_to@1.0.0", "text_stats@1.0.0"]);
    });

    test("an agent invokes a unary tool and gets the validated result", async () => {
      const { sessionId, tenantId } = await agent.client(SessionService).createSession({ ttlSeconds: 600 });
      assert.equal(tenantId, agent.tenantId);
      const response = await agent.client(ToolService).invokeTool({ sessionId, call: { name: "text_stats", args: { text: "hello governed world" } } });
      assert.equal(response.result?.status, ResultStatus.SUCCESS);
      assert.deepEqual(jsonOf(response.result?.content), { words: 3, characters: 20 });
      assert.match(response.invocationId, /^inv_/);
    });

    test("a streaming tool delivers every chunk in order, then the result", async () => {
      const { sessionId } = await agent.client(SessionService).createSession({});
      const chunks: unknown[] = [];
      let final: ResultStatus | undefined;
      for await (const message of agent.client(ToolService).invokeToolStream({ sessionId, call: { name: "count_to", args: { n: 5 } } })) {
        if (message.kind.case === "chunk") chunks.push(jsonOf(message.kind.value.payload));
        if (message.kind.case === "result") final = message.kind.value.status;
      }
      assert.deepEqual(chunks, [{ i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }, { i: 5 }]);
      assert.equal(final, ResultStatus.SUCCESS);
    });

    test("the RPC status table the API reference is generated from matches what the gateway serves", () => {
      assert.deepEqual(Object.keys(rpcStatus).filter((k) => rpcStatus[k] === "implemented").sort(), [...t.host.implementedRpcs].sort());
    });

    test("an operator renews a runtime certificate for a new key, and the new certificate is admitted", async () => {
      const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const renewed = await t.admin.client(RuntimeAdminService).renewCertificate({ runtimeId: "text-tools", publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString() });
      assert.match(renewed.spiffeId, /\/tenant\/platform\/runtime\/text-tools$/);
      const second = await connectRawRuntime({
        url: t.host.runtimePlaneUrl,
        credentials: {
          runtimeId: "text-tools",
          tenantId: t.admin.tenantId,
          certificatePem: renewed.certificatePem,
          privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
          caCertificatePem: renewed.caCertificatesPem[0] ?? "",
          serial: renewed.serialNumber,
          spiffeId: renewed.spiffeId,
        },
        contracts: ["text_stats@1.0.0"],
      });
      assert.equal(second.first.kind.case, "accepted");
      second.close();
    });

    test("every step is in the audit log, confined to the tenant, and the log verifies offline", async () => {
      const { events } = await t.admin.client(EnterpriseAuditService).queryEvents({ limit: 1000 });
      const types = new Set(events.map((e) => e.eventType));
      for (const expected of ["bootstrap.redeemed", "authn.succeeded", "contract.submitted", "approval.requested", "approval.granted", "contract.activated", "runtime.enrolled", "runtime.admitted", "session.created", "authz.allowed", "tool_call.started", "tool_call.completed"]) {
        assert.ok(types.has(expected), `missing audit event ${expected}`);
      }
      assert.ok(events.every((e) => e.tenantId === t.admin.tenantId));
      const verification = await verifyAuditStore({ flags: await t.storeFlags(), publicKeyPem: t.host.auditPublicKeyPem });
      assert.equal(verification.ok, true, JSON.stringify(verification));
    });
  });
}
