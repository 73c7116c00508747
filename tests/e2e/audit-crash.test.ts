/**
 * Nothing is acknowledged that is not audited — even across a crash. A Host runs in a process of
 * its own and serves a stream of concurrent governed calls; the test records every call the client
 * got a success reply for, kills the Host with SIGKILL mid-stream, restarts it on the same store,
 * and does that three times at different moments. Then: every acknowledged call has its durable
 * `tool_call.completed` record, the Host started cleanly each time (it verifies the stored log
 * before it serves), calls work after the last restart, and the log verifies offline.
 * On SQLite and PostgreSQL.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import type { Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ResultStatus } from "@aesp/proto/adm";
import { EnterpriseAuthenticationService } from "@aesp/proto/authentication";
import { SessionService, ToolService } from "@aesp/proto/client";
import { verifyAuditStore } from "@aesp/host";
import { readAllAuditRecords, startTestHost, textStatsContract } from "../support/harness.ts";
import type { Actor, RuntimeCredentials, StorageKind, TestHost } from "../support/harness.ts";
import { connectRawRuntime } from "../support/raw-runtime.ts";

const hostScript = fileURLToPath(new URL("../support/host-process.ts", import.meta.url));

/** Acknowledged calls after which each round's Host is killed: early, mid-stream, later. */
const killAfter = [5, 40, 120];
/** Concurrent callers: calls are always in flight when the kill lands. */
const callers = 12;

interface ChildHost {
  readonly child: ChildProcess;
  readonly gatewayUrl: string;
  readonly runtimePlaneUrl: string;
  readonly caCertificatePem: string;
}

/** Starts a Host process on `flags` and waits for its ready line. */
async function spawnHost(flags: Record<string, unknown>): Promise<ChildHost> {
  const child = spawn(process.execPath, [hostScript, JSON.stringify(flags)], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const exited = once(child, "exit").then(([code, signal]) => {
    throw new Error(`the Host process exited before it was ready (code ${String(code)}, signal ${String(signal)})`);
  });
  const ready = (async () => {
    for await (const line of lines) {
      const message = JSON.parse(line) as { type: string; message?: string; gatewayUrl: string; runtimePlaneUrl: string; caCertificatePem: string };
      if (message.type === "error") throw new Error(`the Host did not start: ${message.message ?? ""}`);
      if (message.type === "ready") return message;
    }
    throw new Error("the Host process closed its output before it was ready");
  })();
  const message = await Promise.race([ready, exited]);
  return { child, gatewayUrl: message.gatewayUrl, runtimePlaneUrl: message.runtimePlaneUrl, caCertificatePem: message.caCertificatePem };
}

/** Kills the Host process with SIGKILL (no shutdown step runs) and waits until it is gone. */
async function killHost(host: ChildHost): Promise<void> {
  if (host.child.exitCode !== null || host.child.signalCode !== null) return;
  const gone = once(host.child, "exit");
  host.child.kill("SIGKILL");
  await gone;
}

/** Closes the Host process gracefully (end of stdin) and waits for it to exit. */
async function closeHost(host: ChildHost): Promise<void> {
  if (host.child.exitCode !== null || host.child.signalCode !== null) return;
  const gone = once(host.child, "exit");
  host.child.stdin?.end();
  await gone;
}

/** An agent signed in to `host` with its API key, with the tool and session clients. */
async function agentOn(host: ChildHost, apiKey: string) {
  let token = "";
  const auth: Interceptor = (next) => (req) => {
    if (token !== "") req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl: host.gatewayUrl, httpVersion: "2", nodeOptions: { ca: host.caCertificatePem }, interceptors: [auth] });
  const signedIn = await createClient(EnterpriseAuthenticationService, transport).authenticateServiceAccount({ credential: { case: "apiKey", value: apiKey } });
  token = signedIn.accessToken;
  const { sessionId } = await createClient(SessionService, transport).createSession({ ttlSeconds: 600 });
  const tools = createClient(ToolService, transport);
  return {
    /** One governed call; resolves with its invocation id only when the Host replied SUCCESS. */
    async call(i: number): Promise<string> {
      const response = await tools.invokeTool({ sessionId, call: { name: "text_stats", args: { text: `call ${String(i)}` } } });
      if (response.result?.status !== ResultStatus.SUCCESS) throw new Error(`call ${String(i)} did not succeed`);
      return response.invocationId;
    },
  };
}

