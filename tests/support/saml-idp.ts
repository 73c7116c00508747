/**
 * A real SAML 2.0 identity provider for SP tests: `samlify` v2 with a throwaway RSA key and a
 * self-signed certificate made in-process (node:crypto + @peculiar/x509). It reads the SP's
 * AuthnRequests as an IdP's HTTP-Redirect SSO endpoint would (schema-validated by the WASM xmllint,
 * signature checked against the SP metadata when asked), and answers with SAMLResponses for the
 * HTTP-POST binding, built by samlify's `createLoginResponse` and signed by samlify.
 *
 * Hostile variants are made the way an attacker would: conditions the IdP would never assert are
 * written into the template *before* samlify signs (so the signature is valid and only the SP's
 * checks stand in the way), and tampering or signature wrapping edits the signed XML *after*.
 * Everything is in-process: no socket is opened; the SSO URL is a loopback URL nobody requests.
 */
import { KeyObject, randomBytes, randomUUID, webcrypto } from "node:crypto";
import * as samlify from "samlify";
import * as xmllint from "@authenio/samlify-node-xmllint";
import { x509 } from "../../packages/host/src/pki/x509.ts";

samlify.setSchemaValidator({ validate: validateSamlSchema });

/**
 * samlify's schema validation through `@authenio/samlify-node-xmllint`, without its side effects.
 * The underlying emscripten build (node-xmllint 1.0) adds, on every run, a process
 * `uncaughtException` listener and a stdout `drain` listener that calls `process.exit(0)`: the next
 * time stdout drains, the test process would end early with a success status. It also prints a
 * blank line. The run is synchronous, so whatever it leaves behind is removed right after it.
 */
function validateSamlSchema(xml: string): Promise<unknown> {
  const exceptionListeners = new Set(process.listeners("uncaughtException"));
  const drainListeners = new Set(process.stdout.listeners("drain"));
  const log = console.log;
  console.log = () => undefined;
  try {
    return xmllint.validate(xml);
  } finally {
    console.log = log;
    for (const listener of process.listeners("uncaughtException")) {
      if (!exceptionListeners.has(listener)) process.removeListener("uncaughtException", listener);
    }
    for (const listener of process.stdout.listeners("drain")) {
      if (!drainListeners.has(listener)) process.stdout.removeListener("drain", listener as (...args: unknown[]) => void);
    }
  }
}

/** An RSA signing key and its self-signed certificate, both PEM. */
export interface SigningKey {
  readonly privateKeyPem: string;
  readonly certificatePem: string;
}

export interface StartSamlIdpOptions {
  readonly spEntityId: string;
  readonly acsUrl: string;
  /** The SP's metadata; the IdP learns the SP from it (ACS, signing certificate) as a real IdP would. */
  readonly spMetadata?: string;
  /** Require AuthnRequests signed with the certificate in `spMetadata`. */
  readonly wantAuthnRequestsSigned?: boolean;
  readonly entityId?: string;
}

/** One SAMLResponse to build. Times default to what an honest IdP would assert now. */
export interface CreateResponseOptions {
  /** The AuthnRequest answered; absent for an IdP-initiated (unsolicited) response. */
  readonly requestId?: string;
  readonly nameId: string;
  readonly attributes?: Readonly<Record<string, string | readonly string[]>>;
  /** Which elements samlify signs. `none` renders the same template and signs nothing. */
  readonly sign: "assertion" | "response" | "both" | "none";
  /** Sign with this key instead of the IdP's own (e.g. one the SP does not trust). */
  readonly signWithKey?: SigningKey;
  readonly audience?: string;
  /** SubjectConfirmationData Recipient. Default the SP's ACS URL. */
  readonly recipient?: string;
  /** Response Destination. Default the SP's ACS URL. */
  readonly destination?: string;
  /** Issuer of the response and the assertion. Default the IdP's entity ID. */
  readonly issuer?: string;
  /** NotOnOrAfter of both SubjectConfirmationData and Conditions. Default in 5 minutes. */
  readonly notOnOrAfter?: Date;
  /** Conditions NotBefore. Default now. */
  readonly notBefore?: Date;
  /** IssueInstant of the response and the assertion. Default now. */
  readonly issueInstant?: Date;
  readonly authnContextClassRef?: string;
  readonly authnInstant?: Date;
}

