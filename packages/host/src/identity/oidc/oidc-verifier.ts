/**
 * Verifies tokens of an external OpenID Connect provider with `jose`: signature through the
 * provider's JWKS (discovered, cached, refetched when an unknown key id appears), exact issuer,
 * audience, expiry, `nbf`, and an asymmetric-only algorithm allow-list. A verified token becomes an
 * {@link ExternalIdentity}; the core maps it to roles.
 */
import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify } from "jose";
import type { CryptoKey, JWTHeaderParameters, JWTPayload, JWTVerifyGetKey, JWTVerifyOptions } from "jose";
import { EnterpriseError, providerUnavailable } from "@aesp/core";
import type { ClaimValue, Clock, ExternalIdentity, OidcTokenVerifier } from "@aesp/core";

/** Signature algorithms an OIDC provider may be trusted with: public-key ones only. */
export type OidcSigningAlgorithm = "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "ES384" | "ES512" | "EdDSA" | "Ed25519";

const supportedAlgorithms: readonly OidcSigningAlgorithm[] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];
const defaultAlgorithms: readonly OidcSigningAlgorithm[] = ["RS256", "ES256", "EdDSA", "PS256"];

/** Tokens longer than this are refused before any parsing. */
export const maxOidcTokenLength = 16 * 1024;

/** One tenant's OpenID Provider, as {@link parseOidcSettings} validated it. */
export interface OidcProviderSettings {
  readonly providerId: string;
  /** Compared exactly with `iss`; https, or http only on a loopback address. */
  readonly issuer: string;
  /** The Host's client id: the required audience of ID tokens. */
  readonly clientId: string;
  /** Accepted `aud` values of bearer access tokens. Default: the client id. */
  readonly audiences: readonly string[];
  /** The JWKS location; undefined means "from the issuer's discovery document". */
  readonly jwksUri: string | undefined;
  readonly algorithms: readonly OidcSigningAlgorithm[];
  readonly clockToleranceSeconds: number;
  /** Refuse tokens whose `iat` is older than this, whatever their `exp`; undefined: no limit. */
  readonly maxTokenAgeSeconds: number | undefined;
  readonly subjectClaim: string;
  readonly usernameClaim: string;
  readonly displayNameClaim: string;
  readonly emailClaim: string;
  readonly groupsClaim: string;
  /** Minimum time between two JWKS refetches caused by unknown key ids. */
  readonly jwksCooldownMs: number;
  /** A JWKS older than this is refetched before use. */
  readonly jwksCacheMaxAgeMs: number;
  /** Timeout of every request to the provider (discovery, JWKS). */
  readonly httpTimeoutMs: number;
  /** The CLI's public client (`aesp login --oidc`); passed through to the CLI, not used here. */
  readonly cliClientId: string;
  readonly scopes: string;
  /** PKCE is always used; the field exists so the CLI's contract says so. */
  readonly usePkce: true;
  readonly deviceAuthorization: boolean;
}

/** Injected effects; production passes the system clock. */
export interface OidcVerifierDeps {
  readonly clock?: Clock;
}

/** Reasons in `details.reason` of AUTHENTICATION_FAILED raised by {@link OidcVerifier}. */
export type OidcRejectionReason = "invalid_signature" | "wrong_issuer" | "wrong_audience" | "algorithm_not_allowed" | "not_yet_valid" | "nonce_mismatch" | "malformed" | "unknown_key";

const systemClock: Clock = { now: () => Date.now() };

/**
 * Verifies ID tokens and JWT access tokens of one OpenID Provider.
 *
 * Rules enforced:
 * - at most {@link maxOidcTokenLength} characters; `alg` in the allow-list (never `none` or HS*),
 *   checked before any key is looked up;
 * - signature by a key of the provider's JWKS; an unknown `kid` refetches the JWKS at most once per
 *   cooldown (key rotation);
 * - `iss` equals the configured issuer exactly; `exp`, `iat` and `sub` present; `exp`, `nbf` and a
 *   future `iat` checked with the clock tolerance; optional maximum token age;
 * - ID tokens: `aud` contains the client id, `azp` is the client id when present and required
 *   when there are several audiences, `typ` is not `at+jwt`, `nonce` matches when one is expected;
 * - access tokens: `aud` contains one of the configured audiences.
 *
 * Errors: TOKEN_EXPIRED; AUTHENTICATION_FAILED with details.reason an {@link OidcRejectionReason};
 * IDENTITY_PROVIDER_UNAVAILABLE when discovery or the JWKS cannot be fetched or is unusable.
 */
