// The quick start of examples/README.md, step by step, against a real Host: the CLI (in process,
// exactly as `aesp` runs it), the example runtime (a child process, as a user starts it) and the
// client SDK. If this passes, the README's commands work.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AespError, createAespClient } from "@aesp/client";
import type { AespClient, InvokeStreamEvent } from "@aesp/client";
import { startHost } from "@aesp/host";
import type { CliIo, HostModule } from "../packages/cli/src/context.ts";
import { runCli } from "../packages/cli/src/main.ts";
import { readProfiles } from "../packages/cli/src/profiles.ts";

const examplesDir = import.meta.dirname;

describe("examples/README.md quick start against a real Host", () => {
  let work: string;
  let host: Awaited<ReturnType<typeof startHost>>;
  let runtimeProcess: ChildProcess | undefined;
  let runtimeLog = "";
  let agent: AespClient | undefined;

  const aesp = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    let stdout = "";
    let stderr = "";
    const io: CliIo = {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      env: { AESP_HOME: join(work, "home") },
      cwd: work,
      stderrIsTty: false,
      waitForShutdownSignal: () => new Promise(() => undefined),
      loadHost: async (): Promise<HostModule> => import("@aesp/host"),
      readSecret: () => Promise.reject(new Error("no terminal in this test")),
      openBrowser: () => Promise.reject(new Error("no browser in this test")),
    };
    const code = await runCli(["--host", host.gatewayUrl, "--ca", join(host.dataDir, "ca.pem"), ...args], io);
    return { code, stdout, stderr };
  };
  const ok = async (args: string[]): Promise<string> => {
    const result = await aesp(args);
    assert.equal(result.code, 0, `aesp ${args.join(" ")} failed:\n${result.stderr}`);
    return result.stdout;
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "aesp-quickstart-"));
    host = await startHost({ flags: { data_dir: join(work, "data"), "gateway.port": 0, "runtime_plane.port": 0 }, env: {}, logDestination: "silent" });
  });

  after(async () => {
    agent?.close();
    if (runtimeProcess !== undefined && runtimeProcess.exitCode === null) {
      runtimeProcess.kill("SIGKILL");
      await once(runtimeProcess, "exit");
    }
    await host.close();
    await rm(work, { recursive: true, force: true });
  });

  test("from the bootstrap token to governed calls served by the example runtime", async () => {
    assert.ok(host.bootstrapToken !== null, "a fresh data directory prints a bootstrap token");

    // 1. The first administrator, then an approver and an agent (requester ≠ approver).
    await ok(["login", "--bootstrap-token", host.bootstrapToken]);
    await ok(["service-account", "create", "--name", "approver", "--role", "approver", "--save-profile", "approver"]);
    await ok(["service-account", "create", "--name", "agent", "--role", "agent", "--clearance", "internal", "--save-profile", "agent"]);

    // 2. The contracts: submitted, then approved by someone else.
    for (const file of ["text-stats.json", "count-to.json"]) {
      await ok(["contract", "submit", join(examplesDir, "contracts", file), "--request-approval", "--justification", "quick start"]);
    }
    const pending = JSON.parse(await ok(["--json", "approval", "list"])) as { items: Array<{ approval_request_id: string }> };
    assert.equal(pending.items.length, 2);
    const selfApproval = await aesp(["approval", "approve", pending.items[0]?.approval_request_id ?? ""]);
    assert.equal(selfApproval.code, 1);
    assert.match(selfApproval.stderr, /error SELF_APPROVAL_FORBIDDEN/);
    for (const item of pending.items) await ok(["--profile", "approver", "approval", "approve", item.approval_request_id]);
    assert.match(await ok(["contract", "list", "--status", "ACTIVE"]), /count_to\s+1\.0\.0\s+ACTIVE[\s\S]*text_stats\s+1\.0\.0\s+ACTIVE/);

    // 3. Enroll the runtime: join token, then a locally generated key.
    const token = JSON.parse(await ok(["--json", "runtime", "token", "create", "--runtime-id", "text-tools", "--contract", "text_stats", "--contract", "count_to"])) as { join_token: string };
    await ok(["runtime", "enroll", "--token", token.join_token, "--runtime-id", "text-tools", "--out", "text-tools", "--runtime-plane", host.runtimePlaneUrl]);

    // 4. Start the example runtime as a user would, and wait until the Host accepted it.
    runtimeProcess = spawn(process.execPath, [join(examplesDir, "text-tools-runtime.ts"), "--enrollment", join(work, "text-tools")], { stdio: ["ignore", "ignore", "pipe"] });
    const connected = new Promise<void>((resolve, reject) => {
      runtimeProcess?.stderr?.on("data", (chunk: Buffer) => {
        runtimeLog += chunk.toString();
        if (/serving text_stats@1\.0\.0, count_to@1\.0\.0/.test(runtimeLog)) resolve();
      });
      runtimeProcess?.on("exit", () => reject(new Error(`the runtime exited:\n${runtimeLog}`)));
    });
    await connected;
    assert.match(await ok(["runtime", "list"]), /text-tools\s+yes\s+yes/);

    // 5. Governed calls through the CLI, as the agent.
    const stats = JSON.parse(await ok(["--profile", "agent", "invoke", "text_stats", "--args", '{"text": "hello governed world\\nsecond line"}'])) as unknown;
    assert.deepEqual(stats, { words: 5, characters: 32, lines: 2 });
    assert.equal(await ok(["--profile", "agent", "invoke", "count_to", "--args", '{"n": 3}', "--stream"]), '{"i":1}\n{"i":2}\n{"i":3}\n');
    const invalid = await aesp(["--profile", "agent", "invoke", "count_to", "--args", '{"n": 1000}', "--stream"]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /error PARAMETER_VALIDATION_FAILED/);

    // 6. The same through the client SDK.
    const profiles = await readProfiles(join(work, "home", "profiles.json"));
    agent = createAespClient({ baseUrl: host.gatewayUrl, caCertificatePem: host.caCertificatePem, apiKey: profiles.profiles["agent"]?.api_key ?? "" });
    const session = await agent.createSession({ ttlSeconds: 300 });
    const result = await agent.invoke(session.sessionId, "text_stats", { text: "a b c" }, { contractVersion: "1.0.0" });
    assert.equal(result.status, "SUCCESS");
    assert.ok(result.status === "SUCCESS" && (result.content as { words: number }).words === 3);
    const events: InvokeStreamEvent[] = [];
    for await (const event of agent.invokeStream(session.sessionId, "count_to", { n: 2, delay_ms: 10 })) events.push(event);
    assert.deepEqual(
      events.map((event) => (event.kind === "chunk" ? event.payload : event.status)),
      [{ i: 1 }, { i: 2 }, "SUCCESS"],
    );
    await assert.rejects(agent.invoke(session.sessionId, "no_such_tool", {}), (err: unknown) => err instanceof AespError && err.correlationId !== "" && err.remediation.length > 0);
    await agent.destroySession(session.sessionId);

    // 7. SIGTERM drains the runtime: it finishes and exits cleanly.
    const exited = once(runtimeProcess, "exit");
    runtimeProcess.kill("SIGTERM");
    const [exitCode] = (await exited) as [number | null];
    assert.equal(exitCode, 0, runtimeLog);
    assert.match(runtimeLog, /drained; bye/);

    // 8. The audit log of all of the above verifies with the public key alone.
    const verified = await aesp(["audit", "verify", "--data-dir", host.dataDir, "--key", join(host.dataDir, "audit-public-key.pem")]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /^OK: \d+ events/);
    assert.match(await readFile(join(work, "text-tools", "runtime.json"), "utf8"), /"runtime_plane_url"/);
  });
});
