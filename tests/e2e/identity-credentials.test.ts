/**
 * Attacks on the gateway's credential paths, end to end over HTTPS against a real Host:
 * - SAML browser sign-in for the CLI (SP-initiated, a samlify IdP, a one-time code redeemed with a
 *   PKCE verifier at /saml/token), and everything that must be refused on the way;
 * - service accounts authenticating with a pinned client certificate (mutual TLS) and with
 *   `private_key_jwt` client assertions;
 * - cross-tenant use of ServiceAccountCredentialService, and RevokeToken of someone else's token.
 * Each refusal is asserted with its exact EnterpriseError code (and reason where one is given).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { Code, createClient } from "@connectrpc/connect";
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import type { CryptoKey, JWK } from "jose";
import { EnterpriseAuthenticationService } from "@aesp/proto/authentication";
import { ToolService } from "@aesp/proto/client";
import { IdentityProviderService, ServiceAccountCredentialService } from "@aesp/proto/identity_provider";
import { createTestCa } from "../../packages/runtime/src/test-pki.ts";
import type { IssuedPair } from "../../packages/runtime/src/test-pki.ts";
import { assertRefused, openHostStore, readAllAuditRecords, startTestHost } from "../support/harness.ts";
import type { Actor, TestHost } from "../support/harness.ts";
import { generateSigningKey, startSamlIdp, tamperResponse } from "../support/saml-idp.ts";
import type { CreateResponseOptions, SamlIdp } from "../support/saml-idp.ts";
import { httpRefusalOf, locationOf, newPkcePair, postToAcs, redeemSamlCode, startSamlLogin } from "../support/saml-browser.ts";
import type { PkcePair } from "../support/saml-browser.ts";

const SP_ENTITY_ID = "urn:aesp:e2e:acme:corp-saml";
const PARTNER_ENTITY_ID = "urn:aesp:e2e:acme:partner-saml";
const CALLBACK = "http://127.0.0.1:53682/callback";
const tokenAudience = "aesp-api";

let t: TestHost;
let acme: Actor;
let globex: Actor;
let idp: SamlIdp;
let acsUrl: string;
let partnerAcsUrl: string;

function text(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? String(v) : v)) ?? "";
}

/** Alice's answer to `requestId`, as the IdP would sign it. */
function alice(requestId: string | undefined, overrides: Partial<CreateResponseOptions> = {}): CreateResponseOptions {
  return {
    ...(requestId === undefined ? {} : { requestId }),
    nameId: "alice@corp.example",
    attributes: { uid: "alice", displayName: "Alice <Example>", groups: ["engineers"] },
    sign: "assertion",
    ...overrides,
  };
}

/** The CLI starts a login; the browser follows the redirect to the IdP, which reads the AuthnRequest. */
async function beginCliLogin(pkce: PkcePair = newPkcePair(), returnTo = CALLBACK): Promise<{ pkce: PkcePair; requestId: string; relayState: string }> {
  const started = await startSamlLogin(t, "acme", "corp-saml", { return_to: returnTo, code_challenge: pkce.challenge, code_challenge_method: "S256" });
  assert.equal(started.status, 302, started.body.toString());
  const request = await idp.receiveLoginRequest(locationOf(started));
  return { pkce, requestId: request.requestId, relayState: request.relayState };
}

/** A whole CLI sign-in up to the loopback redirect; returns the code it carries. */
async function cliLoginCode(pkce: PkcePair = newPkcePair()): Promise<{ pkce: PkcePair; code: string; samlResponse: string }> {
  const login = await beginCliLogin(pkce);
  const samlResponse = await idp.createResponse(alice(login.requestId));
  const posted = await postToAcs(t, "acme", "corp-saml", samlResponse, login.relayState);
  assert.equal(posted.status, 303, posted.body.toString());
  const location = new URL(locationOf(posted));
  assert.equal(`${location.origin}${location.pathname}`, CALLBACK);
  return { pkce, code: location.searchParams.get("code") ?? "", samlResponse };
}

interface TokenReply {
  access_token: string;
  refresh_token: string;
  expires_at: string;
  token_type: string;
  principal_id: string;
  tenant_id: string;
}