export class OidcVerifier implements OidcTokenVerifier {
  readonly #settings: OidcProviderSettings;
  readonly #clock: Clock;
  #keySet: Promise<JWTVerifyGetKey> | undefined;

  constructor(settings: OidcProviderSettings, deps: OidcVerifierDeps = {}) {
    this.#settings = settings;
    this.#clock = deps.clock ?? systemClock;
  }

  get settings(): OidcProviderSettings {
    return this.#settings;
  }

  claimsIssuer(issuer: string): boolean {
    return issuer === this.#settings.issuer;
  }

  async verifyIdToken(idToken: string, options: { nonce?: string } = {}): Promise<ExternalIdentity> {
    const { payload, header } = await this.#verify(idToken, [this.#settings.clientId]);
    if (normalisedTyp(header.typ) === "at+jwt") throw this.#rejected("malformed");
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    const azp = payload["azp"];
    if ((audiences.length > 1 || azp !== undefined) && azp !== this.#settings.clientId) throw this.#rejected("wrong_audience");
    if (options.nonce !== undefined && payload["nonce"] !== options.nonce) throw this.#rejected("nonce_mismatch");
    return this.#identity(payload);
  }

  async verifyAccessToken(accessToken: string): Promise<ExternalIdentity> {
    const { payload } = await this.#verify(accessToken, this.#settings.audiences);
    return this.#identity(payload);
  }

  async #verify(token: string, audiences: readonly string[]): Promise<{ payload: JWTPayload; header: JWTHeaderParameters }> {
    if (typeof token !== "string" || token.length === 0 || token.length > maxOidcTokenLength) throw this.#rejected("malformed");
    const settings = this.#settings;
    const now = this.#clock.now();
    const options: JWTVerifyOptions = {
      issuer: settings.issuer,
      audience: [...audiences],
      algorithms: [...settings.algorithms],
      clockTolerance: settings.clockToleranceSeconds,
      currentDate: new Date(now),
      requiredClaims: [...new Set(["exp", "iat", "sub", settings.subjectClaim])],
      ...(settings.maxTokenAgeSeconds === undefined ? {} : { maxTokenAge: settings.maxTokenAgeSeconds }),
    };
    let verified: { payload: JWTPayload; protectedHeader: JWTHeaderParameters };
    try {
      const keySet = await this.#resolveKeySet();
      verified = await verifyWithKeySet(token, keySet, options);
    } catch (err) {
      throw this.#classify(err);
    }
    // jose checks a future `iat` only together with maxTokenAge; a token from the future is never valid.
    const iat = verified.payload.iat;
    if (typeof iat === "number" && iat > now / 1000 + settings.clockToleranceSeconds) throw this.#rejected("not_yet_valid");
    return { payload: verified.payload, header: verified.protectedHeader };
  }