/** Connects the text_stats runtime to `host`. */
function runtimeOn(host: ChildHost, credentials: RuntimeCredentials) {
  return connectRawRuntime({
    url: host.runtimePlaneUrl,
    credentials,
    contracts: ["text_stats@1.0.0"],
    handlers: {
      "text_stats@1.0.0": async (call) => {
        const text = call.call?.args?.["text"];
        if (typeof text !== "string") return { error: { type: "BAD_ARGS", message: "text must be a string" } };
        return { words: text.split(/\s+/).filter(Boolean).length, characters: text.length };
      },
    },
  });
}

for (const kind of ["sqlite", "postgres"] as StorageKind[]) {
  void describe(`SIGKILL during a stream of calls on ${kind}`, () => {
    let t: TestHost;
    let agent: Actor;
    let credentials: RuntimeCredentials;
    let flags: Record<string, unknown>;
    let current: ChildHost | null = null;
    const acknowledged = new Set<string>();

    before(async () => {
      // Prepared in process, then closed: every later start is a separate process on the same store.
      t = await startTestHost(kind, { "audit.checkpoint_every": 25 });
      const approver = await t.actor("approver", ["approver"]);
      agent = await t.actor("agent", ["agent"]);
      await t.activate(textStatsContract, t.admin, approver);
      credentials = await t.enroll(t.admin, "text-tools", ["text_stats"]);
      flags = {
        ...(await t.storeFlags()),
        "gateway.port": 0,
        "runtime_plane.port": 0,
        "runtime_plane.heartbeat_interval_ms": 1000,
        "identity.lockout_source_failures": 1_000_000,
        "gateway.rate_limit_per_ip": 1_000_000_000,
        "gateway.rate_limit_per_principal": 1_000_000_000,
        "audit.checkpoint_every": 25,
        // SQLite commits synchronously within a turn of the event loop, before any reply could
        // reach the client: a batch wait opens the window in which an early reply would be lost.
        // PostgreSQL runs with the default (no wait).
        ...(kind === "sqlite" ? { "audit.batch_max_wait_ms": 5 } : {}),
      };
      await t.host.close();
    });

    after(async () => {
      if (current !== null) await killHost(current);
      await t?.stop();
    });

    test("every acknowledged call survives three kills, and the log verifies", { timeout: 180_000 }, async () => {
      let next = 0;
      for (const [round, threshold] of killAfter.entries()) {
        const host = await spawnHost(flags);
        current = host;
        const runtime = await runtimeOn(host, credentials);
        assert.equal(runtime.first.kind.case, "accepted");
        const client = await agentOn(host, agent.apiKey);
        let ackedThisRound = 0;
        let killed: Promise<void> | null = null;
        const worker = async () => {
          // Each caller loops until its call fails, which happens once the Host is gone.
          for (;;) {
            let invocationId: string;
            try {
              invocationId = await client.call(next++);
            } catch {
              return;
            }
            acknowledged.add(invocationId);
            ackedThisRound += 1;
            // The kill lands while the other callers' calls are in flight.
            if (ackedThisRound >= threshold) killed ??= killHost(host);
          }
        };
        await Promise.all(Array.from({ length: callers }, worker));
        await (killed ?? killHost(host));
        runtime.abort();
        current = null;
        assert.ok(ackedThisRound >= threshold, `round ${String(round)}: ${String(ackedThisRound)} calls acknowledged before the kill`);
      }

      // The last restart: the Host verifies the stored log on open, then serves again.
      const host = await spawnHost(flags);
      current = host;
      const runtime = await runtimeOn(host, credentials);
      const client = await agentOn(host, agent.apiKey);
      acknowledged.add(await client.call(next++));
      runtime.close();
      await closeHost(host);
      current = null;

      const completed = new Set(
        (await readAllAuditRecords(t)).filter((record) => record.eventType === "tool_call.completed").map((record) => record.metadata["invocation_id"]),
      );
      const missing = [...acknowledged].filter((id) => !completed.has(id));
      assert.deepEqual(missing, [], `${String(missing.length)} of ${String(acknowledged.size)} acknowledged calls have no tool_call.completed record`);
      assert.ok(acknowledged.size >= killAfter.reduce((a, b) => a + b, 1));
      const verification = await verifyAuditStore({ flags: await t.storeFlags(), publicKeyPem: t.host.auditPublicKeyPem });
      assert.equal(verification.ok, true, JSON.stringify(verification));
    });
  });
}
