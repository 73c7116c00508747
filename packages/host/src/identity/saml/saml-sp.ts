/**
 * SAML 2.0 service provider for one tenant's identity provider, built on `@node-saml/node-saml`.
 *
 * Rules enforced on every SAMLResponse (HTTP-POST binding):
 * - at most 256 KiB of base64, no DTD, before any XML parser sees it;
 * - the assertion is signed by one of the configured IdP certificates (several are allowed for key
 *   rollover); an unsigned assertion is refused even when the response around it is signed;
 * - identity data is read only from the bytes the signature covers (node-saml's verified
 *   assertion), never from the raw document, so XML signature wrapping cannot smuggle a second,
 *   unsigned assertion in;
 * - issuer, audience, bearer subject confirmation (Recipient = ACS URL), Destination, NotBefore,
 *   NotOnOrAfter and the assertion's maximum age are checked, with a bounded clock skew;
 * - SP-initiated only by default: `InResponseTo` must name an AuthnRequest this SP issued (kept in a
 *   {@link SamlRequestCache} shared by all Hosts) and is consumed on use.
 *
 * Replay of a whole assertion within its lifetime is the caller's check, through the
 * `ReplayGuard` port, keyed by {@link SamlAssertion.assertionId} until {@link SamlAssertion.notOnOrAfter}.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { SAML, SamlStatusError, ValidateInResponseTo } from "@node-saml/node-saml";
import type { CacheItem, CacheProvider, Profile, SamlConfig } from "@node-saml/node-saml";
import { EnterpriseError, claimList, claimString } from "@aesp/core";
import type { ClaimValue, ExternalIdentity, SamlAssertion, SamlServiceProvider } from "@aesp/core";

/** Why a SAMLResponse was refused; sent as `details.reason` of AUTHENTICATION_FAILED. */
export type SamlRefusalReason =
  | "too_large"
  | "malformed"
  /** The message carries no XML signature at all. */
  | "unsigned"
  /** Signatures are present, but none by a trusted IdP key covers the one assertion used. */
  | "invalid_signature"
  | "wrong_issuer"
  | "wrong_audience"
  /** SubjectConfirmationData Recipient or the response's Destination is not this SP's ACS URL. */
  | "wrong_recipient"
  | "expired"
  | "not_yet_valid"
  /** No, an unknown, an expired or an already used AuthnRequest ID. */
  | "in_response_to_mismatch"
  /** The IdP answered with a non-success status (the user was not signed in). */
  | "idp_status";

/** Settings of one SAML identity provider, parsed from snake_case by {@link parseSamlSettings}. */
export interface SamlProviderSettings {
  /** `idp_entity_id`: the IdP's entity ID; the assertion's Issuer must equal it. */
  readonly idpEntityId: string;
  /** `idp_sso_url`: the IdP's SingleSignOnService (HTTP-Redirect); https unless loopback. */
  readonly idpSsoUrl: string;
  /**
   * `idp_certificates`: certificates whose keys may sign assertions, several during key rollover
   * (a list, or one string; PEM or the bare base64 that metadata carries). Stored as PEM.
   */
  readonly idpCertificates: readonly string[];
  /** `sp_entity_id`: this SP's entity ID, the Issuer of its AuthnRequests. */
  readonly spEntityId: string;
  /** `acs_url`: the assertion consumer URL; when absent the Host supplies its own. */
  readonly acsUrl?: string;
  /** `audience`: the Audience the assertion must name. Default `sp_entity_id`. */
  readonly audience: string;
  /** `want_assertions_signed`: always true; the setting exists only so `false` can be refused loudly. */
  readonly wantAssertionsSigned: true;
  /** `want_response_signed`: also require a signature on the Response element. Default false. */
  readonly wantResponseSigned: boolean;
  /** `clock_skew_ms`: tolerated clock difference with the IdP. Default 60 000, at most 300 000. */
  readonly clockSkewMs: number;
  /** `max_assertion_age_seconds`: oldest IssueInstant accepted. Default 300. */
  readonly maxAssertionAgeSeconds: number;
  /** `request_ttl_seconds`: how long an issued AuthnRequest ID stays answerable. Default 900. */
  readonly requestTtlSeconds: number;
  /** `allow_idp_initiated`: accept unsolicited responses (no InResponseTo). Default false. */
  readonly allowIdpInitiated: boolean;
  /** `name_id_format`: NameIDPolicy Format requested; absent lets the IdP choose. */
  readonly nameIdFormat?: string;
  /** `sp_private_key_pem`, `sp_certificate_pem`, `signature_algorithm`: sign AuthnRequests. */
  readonly requestSigning?: {
    readonly privateKeyPem: string;
    readonly certificatePem: string;
    readonly signatureAlgorithm: "sha256" | "sha512";
  };
  /** `username_attribute`: attribute holding the login name. Default: the NameID. */
  readonly usernameAttribute?: string;
  /** `display_name_attribute`: attribute holding the display name. Default: the username. */
  readonly displayNameAttribute?: string;
  /** `email_attribute`: attribute holding the e-mail address. Default: none. */
  readonly emailAttribute?: string;
  /** `groups_attribute`: attribute holding group names. Default `groups`. */
  readonly groupsAttribute: string;
}