  #identity(payload: JWTPayload): ExternalIdentity {
    const settings = this.#settings;
    const subject = payload[settings.subjectClaim];
    if (typeof subject !== "string" || subject === "") throw this.#rejected("malformed");
    const username = stringClaim(payload[settings.usernameClaim]) || subject;
    const authTime = payload["auth_time"];
    return {
      providerId: settings.providerId,
      subject,
      username,
      displayName: stringClaim(payload[settings.displayNameClaim]) || username,
      email: stringClaim(payload[settings.emailClaim]),
      groups: stringList(payload[settings.groupsClaim]),
      claims: flattenClaims(payload),
      amr: stringList(payload["amr"]),
      acr: stringClaim(payload["acr"]),
      authTime: typeof authTime === "number" && Number.isFinite(authTime) && authTime > 0 ? Math.round(authTime * 1000) : 0,
    };
  }

  /** The JWKS getter, built once after discovery; a failed discovery is retried on the next call. */
  async #resolveKeySet(): Promise<JWTVerifyGetKey> {
    const pending = (this.#keySet ??= this.#buildKeySet());
    try {
      return await pending;
    } catch (err) {
      if (this.#keySet === pending) this.#keySet = undefined;
      throw err;
    }
  }

  async #buildKeySet(): Promise<JWTVerifyGetKey> {
    const settings = this.#settings;
    const jwksUri = settings.jwksUri ?? (await this.#discoverJwksUri());
    const remote = createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: settings.httpTimeoutMs,
      cooldownDuration: settings.jwksCooldownMs,
      cacheMaxAge: settings.jwksCacheMaxAgeMs,
    });
    return async (header, token) => {
      try {
        return await remote(header, token);
      } catch (err) {
        // These describe the token against a good key set; everything else is the set or its fetch.
        if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys || err instanceof joseErrors.JOSENotSupported) throw err;
        throw providerUnavailable(settings.providerId, jwksFailureReason(err), err);
      }
    };
  }

  async #discoverJwksUri(): Promise<string> {
    const settings = this.#settings;
    const url = `${settings.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
    let document: unknown;
    try {
      const response = await fetch(url, { headers: { accept: "application/json" }, redirect: "manual", signal: AbortSignal.timeout(settings.httpTimeoutMs) });
      if (response.status !== 200) {
        await response.body?.cancel();
        throw providerUnavailable(settings.providerId, `discovery_http_${response.status}`);
      }
      document = await response.json();
    } catch (err) {
      if (err instanceof EnterpriseError) throw err;
      const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
      throw providerUnavailable(settings.providerId, timedOut ? "discovery_timeout" : err instanceof SyntaxError ? "discovery_invalid_json" : "discovery_unreachable", err);
    }
    if (typeof document !== "object" || document === null) throw providerUnavailable(settings.providerId, "discovery_invalid");
    const { issuer, jwks_uri: jwksUri } = document as { issuer?: unknown; jwks_uri?: unknown };
    // OIDC Discovery §4.3: the document must name exactly the issuer it was fetched for.
    if (issuer !== settings.issuer) throw providerUnavailable(settings.providerId, "discovery_issuer_mismatch");
    if (typeof jwksUri !== "string" || !isAcceptableProviderUrl(jwksUri)) throw providerUnavailable(settings.providerId, "discovery_invalid_jwks_uri");
    return jwksUri;
  }

  #classify(err: unknown): EnterpriseError {
    if (err instanceof EnterpriseError) return err;
    if (err instanceof joseErrors.JWTExpired) return new EnterpriseError("TOKEN_EXPIRED", { details: { provider: this.#settings.providerId }, cause: err });
    return this.#rejected(rejectionReason(err), err);
  }

  #rejected(reason: OidcRejectionReason, cause?: unknown): EnterpriseError {
    return new EnterpriseError("AUTHENTICATION_FAILED", { details: { provider: this.#settings.providerId, reason }, cause });
  }
}

/**
 * Verifies against the key set; when the token names no `kid` and several keys fit, tries each
 * (as jose documents for JWKSMultipleMatchingKeys).
 */
async function verifyWithKeySet(token: string, keySet: JWTVerifyGetKey, options: JWTVerifyOptions): Promise<{ payload: JWTPayload; protectedHeader: JWTHeaderParameters }> {
  try {
    return await jwtVerify(token, keySet, options);
  } catch (err) {
    if (!(err instanceof joseErrors.JWKSMultipleMatchingKeys)) throw err;
    const candidates = err as joseErrors.JWKSMultipleMatchingKeys & AsyncIterable<CryptoKey>;
    for await (const key of candidates) {
      try {
        return await jwtVerify(token, key, options);
      } catch (inner) {
        if (!(inner instanceof joseErrors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new joseErrors.JWSSignatureVerificationFailed();
  }
}

function rejectionReason(err: unknown): OidcRejectionReason {
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case "iss":
        return "wrong_issuer";
      case "aud":
        return "wrong_audience";
      case "nbf":
        return "not_yet_valid";
      case "iat":
        return err.reason === "check_failed" ? "not_yet_valid" : "malformed";
      default:
        return "malformed";
    }
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "algorithm_not_allowed";
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "invalid_signature";
  if (err instanceof joseErrors.JWKSNoMatchingKey) return "unknown_key";
  return "malformed";
}

function jwksFailureReason(err: unknown): string {
  if (err instanceof joseErrors.JWKSTimeout) return "jwks_timeout";
  if (err instanceof joseErrors.JWKSInvalid) return "jwks_invalid";
  if (err instanceof joseErrors.JOSEError) return "jwks_bad_response";
  return "jwks_unreachable";
}

function normalisedTyp(typ: string | undefined): string {
  const value = (typ ?? "").toLowerCase();
  return value.startsWith("application/") ? value.slice("application/".length) : value;
}

function stringClaim(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

/**
 * Claims as policies may read them: strings and lists of strings; numbers and booleans become
 * strings; objects and nulls are dropped, in lists too.
 */
function flattenClaims(payload: JWTPayload): Record<string, ClaimValue> {
  const claims: Record<string, ClaimValue> = {};
  for (const [name, value] of Object.entries(payload)) {
    const scalar = scalarString(value);
    if (scalar !== undefined) claims[name] = scalar;
    else if (Array.isArray(value)) claims[name] = value.map(scalarString).filter((item): item is string => item !== undefined);
  }
  return claims;
}

function scalarString(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

/**
 * The unverified `iss` of a token, only to choose which provider's verifier to ask; null when the
 * token is not a decodable JWT. Never trust the result for anything else.
 */
export function unverifiedIssuer(token: string): string | null {
  if (typeof token !== "string" || token.length > maxOidcTokenLength) return null;
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === "string" ? iss : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- settings

/** True for hosts that never leave this machine: 127.0.0.0/8, ::1 and localhost. */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(host);
}

function isAcceptableProviderUrl(value: string): boolean {
  const url = URL.parse(value);
  if (url === null || url.username !== "" || url.password !== "") return false;
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
}

function invalid(providerId: string, field: string, message: string): EnterpriseError {
  return new EnterpriseError("INVALID_ARGUMENT", { message: `OIDC provider "${providerId}": ${message}`, details: { provider: providerId, field } });
}

/**
 * Validates one provider's settings, given in snake_case (YAML/JSON), and fills in defaults.
 *
 * | field | default | rule |
 * |---|---|---|
 * | `issuer` | required | https URL; plain http only for a loopback host; no query, fragment or credentials |
 * | `client_id` | required | the Host's client id, the audience of ID tokens |
 * | `audiences` | `[client_id]` | accepted `aud` of bearer access tokens |
 * | `jwks_uri` | discovered | same URL rule as the issuer |
 * | `algorithms` | RS256, ES256, EdDSA, PS256 | public-key algorithms only; `none` and HS* are refused |
 * | `clock_tolerance_seconds` | 30 | 0–300 |
 * | `max_token_age_seconds` | none | 1–86400 |
 * | `subject_claim`, `username_claim`, `display_name_claim`, `email_claim`, `groups_claim` | sub, preferred_username, name, email, groups | |
 * | `jwks_cooldown_ms` | 30000 | 0–3600000 |
 * | `jwks_cache_max_age_ms` | 600000 | 1000–86400000 |
 * | `http_timeout_ms` | 5000 | 100–60000 |
 * | `cli_client_id` | `client_id` | the CLI's public client |
 * | `scopes` | `openid profile email` | must include `openid` |
 * | `use_pkce` | true | may not be false |
 * | `device_authorization` | false | whether the CLI may use the device flow |
 *
 * Errors: INVALID_ARGUMENT with details.field naming the first bad field.
 */
export function parseOidcSettings(providerId: string, raw: Record<string, unknown>): OidcProviderSettings {
  if (typeof providerId !== "string" || providerId.trim() === "") throw invalid(String(providerId), "provider_id", "the provider id must be a non-empty string");
  const read = settingsReader(providerId, raw);

  const issuer = read.string("issuer");
  const issuerUrl = URL.parse(issuer);
  if (issuerUrl === null) throw invalid(providerId, "issuer", "issuer must be a URL");
  if (issuerUrl.search !== "" || issuerUrl.hash !== "" || issuer.includes("?") || issuer.includes("#")) throw invalid(providerId, "issuer", "issuer must not have a query or fragment");
  if (!isAcceptableProviderUrl(issuer)) throw invalid(providerId, "issuer", "issuer must use https (plain http only on a loopback address) and carry no credentials");

  const clientId = read.string("client_id");
  const audiences = read.stringList("audiences", [clientId]);

  const jwksUri = read.optionalString("jwks_uri");
  if (jwksUri !== undefined && !isAcceptableProviderUrl(jwksUri)) throw invalid(providerId, "jwks_uri", "jwks_uri must use https (plain http only on a loopback address) and carry no credentials");

  const algorithms = read.stringList("algorithms", defaultAlgorithms).map((algorithm) => {
    if (algorithm.toLowerCase() === "none") throw invalid(providerId, "algorithms", 'algorithm "none" would accept unsigned tokens');
    if (/^hs/i.test(algorithm)) throw invalid(providerId, "algorithms", `${algorithm} is symmetric: it cannot be verified with a provider's public keys, and allowing it invites key confusion`);
    if (!supportedAlgorithms.includes(algorithm as OidcSigningAlgorithm)) throw invalid(providerId, "algorithms", `unsupported algorithm ${algorithm}; use one of ${supportedAlgorithms.join(", ")}`);
    return algorithm as OidcSigningAlgorithm;
  });

  const scopes = read.optionalString("scopes")?.trim().split(/\s+/).join(" ") ?? "openid profile email";
  if (!scopes.split(" ").includes("openid")) throw invalid(providerId, "scopes", "scopes must include openid");
  if (read.optionalBoolean("use_pkce") === false) throw invalid(providerId, "use_pkce", "PKCE cannot be turned off");

  return {
    providerId,
    issuer,
    clientId,
    audiences: [...new Set(audiences)],
    jwksUri,
    algorithms: [...new Set(algorithms)],
    clockToleranceSeconds: read.integer("clock_tolerance_seconds", 30, 0, 300),
    maxTokenAgeSeconds: read.optionalInteger("max_token_age_seconds", 1, 86_400),
    subjectClaim: read.optionalString("subject_claim") ?? "sub",
    usernameClaim: read.optionalString("username_claim") ?? "preferred_username",
    displayNameClaim: read.optionalString("display_name_claim") ?? "name",
    emailClaim: read.optionalString("email_claim") ?? "email",
    groupsClaim: read.optionalString("groups_claim") ?? "groups",
    jwksCooldownMs: read.integer("jwks_cooldown_ms", 30_000, 0, 3_600_000),
    jwksCacheMaxAgeMs: read.integer("jwks_cache_max_age_ms", 600_000, 1000, 86_400_000),
    httpTimeoutMs: read.integer("http_timeout_ms", 5000, 100, 60_000),
    cliClientId: read.optionalString("cli_client_id") ?? clientId,
    scopes,
    usePkce: true,
    deviceAuthorization: read.optionalBoolean("device_authorization") ?? false,
  };
}

