/**
 * Starts a real Host (SQLite in a temp dir, or PostgreSQL in a throwaway schema) and
 * gives tests authenticated Connect clients for it. Everything goes over the wire.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import path from "node:path";
import assert from "node:assert/strict";
import { Code, createClient, ConnectError } from "@connectrpc/connect";
import type { Client, Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import pg from "pg";
import { SignJWT } from "jose";
import { loadHostConfig, openStore, startHost } from "@aesp/host";
import type { AuditRecord, Store } from "@aesp/core";
import { loadOrCreateMasterKey } from "../../packages/host/src/crypto/master-key.ts";
import { openKeyRecord } from "../../packages/host/src/crypto/key-material.ts";
import type { RunningHost } from "@aesp/host";
import { HostService } from "@aesp/proto/host";
import { EnterpriseAuthenticationService } from "@aesp/proto/authentication";
import { EnterpriseIdentityService } from "@aesp/proto/identity";
import { ContractService } from "@aesp/proto/contract";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { RuntimeAdminService } from "@aesp/proto/runtime_admin";
import { TenantService } from "@aesp/proto/tenant";
import { EnterpriseErrorSchema } from "@aesp/proto/enterprise";
import type { EnterpriseToolContract } from "@aesp/proto/enterprise";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { EnterpriseToolContractSchema } from "@aesp/proto/enterprise";

export type StorageKind = "sqlite" | "postgres";
export const postgresUrl = process.env["AESP_TEST_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";

/** A principal with a token, and clients that present it. */
export interface Actor {
  readonly principalId: string;
  readonly tenantId: string;
  readonly apiKey: string;
  readonly token: string;
  readonly transport: Transport;
  client<S extends DescService>(service: S): Client<S>;
}

export interface TestHost {
  readonly host: RunningHost;
  readonly kind: StorageKind;
  readonly admin: Actor;
  /** Unauthenticated transport. */
  readonly anonymous: Transport;
  transport(token?: string, protocol?: "connect" | "grpc"): Transport;
  /** Creates a service account in the admin's tenant (or as `creator`) and signs it in. */
  actor(name: string, roles: string[], creator?: Actor, clearance?: string): Promise<Actor>;
  /** Creates a tenant and its administrator. */
  tenant(tenantId: string): Promise<Actor>;
  /** Exchanges an API key for a token and returns the signed-in principal. */
  signIn(apiKey: string): Promise<Actor>;
  /** Submits a contract as `author` and has `approver` activate it. */
  activate(contract: MessageInitShape<typeof EnterpriseToolContractSchema>, author: Actor, approver: Actor): Promise<EnterpriseToolContract>;
  /** Creates a join token and enrols a fresh key pair; returns the PEMs. */
  enroll(operator: Actor, runtimeId: string, contracts: string[]): Promise<RuntimeCredentials>;
  /** Config flags that open this Host's store (for offline tools such as audit verify). */
  storeFlags(): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export interface RuntimeCredentials {
  readonly runtimeId: string;
  readonly tenantId: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly caCertificatePem: string;
  readonly serial: string;
  readonly spiffeId: string;
}

/** Starts a Host for one test file. */
export async function startTestHost(kind: StorageKind, flags: Record<string, unknown> = {}): Promise<TestHost> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "aesp-test-"));
  const schema = `aesp_e2e_${randomBytes(6).toString("hex")}`;
  const storageFlags = kind === "postgres" ? { "storage.kind": "postgres", "storage.postgres_url": postgresUrl, "storage.postgres_schema": schema } : {};
  const host = await startHost({
    flags: { data_dir: dataDir, "gateway.port": 0, "runtime_plane.port": 0, "runtime_plane.heartbeat_interval_ms": 1000, "identity.lockout_source_failures": 1_000_000, ...storageFlags, ...flags },
    env: {},
    logDestination: "silent",
  });
  const transport = (token?: string, protocol: "connect" | "grpc" = "connect"): Transport => {
    const auth: Interceptor = (next) => (req) => {
      if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    };
    const options = { baseUrl: host.gatewayUrl, httpVersion: "2" as const, nodeOptions: { ca: host.caCertificatePem }, interceptors: [auth] };
    return protocol === "grpc" ? createGrpcTransport(options) : createConnectTransport({ ...options, jsonOptions: { useProtoFieldName: true } });
  };
  const anonymous = transport();
  const signIn = async (apiKey: string): Promise<Actor> => {
    const auth = await createClient(EnterpriseAuthenticationService, anonymous).authenticateServiceAccount({ credential: { case: "apiKey", value: apiKey } });
    const t = transport(auth.accessToken);
    return {
      principalId: auth.securityContext?.principalId ?? "",
      tenantId: auth.securityContext?.tenantId ?? "",
      apiKey,
      token: auth.accessToken,
      transport: t,
      client: (service) => createClient(service, t),
    };
  };
  if (host.bootstrapToken === null) throw new Error("a fresh Host must print a bootstrap token");
  const redeemed = await createClient(HostService, anonymous).redeemBootstrapToken({ bootstrapToken: host.bootstrapToken, displayName: "Test Admin" });
  const admin = await signIn(redeemed.apiKey);

  const actor = async (name: string, roles: string[], creator: Actor = admin, clearance = ""): Promise<Actor> => {
    const created = await creator.client(EnterpriseIdentityService).createServiceAccount({ name, roles, metadata: clearance === "" ? {} : { clearance } });
    if (created.responseType.case !== "successDetails") throw new Error("service account not created");
    return signIn(created.responseType.value.apiKey);
  };

  return {
    host,
    kind,
    admin,
    anonymous,
    transport,
    actor,
    signIn,
    async tenant(tenantId) {
      const created = await admin.client(TenantService).createTenant({ tenantId, displayName: tenantId });
      return signIn(created.adminApiKey);
    },
    async activate(contract, author, approver) {
      const submitted = await author.client(ContractService).submitContract({ contract });
      const requested = await author.client(EnterpriseGovernanceService).requestApproval({
        artifactType: "TOOL_CONTRACT",
        artifactId: `${submitted.contract?.name}@${submitted.contract?.contractVersion}`,
        justification: "test",
      });
      if (requested.responseType.case !== "successDetails") throw new Error("approval not requested");
      await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: requested.responseType.value.approvalRequestId, decision: "APPROVE" });
      const got = await author.client(ContractService).getContract({ name: contract.name ?? "", contractVersion: contract.contractVersion ?? "" });
      if (got.contract === undefined) throw new Error("contract missing");
      return got.contract;
    },
    async enroll(operator, runtimeId, contracts) {
      const { joinToken } = await operator.client(RuntimeAdminService).createJoinToken({ runtimeId, allowedContracts: contracts });
      const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const enrolled = await createClient(RuntimeAdminService, anonymous).enrollRuntime({
        joinToken,
        runtimeId,
        publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
      });
      return {
        runtimeId,
        tenantId: operator.tenantId,
        certificatePem: enrolled.certificatePem,
        privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        caCertificatePem: enrolled.caCertificatesPem[0] ?? "",
        serial: enrolled.serialNumber,
        spiffeId: enrolled.spiffeId,
      };
    },
    async storeFlags() {
      return { data_dir: dataDir, ...storageFlags };
    },
    async stop() {
      await host.close();
      await rm(dataDir, { recursive: true, force: true });
      if (kind === "postgres") {
        const client = new pg.Client({ connectionString: postgresUrl });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
    },
  };
}

