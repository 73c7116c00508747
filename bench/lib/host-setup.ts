/**
 * Starts a Host in a child process and prepares it over the wire, as an operator would: redeem
 * the bootstrap token, create an approver and an agent, have the approver activate the bench's
 * `echo@1.0.0` contract, enrol runtimes, open the agent's session. Mirrors what
 * tests/support/harness.ts does for an in-process Host.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import type { Client, Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { DescService, MessageInitShape } from "@bufbuild/protobuf";
import { HostService } from "@aesp/proto/host";
import { EnterpriseAuthenticationService } from "@aesp/proto/authentication";
import { EnterpriseIdentityService } from "@aesp/proto/identity";
import { ContractService } from "@aesp/proto/contract";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { RuntimeAdminService } from "@aesp/proto/runtime_admin";
import { SessionService } from "@aesp/proto/client";
import type { EnterpriseToolContractSchema } from "@aesp/proto/enterprise";
import { spawnChild } from "./children.ts";
import type { ChildHandle } from "./children.ts";

/** The bench's tool: a trivial unary contract, `{ n: integer }` in, `{ n }` out. */
export const echoContract = {
  name: "echo",
  contractVersion: "1.0.0",
  description: "Returns its argument (benchmark).",
  parameters: { type: 6, properties: { n: { type: 3 } }, required: ["n"] },
  returnType: { type: 6, properties: { n: { type: 3 } }, required: ["n"] },
  securityClassification: "internal",
  requiredRoles: ["agent"],
  riskAssessment: "LOW",
} satisfies MessageInitShape<typeof EnterpriseToolContractSchema>;

/** `name@version` of {@link echoContract}. */
export const echoContractId = "echo@1.0.0";

/**
 * The contract the idle runtimes announce: never called, and distinct from echo so that no
 * governed call can ever be routed to a runtime that does not answer.
 */
export const idleContract = { ...echoContract, name: "idle_probe", description: "Announced by idle benchmark runtimes; never called." };

/** `name@version` of {@link idleContract}. */
export const idleContractId = "idle_probe@1.0.0";

/** A runtime to enrol, and the contract names it may fulfil. */
export interface RuntimeEnrolment {
  readonly runtimeId: string;
  readonly contracts: readonly string[];
}

/** Enrolment credentials of one runtime. */
export interface RuntimeCredentials {
  readonly runtimeId: string;
  readonly tenantId: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly caCertificatePem: string;
}

/** A Host child process, prepared for the bench. */
export interface BenchHost {
  readonly child: ChildHandle;
  readonly gatewayUrl: string;
  readonly runtimePlaneUrl: string;
  readonly caCertificatePem: string;
  /** The agent's access token and open session. */
  readonly agentToken: string;
  readonly sessionId: string;
  readonly tenantId: string;
  /** Credentials per enrolled runtime id. */
  readonly runtimes: ReadonlyMap<string, RuntimeCredentials>;
  /**
   * A Connect transport to the gateway on a connection of its own (binary protobuf, HTTP/2).
   * Its connection is closed by {@link stop}.
   */
  transport(token: string): Transport;
  /** Host CPU time so far, microseconds. */
  cpu(): Promise<{ userUs: number; systemUs: number }>;
  /** Host memory after a full GC. */
  memory(): Promise<HostMemory>;
  /** Reads one Prometheus sample (first series) from the Host's `/metrics`, or NaN. */
  metric(name: string): Promise<number>;
  stop(): Promise<void>;
}

/** Memory of the Host process after a full garbage collection. */
export interface HostMemory {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
  readonly arrayBuffersBytes: number;
  readonly openFds: number;
}

/**
 * Starts `bench/host-process.ts` with `flags` (on SQLite in a fresh temp data dir) and prepares
 * it: the echo and idle contracts ACTIVE, `enrolments` enrolled, the agent's session open.
 * @throws Error when the Host does not start or any preparation step fails.
 */