/** A Connect transport over a TLS connection that presents `client` (and may cap the TLS version). */
function mtlsTransport(client: IssuedPair | null, token?: string, maxVersion?: "TLSv1.2" | "TLSv1.3"): Transport {
  return createConnectTransport({
    baseUrl: t.host.gatewayUrl,
    httpVersion: "2",
    nodeOptions: { ca: t.host.caCertificatePem, ...(client === null ? {} : { cert: client.certificatePem, key: client.privateKeyPem }), ...(maxVersion === undefined ? {} : { maxVersion }) },
    interceptors: token === undefined ? [] : [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))],
  });
}

before(async () => {
  t = await startTestHost("sqlite", { "identity.lockout_account_failures": 1000 });
  [acme, globex] = await Promise.all([t.tenant("acme"), t.tenant("globex")]);
  acsUrl = `${t.host.gatewayUrl}/saml/acme/corp-saml/acs`;
  partnerAcsUrl = `${t.host.gatewayUrl}/saml/acme/partner-saml/acs`;
  idp = await startSamlIdp({ spEntityId: SP_ENTITY_ID, acsUrl });
  const settings = (spEntityId: string, extra: Record<string, unknown> = {}) => ({
    idp_entity_id: idp.entityId,
    idp_sso_url: idp.ssoUrl,
    idp_certificates: [idp.key.certificatePem],
    sp_entity_id: spEntityId,
    username_attribute: "uid",
    display_name_attribute: "displayName",
    ...extra,
  });
  const providers = acme.client(IdentityProviderService);
  const mapping = { group_roles: { engineers: ["agent"] } };
  await providers.putIdentityProvider({
    tenantId: "acme",
    provider: { providerId: "corp-saml", kind: "saml", displayName: "Corporate SAML", enabled: true, jitProvisioning: true, settings: settings(SP_ENTITY_ID), mapping },
  });
  await providers.putIdentityProvider({
    tenantId: "acme",
    provider: { providerId: "partner-saml", kind: "saml", displayName: "Partner SAML", enabled: true, jitProvisioning: true, settings: settings(PARTNER_ENTITY_ID, { allow_idp_initiated: true }), mapping },
  });
});

after(async () => {
  await t.stop();
});

