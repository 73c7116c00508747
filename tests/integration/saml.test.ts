// The SAML service provider (node-saml) against a real samlify IdP: SP-initiated login end to end,
// then every way a SAMLResponse must be refused — unsigned, tampered, foreign key, wrong audience,
// recipient, destination or issuer, outside its validity window, unsolicited, answering a request
// this SP never issued or already saw answered, XML signature wrapping — each with its exact reason.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { EnterpriseError } from "../../packages/core/src/errors.ts";
import type { ReplayGuard } from "../../packages/core/src/identity/external-identity.ts";
import { SamlSp, parseSamlSettings } from "../../packages/host/src/identity/saml/saml-sp.ts";
import type { SamlRefusalReason, SamlRequestCache } from "../../packages/host/src/identity/saml/saml-sp.ts";
import {
  assertionIdOf,
  generateSigningKey,
  passwordProtectedTransport,
  startSamlIdp,
  tamperResponse,
  wrapSignature,
} from "../support/saml-idp.ts";
import type { CreateResponseOptions, SamlIdp, SigningKey, WrappingAttack } from "../support/saml-idp.ts";

const SP_ENTITY_ID = "urn:aesp:test:sp";
const ACS_URL = "https://127.0.0.1:8443/v1/identity/saml/corp/acs";
const PROVIDER = "corp-saml";
const MINUTE = 60_000;

/** The shared store every Host would use; a Map with expiry stands in for the database table. */
class MemoryRequestCache implements SamlRequestCache {
  readonly entries = new Map<string, { issuedAt: string; expiresAt: number }>();
  async save(requestId: string, issuedAt: string, expiresAt: number): Promise<void> {
    this.entries.set(requestId, { issuedAt, expiresAt });
  }
  async get(requestId: string): Promise<string | null> {
    const entry = this.entries.get(requestId);
    return entry === undefined || entry.expiresAt <= Date.now() ? null : entry.issuedAt;
  }
  async remove(requestId: string): Promise<void> {
    this.entries.delete(requestId);
  }
}

/** What the caller does with SamlAssertion.assertionId: the ReplayGuard port, in memory. */
class MemoryReplayGuard implements ReplayGuard {
  readonly #seen = new Map<string, number>();
  async firstUse(key: string, expiresAt: number): Promise<boolean> {
    const known = this.#seen.get(key);
    if (known !== undefined && known > Date.now()) return false;
    this.#seen.set(key, expiresAt);
    return true;
  }
}

async function refusedWith(promise: Promise<unknown>, reason: SamlRefusalReason, forbidden?: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof EnterpriseError, `expected an EnterpriseError, got ${String(err)}`);
    assert.equal(err.code, "AUTHENTICATION_FAILED");
    assert.deepEqual(err.details, { provider: PROVIDER, reason });
    if (forbidden !== undefined) assert.ok(!JSON.stringify({ message: err.message, details: err.details }).includes(forbidden));
    return true;
  });
}

async function invalidSetting(action: () => unknown, field: string): Promise<void> {
  await assert.rejects(async () => action(), (err: unknown) => {
    assert.ok(err instanceof EnterpriseError, `expected an EnterpriseError, got ${String(err)}`);
    assert.equal(err.code, "INVALID_ARGUMENT");
    assert.equal(err.details["field"], field);
    return true;
  });
}