export async function startBenchHost(flags: Record<string, unknown>, enrolments: readonly RuntimeEnrolment[]): Promise<BenchHost> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "aesp-bench-host-"));
  const flagsPath = path.join(dataDir, "bench-flags.json");
  await writeFile(flagsPath, JSON.stringify({ data_dir: path.join(dataDir, "data"), "gateway.port": 0, "runtime_plane.port": 0, ...flags }), { mode: 0o600 });
  // AESP_BENCH_HOST_NODE_OPTIONS adds Node flags to the Host process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const extraNodeFlags = (process.env["AESP_BENCH_HOST_NODE_OPTIONS"] ?? "").split(" ").filter((flag) => flag !== "");
  const child = spawnChild("host", "host-process.ts", [flagsPath], ["--expose-gc", ...extraNodeFlags]);
  const managers: Http2SessionManager[] = [];
  const stop = async () => {
    for (const manager of managers) manager.abort();
    await child.stop(20_000);
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const ready = await child.next("ready", 60_000);
    const gatewayUrl = String(ready["gatewayUrl"]);
    const caCertificatePem = String(ready["caCertificatePem"]);
    const transport = (token?: string): Transport => {
      const manager = new Http2SessionManager(gatewayUrl, { idleConnectionTimeoutMs: 600_000 }, { ca: caCertificatePem });
      managers.push(manager);
      const auth: Interceptor = (next) => (req) => {
        if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      };
      return createConnectTransport({ baseUrl: gatewayUrl, httpVersion: "2", useBinaryFormat: true, sessionManager: manager, interceptors: [auth] });
    };
    const anonymous = transport();
    const clientOf = <S extends DescService>(service: S, token?: string): Client<S> => createClient(service, token === undefined ? anonymous : transport(token));
    const signIn = async (apiKey: string) => {
      const auth = await clientOf(EnterpriseAuthenticationService).authenticateServiceAccount({ credential: { case: "apiKey", value: apiKey } });
      return { token: auth.accessToken, tenantId: auth.securityContext?.tenantId ?? "" };
    };
    const bootstrapToken = ready["bootstrapToken"];
    if (typeof bootstrapToken !== "string") throw new Error("a fresh Host must print a bootstrap token");
    const redeemed = await clientOf(HostService).redeemBootstrapToken({ bootstrapToken, displayName: "Bench Admin" });
    const admin = await signIn(redeemed.apiKey);
    const serviceAccount = async (name: string, roles: string[]) => {
      const created = await clientOf(EnterpriseIdentityService, admin.token).createServiceAccount({ name, roles, metadata: {} });
      if (created.responseType.case !== "successDetails") throw new Error(`service account ${name} not created`);
      return signIn(created.responseType.value.apiKey);
    };
    const approver = await serviceAccount("bench-approver", ["approver"]);
    const agent = await serviceAccount("bench-agent", ["agent"]);

    for (const contract of [echoContract, idleContract]) {
      const submitted = await clientOf(ContractService, admin.token).submitContract({ contract });
      const requested = await clientOf(EnterpriseGovernanceService, admin.token).requestApproval({
        artifactType: "TOOL_CONTRACT",
        artifactId: `${submitted.contract?.name}@${submitted.contract?.contractVersion}`,
        justification: "benchmark contract",
      });
      if (requested.responseType.case !== "successDetails") throw new Error("approval not requested");
      await clientOf(EnterpriseGovernanceService, approver.token).adjudicateApproval({ approvalRequestId: requested.responseType.value.approvalRequestId, decision: "APPROVE" });
    }

    const runtimes = new Map<string, RuntimeCredentials>();
    for (const { runtimeId, contracts } of enrolments) {
      const { joinToken } = await clientOf(RuntimeAdminService, admin.token).createJoinToken({ runtimeId, allowedContracts: [...contracts] });
      const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const enrolled = await clientOf(RuntimeAdminService).enrollRuntime({ joinToken, runtimeId, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString() });
      runtimes.set(runtimeId, {
        runtimeId,
        tenantId: admin.tenantId,
        certificatePem: enrolled.certificatePem,
        privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        caCertificatePem: enrolled.caCertificatesPem[0] ?? caCertificatePem,
      });
    }
    const session = await clientOf(SessionService, agent.token).createSession({ ttlSeconds: 3600 });

    return {
      child,
      gatewayUrl,
      runtimePlaneUrl: String(ready["runtimePlaneUrl"]),
      caCertificatePem,
      agentToken: agent.token,
      sessionId: session.sessionId,
      tenantId: session.tenantId,
      runtimes,
      transport: (token) => transport(token),
      async cpu() {
        const reply = await child.request({ cmd: "cpu" }, "cpu", 30_000);
        return { userUs: Number(reply["userUs"]), systemUs: Number(reply["systemUs"]) };
      },
      async memory() {
        const reply = await child.request({ cmd: "memory" }, "memory", 60_000);
        return {
          rssBytes: Number(reply["rssBytes"]),
          heapUsedBytes: Number(reply["heapUsedBytes"]),
          externalBytes: Number(reply["externalBytes"]),
          arrayBuffersBytes: Number(reply["arrayBuffersBytes"]),
          openFds: Number(reply["openFds"]),
        };
      },
      metric: (name) => scrapeMetric(gatewayUrl, caCertificatePem, name),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** One sample of a Prometheus metric from the gateway's `/metrics` (NaN when absent or unreachable). */
async function scrapeMetric(gatewayUrl: string, ca: string, name: string): Promise<number> {
  const session = http2.connect(gatewayUrl, { ca });
  try {
    const body = await new Promise<string>((resolve, reject) => {
      session.once("error", reject);
      const stream = session.request({ ":method": "GET", ":path": "/metrics" });
      const timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), 30_000);
      let text = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => (text += chunk));
      stream.on("error", reject);
      stream.on("close", () => {
        clearTimeout(timer);
        resolve(text);
      });
      stream.end();
    });
    const line = body.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(" ") + 1));
  } catch {
    return Number.NaN;
  } finally {
    session.destroy();
  }
}