/** How an RPC that had to fail failed: its Connect code and the EnterpriseError it carried. */
export interface Refusal {
  readonly connectCode: Code;
  readonly error: ReturnType<typeof enterpriseErrorOf>;
  readonly connectError: ConnectError;
}

/**
 * Awaits an RPC that must fail.
 * @throws AssertionError when it succeeds instead.
 */
export async function refusalOf(call: Promise<unknown>): Promise<Refusal> {
  let result: unknown;
  try {
    result = await call;
  } catch (err) {
    const connectError = ConnectError.from(err);
    return { connectCode: connectError.code, error: enterpriseErrorOf(connectError), connectError };
  }
  throw new assert.AssertionError({ message: `expected the call to fail, it returned ${JSON.stringify(result, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))?.slice(0, 300)}` });
}

/**
 * Asserts that an RPC fails with exactly this EnterpriseError code and Connect code.
 * @returns the refusal, for further checks.
 */
export async function assertRefused(call: Promise<unknown>, code: string, connectCode: Code): Promise<Refusal> {
  const refusal = await refusalOf(call);
  assert.equal(refusal.error?.code, code, `expected ${code}, got ${refusal.error?.code ?? "no EnterpriseError"} (${refusal.connectError.message})`);
  assert.equal(refusal.connectCode, connectCode, `expected Connect code ${Code[connectCode]}, got ${Code[refusal.connectCode]}`);
  return refusal;
}

/** The EnterpriseError carried by a failed RPC (or undefined). */
export function enterpriseErrorOf(err: unknown) {
  const connectError = ConnectError.from(err);
  return connectError.findDetails(EnterpriseErrorSchema)[0];
}

/** A unary contract used across tests: echoes text statistics. */
export const textStatsContract = {
  name: "text_stats",
  contractVersion: "1.0.0",
  description: "Counts words and characters.",
  parameters: { type: 6, properties: { text: { type: 1, maxLength: 10_000 } }, required: ["text"] },
  returnType: { type: 6, properties: { words: { type: 3 }, characters: { type: 3 } }, required: ["words", "characters"] },
  securityClassification: "internal",
  requiredRoles: ["agent"],
  riskAssessment: "LOW",
} satisfies MessageInitShape<typeof EnterpriseToolContractSchema>;