/** What the IdP's SSO endpoint read from an AuthnRequest. */
export interface ReceivedLoginRequest {
  readonly requestId: string;
  readonly relayState: string;
  readonly issuer: string;
  readonly destination: string;
  readonly assertionConsumerServiceUrl: string;
  /** True when the redirect carried a signature that verified against the SP metadata. */
  readonly signed: boolean;
}

export interface SamlIdp {
  readonly entityId: string;
  readonly ssoUrl: string;
  /** The key the IdP signs with; its certificate is what the SP trusts. */
  readonly key: SigningKey;
  /** Plays the IdP's SSO endpoint for the browser redirected to `loginUrl`. */
  receiveLoginRequest(loginUrl: string): Promise<ReceivedLoginRequest>;
  /** A base64 SAMLResponse, as the IdP's auto-submitting form would POST it to the ACS. */
  createResponse(options: CreateResponseOptions): Promise<string>;
}

export const passwordProtectedTransport = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
const unspecifiedNameIdFormat = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
type GeneratorOptions = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0];
const postBinding = samlify.Constants.namespace.binding.post;
const redirectBinding = samlify.Constants.namespace.binding.redirect;

/** A fresh 2048-bit RSA key and a one-day self-signed certificate for it. */
export async function generateSigningKey(commonName: string): Promise<SigningKey> {
  const algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: `01${randomBytes(8).toString("hex")}`,
    name: `CN=${commonName}`,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + 86_400_000),
    signingAlgorithm: algorithm,
    // @types/node's KeyUsage has grown members (encapsulateBits…) the DOM typings x509 uses lack.
    keys: keys as unknown as GeneratorOptions["keys"],
  });
  return {
    privateKeyPem: KeyObject.from(keys.privateKey).export({ type: "pkcs8", format: "pem" }).toString(),
    certificatePem: certificate.toString("pem"),
  };
}

/** Starts an IdP for one SP. Nothing listens; the IdP is driven through the returned methods. */
export async function startSamlIdp(options: StartSamlIdpOptions): Promise<SamlIdp> {
  const entityId = options.entityId ?? "urn:aesp:test:saml-idp";
  const ssoUrl = "http://127.0.0.1/saml/sso";
  const key = await generateSigningKey("AESP test SAML IdP");
  const idpFor = (signing: SigningKey): samlify.IdentityProviderInstance =>
    samlify.IdentityProvider({
      entityID: entityId,
      privateKey: signing.privateKeyPem,
      signingCert: signing.certificatePem,
      wantAuthnRequestsSigned: options.wantAuthnRequestsSigned ?? false,
      singleSignOnService: [{ Binding: redirectBinding, Location: ssoUrl }],
      singleLogoutService: [{ Binding: redirectBinding, Location: "http://127.0.0.1/saml/slo" }],
    });
  const idp = idpFor(key);
  const spFor = (wantAssertionsSigned: boolean, wantMessageSigned: boolean): samlify.ServiceProviderInstance =>
    samlify.ServiceProvider({
      entityID: options.spEntityId,
      assertionConsumerService: [{ Binding: postBinding, Location: options.acsUrl }],
      wantAssertionsSigned,
      wantMessageSigned,
    });
  const fromMetadata = options.spMetadata === undefined ? undefined : samlify.ServiceProvider({ metadata: options.spMetadata });
  // samlify signs according to what the SP entity asks for; one entity per signing layout.
  const spBySigning = {
    assertion: fromMetadata ?? spFor(true, false),
    response: spFor(false, true),
    both: spFor(true, true),
  } as const;

  return {
    entityId,
    ssoUrl,
    key,

    async receiveLoginRequest(loginUrl: string): Promise<ReceivedLoginRequest> {
      const url = new URL(loginUrl);
      const query = Object.fromEntries(url.searchParams);
      // The signed octet string is the raw query as sent, in the order SAMLRequest, RelayState, SigAlg.
      const raw = new Map(url.search.slice(1).split("&").map((pair) => [pair.split("=")[0] ?? "", pair] as const));
      const octetString = ["SAMLRequest", "RelayState", "SigAlg"].flatMap((name) => raw.get(name) ?? []).join("&");
      const parsed = await idp.parseLoginRequest(fromMetadata ?? spBySigning.assertion, "redirect", { query, octetString });
      const request = parsed.extract.request ?? {};
      const field = (name: string): string => {
        const value = request[name];
        return typeof value === "string" ? value : "";
      };
      const issuer = parsed.extract.issuer;
      return {
        requestId: field("id"),
        relayState: url.searchParams.get("RelayState") ?? "",
        issuer: typeof issuer === "string" ? issuer : "",
        destination: field("destination"),
        assertionConsumerServiceUrl: field("assertionConsumerServiceUrl"),
        signed: typeof parsed.sigAlg === "string" && parsed.sigAlg !== "",
      };
    },

    async createResponse(response: CreateResponseOptions): Promise<string> {
      const render = (template: string): string => renderResponse(template, response, { entityId, spEntityId: options.spEntityId, acsUrl: options.acsUrl });
      if (response.sign === "none") {
        return Buffer.from(render(samlify.SamlLib.defaultLoginResponseTemplate.context), "utf8").toString("base64");
      }
      const signer = response.signWithKey === undefined ? idp : idpFor(response.signWithKey);
      const result = await signer.createLoginResponse(spBySigning[response.sign], { extract: {} }, "post", {}, {
        customTagReplacement: (template) => ({ id: "", context: render(template) }),
      });
      return result.context;
    },
  };
}