/**
 * Port: remembers the IDs of AuthnRequests this SP issued, shared by every Host so a response may
 * land on another Host than the one that redirected the browser. Keys are already namespaced per
 * provider; values are the request's IssueInstant.
 */
export interface SamlRequestCache {
  /** Stores `requestId`; the store may forget it after `expiresAt` (epoch ms). */
  save(requestId: string, issuedAt: string, expiresAt: number): Promise<void>;
  /** The stored IssueInstant, or null when unknown or forgotten. */
  get(requestId: string): Promise<string | null>;
  remove(requestId: string): Promise<void>;
}

/** What a {@link SamlSp} is built from. */
export interface SamlSpOptions {
  readonly providerId: string;
  readonly settings: SamlProviderSettings;
  readonly requestCache: SamlRequestCache;
  /** The Host's assertion consumer URL, used when the settings name none. */
  readonly acsUrl?: string;
}

const maxResponseChars = 256 * 1024;
/** SAML bindings §3.4.3: RelayState MUST NOT exceed 80 bytes. */
const maxRelayStateBytes = 80;
const bearerMethod = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const signatureElement = /<(?:[A-Za-z_][\w.-]*:)?Signature[\s>/]/;

const classRef = "urn:oasis:names:tc:SAML:2.0:ac:classes:";
/** AuthnContextClassRef → RFC 8176 `amr`; unlisted classes give no methods (acr still carries them). */
const amrByAuthnContext: ReadonlyMap<string, readonly string[]> = new Map([
  [`${classRef}Password`, ["pwd"]],
  [`${classRef}PasswordProtectedTransport`, ["pwd"]],
  [`${classRef}TimeSyncToken`, ["otp"]],
  [`${classRef}MobileTwoFactorContract`, ["mfa"]],
  [`${classRef}MobileTwoFactorUnregistered`, ["mfa"]],
  [`${classRef}Smartcard`, ["sc"]],
  [`${classRef}SmartcardPKI`, ["sc", "mfa"]],
  [`${classRef}SoftwarePKI`, ["swk"]],
  ["https://refeds.org/profile/mfa", ["mfa"]],
  ["http://schemas.microsoft.com/claims/multipleauthn", ["mfa"]],
]);

// ---------------------------------------------------------------- settings

const settingKeys = new Set([
  "idp_entity_id", "idp_sso_url", "idp_certificates", "sp_entity_id", "acs_url", "audience",
  "want_assertions_signed", "want_response_signed", "clock_skew_ms", "max_assertion_age_seconds",
  "request_ttl_seconds", "allow_idp_initiated", "name_id_format", "signature_algorithm",
  "sp_private_key_pem", "sp_certificate_pem", "username_attribute", "display_name_attribute",
  "email_attribute", "groups_attribute",
]);

/**
 * Parses and validates a SAML provider's snake_case settings.
 *
 * Rules enforced:
 * - unknown keys are refused (a misspelt security switch must not be silently ignored);
 * - URLs are https, except on loopback addresses;
 * - at least one IdP certificate, each a parseable X.509 certificate;
 * - `want_assertions_signed: false` is refused: unsigned assertions are never accepted;
 * - clock skew is at most 5 minutes; AuthnRequest signing needs a key and its matching certificate.
 *
 * @throws EnterpriseError INVALID_ARGUMENT with `details.field` naming the offending setting.
 */
