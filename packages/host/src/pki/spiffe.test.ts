import assert from "node:assert/strict";
import { X509Certificate, webcrypto } from "node:crypto";
import { describe, test } from "node:test";
import { isErrorCode } from "@aesp/core";
import { buildSpiffeId, parseSpiffeId, parseSubjectAltName, spiffeIdFromSubjectAltName } from "./spiffe.ts";
import { x509 } from "./x509.ts";

/** What Node prints as `subjectaltname` for a certificate with these URI SANs (and one DNS SAN). */
async function nodeSubjectAltName(uris: readonly string[]): Promise<string> {
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=san-test",
    keys: keys as unknown as CryptoKeyPair,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.SubjectAlternativeNameExtension([...uris.map((value) => ({ type: "url" as const, value })), { type: "dns", value: "rt.example" }]),
    ],
  });
  return new X509Certificate(certificate.toString("pem")).subjectAltName ?? "";
}

void describe("buildSpiffeId / parseSpiffeId", () => {
  void test("round-trips the runtime shape", () => {
    const id = buildSpiffeId("aesp.example.com", "acme-Corp_1", "rt_01.weather");
    assert.equal(id, "spiffe://aesp.example.com/tenant/acme-Corp_1/runtime/rt_01.weather");
    assert.deepEqual(parseSpiffeId(id), { spiffeId: id, trustDomain: "aesp.example.com", tenantId: "acme-Corp_1", runtimeId: "rt_01.weather" });
  });

  void test("accepts segments of exactly 128 characters and refuses 129", () => {
    const longest = "a".repeat(128);
    assert.notEqual(parseSpiffeId(`spiffe://d/tenant/${longest}/runtime/${longest}`), null);
    assert.equal(parseSpiffeId(`spiffe://d/tenant/${longest}a/runtime/r`), null);
    assert.equal(parseSpiffeId(`spiffe://${longest}a/tenant/t/runtime/r`), null);
  });

  void test("parses anything but the exact shape as null", () => {
    const refused = [
      "",
      "spiffe://aesp.test",
      "spiffe://aesp.test/",
      "spiffe://aesp.test/runtime/r",
      "spiffe://aesp.test/tenant/t/runtime/r/",
      "spiffe://aesp.test/tenant/t/runtime/r/x",
      "spiffe://aesp.test/tenant/t/runtime/",
      "spiffe://aesp.test/tenant//runtime/r",
      "spiffe://aesp.test/tenant/../runtime/r",
      "spiffe://aesp.test/tenant/t/runtime/.",
      "spiffe://aesp.test/tenant/t/runtime/r?x=1",
      "spiffe://aesp.test/tenant/t/runtime/r#f",
      "spiffe://aesp.test/tenant/t%2Fu/runtime/r",
      "spiffe://AESP.test/tenant/t/runtime/r",
      "spiffe://user@aesp.test/tenant/t/runtime/r",
      "spiffe://aesp.test:443/tenant/t/runtime/r",
      "SPIFFE://aesp.test/tenant/t/runtime/r",
      "https://aesp.test/tenant/t/runtime/r",
      " spiffe://aesp.test/tenant/t/runtime/r",
      "spiffe://aesp.test/tenant/t/runtime/r\n",
      "spiffe://aesp.test/tenant/té/runtime/r",
      "spiffe://aesp.test/TENANT/t/runtime/r",
      "spiffe://./tenant/t/runtime/r",
    ];
    for (const uri of refused) assert.equal(parseSpiffeId(uri), null, JSON.stringify(uri));
  });

  void test("building refuses bad parts with INVALID_ARGUMENT naming the field", () => {
    const cases: Array<[string, string, string, string]> = [
      ["Aesp.test", "t", "r", "trust_domain"],
      ["aesp.test", "t/u", "r", "tenant_id"],
      ["aesp.test", "..", "r", "tenant_id"],
      ["aesp.test", "t", "", "runtime_id"],
      ["aesp.test", "t", "r".repeat(129), "runtime_id"],
    ];
    for (const [domain, tenant, runtime, field] of cases) {
      assert.throws(
        () => buildSpiffeId(domain, tenant, runtime),
        (err) => isErrorCode(err, "INVALID_ARGUMENT") && err.details["field"] === field,
        field,
      );
    }
  });
});

void describe("subjectaltname parsing", () => {
  void test("splits Node's entries and decodes JSON-quoted values", () => {
    assert.deepEqual(parseSubjectAltName('URI:spiffe://d/tenant/t/runtime/r, DNS:a.example, IP Address:127.0.0.1, URI:"x\\u002c y"'), [
      { type: "URI", value: "spiffe://d/tenant/t/runtime/r" },
      { type: "DNS", value: "a.example" },
      { type: "IP Address", value: "127.0.0.1" },
      { type: "URI", value: "x, y" },
    ]);
    assert.equal(parseSubjectAltName('URI:"unterminated'), null);
    assert.equal(parseSubjectAltName("no colon"), null);
    assert.equal(parseSubjectAltName('URI:"a"garbage'), null);
  });

  void test("finds the one SPIFFE ID in a certificate Node formatted", async () => {
    const san = await nodeSubjectAltName(["spiffe://aesp.test/tenant/acme/runtime/rt_1"]);
    assert.equal(san, "URI:spiffe://aesp.test/tenant/acme/runtime/rt_1, DNS:rt.example");
    assert.equal(spiffeIdFromSubjectAltName(san)?.runtimeId, "rt_1");
  });

  void test("a SPIFFE ID smuggled inside another URI is not found (Node quotes the separator)", async () => {
    const san = await nodeSubjectAltName(["https://x.test/a, URI:spiffe://aesp.test/tenant/evil/runtime/x"]);
    assert.match(san, /^URI:"/);
    assert.equal(spiffeIdFromSubjectAltName(san), null);
  });

  void test("two URIs are ambiguous even when both are SPIFFE IDs or one is not", async () => {
    const two = await nodeSubjectAltName(["spiffe://aesp.test/tenant/a/runtime/r", "spiffe://aesp.test/tenant/b/runtime/r"]);
    assert.equal(spiffeIdFromSubjectAltName(two), null);
    const mixed = await nodeSubjectAltName(["spiffe://aesp.test/tenant/a/runtime/r", "https://aesp.test/"]);
    assert.equal(spiffeIdFromSubjectAltName(mixed), null);
  });

  void test("no SAN, no URI, or a malformed SAN yields null", () => {
    assert.equal(spiffeIdFromSubjectAltName(undefined), null);
    assert.equal(spiffeIdFromSubjectAltName(""), null);
    assert.equal(spiffeIdFromSubjectAltName("DNS:rt.example"), null);
    assert.equal(spiffeIdFromSubjectAltName('URI:"spiffe://aesp.test/tenant/a/runtime/r'), null);
  });
});