function renderResponse(template: string, response: CreateResponseOptions, parties: { entityId: string; spEntityId: string; acsUrl: string }): string {
  const now = new Date();
  const issueInstant = (response.issueInstant ?? now).toISOString();
  const notOnOrAfter = (response.notOnOrAfter ?? new Date(now.getTime() + 300_000)).toISOString();
  const authnStatement =
    `<saml:AuthnStatement AuthnInstant="${(response.authnInstant ?? now).toISOString()}" SessionIndex="_${randomUUID()}">` +
    `<saml:AuthnContext><saml:AuthnContextClassRef>${escapeXml(response.authnContextClassRef ?? passwordProtectedTransport)}</saml:AuthnContextClassRef></saml:AuthnContext>` +
    `</saml:AuthnStatement>`;
  const attributes = Object.entries(response.attributes ?? {})
    .map(([name, value]) => {
      const values = typeof value === "string" ? [value] : value;
      const rendered = values.map((item) => `<saml:AttributeValue xsi:type="xs:string">${escapeXml(item)}</saml:AttributeValue>`).join("");
      return `<saml:Attribute Name="${escapeXml(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${rendered}</saml:Attribute>`;
    })
    .join("");
  const attributeStatement = attributes === "" ? "" : `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>`;
  // The statements are XML already; every other value goes through samlify's escaping replacer.
  const withStatements = template.replace("{AuthnStatement}", authnStatement).replace("{AttributeStatement}", attributeStatement);
  return samlify.SamlLib.replaceTagsByValue(withStatements, {
    ID: `_${randomUUID()}`,
    AssertionID: `_${randomUUID()}`,
    Destination: response.destination ?? parties.acsUrl,
    Audience: response.audience ?? parties.spEntityId,
    SubjectRecipient: response.recipient ?? parties.acsUrl,
    Issuer: response.issuer ?? parties.entityId,
    IssueInstant: issueInstant,
    StatusCode: samlify.Constants.StatusCode.Success,
    ConditionsNotBefore: (response.notBefore ?? now).toISOString(),
    ConditionsNotOnOrAfter: notOnOrAfter,
    SubjectConfirmationDataNotOnOrAfter: notOnOrAfter,
    NameIDFormat: unspecifiedNameIdFormat,
    NameID: response.nameId,
    // null drops the attribute from both Response and SubjectConfirmationData (unsolicited).
    InResponseTo: response.requestId ?? null,
  });
}