export function parseSamlSettings(providerId: string, raw: Record<string, unknown>): SamlProviderSettings {
  const fail = (field: string, message: string): EnterpriseError =>
    new EnterpriseError("INVALID_ARGUMENT", { message: `SAML setting ${field} ${message}.`, details: { provider: providerId, field } });
  for (const key of Object.keys(raw)) if (!settingKeys.has(key)) throw fail(key, "is not a known setting");

  const optionalText = (field: string): string | undefined => {
    const value = raw[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string" || value.trim() === "" || value.length > 2048) throw fail(field, "must be a non-empty string");
    return value.trim();
  };
  const text = (field: string): string => {
    const value = optionalText(field);
    if (value === undefined) throw fail(field, "is required");
    return value;
  };
  const flag = (field: string, fallback: boolean): boolean => {
    const value = raw[field] ?? fallback;
    if (typeof value !== "boolean") throw fail(field, "must be true or false");
    return value;
  };
  const integer = (field: string, fallback: number, min: number, max: number): number => {
    const value = raw[field] ?? fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) throw fail(field, `must be an integer from ${min} to ${max}`);
    return value;
  };
  const url = (field: string, value: string): string => {
    if (!isAcceptableUrl(value)) throw fail(field, "must be an https URL (http only on loopback addresses)");
    return value;
  };

  const certificates = raw["idp_certificates"];
  const certificateList = typeof certificates === "string" ? [certificates] : certificates;
  if (!Array.isArray(certificateList) || certificateList.length === 0 || certificateList.length > 10) {
    throw fail("idp_certificates", "must list 1 to 10 PEM certificates");
  }
  const idpCertificates = certificateList.map((certificate: unknown) => {
    const pem = typeof certificate === "string" ? toCertificatePem(certificate) : null;
    if (pem === null) throw fail("idp_certificates", "must hold only PEM X.509 certificates");
    return pem;
  });

  if (raw["want_assertions_signed"] !== undefined && raw["want_assertions_signed"] !== true) {
    throw fail("want_assertions_signed", "must be true: unsigned assertions are never accepted");
  }

  const spEntityId = text("sp_entity_id");
  const acsUrl = optionalText("acs_url");
  const nameIdFormat = optionalText("name_id_format");
  const usernameAttribute = optionalText("username_attribute");
  const displayNameAttribute = optionalText("display_name_attribute");
  const emailAttribute = optionalText("email_attribute");
  return {
    idpEntityId: text("idp_entity_id"),
    idpSsoUrl: url("idp_sso_url", text("idp_sso_url")),
    idpCertificates,
    spEntityId,
    ...(acsUrl === undefined ? {} : { acsUrl: url("acs_url", acsUrl) }),
    audience: optionalText("audience") ?? spEntityId,
    wantAssertionsSigned: true,
    wantResponseSigned: flag("want_response_signed", false),
    clockSkewMs: integer("clock_skew_ms", 60_000, 0, 300_000),
    maxAssertionAgeSeconds: integer("max_assertion_age_seconds", 300, 1, 3600),
    requestTtlSeconds: integer("request_ttl_seconds", 900, 60, 3600),
    allowIdpInitiated: flag("allow_idp_initiated", false),
    ...(nameIdFormat === undefined ? {} : { nameIdFormat }),
    ...parseRequestSigning(optionalText, fail),
    ...(usernameAttribute === undefined ? {} : { usernameAttribute }),
    ...(displayNameAttribute === undefined ? {} : { displayNameAttribute }),
    ...(emailAttribute === undefined ? {} : { emailAttribute }),
    groupsAttribute: optionalText("groups_attribute") ?? "groups",
  };
}