interface SettingsReader {
  string(field: string): string;
  optionalString(field: string): string | undefined;
  stringList(field: string, fallback: readonly string[]): string[];
  integer(field: string, fallback: number, min: number, max: number): number;
  optionalInteger(field: string, min: number, max: number): number | undefined;
  optionalBoolean(field: string): boolean | undefined;
}

function settingsReader(providerId: string, raw: Record<string, unknown>): SettingsReader {
  const optionalString = (field: string): string | undefined => {
    const value = raw[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string" || value.trim() === "") throw invalid(providerId, field, `${field} must be a non-empty string`);
    return value;
  };
  const optionalInteger = (field: string, min: number, max: number): number | undefined => {
    const value = raw[field];
    if (value === undefined || value === null) return undefined;
    // Environment overrides arrive as strings.
    const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof number !== "number" || !Number.isInteger(number) || number < min || number > max) throw invalid(providerId, field, `${field} must be an integer from ${min} to ${max}`);
    return number;
  };
  return {
    optionalString,
    optionalInteger,
    string(field) {
      const value = optionalString(field);
      if (value === undefined) throw invalid(providerId, field, `${field} is required`);
      return value;
    },
    stringList(field, fallback) {
      const value = raw[field];
      if (value === undefined || value === null) return [...fallback];
      if (!Array.isArray(value) || value.length === 0 || !value.every((item): item is string => typeof item === "string" && item.trim() !== "")) {
        throw invalid(providerId, field, `${field} must be a non-empty list of non-empty strings`);
      }
      return value;
    },
    integer(field, fallback, min, max) {
      return optionalInteger(field, min, max) ?? fallback;
    },
    optionalBoolean(field) {
      const value = raw[field];
      if (value === undefined || value === null) return undefined;
      if (typeof value !== "boolean") throw invalid(providerId, field, `${field} must be true or false`);
      return value;
    },
  };
}