/** A streaming contract: counts to n. */
export const countToContract = {
  name: "count_to",
  contractVersion: "1.0.0",
  description: "Streams the integers 1..n.",
  parameters: { type: 6, properties: { n: { type: 3, minimum: 1, maximum: 100 } }, required: ["n"] },
  returnType: { type: 6, properties: { i: { type: 3 } }, required: ["i"] },
  supportsStreaming: true,
  securityClassification: "internal",
  requiredRoles: ["agent"],
  riskAssessment: "LOW",
} satisfies MessageInitShape<typeof EnterpriseToolContractSchema>;

/**
 * Opens the store of a running test Host from the outside (as an offline tool would), for tests
 * that must look at what was persisted. Close it when done.
 */
export async function openHostStore(t: TestHost): Promise<Store> {
  const config = await loadHostConfig({ flags: await t.storeFlags(), env: {} });
  const v = config.values;
  return openStore(
    v["storage.kind"] === "postgres"
      ? { kind: "postgres", connectionString: v["storage.postgres_url"], schema: v["storage.postgres_schema"], poolSize: 2 }
      : { kind: "sqlite", path: config.sqlitePath },
  );
}

/** Every audit record of the Host, across all tenants and platform events, read straight from its store. */
export async function readAllAuditRecords(t: TestHost): Promise<AuditRecord[]> {
  const store = await openHostStore(t);
  try {
    const all: AuditRecord[] = [];
    for (let from = 0; ; from += 1000) {
      const batch = await store.platform.auditLog.readRange(from, 1000);
      all.push(...batch);
      if (batch.length < 1000) return all;
    }
  } finally {
    await store.close();
  }
}

/**
 * Signs an access token with the Host's own token-signing key (unsealed from its data directory
 * and store), so tests can present genuine tokens the Host would never issue, such as expired ones.
 * @param claims.expiresInSeconds negative for a token that has already expired.
 */
export async function mintHostAccessToken(
  t: TestHost,
  claims: { principalId: string; tenantId: string; principalType?: string; expiresInSeconds: number; issuedSecondsAgo?: number },
): Promise<string> {
  const config = await loadHostConfig({ flags: await t.storeFlags(), env: {} });
  const store = await openHostStore(t);
  try {
    const record = await store.platform.keys.current("token-signing");
    if (record === null) throw new Error("the Host has no token-signing key");
    const masterKey = await loadOrCreateMasterKey({ dataDir: t.host.dataDir, env: {} });
    const { privateKey } = openKeyRecord(record, masterKey, "Ed25519");
    const now = Math.floor(Date.now() / 1000);
    return await new SignJWT({ tid: claims.tenantId, typ: claims.principalType ?? "SERVICE_ACCOUNT", amr: ["pwd"] })
      .setProtectedHeader({ alg: "EdDSA", kid: record.keyId, typ: "at+jwt" })
      .setIssuer(config.values["identity.token_issuer"])
      .setAudience("aesp-api")
      .setSubject(claims.principalId)
      .setJti(`tok_test${randomBytes(8).toString("hex")}`)
      .setIssuedAt(now - (claims.issuedSecondsAgo ?? 0))
      .setExpirationTime(now + claims.expiresInSeconds)
      .sign(privateKey);
  } finally {
    await store.close();
  }
}

/** A raw HTTP/2 exchange with the gateway, for requests no generated client would send. */
export interface RawResponse {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  /** HTTP/2 trailers (gRPC puts its status here). */
  readonly trailers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

/**
 * Sends one request to the gateway over HTTP/2, trusting the Host's CA.
 * @param request.path e.g. `/aesp.v1.ToolService/InvokeTool`.
 */
export async function rawGatewayRequest(
  t: TestHost,
  request: { path: string; method?: string; headers?: Record<string, string>; body?: Uint8Array | string },
): Promise<RawResponse> {
  const session = http2.connect(t.host.gatewayUrl, { ca: t.host.caCertificatePem });
  try {
    return await new Promise<RawResponse>((resolve, reject) => {
      session.once("error", reject);
      const stream = session.request({ ":method": request.method ?? "POST", ":path": request.path, ...request.headers });
      const chunks: Buffer[] = [];
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      stream.on("response", (h) => (headers = h));
      stream.on("trailers", (h: http2.IncomingHttpHeaders) => (trailers = h));
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", reject);
      stream.on("end", () => {
        const body = Buffer.concat(chunks);
        let json: unknown;
        try {
          json = JSON.parse(body.toString("utf8"));
        } catch {
          json = undefined;
        }
        resolve({ status: Number(headers[":status"] ?? 0), headers, trailers, body, json });
      });
      stream.end(request.body === undefined ? undefined : Buffer.from(request.body));
    });
  } finally {
    session.close();
  }
}