function parseRequestSigning(
  optionalText: (field: string) => string | undefined,
  fail: (field: string, message: string) => EnterpriseError,
): Pick<SamlProviderSettings, "requestSigning"> {
  const privateKeyPem = optionalText("sp_private_key_pem");
  const certificateText = optionalText("sp_certificate_pem");
  const algorithm = optionalText("signature_algorithm") ?? "sha256";
  if (algorithm !== "sha256" && algorithm !== "sha512") throw fail("signature_algorithm", "must be sha256 or sha512");
  if (privateKeyPem === undefined && certificateText === undefined) return {};
  if (privateKeyPem === undefined) throw fail("sp_private_key_pem", "is required with sp_certificate_pem");
  const certificatePem = certificateText === undefined ? null : toCertificatePem(certificateText);
  if (certificatePem === null) throw fail("sp_certificate_pem", "must be the PEM certificate of sp_private_key_pem");
  let keyMatches: boolean;
  try {
    const fromKey = createPublicKey(createPrivateKey(privateKeyPem)).export({ type: "spki", format: "der" });
    keyMatches = fromKey.equals(new X509Certificate(certificatePem).publicKey.export({ type: "spki", format: "der" }));
  } catch {
    throw fail("sp_private_key_pem", "must be an unencrypted PEM private key");
  }
  if (!keyMatches) throw fail("sp_certificate_pem", "must be the PEM certificate of sp_private_key_pem");
  return { requestSigning: { privateKeyPem, certificatePem, signatureAlgorithm: algorithm } };
}

/** PEM for a PEM or bare base64 certificate (as metadata carries it), or null if it is not one. */
function toCertificatePem(value: string): string | null {
  const trimmed = value.trim();
  const pem = trimmed.startsWith("-----BEGIN CERTIFICATE-----")
    ? trimmed
    : `-----BEGIN CERTIFICATE-----\n${trimmed.replace(/\s+/g, "").replace(/(.{64})/g, "$1\n").trim()}\n-----END CERTIFICATE-----`;
  try {
    new X509Certificate(pem);
    return pem;
  } catch {
    return null;
  }
}

function isAcceptableUrl(value: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return false;
  }
  if (parsed.username !== "" || parsed.password !== "") return false;
  if (parsed.protocol === "https:") return true;
  return parsed.protocol === "http:" && isLoopback(parsed.hostname);
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

// ---------------------------------------------------------------- the service provider

/** A SAML 2.0 SP for one IdP: AuthnRequests by HTTP-Redirect, responses by HTTP-POST. */
export class SamlSp implements SamlServiceProvider {
  readonly #providerId: string;
  readonly #settings: SamlProviderSettings;
  readonly #acsUrl: string;
  readonly #requests: RequestIdCache;
  readonly #saml: SAML;
  readonly #metadata: string;

  /** @throws EnterpriseError INVALID_ARGUMENT (`details.field` = `acs_url`) without a usable ACS URL. */
  constructor(options: SamlSpOptions) {
    this.#providerId = options.providerId;
    this.#settings = options.settings;
    const acsUrl = options.settings.acsUrl ?? options.acsUrl;
    if (acsUrl === undefined || !isAcceptableUrl(acsUrl)) {
      throw new EnterpriseError("INVALID_ARGUMENT", {
        message: "SAML setting acs_url must be an https URL (http only on loopback addresses).",
        details: { provider: options.providerId, field: "acs_url" },
      });
    }
    this.#acsUrl = acsUrl;
    const requestTtlMs = options.settings.requestTtlSeconds * 1000;
    this.#requests = new RequestIdCache(options.requestCache, options.providerId, requestTtlMs);
    const signing = options.settings.requestSigning;
    const config: SamlConfig = {
      callbackUrl: acsUrl,
      entryPoint: options.settings.idpSsoUrl,
      issuer: options.settings.spEntityId,
      audience: options.settings.audience,
      idpIssuer: options.settings.idpEntityId,
      idpCert: [...options.settings.idpCertificates],
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: options.settings.wantResponseSigned,
      acceptedClockSkewMs: options.settings.clockSkewMs,
      maxAssertionAgeMs: options.settings.maxAssertionAgeSeconds * 1000,
      validateInResponseTo: options.settings.allowIdpInitiated ? ValidateInResponseTo.ifPresent : ValidateInResponseTo.always,
      requestIdExpirationPeriodMs: requestTtlMs,
      cacheProvider: this.#requests,
      identifierFormat: options.settings.nameIdFormat ?? null,
      // node-saml would ask for exactly PasswordProtectedTransport, which makes IdPs refuse MFA
      // logins; the IdP chooses and the result is reported as acr/amr.
      disableRequestedAuthnContext: true,
      authnRequestBinding: "HTTP-Redirect",
      signatureAlgorithm: signing?.signatureAlgorithm ?? "sha256",
      ...(signing === undefined ? {} : { privateKey: signing.privateKeyPem }),
    };
    this.#saml = new SAML(config);
    this.#metadata = this.#saml.generateServiceProviderMetadata(null, signing?.certificatePem ?? null);
  }

