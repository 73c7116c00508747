// The `aesp` CLI end to end against a fake gateway: a real Connect server (h2c on 127.0.0.1)
// implementing just what each command calls, and an injected Host module for `start` and
// `audit verify`. Checks argument parsing, output (tables and --json), profiles and error rendering.
import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { create, fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ResultStatus } from "@aesp/proto/adm";
import { EnterpriseAuthenticationService } from "@aesp/proto/authentication";
import { SessionService, ToolService } from "@aesp/proto/client";
import { ContractService } from "@aesp/proto/contract";
import type { EnterpriseToolContract } from "@aesp/proto/enterprise";
import { EnterpriseErrorSchema } from "@aesp/proto/enterprise";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { HostService } from "@aesp/proto/host";
import { EnterpriseIdentityService } from "@aesp/proto/identity";
import { RuntimeAdminService } from "@aesp/proto/runtime_admin";
import { TenantService } from "@aesp/proto/tenant";
import type { CliIo, HostModule, VerifyOutcome } from "./context.ts";
import { runCli } from "./main.ts";
import { readProfiles } from "./profiles.ts";
import { renderCliReference } from "./render-reference.ts";

const adminKey = "aesp.platform.k_admin.s3cret";

const fake = {
  sessions: [] as string[],
  destroyed: [] as Array<{ id: string; force: boolean }>,
  enrolledPublicKey: "",
  submitted: [] as EnterpriseToolContract[],
  approvalRequests: [] as string[],
  serviceAccountMetadata: {} as Record<string, string>,
  denyTenants: false,
};

function refusal(code: string, status: Code): ConnectError {
  return new ConnectError(code, status, undefined, [
    {
      desc: EnterpriseErrorSchema,
      value: create(EnterpriseErrorSchema, {
        code,
        message: "The principal is not authorized for this action.",
        correlationId: "corr-cli-1",
        details: { required_role: "platform-admin" },
        remediationSteps: ["Ask a tenant administrator for the role or permission named in details."],
      }),
    },
  ]);
}

function authorized(ctx: HandlerContext): void {
  if (ctx.requestHeader.get("authorization") !== "Bearer tok-1") throw refusal("AUTHENTICATION_FAILED", Code.Unauthenticated);
}

