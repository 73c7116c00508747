// Attacks on the runtime plane's mutual TLS (invariant 8) against a real HTTP/2 server on
// 127.0.0.1 built with runtimePlaneTlsOptions, and a real CA persisted through a KeyMaterialStore.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { X509Certificate, generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { after, before, describe, test } from "node:test";
import { EnterpriseError, isErrorCode } from "../../packages/core/src/errors.ts";
import type { KeyMaterialStore } from "../../packages/core/src/ports.ts";
import type { KeyMaterialRecord, KeyPurpose } from "../../packages/core/src/records.ts";
import { KeyProtectionError, loadOrCreateMasterKey, openPrivateKey, sealPrivateKey, type MasterKey } from "../../packages/host/src/crypto/master-key.ts";
import { nodeIdSource, systemClock } from "../../packages/host/src/crypto/node-crypto-ports.ts";
import { CertificateAuthority } from "../../packages/host/src/pki/certificate-authority.ts";
import { checkPeerCertificate, runtimePlaneTlsOptions, type PeerRuntimeIdentity } from "../../packages/host/src/pki/runtime-plane-tls.ts";

const TRUST_DOMAIN = "aesp.test";

/** A Map-backed KeyMaterialStore with the unique-key-id behaviour of the real adapters. */
class MemoryKeyStore implements KeyMaterialStore {
  readonly records = new Map<string, KeyMaterialRecord>();
  async create(record: KeyMaterialRecord): Promise<void> {
    // Yield first so that concurrent creators really interleave.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.records.has(record.keyId)) throw new EnterpriseError("ALREADY_EXISTS", { details: { key_id: record.keyId } });
    this.records.set(record.keyId, structuredClone(record));
  }
  async current(purpose: KeyPurpose): Promise<KeyMaterialRecord | null> {
    const live = [...this.records.values()].filter((r) => r.purpose === purpose && r.retiredAt === null);
    live.sort((a, b) => b.createdAt - a.createdAt || b.keyId.localeCompare(a.keyId));
    return live[0] === undefined ? null : structuredClone(live[0]);
  }
  async list(purpose: KeyPurpose): Promise<KeyMaterialRecord[]> {
    return [...this.records.values()].filter((r) => r.purpose === purpose).map((r) => structuredClone(r));
  }
  async retire(keyId: string, at: number): Promise<void> {
    const record = this.records.get(keyId);
    if (record !== undefined) record.retiredAt = at;
  }
}

interface ClientCredentials {
  cert?: string;
  key?: string;
  maxVersion?: "TLSv1.2" | "TLSv1.3";
}

type Attempt =
  | { kind: "response"; status: number; body: { identity?: PeerRuntimeIdentity; code?: string; reason?: string } }
  /** The server dropped the connection during the handshake; `alert` is the TLS alert the client saw, if any. */
  | { kind: "refused"; alert: string | undefined };

function newClientKey(type: "ec" | "ed25519" = "ec"): { publicKeyPem: string; privateKeyPem: string } {
  const pair = type === "ec" ? generateKeyPairSync("ec", { namedCurve: "prime256v1" }) : generateKeyPairSync("ed25519");
  return {
    publicKeyPem: pair.publicKey.export({ type: "spki", format: "pem" }).toString(),
    privateKeyPem: pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

function runOpenssl(args: readonly string[]): Promise<{ exitCode: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("openssl", args, { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.on("close", (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, output });
    });
    child.stdin.end();
  });
}