  /**
   * The IdP URL carrying a deflated AuthnRequest (signed when a key is configured); its ID is
   * remembered in the request cache until `request_ttl_seconds` pass.
   *
   * @throws EnterpriseError INVALID_ARGUMENT (`details.field` = `relay_state`) over 80 bytes.
   */
  async loginUrl(relayState: string): Promise<string> {
    if (Buffer.byteLength(relayState, "utf8") > maxRelayStateBytes) {
      throw new EnterpriseError("INVALID_ARGUMENT", {
        message: `RelayState must not exceed ${maxRelayStateBytes} bytes.`,
        details: { provider: this.#providerId, field: "relay_state" },
      });
    }
    return this.#saml.getAuthorizeUrlAsync(relayState, undefined, {});
  }

  /**
   * Validates a base64 SAMLResponse and returns the identity its signed assertion asserts.
   *
   * @throws EnterpriseError AUTHENTICATION_FAILED with `details.reason` a {@link SamlRefusalReason}.
   */
  async acceptResponse(samlResponse: string): Promise<SamlAssertion> {
    if (samlResponse.length > maxResponseChars) throw this.#refuse("too_large");
    const base64 = samlResponse.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) throw this.#refuse("malformed");
    const xml = Buffer.from(base64, "base64").toString("utf8");
    // No SAML message needs a DTD; refusing them keeps entity tricks away from every parser.
    if (/<!DOCTYPE/i.test(xml)) throw this.#refuse("malformed");

    let profile: Profile;
    try {
      const result = await this.#saml.validatePostResponseAsync({ SAMLResponse: base64 });
      if (result.profile === null) throw this.#refuse("malformed");
      profile = result.profile;
    } catch (err) {
      throw this.#refusalFor(err, xml);
    }
    const inResponseTo = typeof profile["inResponseTo"] === "string" ? profile["inResponseTo"] : "";
    try {
      return this.#assertionFrom(profile, xml, inResponseTo);
    } finally {
      // An AuthnRequest is answered once, whatever the outcome.
      if (inResponseTo !== "") await this.#requests.removeAsync(inResponseTo);
    }
  }

  /** SP metadata: entity ID, ACS URL (HTTP-POST), WantAssertionsSigned, signing certificate if any. */
  metadata(): string {
    return this.#metadata;
  }

  #assertionFrom(profile: Profile, xml: string, inResponseTo: string): SamlAssertion {
    // The assertion exactly as its signature covers it; the raw XML is consulted for Destination only.
    const signed = profile.getAssertion?.();
    const assertion = signed === undefined ? undefined : firstNode(signed["Assertion"]);
    if (assertion === undefined) throw this.#refuse("malformed");

