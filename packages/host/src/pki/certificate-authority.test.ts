// The internal CA over the real SQLite key store, cross-checked with openssl.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate, createPrivateKey, generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { isErrorCode } from "@aesp/core";
import type { Clock, Store } from "@aesp/core";
import type { CertificateIssuer } from "@aesp/core";
import { KeyProtectionError, MASTER_KEY_ENV, generateMasterKeyText, loadOrCreateMasterKey, type MasterKey } from "../crypto/master-key.ts";
import { openStore } from "../storage/index.ts";
import { CertificateAuthority } from "./certificate-authority.ts";
import { runtimePlaneTlsOptions } from "./runtime-plane-tls.ts";
import { newCertificateSerial, normalizeSerial } from "./serial.ts";
import { x509 } from "./x509.ts";

const run = promisify(execFile);
const DAY_MS = 86_400_000;

function publicKeyPem(type: "ec" | "ed25519" = "ec"): string {
  const pair = type === "ec" ? generateKeyPairSync("ec", { namedCurve: "prime256v1" }) : generateKeyPairSync("ed25519");
  return pair.publicKey.export({ type: "spki", format: "pem" }).toString();
}

void describe("CertificateAuthority", () => {
  let dir: string;
  let store: Store;
  let masterKey: MasterKey;
  let now = Date.UTC(2030, 0, 1);
  const clock: Clock = { now: () => now };
  let ca: CertificateAuthority;
  const openssl = async (...args: string[]): Promise<string> => (await run("openssl", args)).stdout;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "aesp-ca-"));
    store = await openStore({ kind: "sqlite", path: join(dir, "host.db") });
    masterKey = await loadOrCreateMasterKey({ dataDir: dir, env: { [MASTER_KEY_ENV]: generateMasterKeyText() } });
    ca = await CertificateAuthority.open({ keys: store.platform.keys, masterKey, trustDomain: "aesp.test", clock });
    await writeFile(join(dir, "ca.pem"), ca.caCertificatePem);
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  void test("satisfies the core's CertificateIssuer port", () => {
    const issuer: CertificateIssuer = ca;
    assert.equal(issuer.caCertificatePem, ca.caCertificatePem);
  });

  void test("the root is a self-signed P-256 CA for leaves only, valid 10 years", async () => {
    const root = new x509.X509Certificate(ca.caCertificatePem);
    assert.equal(root.subject, "CN=AESP Host CA aesp.test");
    assert.equal(root.issuer, root.subject);
    assert.ok(await root.verify({ signatureOnly: true }));
    const constraints = root.getExtension(x509.BasicConstraintsExtension);
    assert.ok(constraints?.ca === true && constraints.pathLength === 0 && constraints.critical);
    const usages = root.getExtension(x509.KeyUsagesExtension);
    assert.equal(usages?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    assert.ok(root.getExtension(x509.SubjectKeyIdentifierExtension) !== null);
    assert.equal(new X509Certificate(ca.caCertificatePem).publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    const years = (root.notAfter.getTime() - now) / (365.25 * DAY_MS);
    assert.ok(years > 9.99 && years < 10.01, String(years));
    assert.equal(ca.keyId, "ca-1");
    assert.match(await openssl("x509", "-in", join(dir, "ca.pem"), "-noout", "-text"), /CA:TRUE, pathlen:0/);
  });

  void test("a runtime certificate carries one SPIFFE URI, clientAuth only, AKI = root SKI, 24 h by default", async () => {
    const issued = await ca.issueRuntimeCertificate({ tenantId: "acme", runtimeId: "rt_1", publicKeyPem: publicKeyPem() });
    assert.equal(issued.spiffeId, "spiffe://aesp.test/tenant/acme/runtime/rt_1");
    assert.match(issued.serial, /^[4-7][0-9a-f]{31}$/);
    assert.equal(issued.notAfter, now + DAY_MS);
    assert.equal(issued.notBefore, now - 5 * 60_000);

    const leaf = new X509Certificate(issued.certificatePem);
    assert.equal(leaf.subjectAltName, "URI:spiffe://aesp.test/tenant/acme/runtime/rt_1");
    assert.deepEqual(leaf.keyUsage, ["1.3.6.1.5.5.7.3.2"]);
    assert.equal(leaf.ca, false);
    assert.equal(normalizeSerial(leaf.serialNumber), issued.serial);
    assert.ok(leaf.checkIssued(new X509Certificate(ca.caCertificatePem)));

    const parsed = new x509.X509Certificate(issued.certificatePem);
    const rootKeyId = new x509.X509Certificate(ca.caCertificatePem).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    assert.equal(parsed.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, rootKeyId);
    assert.equal(parsed.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.digitalSignature);

    // openssl agrees: chains to the root, fit for TLS client auth, not for server auth.
    const leafFile = join(dir, "leaf.pem");
    await writeFile(leafFile, issued.certificatePem);
    const at = String(Math.floor(now / 1000));
    assert.match(await openssl("verify", "-attime", at, "-CAfile", join(dir, "ca.pem"), "-purpose", "sslclient", leafFile), /: OK/);
    await assert.rejects(openssl("verify", "-attime", at, "-CAfile", join(dir, "ca.pem"), "-purpose", "sslserver", leafFile));
  });

  void test("Ed25519 and P-384 runtime keys are certified; the lifetime can be chosen within bounds", async () => {
    const ed = await ca.issueRuntimeCertificate({ tenantId: "acme", runtimeId: "rt_ed", publicKeyPem: publicKeyPem("ed25519"), validitySeconds: 3600 });
    assert.equal(new X509Certificate(ed.certificatePem).publicKey.asymmetricKeyType, "ed25519");
    assert.equal(ed.notAfter, now + 3_600_000);
    const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey.export({ type: "spki", format: "pem" }).toString();
    await ca.issueRuntimeCertificate({ tenantId: "acme", runtimeId: "rt_384", publicKeyPem: p384 });
    for (const validitySeconds of [59, 30 * 86_400 + 1, 1.5]) {
      await assert.rejects(
        ca.issueRuntimeCertificate({ tenantId: "acme", runtimeId: "rt_1", publicKeyPem: publicKeyPem(), validitySeconds }),
        (err) => isErrorCode(err, "INVALID_ARGUMENT") && err.details["field"] === "validity_seconds",
      );
    }
  });

  void test("serials are random, distinct, positive and canonical", async () => {
    const key = publicKeyPem();
    const serials = new Set<string>();
    for (let i = 0; i < 50; i++) serials.add((await ca.issueRuntimeCertificate({ tenantId: "acme", runtimeId: "rt_s", publicKeyPem: key })).serial);
    assert.equal(serials.size, 50);
    for (let i = 0; i < 1000; i++) assert.match(newCertificateSerial(), /^[4-7][0-9a-f]{31}$/);
  });

  void test("no certificate outlives the root", async () => {
    const rootNotAfter = ca.notAfter;
    const saved = now;
    now = rootNotAfter - 3_600_000;
    try {
      const issued = await ca.issueRuntimeCertificate({ tenantId: "acme", runtimeId: "rt_late", publicKeyPem: publicKeyPem() });
      assert.equal(issued.notAfter, rootNotAfter);
      const server = await ca.issueServerCertificate({ dnsNames: ["localhost"] });
      assert.equal(server.notAfter, rootNotAfter);
    } finally {
      now = saved;
    }
  });

  void test("a server certificate has its SANs, serverAuth, and a fresh key that matches it", async () => {
    const issued = await ca.issueServerCertificate({ dnsNames: ["localhost", "*.rt.example"], ipAddresses: ["127.0.0.1", "::1"], validityDays: 30 });
    const certificate = new X509Certificate(issued.certificatePem);
    assert.equal(certificate.subjectAltName, "DNS:localhost, DNS:*.rt.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
    assert.deepEqual(certificate.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
    assert.ok(certificate.checkPrivateKey(createPrivateKey(issued.privateKeyPem)));
    assert.equal(issued.notAfter, now + 30 * DAY_MS);
    const file = join(dir, "server.pem");
    await writeFile(file, issued.certificatePem);
    assert.match(await openssl("verify", "-attime", String(Math.floor(now / 1000)), "-CAfile", join(dir, "ca.pem"), "-purpose", "sslserver", file), /: OK/);
  });

  void test("server certificate requests with no or malformed names, or silly lifetimes, are refused", async () => {
    const refusals: Array<[Parameters<CertificateAuthority["issueServerCertificate"]>[0], string]> = [
      [{ dnsNames: [] }, "dns_names"],
      [{ dnsNames: ["bad name"] }, "dns_names"],
      [{ dnsNames: ["-lead.example"] }, "dns_names"],
      [{ dnsNames: ["ok.example"], ipAddresses: ["256.0.0.1"] }, "ip_addresses"],
      [{ dnsNames: ["ok.example"], validityDays: 0 }, "validity_days"],
      [{ dnsNames: ["ok.example"], validityDays: 398 }, "validity_days"],
    ];
    for (const [request, field] of refusals) {
      await assert.rejects(ca.issueServerCertificate(request), (err) => isErrorCode(err, "INVALID_ARGUMENT") && err.details["field"] === field, field);
    }
  });

  void test("reopening over the same store loads the same root and keeps issuing under it", async () => {
    const reopened = await CertificateAuthority.open({ keys: store.platform.keys, masterKey, trustDomain: "aesp.test", clock });
    assert.equal(reopened.caCertificatePem, ca.caCertificatePem);
    const issued = await reopened.issueRuntimeCertificate({ tenantId: "acme", runtimeId: "rt_2", publicKeyPem: publicKeyPem() });
    assert.ok(new X509Certificate(issued.certificatePem).verify(new X509Certificate(ca.caCertificatePem).publicKey));
  });

  void test("refuses to open with the wrong master key or an invalid trust domain", async () => {
    const otherMasterKey = await loadOrCreateMasterKey({ dataDir: dir, env: { [MASTER_KEY_ENV]: generateMasterKeyText() } });
    await assert.rejects(CertificateAuthority.open({ keys: store.platform.keys, masterKey: otherMasterKey, trustDomain: "aesp.test", clock }), KeyProtectionError);
    await assert.rejects(
      CertificateAuthority.open({ keys: store.platform.keys, masterKey, trustDomain: "Bad Domain", clock }),
      (err) => isErrorCode(err, "INVALID_ARGUMENT") && err.details["field"] === "trust_domain",
    );
  });

  void test("refuses a CA record whose certificate belongs to another key", async () => {
    const otherStore = await openStore({ kind: "sqlite", path: ":memory:" });
    const victimStore = await openStore({ kind: "sqlite", path: ":memory:" });
    try {
      const other = await CertificateAuthority.open({ keys: otherStore.platform.keys, masterKey, trustDomain: "aesp.test", clock });
      const genuine = await store.platform.keys.current("ca");
      assert.ok(genuine !== null);
      await victimStore.platform.keys.create({ ...genuine, certificatePem: other.caCertificatePem });
      await assert.rejects(
        CertificateAuthority.open({ keys: victimStore.platform.keys, masterKey, trustDomain: "aesp.test", clock }),
        /does not carry its key/,
      );
    } finally {
      await Promise.all([otherStore.close(), victimStore.close()]);
    }
  });
});

void describe("normalizeSerial", () => {
  void test("gives one spelling for Node's, openssl's and x509's forms", () => {
    assert.equal(normalizeSerial("40E1BC9CB8FC2CD93B4C566AAD6CB8B8"), "40e1bc9cb8fc2cd93b4c566aad6cb8b8");
    assert.equal(normalizeSerial("40:e1:bc:9c"), "40e1bc9c");
    assert.equal(normalizeSerial("00A1"), "a1");
    assert.equal(normalizeSerial("A1B"), "0a1b");
    assert.equal(normalizeSerial("00"), "00");
    assert.equal(normalizeSerial("zz"), "");
    assert.equal(normalizeSerial(""), "");
  });
});

void describe("runtimePlaneTlsOptions", () => {
  void test("pins TLS 1.3, requires and verifies client certificates, and speaks h2 only", () => {
    const options = runtimePlaneTlsOptions({ ca: ["root-a", "root-b"], serverCert: "cert", serverKey: "key" });
    assert.deepEqual(options, {
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      requestCert: true,
      rejectUnauthorized: true,
      ca: ["root-a", "root-b"],
      cert: "cert",
      key: "key",
      allowHTTP1: false,
      ALPNProtocols: ["h2"],
    });
  });
});