void describe("SAML sign-in for the CLI through the gateway", () => {
  void test("login → IdP → ACS → 303 to loopback with a code → /saml/token with the verifier → tokens that work; the code works once", async () => {
    const pkce = newPkcePair();
    const login = await beginCliLogin(pkce);
    assert.match(login.relayState, /^[A-Za-z0-9_-]{43}$/, "RelayState is an opaque handle");
    assert.ok(!login.relayState.includes("127.0.0.1") && !login.relayState.includes(pkce.challenge));

    const posted = await postToAcs(t, "acme", "corp-saml", await idp.createResponse(alice(login.requestId)), login.relayState);
    assert.equal(posted.status, 303);
    assert.equal(posted.headers["cache-control"], "no-store");
    assert.equal(posted.headers["referrer-policy"], "no-referrer");
    const location = locationOf(posted);
    assert.match(location, /^http:\/\/127\.0\.0\.1:53682\/callback\?code=[A-Za-z0-9_-]{43}$/);
    const code = new URL(location).searchParams.get("code") ?? "";

    // At rest the code is only a hash, and what it holds is sealed: no token in clear.
    const store = await openHostStore(t);
    try {
      const key = `saml-code:${createHash("sha256").update(code).digest("hex")}`;
      const sealed = await store.platform.oneTimeValues.get(key, Date.now());
      assert.ok(sealed !== null && sealed.startsWith("v1."), "the code's tokens are stored sealed");
      assert.ok(!sealed.includes("eyJ") && !sealed.includes("aesprt."), "no token in clear at rest");
      assert.equal(await store.platform.oneTimeValues.get(`saml-code:${code}`, Date.now()), null, "the code itself is not a key");

      const redeemed = await redeemSamlCode(t, { code, code_verifier: pkce.verifier });
      assert.equal(redeemed.status, 200, redeemed.body.toString());
      assert.equal(redeemed.headers["cache-control"], "no-store");
      const tokens = redeemed.json as TokenReply;
      assert.deepEqual(Object.keys(tokens).sort(), ["access_token", "expires_at", "principal_id", "refresh_token", "tenant_id", "token_type"]);
      assert.equal(tokens.token_type, "Bearer");
      assert.equal(tokens.tenant_id, "acme");
      assert.match(tokens.expires_at, /^\d+$/);
      assert.ok(Number(tokens.expires_at) > Date.now());
      assert.ok(tokens.refresh_token.startsWith("aesprt.acme."));
      assert.equal(await store.platform.oneTimeValues.get(key, Date.now()), null, "a redeemed code leaves nothing behind");

      const validation = await createClient(EnterpriseAuthenticationService, t.anonymous).validateToken({ accessToken: tokens.access_token });
      assert.equal(validation.valid, true);
      assert.equal(validation.securityContext?.principalId, tokens.principal_id);
      assert.equal(validation.securityContext?.tenantId, "acme");
      assert.ok(validation.securityContext?.roles.includes("agent"));
      await createClient(ToolService, t.transport(tokens.access_token)).listTools({});
      const refreshed = await createClient(EnterpriseAuthenticationService, t.anonymous).refreshToken({ refreshToken: tokens.refresh_token });
      assert.ok(refreshed.accessToken !== "");

      const reuse = httpRefusalOf(await redeemSamlCode(t, { code, code_verifier: pkce.verifier }));
      assert.deepEqual(reuse, { status: 401, code: "AUTHENTICATION_FAILED", reason: "code_already_used", field: "" });
    } finally {
      await store.close();
    }
  });

  void test("a wrong verifier is refused, burns the code and revokes the tokens it held", async () => {
    const { pkce, code } = await cliLoginCode();
    const wrong = httpRefusalOf(await redeemSamlCode(t, { code, code_verifier: newPkcePair().verifier }));
    assert.deepEqual(wrong, { status: 401, code: "AUTHENTICATION_FAILED", reason: "code_verifier_mismatch", field: "" });
    const afterwards = httpRefusalOf(await redeemSamlCode(t, { code, code_verifier: pkce.verifier }));
    assert.deepEqual([afterwards.code, afterwards.reason], ["AUTHENTICATION_FAILED", "code_already_used"]);
    const records = await readAllAuditRecords(t);
    assert.ok(records.some((r) => r.eventType === "token.revoked" && r.metadata["reason"] === "saml_login_code_verifier_mismatch" && r.metadata["kind"] === "access_token"));
    assert.ok(records.some((r) => r.eventType === "authn.failed" && r.metadata["method"] === "saml_login_code" && r.metadata["reason"] === "code_verifier_mismatch"));
  });

  void test("unknown, malformed or verifier-less codes are refused", async () => {
    const unknown = httpRefusalOf(await redeemSamlCode(t, { code: randomBytes(32).toString("base64url"), code_verifier: newPkcePair().verifier }));
    assert.deepEqual([unknown.status, unknown.code, unknown.reason], [401, "AUTHENTICATION_FAILED", "invalid_code"]);
    const { code } = await cliLoginCode();
    assert.deepEqual(httpRefusalOf(await redeemSamlCode(t, { code })), { status: 400, code: "INVALID_ARGUMENT", reason: "", field: "code_verifier" });
    assert.deepEqual(httpRefusalOf(await redeemSamlCode(t, { code, code_verifier: "short" })), { status: 400, code: "INVALID_ARGUMENT", reason: "", field: "code_verifier" });
    assert.deepEqual(httpRefusalOf(await redeemSamlCode(t, { code: "not a code", code_verifier: newPkcePair().verifier })), { status: 400, code: "INVALID_ARGUMENT", reason: "", field: "code" });
  });

  void test("return_to must be a loopback http address, and a PKCE S256 challenge must come with it", async () => {
    const challenge = newPkcePair().challenge;
    for (const returnTo of [
      "http://evil.example/callback",
      "https://127.0.0.1:53682/callback",
      "http://localhost:53682/callback",
      "http://127.0.0.1.evil.example:53682/callback",
      "http://127.0.0.1:53682@evil.example/callback",
      "http://127.0.0.1:53682/callback?next=https://evil.example",
      "http://127.0.0.1:53682/callback#x",
      "http://127.0.0.1:99999/callback",
      "http://127.0.0.2:53682/callback",
      "//127.0.0.1:53682/callback",
    ]) {
      const refused = await startSamlLogin(t, "acme", "corp-saml", { return_to: returnTo, code_challenge: challenge, code_challenge_method: "S256" });
      assert.deepEqual(httpRefusalOf(refused), { status: 400, code: "INVALID_ARGUMENT", reason: "", field: "return_to" }, returnTo);
      assert.equal(locationOf(refused), "", returnTo);
    }
    const ipv6 = await startSamlLogin(t, "acme", "corp-saml", { return_to: "http://[::1]:53682/callback", code_challenge: challenge, code_challenge_method: "S256" });
    assert.equal(ipv6.status, 302);
    assert.equal(httpRefusalOf(await startSamlLogin(t, "acme", "corp-saml", { return_to: CALLBACK })).field, "code_challenge");
    assert.equal(httpRefusalOf(await startSamlLogin(t, "acme", "corp-saml", { return_to: CALLBACK, code_challenge: "too-short", code_challenge_method: "S256" })).field, "code_challenge");
    assert.equal(httpRefusalOf(await startSamlLogin(t, "acme", "corp-saml", { return_to: CALLBACK, code_challenge: challenge })).field, "code_challenge_method");
    assert.equal(httpRefusalOf(await startSamlLogin(t, "acme", "corp-saml", { return_to: CALLBACK, code_challenge: challenge, code_challenge_method: "plain" })).field, "code_challenge_method");
    assert.equal(httpRefusalOf(await startSamlLogin(t, "acme", "corp-saml", { code_challenge: challenge, code_challenge_method: "S256" })).field, "return_to");
  });

  void test("the ACS follows only a RelayState handle the login stored: never an address, nor a forged or reused handle", async () => {
    const login = await beginCliLogin();
    const samlResponse = await idp.createResponse(alice(login.requestId));
    // The old form of RelayState, an address: refused before the assertion is even looked at.
    assert.deepEqual(httpRefusalOf(await postToAcs(t, "acme", "corp-saml", samlResponse, "127.0.0.1:4444/steal")), { status: 400, code: "INVALID_ARGUMENT", reason: "", field: "RelayState" });
    const forged = httpRefusalOf(await postToAcs(t, "acme", "corp-saml", samlResponse, randomBytes(32).toString("base64url")));
    assert.deepEqual([forged.status, forged.code, forged.reason], [401, "AUTHENTICATION_FAILED", "login_request_unknown"]);
    // A started login belongs to its provider: another provider's ACS cannot claim it.
    const wrongProvider = httpRefusalOf(await postToAcs(t, "acme", "partner-saml", samlResponse, login.relayState));
    assert.deepEqual([wrongProvider.code, wrongProvider.reason], ["AUTHENTICATION_FAILED", "login_request_unknown"]);
    const again = await beginCliLogin();
    const answered = await postToAcs(t, "acme", "corp-saml", await idp.createResponse(alice(again.requestId)), again.relayState);
    assert.equal(answered.status, 303);
    const reused = httpRefusalOf(await postToAcs(t, "acme", "corp-saml", await idp.createResponse(alice(again.requestId)), again.relayState));
    assert.deepEqual([reused.code, reused.reason], ["AUTHENTICATION_FAILED", "login_request_unknown"]);
  });

  void test("a replayed SAML response is refused at the ACS (and the IdP-initiated one twice, as a replayed assertion)", async () => {
    const { samlResponse } = await cliLoginCode();
    const fresh = await beginCliLogin();
    // The CLI waiting for `fresh` is told at once, on its loopback address only.
    const replayed = await postToAcs(t, "acme", "corp-saml", samlResponse, fresh.relayState);
    assert.equal(replayed.status, 303);
    assert.equal(locationOf(replayed), `${CALLBACK}?error=in_response_to_mismatch`);
    const replay = httpRefusalOf(await postToAcs(t, "acme", "corp-saml", samlResponse));
    assert.deepEqual([replay.status, replay.code, replay.reason], [401, "AUTHENTICATION_FAILED", "in_response_to_mismatch"]);

    const unsolicited = await idp.createResponse(alice(undefined, { audience: PARTNER_ENTITY_ID, recipient: partnerAcsUrl, destination: partnerAcsUrl }));
    assert.equal((await postToAcs(t, "acme", "partner-saml", unsolicited)).status, 200);
    const again = httpRefusalOf(await postToAcs(t, "acme", "partner-saml", unsolicited));
    assert.deepEqual([again.status, again.code, again.reason], [401, "AUTHENTICATION_FAILED", "assertion_replayed"]);
  });

  void test("unsigned, tampered and foreign-signed responses are refused at the ACS", async () => {
    const stranger = await generateSigningKey("stranger");
    const cases: [string, (requestId: string) => Promise<string>, string][] = [
      ["unsigned", (id) => idp.createResponse(alice(id, { sign: "none" })), "unsigned"],
      ["tampered", async (id) => tamperResponse(await idp.createResponse(alice(id)), (xml) => xml.replace("alice@corp.example", "admin@corp.example")), "invalid_signature"],
      ["foreign key", (id) => idp.createResponse(alice(id, { signWithKey: stranger })), "invalid_signature"],
    ];
    for (const [name, build, reason] of cases) {
      // Without a waiting CLI the refusal is the JSON answer; with one, the CLI learns the reason
      // on its loopback address and no code is issued.
      const browserOnly = await idp.receiveLoginRequest(locationOf(await startSamlLogin(t, "acme", "corp-saml")));
      const posted = await postToAcs(t, "acme", "corp-saml", await build(browserOnly.requestId));
      assert.deepEqual(httpRefusalOf(posted), { status: 401, code: "AUTHENTICATION_FAILED", reason, field: "" }, name);
      assert.equal(locationOf(posted), "", `${name}: no redirect`);
      const login = await beginCliLogin();
      const toCli = await postToAcs(t, "acme", "corp-saml", await build(login.requestId), login.relayState);
      assert.equal(toCli.status, 303, name);
      assert.equal(locationOf(toCli), `${CALLBACK}?error=${reason}`, name);
    }
    const failures = (await readAllAuditRecords(t)).filter((r) => r.eventType === "authn.failed" && r.metadata["method"] === "saml");
    for (const [, , reason] of cases) assert.ok(failures.filter((r) => r.metadata["reason"] === reason).length >= 2, reason);
  });

  void test("a browser sign-in no CLI waits for gets a page, no token, and its tokens are revoked at once", async () => {
    const started = await startSamlLogin(t, "acme", "corp-saml");
    assert.equal(started.status, 302);
    const request = await idp.receiveLoginRequest(locationOf(started));
    assert.equal(request.relayState, "");
    const auditedBefore = (await readAllAuditRecords(t)).length;
    const posted = await postToAcs(t, "acme", "corp-saml", await idp.createResponse(alice(request.requestId)));
    assert.equal(posted.status, 200);
    assert.match(String(posted.headers["content-type"]), /^text\/html/);
    assert.equal(posted.headers["cache-control"], "no-store");
    const page = posted.body.toString("utf8");
    assert.match(page, /No token was given to this browser/);
    assert.ok(page.includes("Alice &lt;Example&gt;") && !page.includes("<Example>"), "the display name is escaped");
    assert.ok(!page.includes("eyJ") && !page.includes("aesprt."));
    const records = (await readAllAuditRecords(t)).slice(auditedBefore);
    const revoked = records.filter((r) => r.eventType === "token.revoked" && r.metadata["reason"] === "saml_browser_sign_in_without_cli");
    assert.deepEqual(revoked.map((r) => r.metadata["kind"]).sort(), ["access_token", "refresh_token"]);
  });

  void test("AuthenticateUser(saml_token) over Connect accepts the same kind of response", async () => {
    const started = await startSamlLogin(t, "acme", "corp-saml");
    const request = await idp.receiveLoginRequest(locationOf(started));
    const samlResponse = await idp.createResponse(alice(request.requestId));
    const auth = createClient(EnterpriseAuthenticationService, t.anonymous);
    const signedIn = await auth.authenticateUser({ tenantId: "acme", credential: { case: "samlToken", value: { provider: "corp-saml", samlResponse } } });
    assert.equal(signedIn.responseType.case, "successDetails");
    if (signedIn.responseType.case !== "successDetails") return;
    assert.equal(signedIn.responseType.value.securityContext?.tenantId, "acme");
    await createClient(ToolService, t.transport(signedIn.responseType.value.accessToken)).listTools({});
    const replay = await assertRefused(
      auth.authenticateUser({ tenantId: "acme", credential: { case: "samlToken", value: { provider: "corp-saml", samlResponse } } }),
      "AUTHENTICATION_FAILED",
      Code.Unauthenticated,
    );
    assert.equal(replay.error?.details["reason"], "in_response_to_mismatch");
    // acme's provider signs nobody into globex.
    await assertRefused(
      auth.authenticateUser({ tenantId: "globex", credential: { case: "samlToken", value: { provider: "corp-saml", samlResponse: await idp.createResponse(alice(undefined)) } } }),
      "AUTHENTICATION_FAILED",
      Code.Unauthenticated,
    );
  });
});