    const assertionId = attribute(assertion, "ID") ?? "";
    const issueInstant = Date.parse(attribute(assertion, "IssueInstant") ?? "");
    if (assertionId === "" || Number.isNaN(issueInstant)) throw this.#refuse("malformed");
    if (textOf(child(assertion, "Issuer")) !== this.#settings.idpEntityId) throw this.#refuse("wrong_issuer");

    const destination = rootAttribute(xml, "Destination");
    if (destination === null) throw this.#refuse("malformed");
    if (destination !== undefined && destination !== this.#acsUrl) throw this.#refuse("wrong_recipient");

    const subject = child(assertion, "Subject");
    const subjectId = subject === undefined ? "" : textOf(child(subject, "NameID"));
    if (subject === undefined || subjectId === "") throw this.#refuse("malformed");
    const confirmedUntil = this.#confirmedUntil(subject, inResponseTo);

    const now = Date.now();
    const conditions = child(assertion, "Conditions");
    const conditionsEnd = Date.parse((conditions === undefined ? undefined : attribute(conditions, "NotOnOrAfter")) ?? "");
    const ends = [confirmedUntil, issueInstant + this.#settings.maxAssertionAgeSeconds * 1000];
    if (!Number.isNaN(conditionsEnd)) ends.push(conditionsEnd);
    // Acceptable until the latest instant the checks above would still pass, skew included.
    const notOnOrAfter = Math.min(...ends) + this.#settings.clockSkewMs;
    if (notOnOrAfter <= now) throw this.#refuse("expired");

    const authn = child(assertion, "AuthnStatement");
    const context = authn === undefined ? undefined : child(authn, "AuthnContext");
    const acr = context === undefined ? "" : textOf(child(context, "AuthnContextClassRef"));
    const authInstant = Date.parse((authn === undefined ? undefined : attribute(authn, "AuthnInstant")) ?? "");

    const claims = attributeClaims(assertion);
    const pick = (name: string | undefined): string => (name === undefined ? "" : claimString(claims[name]));
    const username = pick(this.#settings.usernameAttribute) || subjectId;
    const identity: ExternalIdentity = {
      providerId: this.#providerId,
      subject: subjectId,
      username,
      displayName: pick(this.#settings.displayNameAttribute) || username,
      email: pick(this.#settings.emailAttribute),
      groups: [...new Set(claimList(claims[this.#settings.groupsAttribute]))],
      claims,
      amr: [...(amrByAuthnContext.get(acr) ?? [])],
      acr,
      authTime: Number.isNaN(authInstant) ? 0 : authInstant,
    };
    return { identity, assertionId, notOnOrAfter };
  }

  /**
   * Finds a bearer SubjectConfirmation for this ACS URL that is valid now and answers the request
   * (Web SSO profile §4.1.4.3) and returns its NotOnOrAfter. The InResponseTo inside the signed
   * assertion must equal the response's, so an unsolicited assertion cannot be re-wrapped into a
   * response that names a request someone else started.
   */
  #confirmedUntil(subject: XmlNode, inResponseTo: string): number {
    const now = Date.now();
    const skew = this.#settings.clockSkewMs;
    const bearers = children(subject, "SubjectConfirmation").filter((confirmation) => attribute(confirmation, "Method") === bearerMethod);
    if (bearers.length === 0) throw this.#refuse("malformed");
    let refusal: SamlRefusalReason = "wrong_recipient";
    for (const bearer of bearers) {
      const data = child(bearer, "SubjectConfirmationData");
      if (data === undefined || attribute(data, "Recipient") !== this.#acsUrl) continue;
      const answered = attribute(data, "InResponseTo") ?? "";
      const notOnOrAfter = Date.parse(attribute(data, "NotOnOrAfter") ?? "");
      const notBefore = Date.parse(attribute(data, "NotBefore") ?? "");
      if (answered !== inResponseTo || (answered === "" && !this.#settings.allowIdpInitiated)) refusal = "in_response_to_mismatch";
      else if (Number.isNaN(notOnOrAfter)) refusal = "malformed";
      else if (now - skew >= notOnOrAfter) refusal = "expired";
      else if (!Number.isNaN(notBefore) && now + skew < notBefore) refusal = "not_yet_valid";
      else return notOnOrAfter;
    }
    throw this.#refuse(refusal);
  }

  #refuse(reason: SamlRefusalReason, cause?: unknown): EnterpriseError {
    return new EnterpriseError("AUTHENTICATION_FAILED", { details: { provider: this.#providerId, reason }, cause });
  }

  /** Maps node-saml's error messages (its only failure signal) to a refusal reason. */
  #refusalFor(err: unknown, xml: string): EnterpriseError {
    if (err instanceof EnterpriseError) return err;
    if (err instanceof SamlStatusError) return this.#refuse("idp_status", err);
    const message = err instanceof Error ? err.message : "";
    let reason: SamlRefusalReason = "malformed";
    if (/signature|Cannot obtain assertion|ref URI|Referenced node|ID cannot refer/i.test(message)) {
      reason = signatureElement.test(xml) ? "invalid_signature" : "unsigned";
    } else if (/audience/i.test(message)) reason = "wrong_audience";
    else if (/not yet valid/i.test(message)) reason = "not_yet_valid";
    else if (/expired|No valid subject confirmation/i.test(message)) reason = "expired";
    else if (/InResponseTo/i.test(message)) reason = "in_response_to_mismatch";
    return this.#refuse(reason, err);
  }
}

/** node-saml's CacheProvider over the Host's {@link SamlRequestCache}, namespaced per provider. */
class RequestIdCache implements CacheProvider {
  readonly #cache: SamlRequestCache;
  readonly #prefix: string;
  readonly #ttlMs: number;

  constructor(cache: SamlRequestCache, providerId: string, ttlMs: number) {
    this.#cache = cache;
    this.#prefix = `saml-request:${providerId}:`;
    this.#ttlMs = ttlMs;
  }

  async saveAsync(key: string, value: string): Promise<CacheItem | null> {
    const createdAt = Date.now();
    await storeCall(() => this.#cache.save(this.#prefix + key, value, createdAt + this.#ttlMs));
    return { value, createdAt };
  }

  async getAsync(key: string): Promise<string | null> {
    const issuedAt = await storeCall(() => this.#cache.get(this.#prefix + key));
    // A store with coarse expiry may still hold it; the TTL is enforced here as well.
    if (issuedAt === null || !(Date.now() < Date.parse(issuedAt) + this.#ttlMs)) return null;
    return issuedAt;
  }

  async removeAsync(key: string | null): Promise<string | null> {
    if (key === null || key === "") return null;
    await storeCall(() => this.#cache.remove(this.#prefix + key));
    return key;
  }
}

async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw err instanceof EnterpriseError ? err : new EnterpriseError("INTERNAL_ERROR", { cause: err });
  }
}

// ---------------------------------------------------------------- reading the verified assertion

/** An element as xml2js gives it (node-saml's parser): `$` attributes, `_` text, child arrays. */
type XmlNode = Readonly<Record<string, unknown>>;

function isNode(value: unknown): value is XmlNode {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function children(node: XmlNode, name: string): XmlNode[] {
  const value = node[name];
  return Array.isArray(value) ? value.filter(isNode) : [];
}

function child(node: XmlNode, name: string): XmlNode | undefined {
  return children(node, name)[0];
}

function firstNode(value: unknown): XmlNode | undefined {
  return isNode(value) ? value : undefined;
}

function attribute(node: XmlNode, name: string): string | undefined {
  const attributes = node["$"];
  if (!isNode(attributes)) return undefined;
  const value = attributes[name];
  return typeof value === "string" ? value : undefined;
}

function textOf(node: XmlNode | undefined): string {
  const text = node?.["_"];
  return typeof text === "string" ? text.trim() : "";
}

/** Attribute name → its simple string values; complex (element) values are left out. */
function attributeClaims(assertion: XmlNode): Record<string, ClaimValue> {
  const values = new Map<string, string[]>();
  for (const statement of children(assertion, "AttributeStatement")) {
    for (const item of children(statement, "Attribute")) {
      const name = attribute(item, "Name");
      if (name === undefined || name === "") continue;
      const simple = children(item, "AttributeValue")
        .filter((value) => Object.keys(value).every((key) => key === "_" || key === "$"))
        .map((value) => textOf(value))
        .filter((value) => value !== "");
      values.set(name, [...(values.get(name) ?? []), ...simple]);
    }
  }
  // fromEntries defines own properties, so an attribute named __proto__ stays data.
  return Object.fromEntries(
    [...values].filter(([, list]) => list.length > 0).map(([name, list]): [string, ClaimValue] => [name, list.length === 1 ? (list[0] as string) : list]),
  );
}

const rootStartTag = /^\uFEFF?\s*(?:(?:<\?[\s\S]*?\?>|<!--[\s\S]*?-->)\s*)*<(?:[A-Za-z_][\w.-]*:)?Response((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*>/;
const attributePattern = /([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

/**
 * An attribute of the Response element (undefined when absent, null when the root is not a
 * Response start tag). Destination sits in the envelope, outside an assertion-only signature, so
 * it is a routing check; the binding one is the signed SubjectConfirmationData Recipient.
 */
function rootAttribute(xml: string, name: string): string | undefined | null {
  const match = rootStartTag.exec(xml);
  if (match === null) return null;
  for (const [, key, doubleQuoted, singleQuoted] of (match[1] ?? "").matchAll(attributePattern)) {
    if (key === name) return decodeXmlEntities(doubleQuoted ?? singleQuoted ?? "");
  }
  return undefined;
}

function decodeXmlEntities(value: string): string {
  const named: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
  return value.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (entity, body: string) => {
    if (body.startsWith("#x")) return String.fromCodePoint(Number.parseInt(body.slice(2), 16));
    if (body.startsWith("#")) return String.fromCodePoint(Number.parseInt(body.slice(1), 10));
    return named[body] ?? entity;
  });
}