describe("SAML service provider against a samlify IdP", () => {
  let idp: SamlIdp;
  let stranger: SigningKey;
  let requestCache: MemoryRequestCache;
  let sp: SamlSp;
  const startedAt = Date.now();

  const rawSettings = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    idp_entity_id: idp.entityId,
    idp_sso_url: idp.ssoUrl,
    idp_certificates: [idp.key.certificatePem],
    sp_entity_id: SP_ENTITY_ID,
    username_attribute: "uid",
    display_name_attribute: "displayName",
    email_attribute: "mail",
    ...overrides,
  });
  const newSp = (overrides: Record<string, unknown> = {}, cache: SamlRequestCache = requestCache): SamlSp =>
    new SamlSp({ providerId: PROVIDER, settings: parseSamlSettings(PROVIDER, rawSettings(overrides)), requestCache: cache, acsUrl: ACS_URL });
  /** Sends the browser to the IdP and returns the AuthnRequest ID the IdP will answer. */
  const newRequestId = async (from: SamlSp = sp): Promise<string> => (await idp.receiveLoginRequest(await from.loginUrl("r"))).requestId;
  /** Alice's answer to `requestId`; undefined makes it unsolicited (IdP-initiated). */
  const alice = (requestId: string | undefined, overrides: Partial<CreateResponseOptions> = {}): CreateResponseOptions => ({
    ...(requestId === undefined ? {} : { requestId }),
    nameId: "alice@corp.example",
    attributes: { uid: "alice", displayName: "Alice Example", mail: "alice@corp.example", groups: ["engineers", "aesp-admins"] },
    sign: "assertion",
    ...overrides,
  });

  before(async () => {
    // The SP's metadata does not depend on the IdP key, so a placeholder IdP bootstraps it.
    const bootstrap = await generateSigningKey("bootstrap");
    const metadata = new SamlSp({
      providerId: PROVIDER,
      settings: parseSamlSettings(PROVIDER, {
        idp_entity_id: "urn:bootstrap", idp_sso_url: "http://127.0.0.1/sso", idp_certificates: [bootstrap.certificatePem], sp_entity_id: SP_ENTITY_ID,
      }),
      requestCache: new MemoryRequestCache(),
      acsUrl: ACS_URL,
    }).metadata();
    [idp, stranger] = await Promise.all([startSamlIdp({ spEntityId: SP_ENTITY_ID, acsUrl: ACS_URL, spMetadata: metadata }), generateSigningKey("stranger")]);
    requestCache = new MemoryRequestCache();
    sp = newSp();
  });

  after(() => {
    console.log(`# saml suite ran in ${Date.now() - startedAt} ms`);
  });

  describe("settings", () => {
    it("parses defaults", () => {
      const settings = parseSamlSettings(PROVIDER, rawSettings());
      assert.equal(settings.audience, SP_ENTITY_ID);
      assert.equal(settings.wantAssertionsSigned, true);
      assert.equal(settings.wantResponseSigned, false);
      assert.equal(settings.allowIdpInitiated, false);
      assert.equal(settings.clockSkewMs, 60_000);
      assert.equal(settings.maxAssertionAgeSeconds, 300);
      assert.equal(settings.groupsAttribute, "groups");
      assert.equal(settings.acsUrl, undefined);
      assert.equal(settings.requestSigning, undefined);
    });

    it("refuses unsafe or broken settings, naming the field", async () => {
      await invalidSetting(() => parseSamlSettings(PROVIDER, rawSettings({ want_assertions_signed: false })), "want_assertions_signed");
      await invalidSetting(() => parseSamlSettings(PROVIDER, rawSettings({ idp_sso_url: "http://idp.example.test/sso" })), "idp_sso_url");
      await invalidSetting(() => parseSamlSettings(PROVIDER, rawSettings({ idp_certificates: ["not a certificate"] })), "idp_certificates");
      await invalidSetting(() => parseSamlSettings(PROVIDER, rawSettings({ idp_certificates: [] })), "idp_certificates");
      await invalidSetting(() => parseSamlSettings(PROVIDER, rawSettings({ clock_skew_ms: 600_000 })), "clock_skew_ms");
      await invalidSetting(() => parseSamlSettings(PROVIDER, rawSettings({ want_assertion_signed: false })), "want_assertion_signed");
      await invalidSetting(() => parseSamlSettings(PROVIDER, rawSettings({ idp_entity_id: undefined })), "idp_entity_id");
      await invalidSetting(
        () => parseSamlSettings(PROVIDER, rawSettings({ sp_private_key_pem: idp.key.privateKeyPem, sp_certificate_pem: stranger.certificatePem })),
        "sp_certificate_pem",
      );
      await invalidSetting(
        () => new SamlSp({ providerId: PROVIDER, settings: parseSamlSettings(PROVIDER, rawSettings()), requestCache, acsUrl: "http://host.example.test/acs" }),
        "acs_url",
      );
      await invalidSetting(() => sp.loginUrl("x".repeat(81)), "relay_state");
    });
  });

  describe("metadata and SP-initiated login", () => {
    it("publishes metadata naming the entity ID, the ACS URL and signed assertions", () => {
      const metadata = sp.metadata();
      assert.match(metadata, /^<\?xml/);
      assert.match(metadata, new RegExp(`<EntityDescriptor [^>]*entityID="${SP_ENTITY_ID}"`));
      assert.match(metadata, /WantAssertionsSigned="true"/);
      assert.match(metadata, new RegExp(`<AssertionConsumerService [^>]*Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" [^>]*Location="${ACS_URL}"`));
    });

    it("redirects to the IdP with an AuthnRequest, accepts the signed answer and maps the identity", async () => {
      const loginUrl = await sp.loginUrl("state-123");
      assert.ok(loginUrl.startsWith(`${idp.ssoUrl}?SAMLRequest=`));
      const request = await idp.receiveLoginRequest(loginUrl);
      assert.equal(request.relayState, "state-123");
      assert.equal(request.issuer, SP_ENTITY_ID);
      assert.equal(request.destination, idp.ssoUrl);
      assert.equal(request.assertionConsumerServiceUrl, ACS_URL);
      assert.equal(request.signed, false);
      assert.ok(requestCache.entries.has(`saml-request:${PROVIDER}:${request.requestId}`));

      const authnInstant = new Date(Date.now() - 5_000);
      const samlResponse = await idp.createResponse(alice(request.requestId, { authnInstant }));
      const before = Date.now();
      const accepted = await sp.acceptResponse(samlResponse);
      assert.equal(accepted.assertionId, assertionIdOf(samlResponse));
      assert.deepEqual(accepted.identity, {
        providerId: PROVIDER,
        subject: "alice@corp.example",
        username: "alice",
        displayName: "Alice Example",
        email: "alice@corp.example",
        groups: ["engineers", "aesp-admins"],
        claims: { uid: "alice", displayName: "Alice Example", mail: "alice@corp.example", groups: ["engineers", "aesp-admins"] },
        amr: ["pwd"],
        acr: passwordProtectedTransport,
        authTime: Date.parse(authnInstant.toISOString()),
      });
      // Five minutes of IdP validity (capped by max age), plus the tolerated skew.
      assert.ok(accepted.notOnOrAfter > before + 5 * MINUTE && accepted.notOnOrAfter <= Date.now() + 6 * MINUTE + 1_000, String(accepted.notOnOrAfter - before));
      assert.equal(requestCache.entries.size, 0, "the answered request ID is consumed");
    });

    it("maps a multi-factor context class to amr mfa and takes attributes without a username attribute from the NameID", async () => {
      const plain = newSp({ username_attribute: undefined, display_name_attribute: undefined, email_attribute: undefined });
      const accepted = await plain.acceptResponse(
        await idp.createResponse({ requestId: await newRequestId(plain), nameId: "u-42", attributes: { groups: "solo" }, sign: "assertion", authnContextClassRef: "https://refeds.org/profile/mfa" }),
      );
      assert.equal(accepted.identity.username, "u-42");
      assert.equal(accepted.identity.displayName, "u-42");
      assert.equal(accepted.identity.email, "");
      assert.deepEqual(accepted.identity.groups, ["solo"]);
      assert.deepEqual(accepted.identity.amr, ["mfa"]);
      assert.equal(accepted.identity.acr, "https://refeds.org/profile/mfa");
    });

    it("accepts on another Host sharing the request cache", async () => {
      const hostB = newSp();
      const requestId = await newRequestId(sp);
      const accepted = await hostB.acceptResponse(await idp.createResponse(alice(requestId)));
      assert.equal(accepted.identity.subject, "alice@corp.example");
    });

    it("accepts a response signed on both the Response and the assertion, also when the response signature is required", async () => {
      const strict = newSp({ want_response_signed: true });
      const accepted = await strict.acceptResponse(await idp.createResponse(alice(await newRequestId(strict), { sign: "both" })));
      assert.equal(accepted.identity.username, "alice");
      await refusedWith(strict.acceptResponse(await idp.createResponse(alice(await newRequestId(strict)))), "invalid_signature");
    });

    it("signs AuthnRequests when given a key, and the IdP verifies them against the SP metadata", async () => {
      const spKey = await generateSigningKey("AESP test SP");
      const signingSp = newSp({ sp_private_key_pem: spKey.privateKeyPem, sp_certificate_pem: spKey.certificatePem });
      const metadata = signingSp.metadata();
      assert.match(metadata, /AuthnRequestsSigned="true"/);
      assert.ok(metadata.includes(spKey.certificatePem.split("\n")[1] ?? "-"));
      const strictIdp = await startSamlIdp({ spEntityId: SP_ENTITY_ID, acsUrl: ACS_URL, spMetadata: metadata, wantAuthnRequestsSigned: true });
      const loginUrl = await signingSp.loginUrl("signed");
      assert.match(loginUrl, /&SigAlg=http%3A%2F%2Fwww\.w3\.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256&Signature=/);
      const request = await strictIdp.receiveLoginRequest(loginUrl);
      assert.equal(request.signed, true);
      assert.equal(request.relayState, "signed");
      await assert.rejects(strictIdp.receiveLoginRequest(loginUrl.replace("RelayState=signed", "RelayState=forged")), /ERR_FAILED_MESSAGE_SIGNATURE_VERIFICATION/);
      await assert.rejects(strictIdp.receiveLoginRequest(await sp.loginUrl("unsigned")), /ERR_MISSING_SIG_ALG/);
    });
  });

  describe("signatures", () => {
    it("refuses an unsigned response", async () => {
      await refusedWith(sp.acceptResponse(await idp.createResponse(alice(await newRequestId(), { sign: "none" }))), "unsigned");
    });

    it("refuses an unsigned assertion inside a signed Response", async () => {
      await refusedWith(sp.acceptResponse(await idp.createResponse(alice(await newRequestId(), { sign: "response" }))), "invalid_signature");
    });

    it("refuses a NameID or an attribute changed after signing", async () => {
      const nameChanged = tamperResponse(await idp.createResponse(alice(await newRequestId())), (xml) => xml.replace(">alice@corp.example</saml:NameID>", ">mallory@corp.example</saml:NameID>"));
      await refusedWith(sp.acceptResponse(nameChanged), "invalid_signature", "mallory");
      const groupAdded = tamperResponse(await idp.createResponse(alice(await newRequestId())), (xml) => xml.replace(">engineers<", ">domain-admins<"));
      await refusedWith(sp.acceptResponse(groupAdded), "invalid_signature");
    });

    it("refuses a response signed by a key the SP does not trust", async () => {
      await refusedWith(sp.acceptResponse(await idp.createResponse(alice(await newRequestId(), { signWithKey: stranger }))), "invalid_signature");
    });

    it("accepts the next IdP key during rollover when both certificates are configured", async () => {
      const rolling = newSp({ idp_certificates: [idp.key.certificatePem, stranger.certificatePem] });
      const accepted = await rolling.acceptResponse(await idp.createResponse(alice(await newRequestId(rolling), { signWithKey: stranger })));
      assert.equal(accepted.identity.subject, "alice@corp.example");
    });

    const refusedWrapping: readonly WrappingAttack[] = ["sibling-before", "signed-in-extensions", "signature-object"];
    for (const attack of refusedWrapping) {
      it(`refuses XML signature wrapping: ${attack}`, async () => {
        const wrapped = wrapSignature(await idp.createResponse(alice(await newRequestId())), attack, "mallory@corp.example");
        await refusedWith(sp.acceptResponse(wrapped), "invalid_signature", "mallory");
      });
    }

    it("takes only the signed assertion when an evil one hides in Extensions", async () => {
      const wrapped = wrapSignature(await idp.createResponse(alice(await newRequestId())), "evil-in-extensions", "mallory@corp.example");
      assert.ok(Buffer.from(wrapped, "base64").toString().includes("mallory@corp.example"));
      const accepted = await sp.acceptResponse(wrapped);
      assert.equal(accepted.identity.subject, "alice@corp.example");
      assert.ok(!JSON.stringify(accepted).includes("mallory"));
    });
  });

  describe("conditions", () => {
    it("refuses an assertion for another audience", async () => {
      await refusedWith(sp.acceptResponse(await idp.createResponse(alice(await newRequestId(), { audience: "urn:other:sp" }))), "wrong_audience");
    });

    it("refuses an assertion past NotOnOrAfter", async () => {
      const now = Date.now();
      const expired = alice(await newRequestId(), { issueInstant: new Date(now - 2 * MINUTE), notBefore: new Date(now - 20 * MINUTE), notOnOrAfter: new Date(now - 10 * MINUTE) });
      await refusedWith(sp.acceptResponse(await idp.createResponse(expired)), "expired");
    });

    it("refuses an assertion older than max_assertion_age_seconds", async () => {
      const stale = alice(await newRequestId(), { issueInstant: new Date(Date.now() - 10 * MINUTE), notBefore: new Date(Date.now() - 10 * MINUTE) });
      await refusedWith(sp.acceptResponse(await idp.createResponse(stale)), "expired");
    });

    it("refuses an assertion whose NotBefore is in the future", async () => {
      await refusedWith(sp.acceptResponse(await idp.createResponse(alice(await newRequestId(), { notBefore: new Date(Date.now() + 10 * MINUTE) }))), "not_yet_valid");
    });

    it("tolerates the configured clock skew", async () => {
      const accepted = await sp.acceptResponse(await idp.createResponse(alice(await newRequestId(), { notBefore: new Date(Date.now() + 30_000) })));
      assert.equal(accepted.identity.subject, "alice@corp.example");
    });

    it("refuses a bearer confirmation for another Recipient and a response for another Destination", async () => {
      await refusedWith(sp.acceptResponse(await idp.createResponse(alice(await newRequestId(), { recipient: "https://evil.example.test/acs" }))), "wrong_recipient");
      await refusedWith(sp.acceptResponse(await idp.createResponse(alice(await newRequestId(), { destination: "https://evil.example.test/acs" }))), "wrong_recipient");
    });

    it("refuses an assertion issued by another entity, even signed with the trusted key", async () => {
      await refusedWith(sp.acceptResponse(await idp.createResponse(alice(await newRequestId(), { issuer: "urn:other:idp" }))), "wrong_issuer");
    });
  });

  describe("InResponseTo and replay", () => {
    it("refuses a response to a request this SP never issued", async () => {
      await refusedWith(sp.acceptResponse(await idp.createResponse(alice("_0123456789abcdef0123456789abcdef01234567"))), "in_response_to_mismatch");
    });

    it("refuses a request ID issued for another provider sharing the cache", async () => {
      const other = new SamlSp({ providerId: "other-saml", settings: parseSamlSettings("other-saml", rawSettings()), requestCache, acsUrl: ACS_URL });
      await refusedWith(sp.acceptResponse(await idp.createResponse(alice(await newRequestId(other)))), "in_response_to_mismatch");
    });

    it("refuses an IdP-initiated response by default", async () => {
      await refusedWith(sp.acceptResponse(await idp.createResponse(alice(undefined))), "in_response_to_mismatch");
    });

    it("refuses a second answer to the same request", async () => {
      const samlResponse = await idp.createResponse(alice(await newRequestId()));
      await sp.acceptResponse(samlResponse);
      await refusedWith(sp.acceptResponse(samlResponse), "in_response_to_mismatch");
    });

    it("refuses an unsolicited signed assertion re-wrapped to answer an outstanding request", async () => {
      const unsolicited = await idp.createResponse(alice(undefined));
      const requestId = await newRequestId();
      const rewrapped = tamperResponse(unsolicited, (xml) => xml.replace("<samlp:Response ", `<samlp:Response InResponseTo="${requestId}" `));
      await refusedWith(sp.acceptResponse(rewrapped), "in_response_to_mismatch");
    });

    it("gives distinct assertion IDs per login and the same one for a replayed post, so the ReplayGuard catches it", async () => {
      const open = newSp({ allow_idp_initiated: true });
      const guard = new MemoryReplayGuard();
      const firstPost = await idp.createResponse(alice(undefined));
      const first = await open.acceptResponse(firstPost);
      const second = await open.acceptResponse(await idp.createResponse(alice(undefined)));
      const replayed = await open.acceptResponse(firstPost);
      assert.notEqual(first.assertionId, second.assertionId);
      assert.equal(replayed.assertionId, first.assertionId);
      assert.equal(await guard.firstUse(first.assertionId, first.notOnOrAfter), true);
      assert.equal(await guard.firstUse(second.assertionId, second.notOnOrAfter), true);
      assert.equal(await guard.firstUse(replayed.assertionId, replayed.notOnOrAfter), false);
    });

    it("still validates InResponseTo when IdP-initiated logins are allowed", async () => {
      const open = newSp({ allow_idp_initiated: true });
      await refusedWith(open.acceptResponse(await idp.createResponse(alice("_0123456789abcdef0123456789abcdef01234567"))), "in_response_to_mismatch");
      const accepted = await open.acceptResponse(await idp.createResponse(alice(await newRequestId(open))));
      assert.equal(accepted.identity.subject, "alice@corp.example");
    });
  });

  describe("hostile input", () => {
    it("refuses a response over 256 KiB before parsing it", async () => {
      const padded = await idp.createResponse(alice(await newRequestId(), { attributes: { filler: "x".repeat(200 * 1024) } }));
      assert.ok(padded.length > 256 * 1024);
      await refusedWith(sp.acceptResponse(padded), "too_large");
    });

    it("reports an IdP error status as idp_status", async () => {
      const failed = tamperResponse(await idp.createResponse(alice(await newRequestId(), { sign: "none" })), (xml) =>
        xml
          .replace(/<saml:Assertion\b[\s\S]*<\/saml:Assertion>/, "")
          .replace(
            '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>',
            '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></samlp:StatusCode>',
          ),
      );
      await refusedWith(sp.acceptResponse(failed), "idp_status");
    });

    it("refuses what is not base64 XML, and documents with a DTD", async () => {
      await refusedWith(sp.acceptResponse("not base64 at all!"), "malformed");
      await refusedWith(sp.acceptResponse(Buffer.from("<samlp:Response").toString("base64")), "malformed");
      const withDtd = tamperResponse(await idp.createResponse(alice(await newRequestId())), (xml) => `<!DOCTYPE r [<!ENTITY e "alice">]>${xml}`);
      await refusedWith(sp.acceptResponse(withDtd), "malformed");
    });
  });
});