void describe("service accounts by client certificate (mutual TLS) through the gateway", () => {
  let bot: Actor;
  let registered: IssuedPair;
  let sameCa: IssuedPair;
  let otherCa: IssuedPair;

  before(async () => {
    bot = await t.actor("mtls-bot", ["agent"], acme);
    const [ca, foreignCa] = await Promise.all([createTestCa("Acme workload CA"), createTestCa("Acme workload CA")]);
    [registered, sameCa, otherCa] = await Promise.all([ca.issueRuntime("spiffe://acme.test/bot"), ca.issueRuntime("spiffe://acme.test/bot"), foreignCa.issueRuntime("spiffe://acme.test/bot")]);
    const response = await acme.client(ServiceAccountCredentialService).registerServiceAccountCredential({
      serviceAccountId: bot.principalId,
      credential: { case: "certificatePem", value: registered.certificatePem },
    });
    assert.equal(response.kind, "certificate");
    assert.equal(response.thumbprint, createHash("sha256").update(new X509Certificate(registered.certificatePem).raw).digest("hex"));
  });

  void test("the pinned certificate in the TLS 1.3 handshake signs the service account in; its token works", async () => {
    const auth = createClient(EnterpriseAuthenticationService, mtlsTransport(registered));
    const signedIn = await auth.authenticateServiceAccount({ tenantId: "acme" });
    assert.equal(signedIn.securityContext?.principalId, bot.principalId);
    assert.equal(signedIn.securityContext?.tenantId, "acme");
    await createClient(ToolService, t.transport(signedIn.accessToken)).listTools({});
    const asUser = await auth.authenticateUser({ tenantId: "acme", credential: { case: "certificate", value: { certificatePem: registered.certificatePem } } });
    assert.equal(asUser.responseType.case === "successDetails" ? asUser.responseType.value.securityContext?.principalId : "", bot.principalId);
  });

  void test("another certificate, from the same CA or another one with the same subject, is refused", async () => {
    for (const [name, pair] of [["same CA", sameCa], ["other CA", otherCa]] as const) {
      const refusal = await assertRefused(createClient(EnterpriseAuthenticationService, mtlsTransport(pair)).authenticateServiceAccount({ tenantId: "acme" }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
      assert.equal(refusal.error?.details["reason"], "unknown_certificate", name);
    }
  });

  void test("the pinned certificate used for another tenant is refused", async () => {
    const refusal = await assertRefused(createClient(EnterpriseAuthenticationService, mtlsTransport(registered)).authenticateServiceAccount({ tenantId: "globex" }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    assert.equal(refusal.error?.details["reason"], "unknown_certificate");
  });

  void test("a certificate named in the request but not presented in the handshake is refused", async () => {
    const claim = { tenantId: "acme", credential: { case: "certificate" as const, value: { certificatePem: registered.certificatePem } } };
    const none = await assertRefused(createClient(EnterpriseAuthenticationService, mtlsTransport(null)).authenticateUser(claim), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    assert.equal(none.error?.details["reason"], "no_client_certificate");
    const other = await assertRefused(createClient(EnterpriseAuthenticationService, mtlsTransport(sameCa)).authenticateUser(claim), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    assert.equal(other.error?.details["reason"], "certificate_not_presented_in_handshake");
    await assertRefused(createClient(EnterpriseAuthenticationService, mtlsTransport(null)).authenticateServiceAccount({ tenantId: "acme" }), "INVALID_ARGUMENT", Code.InvalidArgument);
  });

  void test("the pinned certificate over TLS 1.2 is not a credential", async () => {
    const overTls12 = createClient(EnterpriseAuthenticationService, mtlsTransport(registered, undefined, "TLSv1.2"));
    const refusal = await assertRefused(
      overTls12.authenticateUser({ tenantId: "acme", credential: { case: "certificate", value: { certificatePem: registered.certificatePem } } }),
      "AUTHENTICATION_FAILED",
      Code.Unauthenticated,
    );
    assert.equal(refusal.error?.details["reason"], "no_client_certificate");
    await assertRefused(overTls12.authenticateServiceAccount({ tenantId: "acme" }), "INVALID_ARGUMENT", Code.InvalidArgument);
  });
});

void describe("service accounts by private_key_jwt through the gateway", () => {
  let bot: Actor;
  let privateKey: CryptoKey;
  let publicJwk: JWK;

  const assertion = (claims: { iss?: string; sub?: string; aud?: string; jti?: string; lifetimeSeconds?: number } = {}, key: CryptoKey = privateKey): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: "EdDSA" })
      .setIssuer(claims.iss ?? bot.principalId)
      .setSubject(claims.sub ?? bot.principalId)
      .setAudience(claims.aud ?? tokenAudience)
      .setJti(claims.jti ?? randomBytes(16).toString("hex"))
      .setIssuedAt(now)
      .setExpirationTime(now + (claims.lifetimeSeconds ?? 300))
      .sign(key);
  };
  const present = (clientAssertion: string, tenantId = "acme") =>
    createClient(EnterpriseAuthenticationService, t.anonymous).authenticateServiceAccount({ tenantId, credential: { case: "clientAssertion", value: clientAssertion } });
  const refusedFor = async (clientAssertion: string, reason: string, tenantId = "acme") => {
    const refusal = await assertRefused(present(clientAssertion, tenantId), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    assert.equal(refusal.error?.details["reason"], reason);
  };

  before(async () => {
    bot = await t.actor("jwt-bot", ["agent"], acme);
    const pair = await generateKeyPair("EdDSA", { extractable: true });
    privateKey = pair.privateKey;
    publicJwk = await exportJWK(pair.publicKey);
    const registered = await acme.client(ServiceAccountCredentialService).registerServiceAccountCredential({
      serviceAccountId: bot.principalId,
      credential: { case: "publicKeyJwk", value: JSON.stringify(publicJwk) },
    });
    assert.equal(registered.kind, "public_key");
  });

  void test("an assertion signed by the registered key signs the service account in; replaying its jti is refused", async () => {
    const signed = await assertion();
    const response = await present(signed);
    assert.equal(response.securityContext?.principalId, bot.principalId);
    await createClient(ToolService, t.transport(response.accessToken)).listTools({});
    await refusedFor(signed, "assertion_replayed");
    // The same jti in a newly signed assertion is a replay too.
    const jti = randomBytes(16).toString("hex");
    await present(await assertion({ jti }));
    await refusedFor(await assertion({ jti }), "assertion_replayed");
  });

  void test("a lifetime over 10 minutes, a wrong audience, or another issuer is refused", async () => {
    await refusedFor(await assertion({ lifetimeSeconds: 11 * 60 }), "assertion_lifetime_too_long");
    await refusedFor(await assertion({ aud: "https://other.example" }), "invalid_assertion");
    await refusedFor(await assertion({ iss: "sa_someone_else" }), "issuer_mismatch");
  });

  void test("a key registered in tenant A cannot claim tenant B", async () => {
    await refusedFor(await assertion(), "invalid_assertion", "globex");
    await refusedFor(await assertion(), "invalid_assertion", "");
  });

  void test("alg none, HS256 keyed with the public key, and another key's signature are refused", async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = Buffer.from(JSON.stringify({ iss: bot.principalId, sub: bot.principalId, aud: tokenAudience, jti: randomBytes(8).toString("hex"), iat: now, exp: now + 300 })).toString("base64url");
    const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload}.`;
    await refusedFor(none, "invalid_assertion");
    for (const secret of [JSON.stringify(publicJwk), Buffer.from(publicJwk.x ?? "", "base64url").toString("latin1"), publicJwk.x ?? ""]) {
      const hs256 = await new SignJWT({ jti: randomBytes(8).toString("hex") })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer(bot.principalId)
        .setSubject(bot.principalId)
        .setAudience(tokenAudience)
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(new TextEncoder().encode(secret));
      await refusedFor(hs256, "invalid_assertion");
    }
    const stranger = await generateKeyPair("EdDSA");
    await refusedFor(await assertion({}, stranger.privateKey), "invalid_assertion");
  });
});

void describe("cross-tenant ServiceAccountCredentialService", () => {
  let acmeBot: Actor;

  before(async () => {
    acmeBot = await t.actor("acme-credential-target", ["agent"], acme);
  });

  void test("tenant B's administrator cannot rotate or register credentials for tenant A's service account", async () => {
    const credentials = globex.client(ServiceAccountCredentialService);
    const ca = await createTestCa("Globex CA");
    const certificate = await ca.issueRuntime("spiffe://globex.test/intruder");
    const { publicKey } = await generateKeyPair("EdDSA", { extractable: true });
    const jwk = JSON.stringify(await exportJWK(publicKey));
    for (const tenantId of ["acme", ""]) {
      await assertRefused(credentials.rotateServiceAccountSecret({ serviceAccountId: acmeBot.principalId, tenantId, overlapSeconds: 0 }), "NOT_FOUND", Code.NotFound);
      await assertRefused(
        credentials.registerServiceAccountCredential({ serviceAccountId: acmeBot.principalId, tenantId, credential: { case: "certificatePem", value: certificate.certificatePem } }),
        "NOT_FOUND",
        Code.NotFound,
      );
      await assertRefused(credentials.registerServiceAccountCredential({ serviceAccountId: acmeBot.principalId, tenantId, credential: { case: "publicKeyJwk", value: jwk } }), "NOT_FOUND", Code.NotFound);
    }
    // Nothing changed for acme's account: its API key still exchanges, and globex's certificate is no credential anywhere.
    const again = await t.signIn(acmeBot.apiKey);
    assert.equal(again.principalId, acmeBot.principalId);
    for (const tenantId of ["acme", "globex"]) {
      await assertRefused(createClient(EnterpriseAuthenticationService, mtlsTransport(certificate)).authenticateServiceAccount({ tenantId }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    }
    const attempts = (await readAllAuditRecords(t)).filter((r) => r.eventType === "security.cross_tenant_attempt" && r.tenantId === "globex" && r.resource?.startsWith("aesp.v1.ServiceAccountCredentialService/"));
    assert.equal(attempts.length, 3, text(attempts.map((r) => r.resource)));
  });

  void test("within a tenant, an account without the permissions can neither rotate nor register", async () => {
    const agent = await t.actor("plain-agent", ["agent"], acme);
    await assertRefused(agent.client(ServiceAccountCredentialService).rotateServiceAccountSecret({ serviceAccountId: acmeBot.principalId }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
    await assertRefused(
      agent.client(ServiceAccountCredentialService).registerServiceAccountCredential({ serviceAccountId: agent.principalId, credential: { case: "publicKeyJwk", value: "{}" } }),
      "AUTHORIZATION_DENIED",
      Code.PermissionDenied,
    );
  });
});

void describe("RevokeToken of another principal's token", () => {
  void test("a plain principal cannot revoke someone else's access or refresh token, only its own", async () => {
    const victim = await t.actor("revoke-victim", ["agent"], acme);
    const { pkce, code } = await cliLoginCode();
    const user = (await redeemSamlCode(t, { code, code_verifier: pkce.verifier })).json as TokenReply;
    const asUser = createClient(EnterpriseAuthenticationService, t.transport(user.access_token));
    const denied = await assertRefused(asUser.revokeToken({ token: victim.token, reason: "mischief" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
    assert.equal(denied.error?.details["required_permission"], "tokens:revoke");
    await createClient(ToolService, victim.transport).listTools({});

    await assertRefused(createClient(EnterpriseAuthenticationService, victim.transport).revokeToken({ token: user.refresh_token, reason: "mischief" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
    const rotated = await createClient(EnterpriseAuthenticationService, t.anonymous).refreshToken({ refreshToken: user.refresh_token });
    assert.ok(rotated.refreshToken.startsWith("aesprt.acme."), "the refresh token survived the attempt");

    const own = await asUser.revokeToken({ token: rotated.refreshToken, reason: "signing out" });
    assert.equal(own.revoked, true);
    await assertRefused(createClient(EnterpriseAuthenticationService, t.anonymous).refreshToken({ refreshToken: rotated.refreshToken }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
  });

  void test("a tenant administrator revokes a token of its tenant (refused on the next call), not one of another tenant", async () => {
    const worker = await t.actor("revoke-worker", ["agent"], acme);
    const globexWorker = await t.actor("globex-worker", ["agent"], globex);
    await createClient(ToolService, worker.transport).listTools({});
    const revoked = await acme.client(EnterpriseAuthenticationService).revokeToken({ token: worker.token, reason: "incident 42" });
    assert.equal(revoked.revoked, true);
    const refusal = await assertRefused(createClient(ToolService, worker.transport).listTools({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    assert.equal(refusal.error?.details["reason"], "token_revoked");

    const foreign = await acme.client(EnterpriseAuthenticationService).revokeToken({ token: globexWorker.token, reason: "not mine" });
    assert.equal(foreign.revoked, false);
    await createClient(ToolService, globexWorker.transport).listTools({});
    const validation = await createClient(EnterpriseAuthenticationService, t.anonymous).validateToken({ accessToken: globexWorker.token });
    assert.equal(validation.valid, true);
  });
});