function escapeXml(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

// ---------------------------------------------------------------- after signing

/** Decodes a base64 SAMLResponse to its XML. */
export function responseXml(samlResponse: string): string {
  return Buffer.from(samlResponse, "base64").toString("utf8");
}

/** Edits the XML of a (signed) SAMLResponse and re-encodes it; fails loudly if the edit changed nothing. */
export function tamperResponse(samlResponse: string, edit: (xml: string) => string): string {
  const xml = responseXml(samlResponse);
  const edited = edit(xml);
  if (edited === xml) throw new Error("tamperResponse: the edit did not change the response");
  return Buffer.from(edited, "utf8").toString("base64");
}

/** The ID of the (only) assertion in a samlify response. */
export function assertionIdOf(samlResponse: string): string {
  const match = /<saml:Assertion\b[^>]*\sID="([^"]+)"/.exec(responseXml(samlResponse));
  if (match?.[1] === undefined) throw new Error("assertionIdOf: no assertion");
  return match[1];
}

/**
 * XML signature wrapping layouts (after Somorovsky et al., "On Breaking SAML", 2012):
 * - `sibling-before`: an unsigned evil assertion inserted before the signed one, both children of
 *   the Response;
 * - `signed-in-extensions`: the signed assertion moved into `samlp:Extensions`, the evil one in its
 *   place (XSW 1/2 style: the signature still verifies where it now sits);
 * - `signature-object`: the evil assertion carries the original signature, and the original
 *   assertion rides inside that signature's `ds:Object` (XSW 7/8 style: the reference resolves,
 *   the digest matches);
 * - `evil-in-extensions`: the signed assertion stays where it is and an unsigned evil one hides in
 *   `samlp:Extensions`, for an SP that searches the whole document for an assertion.
 */
export type WrappingAttack = "sibling-before" | "signed-in-extensions" | "signature-object" | "evil-in-extensions";

/** Rewrites an assertion-signed samlify response into `attack`, with `evilNameId` in the forged assertion. */
export function wrapSignature(samlResponse: string, attack: WrappingAttack, evilNameId: string): string {
  return tamperResponse(samlResponse, (xml) => {
    const signedAssertion = /<saml:Assertion\b[\s\S]*<\/saml:Assertion>/.exec(xml)?.[0];
    const signature = signedAssertion === undefined ? undefined : /<ds:Signature\b[\s\S]*?<\/ds:Signature>/.exec(signedAssertion)?.[0];
    if (signedAssertion === undefined || signature === undefined) throw new Error("wrapSignature: needs a response with a signed assertion");
    const unsignedOriginal = signedAssertion.replace(signature, "");
    const evil = unsignedOriginal
      .replace(/ ID="[^"]*"/, ` ID="_evil${randomUUID()}"`)
      .replace(/(<saml:NameID\b[^>]*>)[^<]*(<\/saml:NameID>)/, `$1${escapeXml(evilNameId)}$2`);
    const afterResponseIssuer = (document: string, insert: string): string => document.replace(/(<\/saml:Issuer>)/, `$1${insert}`);
    switch (attack) {
      case "sibling-before":
        return xml.replace(signedAssertion, evil + signedAssertion);
      case "signed-in-extensions":
        return afterResponseIssuer(xml.replace(signedAssertion, evil), `<samlp:Extensions>${signedAssertion}</samlp:Extensions>`);
      case "signature-object": {
        const carried = signature.replace("</ds:Signature>", `<ds:Object>${unsignedOriginal}</ds:Object></ds:Signature>`);
        return xml.replace(signedAssertion, evil.replace(/(<\/saml:Issuer>)/, `$1${carried}`));
      }
      case "evil-in-extensions":
        return afterResponseIssuer(xml, `<samlp:Extensions>${evil}</samlp:Extensions>`);
    }
  });
}