function routes(router: ConnectRouter): void {
  router.service(HostService, {
    redeemBootstrapToken: (req) => {
      if (req.bootstrapToken !== "boot-1") throw refusal("AUTHENTICATION_FAILED", Code.Unauthenticated);
      return { principalId: "usr_admin", tenantId: "platform", apiKey: adminKey };
    },
  });
  router.service(EnterpriseAuthenticationService, {
    authenticateServiceAccount: (req) => {
      if (req.credential.case !== "apiKey" || !req.credential.value.endsWith(".s3cret")) throw refusal("AUTHENTICATION_FAILED", Code.Unauthenticated);
      return { accessToken: "tok-1", expiresAt: BigInt(Date.now() + 600_000), tokenType: "Bearer" };
    },
    validateToken: (req, ctx) => {
      authorized(ctx);
      return {
        valid: req.accessToken === "tok-1",
        expiresAt: BigInt(Date.UTC(2030, 0, 1)),
        securityContext: { principalId: "usr_admin", tenantId: "platform", roles: ["platform-admin"], permissions: ["tenants:create"], securityClearance: "restricted" },
      };
    },
  });
  router.service(TenantService, {
    listTenants: (req, ctx) => {
      authorized(ctx);
      if (fake.denyTenants) throw refusal("AUTHORIZATION_DENIED", Code.PermissionDenied);
      // Two pages, to check that the CLI follows the cursor.
      if (req.cursor === "") return { tenants: [{ tenantId: "acme", displayName: "Acme Corp", status: "ACTIVE", createdAtUnixMs: BigInt(Date.UTC(2025, 0, 1)), policyEngine: "cel" }], nextCursor: "p2" };
      return { tenants: [{ tenantId: "globex", displayName: "Globex", status: "SUSPENDED", createdAtUnixMs: 0n, policyEngine: "cedar" }], nextCursor: "" };
    },
  });
  router.service(SessionService, {
    createSession: (_req, ctx) => {
      authorized(ctx);
      const id = `ses-${fake.sessions.length + 1}`;
      fake.sessions.push(id);
      return { sessionId: id, tenantId: "platform", principalId: "usr_admin", expiresAtUnixMs: BigInt(Date.UTC(2030, 0, 1)) };
    },
    destroySession: (req, ctx) => {
      authorized(ctx);
      fake.destroyed.push({ id: req.sessionId, force: req.force });
      return { destroyed: true, abortedInvocations: 0 };
    },
  });
  router.service(ToolService, {
    invokeTool: (req, ctx) => {
      authorized(ctx);
      const name = req.call?.name ?? "";
      if (name === "broken") {
        return { invocationId: "inv-2", correlationId: "corr-2", result: { callId: req.call?.callId ?? "", name, status: ResultStatus.ERROR, error: { type: "UPSTREAM_DOWN", message: "the weather service is down" } } };
      }
      return {
        invocationId: "inv-1",
        correlationId: "corr-1",
        result: { callId: req.call?.callId ?? "", name, status: ResultStatus.SUCCESS, content: fromJson(ValueSchema, { words: 2, version: req.contractVersion, session: req.sessionId, args: req.call?.args ?? null }) },
      };
    },
    async *invokeToolStream(req, ctx) {
      authorized(ctx);
      for (let i = 0; i < Number(req.call?.args?.["n"] ?? 0); i++) {
        yield { invocationId: "inv-s", correlationId: "corr-s", kind: { case: "chunk", value: { invocationId: "inv-s", sequence: BigInt(i), payload: fromJson(ValueSchema, { i }) } } };
      }
      yield { invocationId: "inv-s", correlationId: "corr-s", kind: { case: "result", value: { callId: req.call?.callId ?? "", name: req.call?.name ?? "", status: ResultStatus.SUCCESS } } };
    },
  });
  router.service(EnterpriseIdentityService, {
    createServiceAccount: (req, ctx) => {
      authorized(ctx);
      fake.serviceAccountMetadata = { ...req.metadata };
      return { responseType: { case: "successDetails", value: { serviceAccountId: "sa_new", apiKey: "aesp.platform.k_new.s3cret", createdAt: 1n } } };
    },
  });
  router.service(RuntimeAdminService, {
    enrollRuntime: (req) => {
      if (req.joinToken !== "join-1") throw refusal("AUTHENTICATION_FAILED", Code.Unauthenticated);
      fake.enrolledPublicKey = req.publicKeyPem;
      return {
        certificatePem: "-----BEGIN CERTIFICATE-----\nRlVMTA==\n-----END CERTIFICATE-----\n",
        caCertificatesPem: ["-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----"],
        spiffeId: `spiffe://aesp.local/tenant/acme/runtime/${req.runtimeId}`,
        serialNumber: "0a1b",
        notAfterUnixMs: BigInt(Date.UTC(2030, 0, 1)),
      };
    },
  });
  router.service(ContractService, {
    submitContract: (req, ctx) => {
      authorized(ctx);
      if (req.contract !== undefined) fake.submitted.push(req.contract);
      return { contract: { name: req.contract?.name ?? "", contractVersion: req.contract?.contractVersion ?? "", approvalStatus: "DRAFT" } };
    },
  });
  router.service(EnterpriseGovernanceService, {
    requestApproval: (req, ctx) => {
      authorized(ctx);
      fake.approvalRequests.push(`${req.artifactType} ${req.artifactId} ${req.justification}`);
      return { responseType: { case: "successDetails", value: { approvalRequestId: "apr_1", status: "PENDING", pendingApprovers: ["role:contract-approver"] } } };
    },
  });
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe("aesp CLI", () => {
  let server: http2.Http2Server;
  let hostUrl: string;
  let home: string;
  let cwd: string;

  const run = async (argv: string[], options: { env?: Record<string, string>; io?: Partial<CliIo> } = {}): Promise<Run> => {
    let stdout = "";
    let stderr = "";
    const io: CliIo = {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      env: { AESP_HOME: home, ...options.env },
      cwd,
      stderrIsTty: false,
      waitForShutdownSignal: () => Promise.resolve("SIGTERM"),
      loadHost: () => Promise.reject(new Error("no host in this test")),
      readSecret: () => Promise.reject(new Error("no terminal in this test")),
      openBrowser: () => Promise.reject(new Error("no browser in this test")),
      ...options.io,
    };
    const code = await runCli(argv, io);
    return { code, stdout, stderr };
  };
  const withKey = { env: { AESP_API_KEY: adminKey } };

  before(async () => {
    server = http2.createServer(connectNodeAdapter({ routes }));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    hostUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), "aesp-cli-home-"));
    cwd = await mkdtemp(join(tmpdir(), "aesp-cli-cwd-"));
    fake.sessions = [];
    fake.destroyed = [];
    fake.submitted = [];
    fake.approvalRequests = [];
    fake.denyTenants = false;
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
    await rm(cwd, { recursive: true, force: true });
  });

  test("usage errors exit 2 and print usage help on stderr", async () => {
    const unknown = await run(["frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command/);
    const badLimit = await run(["tenant", "list", "--limit", "abc"]);
    assert.equal(badLimit.code, 2);
    assert.match(badLimit.stderr, /--limit must be a positive integer/);
    const missing = await run(["runtime", "enroll", "--token", "x"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /required option '--runtime-id <id>' not specified/);
    const help = await run(["tenant", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /suspend/);
    const version = await run(["--version"]);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  test("tenant list follows pagination and prints an aligned table; global options may follow the command", async () => {
    const result = await run(["tenant", "list", "--host", hostUrl], withKey);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      ["TENANT  NAME       STATUS     ENGINE  CREATED", "------  ---------  ---------  ------  --------------------", "acme    Acme Corp  ACTIVE     cel     2025-01-01T00:00:00Z", "globex  Globex     SUSPENDED  cedar", ""].join("\n"),
    );
    const json = await run(["--json", "tenant", "list", "--host", hostUrl], withKey);
    const parsed = JSON.parse(json.stdout) as { items: Array<{ tenant_id: string; display_name: string }> };
    assert.deepEqual(
      parsed.items.map((item) => item.tenant_id),
      ["acme", "globex"],
    );
    assert.equal(parsed.items[0]?.display_name, "Acme Corp", "JSON uses proto field names");
  });

  test("a refusal prints code, correlation id and what to do next, without a stack, and exits 1", async () => {
    fake.denyTenants = true;
    const result = await run(["tenant", "list", "--host", hostUrl], withKey);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^error AUTHORIZATION_DENIED: The principal is not authorized for this action\.\n/);
    assert.match(result.stderr, /required_role: platform-admin/);
    assert.match(result.stderr, /correlation id: corr-cli-1/);
    assert.match(result.stderr, /what to do next:\n {2}- Ask a tenant administrator/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
    const debug = await run(["tenant", "list", "--host", hostUrl], { env: { AESP_API_KEY: adminKey, AESP_DEBUG: "1" } });
    assert.match(debug.stderr, /\n\s+at /, "AESP_DEBUG=1 adds the stack");
    const json = await run(["tenant", "list", "--host", hostUrl, "--json"], withKey);
    assert.equal((JSON.parse(json.stderr) as { error: { code: string; correlation_id: string } }).error.correlation_id, "corr-cli-1");
  });

  test("commands that need credentials say how to log in", async () => {
    const result = await run(["tenant", "list", "--host", hostUrl]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /error AUTHENTICATION_FAILED: No credentials for profile "default"/);
    assert.match(result.stderr, /aesp login --bootstrap-token/);
  });

  test("login with the bootstrap token stores the key in a 0600 profile without printing it; whoami uses it", async () => {
    const login = await run(["login", "--bootstrap-token", "boot-1", "--host", hostUrl]);
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /Logged in as usr_admin \(tenant platform\)/);
    assert.doesNotMatch(login.stdout + login.stderr, /s3cret/, "the key is never printed");
    const path = join(home, "profiles.json");
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const file = await readProfiles(path);
    assert.deepEqual(file.profiles["default"], { host: hostUrl, tenant: "platform", api_key: adminKey, principal: "usr_admin" });

    const whoami = await run(["whoami"]);
    assert.equal(whoami.code, 0, whoami.stderr);
    assert.match(whoami.stdout, /principal:\s+usr_admin/);
    assert.match(whoami.stdout, /roles:\s+platform-admin/);
    assert.doesNotMatch(whoami.stdout, /s3cret/);
  });

  test("login --api-key checks the key before storing it", async () => {
    const bad = await run(["login", "--api-key", "aesp.platform.k.wrong", "--host", hostUrl]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /AUTHENTICATION_FAILED/);
    assert.deepEqual((await readProfiles(join(home, "profiles.json"))).profiles, {});
    const malformed = await run(["login", "--api-key", "nope", "--host", hostUrl]);
    assert.match(malformed.stderr, /error INVALID_ARGUMENT: The API key is malformed/);
    const both = await run(["login", "--api-key", adminKey, "--bootstrap-token", "x"]);
    assert.match(both.stderr, /Give exactly one way to sign in/);
    const good = await run(["--profile", "ops", "login", "--api-key", adminKey, "--host", hostUrl]);
    assert.equal(good.code, 0, good.stderr);
    const file = await readProfiles(join(home, "profiles.json"));
    assert.equal(file.current, "ops");
    assert.equal(file.profiles["ops"]?.api_key, adminKey);
  });

  test("invoke without --session opens a temporary session, prints the content, and destroys the session", async () => {
    const result = await run(["invoke", "text_stats@1.2.0", "--args", '{"text": "hello world"}', "--host", hostUrl], withKey);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { words: 2, version: "1.2.0", session: "ses-1", args: { text: "hello world" } });
    assert.deepEqual(fake.destroyed, [{ id: "ses-1", force: true }]);

    const pinned = await run(["invoke", "text_stats", "--session", "ses-mine", "--json", "--host", hostUrl], withKey);
    const parsed = JSON.parse(pinned.stdout) as { status: string; content: { session: string }; invocation_id: string };
    assert.equal(parsed.status, "SUCCESS");
    assert.equal(parsed.content.session, "ses-mine");
    assert.equal(parsed.invocation_id, "inv-1");
    assert.equal(fake.destroyed.length, 1, "a given session is left open");
  });

  test("a tool's own error exits 1 with its type and message", async () => {
    const result = await run(["invoke", "broken", "--host", hostUrl], withKey);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^tool error UPSTREAM_DOWN: the weather service is down\ninvocation id: inv-2/);
  });

  test("invoke --stream prints one JSON line per chunk; bad --args are refused before any call", async () => {
    const result = await run(["invoke", "count_to", "--args", '{"n": 3}', "--stream", "--host", hostUrl], withKey);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '{"i":0}\n{"i":1}\n{"i":2}\n');
    const bad = await run(["invoke", "count_to", "--args", "{n: 3}", "--host", hostUrl], withKey);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /error INVALID_ARGUMENT: --args is not valid JSON/);
    const notObject = await run(["invoke", "count_to", "--args", "[1]", "--host", hostUrl], withKey);
    assert.match(notObject.stderr, /--args must be a JSON object/);
    const conflict = await run(["invoke", "count_to@1.0.0", "--version", "2.0.0", "--host", hostUrl], withKey);
    assert.match(conflict.stderr, /names version 1\.0\.0 but --version says 2\.0\.0/);
    assert.equal(fake.sessions.length, 1, "no session was opened for refused command lines");
  });

  test("runtime enroll keeps the private key local (0600) and writes the enrollment files", async () => {
    const result = await run(["runtime", "enroll", "--token", "join-1", "--runtime-id", "text-tools", "--out", "rt", "--host", hostUrl]);
    assert.equal(result.code, 0, result.stderr);
    const dir = join(cwd, "rt");
    const keyPem = await readFile(join(dir, "runtime.key"), "utf8");
    assert.equal((await stat(join(dir, "runtime.key"))).mode & 0o777, 0o600);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.doesNotMatch(fake.enrolledPublicKey, /PRIVATE/);
    const derived = createPublicKey(keyPem).export({ type: "spki", format: "pem" }).toString();
    assert.equal(derived, fake.enrolledPublicKey, "the Host received the public half of the stored key");
    assert.equal(createPublicKey(keyPem).asymmetricKeyDetails?.namedCurve, "prime256v1");
    const manifest = JSON.parse(await readFile(join(dir, "runtime.json"), "utf8")) as Record<string, string>;
    assert.deepEqual(manifest, {
      runtime_id: "text-tools",
      tenant_id: "acme",
      runtime_plane_url: `https://127.0.0.1:7444`,
      spiffe_id: "spiffe://aesp.local/tenant/acme/runtime/text-tools",
      serial_number: "0a1b",
      not_after: "2030-01-01T00:00:00.000Z",
    });
    assert.match(await readFile(join(dir, "ca.pem"), "utf8"), /BEGIN CERTIFICATE/);

    const again = await run(["runtime", "enroll", "--token", "join-1", "--runtime-id", "text-tools", "--out", "rt", "--host", hostUrl]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
  });

  test("service-account create prints the key once, or stores it with --save-profile", async () => {
    const printed = await run(["service-account", "create", "--name", "bot", "--role", "agent", "--clearance", "internal", "--host", hostUrl], withKey);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /api key:\s+aesp\.platform\.k_new\.s3cret/);
    assert.deepEqual(fake.serviceAccountMetadata, { clearance: "internal" });
    const saved = await run(["service-account", "create", "--name", "bot", "--role", "agent", "--save-profile", "bot", "--host", hostUrl], withKey);
    assert.equal(saved.code, 0, saved.stderr);
    assert.doesNotMatch(saved.stdout, /s3cret/);
    assert.equal((await readProfiles(join(home, "profiles.json"))).profiles["bot"]?.api_key, "aesp.platform.k_new.s3cret");
    const badClearance = await run(["service-account", "create", "--name", "bot", "--clearance", "top-secret", "--host", hostUrl], withKey);
    assert.equal(badClearance.code, 2);
  });

  test("contract submit reads YAML (snake_case) and can request approval", async () => {
    await writeFile(
      join(cwd, "c.yaml"),
      ["name: text_stats", "contract_version: 1.0.0", "parameters:", "  type: OBJECT", "  properties:", "    text: { type: STRING, max_length: 10000 }", "  required: [text]", "required_roles: [agent]", "risk_assessment: LOW"].join("\n"),
    );
    const result = await run(["contract", "submit", "c.yaml", "--request-approval", "--justification", "needed", "--host", hostUrl], withKey);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(fake.submitted[0]?.name, "text_stats");
    assert.equal(fake.submitted[0]?.parameters?.properties["text"]?.maxLength, 10000);
    assert.deepEqual(fake.approvalRequests, ["TOOL_CONTRACT text_stats@1.0.0 needed"]);
    assert.match(result.stdout, /aesp approval approve apr_1/);

    await writeFile(join(cwd, "bad.json"), JSON.stringify({ name: "x", unknown_field: 1 }));
    const bad = await run(["contract", "submit", "bad.json", "--host", hostUrl], withKey);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /is not an EnterpriseToolContract/);
  });

  test("the example contracts are valid EnterpriseToolContracts", async () => {
    const examples = join(import.meta.dirname, "..", "..", "..", "examples", "contracts");
    for (const file of ["text-stats.json", "count-to.json"]) {
      const result = await run(["contract", "submit", join(examples, file), "--host", hostUrl], withKey);
      assert.equal(result.code, 0, `${file}: ${result.stderr}`);
    }
    assert.deepEqual(
      fake.submitted.map((contract) => [contract.name, contract.supportsStreaming]),
      [
        ["text_stats", false],
        ["count_to", true],
      ],
    );
  });

  test("audit verify exits 0 when intact and 1 naming the first bad event", async () => {
    let received: Parameters<HostModule["verifyAuditStore"]>[0] | undefined;
    let outcome: VerifyOutcome = { ok: true, size: 1234, checkpoints: 2, tombstones: 0 };
    const loadHost = async (): Promise<HostModule> => ({
      startHost: () => Promise.reject(new Error("unused")),
      verifyAuditStore: async (options) => {
        received = options;
        options.onProgress?.(1234, 1234);
        return outcome;
      },
      verifyAuditInclusion: () => assert.fail("unused"),
      verifyAuditConsistency: () => assert.fail("unused"),
      verifyAuditExport: () => assert.fail("unused"),
    });
    await writeFile(join(cwd, "pub.pem"), "PUBLIC KEY PEM");
    const ok = await run(["audit", "verify", "--data-dir", "data", "--key", "pub.pem"], { io: { loadHost } });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /OK: 1,234 events and 2 signed checkpoint\(s\) verified/);
    assert.deepEqual(received?.flags, { data_dir: join(cwd, "data") });
    assert.equal(received?.publicKeyPem, "PUBLIC KEY PEM");

    outcome = { ok: false, firstBadSeq: 41, eventId: "evt_41", reason: "leaf hash mismatch" };
    const bad = await run(["audit", "verify"], { io: { loadHost } });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /FAILED: the audit log is not intact from event seq 41 \(event id evt_41\)\.\nreason: leaf hash mismatch/);
    const json = await run(["audit", "verify", "--json"], { io: { loadHost } });
    assert.deepEqual(JSON.parse(json.stdout), { ok: false, first_bad_seq: 41, event_id: "evt_41", reason: "leaf hash mismatch" });
  });

  test("start prints the URLs and the bootstrap token, writes ca.pem, and closes on a signal", async () => {
    const dataDir = join(cwd, "data");
    let startOptions: Parameters<HostModule["startHost"]>[0] | undefined;
    let closed = false;
    const loadHost = async (): Promise<HostModule> => ({
      startHost: async (options) => {
        startOptions = options;
        return {
          gatewayUrl: "https://127.0.0.1:7443",
          runtimePlaneUrl: "https://127.0.0.1:7444",
          dataDir,
          caCertificatePem: "CA PEM\n",
          bootstrapToken: "boot-xyz",
          close: async () => {
            closed = true;
          },
        };
      },
      verifyAuditStore: () => Promise.reject(new Error("unused")),
      verifyAuditInclusion: () => assert.fail("unused"),
      verifyAuditConsistency: () => assert.fail("unused"),
      verifyAuditExport: () => assert.fail("unused"),
    });
    const result = await run(["start", "--data-dir", "data", "--storage", "postgres", "--postgres-url", "postgres://p@127.0.0.1/test", "--gateway-port", "0", "--runtime-port", "9444"], {
      io: { loadHost },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(startOptions?.flags, {
      data_dir: dataDir,
      "storage.kind": "postgres",
      "storage.postgres_url": "postgres://p@127.0.0.1/test",
      "gateway.port": 0,
      "runtime_plane.port": 9444,
    });
    assert.match(result.stdout, /API gateway:\s+https:\/\/127\.0\.0\.1:7443/);
    assert.match(result.stdout, /aesp login --bootstrap-token boot-xyz --host https:\/\/127\.0\.0\.1:7443 --ca .*data\/ca\.pem/);
    assert.equal(await readFile(join(dataDir, "ca.pem"), "utf8"), "CA PEM\n");
    assert.equal(closed, true);
    assert.match(result.stderr, /Received SIGTERM/);
    const badPort = await run(["start", "--gateway-port", "70000"], { io: { loadHost } });
    assert.equal(badPort.code, 2);
  });

  test("the generated reference documents every command with its options and examples", () => {
    const reference = renderCliReference();
    for (const command of [
      "aesp start",
      "aesp login",
      "aesp whoami",
      "aesp tenant create",
      "aesp tenant list",
      "aesp tenant suspend",
      "aesp tenant resume",
      "aesp service-account create",
      "aesp service-account list",
      "aesp service-account revoke",
      "aesp contract submit",
      "aesp contract list",
      "aesp contract show",
      "aesp contract deprecate",
      "aesp contract retire",
      "aesp approval list",
      "aesp approval approve",
      "aesp approval reject",
      "aesp runtime token create",
      "aesp runtime enroll",
      "aesp runtime list",
      "aesp runtime revoke",
      "aesp session create",
      "aesp session destroy",
      "aesp invoke",
      "aesp audit verify",
      "aesp audit query",
    ]) {
      const section = reference.split(`### \`${command}\``)[1]?.split("\n### ")[0];
      assert.ok(section !== undefined, `${command} is documented`);
      assert.match(section, /Examples:/, `${command} has an example`);
    }
    assert.match(reference, /`--bootstrap-token <token>`/);
  });
});