void describe("runtime plane mutual TLS", () => {
  let workDir: string;
  let masterKey: MasterKey;
  let keys: MemoryKeyStore;
  let ca: CertificateAuthority;
  let server: http2.Http2SecureServer;
  let port: number;
  const revokedSerials = new Set<string>();
  let serverNow: number | undefined;
  let handlerCalls = 0;
  let secureConnections = 0;

  async function attempt(credentials: ClientCredentials): Promise<Attempt> {
    const handlerCallsBefore = handlerCalls;
    const secureConnectionsBefore = secureConnections;
    const result = await new Promise<Attempt>((resolve) => {
      // Our own TLS socket, because its 'error' carries the handshake alert; the HTTP/2 layer only
      // sees a cancelled stream. With TLS 1.3 the client finishes its side of the handshake before
      // the server judges its certificate, and Node's server drops a peer whose chain fails
      // verification without an alert: then the client sees the connection close, nothing more.
      const socket = tls.connect({
        host: "127.0.0.1",
        port,
        ca: ca.caCertificatePem,
        ALPNProtocols: ["h2"],
        maxVersion: credentials.maxVersion ?? "TLSv1.3",
        ...(credentials.cert === undefined ? {} : { cert: credentials.cert }),
        ...(credentials.key === undefined ? {} : { key: credentials.key }),
      });
      let alert: string | undefined;
      socket.on("error", (err: Error & { code?: string }) => {
        if (err.code?.includes("_ALERT_")) alert ??= err.code;
      });
      const session = http2.connect(`https://127.0.0.1:${port}`, { createConnection: () => socket });
      session.on("error", () => {});
      const stream = session.request({ ":path": "/identity" });
      stream.on("error", () => {});
      stream.setEncoding("utf8");
      let status = 0;
      let text = "";
      stream.on("response", (headers) => (status = Number(headers[":status"])));
      stream.on("data", (chunk: string) => (text += chunk));
      stream.on("close", () => {
        session.destroy();
        if (status === 0) resolve({ kind: "refused", alert });
        else resolve({ kind: "response", status, body: JSON.parse(text) as { identity?: PeerRuntimeIdentity } });
      });
      stream.end();
    });
    if (result.kind === "refused") {
      assert.equal(handlerCalls, handlerCallsBefore, "a refused peer must never reach the handler");
      assert.equal(secureConnections, secureConnectionsBefore, "a refused peer must never complete a secure connection");
    } else {
      assert.equal(secureConnections, secureConnectionsBefore + 1);
    }
    return result;
  }

  async function enrolled(tenantId = "acme", runtimeId = "rt_1", keyType: "ec" | "ed25519" = "ec") {
    const key = newClientKey(keyType);
    const issued = await ca.issueRuntimeCertificate({ tenantId, runtimeId, publicKeyPem: key.publicKeyPem });
    return { ...issued, privateKeyPem: key.privateKeyPem };
  }

  before(async () => {
    workDir = await mkdtemp(join(tmpdir(), "aesp-mtls-"));
    masterKey = await loadOrCreateMasterKey({ dataDir: join(workDir, "data"), env: {} });
    keys = new MemoryKeyStore();
    ca = await CertificateAuthority.open({ keys, masterKey, trustDomain: TRUST_DOMAIN, clock: systemClock, ids: nodeIdSource });
    const serverCertificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
    server = http2.createSecureServer(
      runtimePlaneTlsOptions({ ca: ca.caCertificatePem, serverCert: serverCertificate.certificatePem, serverKey: serverCertificate.privateKeyPem }),
    );
    server.on("secureConnection", () => secureConnections++);
    server.on("request", (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
      handlerCalls++;
      try {
        const identity = checkPeerCertificate(req.socket as tls.TLSSocket, (serial) => revokedSerials.has(serial), {
          trustDomain: TRUST_DOMAIN,
          ...(serverNow === undefined ? {} : { now: serverNow }),
        });
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ identity }));
      } catch (err) {
        const code = err instanceof EnterpriseError ? err.code : "UNEXPECTED";
        const reason = err instanceof EnterpriseError ? err.details["reason"] : String(err);
        res.writeHead(403, { "content-type": "application/json" }).end(JSON.stringify({ code, reason }));
      }
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server.close();
    await rm(workDir, { recursive: true, force: true });
  });

  void test("an enrolled runtime connects over TLS 1.3 and the handler sees its identity", async () => {
    const runtime = await enrolled("acme", "rt_weather");
    const result = await attempt({ cert: runtime.certificatePem, key: runtime.privateKeyPem });
    assert.equal(result.kind, "response");
    assert.ok(result.kind === "response");
    assert.equal(result.status, 200);
    const identity = result.body.identity;
    assert.ok(identity !== undefined);
    assert.equal(identity.spiffeId, `spiffe://${TRUST_DOMAIN}/tenant/acme/runtime/rt_weather`);
    assert.equal(identity.tenantId, "acme");
    assert.equal(identity.runtimeId, "rt_weather");
    assert.equal(identity.serial, runtime.serial);
    assert.match(identity.serial, /^[0-9a-f]{32}$/);
    assert.match(identity.fingerprintSha256, /^[0-9a-f]{64}$/);
    assert.equal(identity.notAfter, runtime.notAfter);
    assert.equal(identity.notAfter - identity.notBefore, 86_400_000 + 5 * 60_000, "24 h lifetime plus the 5 min backdate");
    assert.match(identity.issuer, /CN=AESP Host CA aesp\.test/);
  });

  void test("an Ed25519 runtime key is certified and accepted", async () => {
    const runtime = await enrolled("acme", "rt_ed", "ed25519");
    const result = await attempt({ cert: runtime.certificatePem, key: runtime.privateKeyPem });
    assert.ok(result.kind === "response", JSON.stringify(result));
    assert.equal(result.body.identity?.runtimeId, "rt_ed");
  });

  void test("a client without a certificate is refused in the handshake", async () => {
    const result = await attempt({});
    assert.deepEqual(result, { kind: "refused", alert: "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED" });
  });

  void test("a TLS 1.2-only client is refused, from Node and from openssl s_client", async () => {
    const runtime = await enrolled();
    const result = await attempt({ cert: runtime.certificatePem, key: runtime.privateKeyPem, maxVersion: "TLSv1.2" });
    assert.deepEqual(result, { kind: "refused", alert: "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION" });

    const files = join(workDir, "openssl");
    await rm(files, { recursive: true, force: true });
    await mkdir(files);
    await writeFile(join(files, "ca.pem"), ca.caCertificatePem);
    await writeFile(join(files, "cert.pem"), runtime.certificatePem);
    await writeFile(join(files, "key.pem"), runtime.privateKeyPem, { mode: 0o600 });
    const common = ["-connect", `127.0.0.1:${port}`, "-CAfile", join(files, "ca.pem"), "-cert", join(files, "cert.pem"), "-key", join(files, "key.pem"), "-alpn", "h2"];

    const tls12 = await runOpenssl(["s_client", "-tls1_2", ...common]);
    assert.notEqual(tls12.exitCode, 0, tls12.output);
    assert.match(tls12.output, /alert protocol version/);
    assert.match(tls12.output, /Cipher is \(NONE\)/);

    // Control: the same openssl, certificate and port succeed with TLS 1.3, so the refusal above is the version.
    const tls13 = await runOpenssl(["s_client", "-tls1_3", "-verify_return_error", ...common]);
    assert.equal(tls13.exitCode, 0, tls13.output);
    assert.match(tls13.output, /New, TLSv1\.3/);
    assert.match(tls13.output, /ALPN protocol: h2/);
  });

  void test("a certificate from another (attacker) CA is refused in the handshake", async () => {
    const attackerCa = await CertificateAuthority.open({ keys: new MemoryKeyStore(), masterKey, trustDomain: TRUST_DOMAIN, clock: systemClock });
    const key = newClientKey();
    // Same subject, same SPIFFE ID as a genuine runtime: only the issuer differs.
    const forged = await attackerCa.issueRuntimeCertificate({ tenantId: "acme", runtimeId: "rt_weather", publicKeyPem: key.publicKeyPem });
    const forgedCertificate = new X509Certificate(forged.certificatePem);
    assert.equal(forgedCertificate.subjectAltName, `URI:spiffe://${TRUST_DOMAIN}/tenant/acme/runtime/rt_weather`);
    assert.equal(forgedCertificate.issuer, new X509Certificate(ca.caCertificatePem).subject, "the forgery even copies the issuer name");
    assert.equal(forgedCertificate.verify(new X509Certificate(ca.caCertificatePem).publicKey), false);
    const result = await attempt({ cert: forged.certificatePem, key: key.privateKeyPem });
    assert.equal(result.kind, "refused");
  });

  void test("an expired certificate is refused in the handshake", async () => {
    const key = newClientKey();
    const now = Date.now();
    const expired = await ca.issueClientCertificate({
      publicKeyPem: key.publicKeyPem,
      uris: [`spiffe://${TRUST_DOMAIN}/tenant/acme/runtime/rt_old`],
      notBefore: now - 2 * 86_400_000,
      notAfter: now - 86_400_000,
    });
    // Genuinely signed by the Host CA: the only defect is the validity window.
    assert.equal(new X509Certificate(expired.certificatePem).verify(new X509Certificate(ca.caCertificatePem).publicKey), true);
    const result = await attempt({ cert: expired.certificatePem, key: key.privateKeyPem });
    assert.equal(result.kind, "refused");
  });

  void test("a certificate that expires during a connection's life is refused by the per-stream check", async () => {
    const runtime = await enrolled("acme", "rt_late");
    serverNow = runtime.notAfter + 1;
    try {
      const result = await attempt({ cert: runtime.certificatePem, key: runtime.privateKeyPem });
      assert.ok(result.kind === "response", JSON.stringify(result));
      assert.equal(result.status, 403);
      assert.deepEqual(result.body, { code: "CERTIFICATE_INVALID", reason: "expired" });
    } finally {
      serverNow = undefined;
    }
  });

  void test("a revoked serial is rejected by checkPeerCertificate", async () => {
    const runtime = await enrolled("acme", "rt_revoked");
    const before = await attempt({ cert: runtime.certificatePem, key: runtime.privateKeyPem });
    assert.ok(before.kind === "response" && before.status === 200, JSON.stringify(before));
    revokedSerials.add(runtime.serial);
    const afterRevocation = await attempt({ cert: runtime.certificatePem, key: runtime.privateKeyPem });
    assert.ok(afterRevocation.kind === "response", JSON.stringify(afterRevocation));
    assert.equal(afterRevocation.status, 403);
    assert.deepEqual(afterRevocation.body, { code: "CERTIFICATE_INVALID", reason: "revoked" });
  });

  void test("a URI SAN of another shape, two SPIFFE SANs, or none, are rejected", async () => {
    const cases: Array<{ uris: string[]; dnsNames?: string[]; why: string }> = [
      { uris: [`spiffe://${TRUST_DOMAIN}/runtime/rt_1`], why: "no tenant segment" },
      { uris: [`spiffe://${TRUST_DOMAIN}/tenant/acme/runtime/rt_1/extra`], why: "extra segment" },
      { uris: [`spiffe://${TRUST_DOMAIN}/tenant/../runtime/rt_1`], why: "dot-dot segment" },
      { uris: [`https://${TRUST_DOMAIN}/tenant/acme/runtime/rt_1`], why: "not spiffe" },
      {
        uris: [`spiffe://${TRUST_DOMAIN}/tenant/acme/runtime/rt_1`, `spiffe://${TRUST_DOMAIN}/tenant/other/runtime/rt_1`],
        why: "two SPIFFE IDs",
      },
      { uris: [], dnsNames: ["rt-1.acme.example"], why: "no URI at all" },
      { uris: [`spiffe://${TRUST_DOMAIN}/tenant/acme/runtime/rt_1?x=1`], why: "query string" },
    ];
    for (const { uris, dnsNames, why } of cases) {
      const key = newClientKey();
      const issued = await ca.issueClientCertificate({ publicKeyPem: key.publicKeyPem, uris, ...(dnsNames === undefined ? {} : { dnsNames }) });
      const result = await attempt({ cert: issued.certificatePem, key: key.privateKeyPem });
      assert.ok(result.kind === "response", `${why}: ${JSON.stringify(result)}`);
      assert.equal(result.status, 403, why);
      assert.deepEqual(result.body, { code: "CERTIFICATE_INVALID", reason: "spiffe_id_missing_or_ambiguous" }, why);
    }
  });

  void test("a SPIFFE ID of another trust domain is rejected", async () => {
    const key = newClientKey();
    const issued = await ca.issueClientCertificate({ publicKeyPem: key.publicKeyPem, uris: ["spiffe://evil.test/tenant/acme/runtime/rt_1"] });
    const result = await attempt({ cert: issued.certificatePem, key: key.privateKeyPem });
    assert.ok(result.kind === "response", JSON.stringify(result));
    assert.deepEqual(result.body, { code: "CERTIFICATE_INVALID", reason: "wrong_trust_domain" });
  });

  void test("the Host's own server certificate cannot be used as a runtime client certificate", async () => {
    const serverCertificate = await ca.issueServerCertificate({ dnsNames: ["rt.acme.example"] });
    // Signed by the trusted CA, but for serverAuth only: OpenSSL's ssl_client purpose check refuses it.
    assert.deepEqual(new X509Certificate(serverCertificate.certificatePem).keyUsage, ["1.3.6.1.5.5.7.3.1"]);
    const result = await attempt({ cert: serverCertificate.certificatePem, key: serverCertificate.privateKeyPem });
    assert.equal(result.kind, "refused");
  });

  void test("the CA refuses runtime keys that are not EC P-256/P-384 or Ed25519 SPKI", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const p521 = generateKeyPairSync("ec", { namedCurve: "secp521r1" });
    const ec = newClientKey();
    const refusals = [
      rsa.publicKey.export({ type: "spki", format: "pem" }).toString(),
      p521.publicKey.export({ type: "spki", format: "pem" }).toString(),
      ec.privateKeyPem,
      ca.caCertificatePem,
      "not a key",
    ];
    for (const publicKeyPem of refusals) {
      await assert.rejects(
        ca.issueRuntimeCertificate({ tenantId: "acme", runtimeId: "rt_1", publicKeyPem }),
        (err) => isErrorCode(err, "INVALID_ARGUMENT") && err.details["field"] === "public_key_pem",
      );
    }
    await assert.rejects(
      ca.issueRuntimeCertificate({ tenantId: "acme/evil", runtimeId: "rt_1", publicKeyPem: ec.publicKeyPem }),
      (err) => isErrorCode(err, "INVALID_ARGUMENT") && err.details["field"] === "tenant_id",
    );
    const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey.export({ type: "spki", format: "pem" }).toString();
    const issued = await ca.issueRuntimeCertificate({ tenantId: "acme", runtimeId: "rt_384", publicKeyPem: p384 });
    assert.equal(issued.spiffeId, `spiffe://${TRUST_DOMAIN}/tenant/acme/runtime/rt_384`);
  });

  void test("a master key file readable by others (0644) is refused", async () => {
    const dataDir = join(workDir, "loose");
    const created = await loadOrCreateMasterKey({ dataDir, env: {} });
    assert.equal(created.source, "file");
    await chmod(join(dataDir, "master.key"), 0o644);
    await assert.rejects(loadOrCreateMasterKey({ dataDir, env: {} }), (err) => {
      assert.ok(err instanceof KeyProtectionError);
      assert.match(err.message, /readable by group or others .*mode 0644.*chmod 600/);
      return true;
    });
  });

  void test("a sealed key does not open under another key id (AAD) or another master key", async () => {
    const secret = Buffer.from("pkcs8 bytes stand-in");
    const sealed = sealPrivateKey(masterKey, secret, "ca-1");
    assert.deepEqual(openPrivateKey(masterKey, sealed, "ca-1"), secret);
    assert.throws(() => openPrivateKey(masterKey, sealed, "audit-signing-1"), KeyProtectionError);
    const otherMasterKey = await loadOrCreateMasterKey({ dataDir: join(workDir, "other"), env: {} });
    assert.throws(() => openPrivateKey(otherMasterKey, sealed, "ca-1"), KeyProtectionError);
  });

  void test("a CA key record moved under another key id fails to load", async () => {
    const store = new MemoryKeyStore();
    await CertificateAuthority.open({ keys: store, masterKey, trustDomain: TRUST_DOMAIN, clock: systemClock });
    const genuine = store.records.get("ca-1");
    assert.ok(genuine !== undefined);
    const swapped = new MemoryKeyStore();
    swapped.records.set("ca-2", { ...genuine, keyId: "ca-2" });
    await assert.rejects(
      CertificateAuthority.open({ keys: swapped, masterKey, trustDomain: TRUST_DOMAIN, clock: systemClock }),
      KeyProtectionError,
    );
  });

  void test("the CA persists: opening again over the same store yields the same root, sealed at rest", async () => {
    const again = await CertificateAuthority.open({ keys, masterKey, trustDomain: TRUST_DOMAIN, clock: systemClock });
    assert.equal(again.caCertificatePem, ca.caCertificatePem);
    assert.equal(again.keyId, ca.keyId);
    const record = await keys.current("ca");
    assert.ok(record !== null);
    assert.equal(record.certificatePem, ca.caCertificatePem);
    assert.match(record.encryptedPrivateKey, /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    assert.doesNotMatch(JSON.stringify(record), /PRIVATE KEY/);
    // A certificate issued by the reopened CA is accepted by the server that trusts the first one.
    const key = newClientKey();
    const issued = await again.issueRuntimeCertificate({ tenantId: "acme", runtimeId: "rt_after_restart", publicKeyPem: key.publicKeyPem });
    const result = await attempt({ cert: issued.certificatePem, key: key.privateKeyPem });
    assert.ok(result.kind === "response" && result.status === 200, JSON.stringify(result));
  });

  void test("two Hosts opening the CA at once over one store converge on one root", async () => {
    const shared = new MemoryKeyStore();
    const [first, second] = await Promise.all([
      CertificateAuthority.open({ keys: shared, masterKey, trustDomain: TRUST_DOMAIN, clock: systemClock }),
      CertificateAuthority.open({ keys: shared, masterKey, trustDomain: TRUST_DOMAIN, clock: systemClock }),
    ]);
    assert.equal(first.caCertificatePem, second.caCertificatePem);
    assert.equal(shared.records.size, 1);
  });
});
