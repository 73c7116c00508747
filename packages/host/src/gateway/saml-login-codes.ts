/**
 * The one-time values behind SAML browser sign-in for the CLI: a loopback redirect (RFC 8252) that
 * carries an authorization code bound to a PKCE S256 challenge (RFC 7636), never a token.
 *
 * Rules enforced:
 * - the SAML RelayState is only a random handle; what it stands for (the loopback return address,
 *   the PKCE challenge, tenant and provider) stays in the shared one-time-value store for
 *   {@link loginRequestTtlMs} and is claimed once, by the ACS of that same tenant and provider;
 * - the return address is `http://127.0.0.1:<port>/<path>` or `http://[::1]:<port>/<path>`, no
 *   query, no fragment: the code can only ever reach the signing-in user's own machine;
 * - the ACS stores the issued tokens under a fresh one-time code that lives {@link codeTtlMs}; it is
 *   redeemed once, on any Host (an atomic claim in the shared store), by the holder of the verifier;
 * - storage never holds a handle or a code, only their SHA-256; the tokens are sealed
 *   (AES-256-GCM, {@link sealPrivateKey}) under a key derived from the code itself and are deleted
 *   at redemption, so reading the database neither redeems a code nor reveals a token;
 * - a redemption with the wrong verifier burns the code and revokes the tokens it held: a code
 *   taken from browser history is worth nothing without the CLI's verifier.
 */
import { createHash, createSecretKey, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { EnterpriseError } from "@aesp/core";
import type { AuditRecorder, Clock, IssuedTokens, OneTimeValueStore, RequestOrigin, TokenService } from "@aesp/core";
import { openPrivateKey, sealPrivateKey } from "../crypto/master-key.ts";
import type { MasterKey } from "../crypto/master-key.ts";

/** How long a started login may take, from `/login` to the ACS (the user signs in at the IdP). */
export const loginRequestTtlMs = 10 * 60 * 1000;

/** How long the CLI has to exchange its code at `/saml/token` once the browser is redirected. */
export const codeTtlMs = 60 * 1000;

const loopbackReturn = /^http:\/\/(?:127\.0\.0\.1|\[::1\]):(\d{1,5})\/[A-Za-z0-9/_-]*$/;
const maxReturnToLength = 256;
/** 32 random bytes, base64url: the handle (RelayState) and the code. */
const tokenPattern = /^[A-Za-z0-9_-]{43}$/;
const challengePattern = /^[A-Za-z0-9_-]{43,128}$/;
/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const verifierPattern = /^[A-Za-z0-9._~-]{43,128}$/;
const codeKeyInfo = "aesp saml login code v1";

/** A login the CLI started: where to send the browser back, and the PKCE challenge it holds the verifier of. */
export interface PendingSamlLogin {
  readonly returnTo: string;
  readonly codeChallenge: string;
  readonly tenantId: string;
  readonly providerId: string;
}

/** What `/saml/token` hands the CLI. */
export interface RedeemedSamlTokens {
  readonly accessToken: string;
  readonly refreshToken: string;
  /** Epoch ms. */
  readonly expiresAt: number;
  readonly principalId: string;
  readonly tenantId: string;
}

/** The sealed content of a code; JSON field names are stable across Host versions. */
interface CodePayload {
  readonly challenge: string;
  readonly tenant_id: string;
  readonly provider_id: string;
  readonly principal_id: string;
  readonly access_token: string;
  readonly token_id: string;
  readonly expires_at: number;
  readonly refresh_token: string;
}

/**
 * Validates the `/login` query of a CLI sign-in.
 *
 * @returns null for a browser-only login (no `return_to`), else the return address and challenge
 * @throws EnterpriseError INVALID_ARGUMENT naming `return_to`, `code_challenge` or `code_challenge_method`
 */
export function parseLoginStart(query: { return_to?: unknown; code_challenge?: unknown; code_challenge_method?: unknown }): { returnTo: string; codeChallenge: string } | null {
  const returnTo = query.return_to;
  if (returnTo === undefined || returnTo === "") {
    // A challenge without a return address would be silently ignored; say so instead.
    if (query.code_challenge !== undefined) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "return_to", reason: "required with code_challenge" } });
    return null;
  }
  const port = typeof returnTo === "string" && returnTo.length <= maxReturnToLength ? loopbackReturn.exec(returnTo)?.[1] : undefined;
  if (typeof returnTo !== "string" || port === undefined || Number(port) < 1 || Number(port) > 65_535) {
    throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "return_to", expected: "http://127.0.0.1:<port>/<path> or http://[::1]:<port>/<path>" } });
  }
  const challenge = query.code_challenge;
  if (typeof challenge !== "string" || !challengePattern.test(challenge)) {
    throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "code_challenge", expected: "base64url(SHA-256(code_verifier)), 43 to 128 characters" } });
  }
  if (query.code_challenge_method !== "S256") throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "code_challenge_method", expected: "S256" } });
  return { returnTo, codeChallenge: challenge };
}

/** Starts, resumes and completes CLI logins through the shared one-time-value store. */
export class SamlLoginCodes {
  readonly #store: OneTimeValueStore;
  readonly #clock: Clock;
  readonly #tokens: TokenService;
  readonly #audit: AuditRecorder;

  constructor(deps: { store: OneTimeValueStore; clock: Clock; tokens: TokenService; audit: AuditRecorder }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#tokens = deps.tokens;
    this.#audit = deps.audit;
  }

  /** Remembers a started login; returns the handle to send as RelayState (43 bytes, under SAML's 80). */
  async begin(login: PendingSamlLogin): Promise<string> {
    const handle = randomBytes(32).toString("base64url");
    const value = JSON.stringify({ return_to: login.returnTo, code_challenge: login.codeChallenge, tenant_id: login.tenantId, provider_id: login.providerId });
    await this.#store.put(`saml-login:${digest(handle)}`, value, this.#clock.now() + loginRequestTtlMs);
    return handle;
  }

  /**
   * Claims the login a RelayState names, once. Done before the SAML response is verified, so a
   * response carrying a stale or forged RelayState does not consume its assertion.
   *
   * @throws EnterpriseError INVALID_ARGUMENT (not a handle), AUTHENTICATION_FAILED (`login_request_unknown`:
   *   unknown, expired, already answered, or started for another tenant or provider)
   */
  async resume(origin: RequestOrigin, handle: string, tenantId: string, providerId: string): Promise<PendingSamlLogin> {
    if (!tokenPattern.test(handle)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "RelayState", expected: "the handle /login sent" } });
    const key = digest(handle);
    const now = this.#clock.now();
    const first = await this.#store.claim(`saml-login-used:${key}`, now + loginRequestTtlMs, now);
    const stored = first ? await this.#store.get(`saml-login:${key}`, now) : null;
    if (stored !== null) await this.#store.delete(`saml-login:${key}`);
    const login = stored === null ? null : parsePendingLogin(stored);
    if (login === null || login.tenantId !== tenantId || login.providerId !== providerId) {
      await this.#refused(origin, tenantId, "saml", "login_request_unknown", { provider_id: providerId });
      throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "login_request_unknown" } });
    }
    return login;
  }

  /** Stores freshly issued tokens under a new one-time code bound to the login's challenge; returns the code. */
  async issue(login: PendingSamlLogin, issued: IssuedTokens): Promise<string> {
    if (issued.principal.tenantId !== login.tenantId) throw new EnterpriseError("INTERNAL_ERROR", { message: "Tokens issued in another tenant than the login's." });
    const code = randomBytes(32).toString("base64url");
    const key = `saml-code:${digest(code)}`;
    const payload: CodePayload = {
      challenge: login.codeChallenge,
      tenant_id: login.tenantId,
      provider_id: login.providerId,
      principal_id: issued.principal.principalId,
      access_token: issued.accessToken,
      token_id: issued.tokenId,
      expires_at: issued.expiresAt,
      refresh_token: issued.refreshToken,
    };
    await this.#store.put(key, sealPrivateKey(codeKey(code), Buffer.from(JSON.stringify(payload), "utf8"), key), this.#clock.now() + codeTtlMs);
    return code;
  }

  /**
   * Exchanges a code and its PKCE verifier for the tokens, once.
   *
   * @throws EnterpriseError INVALID_ARGUMENT (malformed code or verifier), AUTHENTICATION_FAILED
   *   (`code_already_used`, `invalid_code` for unknown or expired, `code_verifier_mismatch`)
   */
  async redeem(origin: RequestOrigin, code: unknown, verifier: unknown): Promise<RedeemedSamlTokens> {
    if (typeof code !== "string" || !tokenPattern.test(code)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "code" } });
    if (typeof verifier !== "string" || !verifierPattern.test(verifier)) {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "code_verifier", expected: "43 to 128 characters of A-Z a-z 0-9 - . _ ~" } });
    }
    const hashed = digest(code);
    const key = `saml-code:${hashed}`;
    const now = this.#clock.now();
    // One atomic claim across every Host decides the single redemption; the value is read after.
    if (!(await this.#store.claim(`saml-code-used:${hashed}`, now + codeTtlMs, now))) return this.#refuse(origin, "", "code_already_used");
    const sealed = await this.#store.get(key, now);
    if (sealed === null) return this.#refuse(origin, "", "invalid_code");
    await this.#store.delete(key);
    let payload: CodePayload;
    try {
      payload = JSON.parse(openPrivateKey(codeKey(code), sealed, key).toString("utf8")) as CodePayload;
    } catch {
      return this.#refuse(origin, "", "invalid_code");
    }
    const presented = createHash("sha256").update(verifier, "ascii").digest();
    const expected = Buffer.from(payload.challenge, "base64url");
    if (expected.length !== presented.length || !timingSafeEqual(expected, presented)) {
      await this.#revoke(origin, payload);
      return this.#refuse(origin, payload.tenant_id, "code_verifier_mismatch", payload.principal_id);
    }
    return { accessToken: payload.access_token, refreshToken: payload.refresh_token, expiresAt: payload.expires_at, principalId: payload.principal_id, tenantId: payload.tenant_id };
  }

  /** Ends tokens nobody will receive: those of a burnt code, or of a sign-in no CLI is waiting for. */
  async revokeUndelivered(origin: RequestOrigin, issued: IssuedTokens, reason: string): Promise<void> {
    await this.#revoke(
      origin,
      { tenant_id: issued.principal.tenantId, principal_id: issued.principal.principalId, token_id: issued.tokenId, expires_at: issued.expiresAt, refresh_token: issued.refreshToken },
      reason,
    );
  }

  async #revoke(origin: RequestOrigin, payload: Pick<CodePayload, "tenant_id" | "principal_id" | "token_id" | "expires_at" | "refresh_token">, reason = "saml_login_code_verifier_mismatch"): Promise<void> {
    await this.#tokens.revokeAccessToken(origin, { tenantId: payload.tenant_id, principalId: payload.principal_id, tokenId: payload.token_id, expiresAt: payload.expires_at }, reason, payload.principal_id);
    if (payload.refresh_token !== "") await this.#tokens.revokeRefreshToken(origin, payload.refresh_token, reason, payload.principal_id);
  }

  async #refuse(origin: RequestOrigin, tenantId: string, reason: string, principalId = ""): Promise<never> {
    await this.#refused(origin, tenantId, "saml_login_code", reason, {}, principalId);
    throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason } });
  }

  async #refused(origin: RequestOrigin, tenantId: string, method: string, reason: string, extra: Record<string, string>, principalId = ""): Promise<void> {
    await this.#audit.record({ eventType: "authn.failed", tenantId, principalId, action: "authenticate", outcome: "DENIED", origin, metadata: { method, reason, ...extra } });
  }
}

function digest(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("hex");
}

/**
 * The sealing key of one code: HKDF-SHA256 of the code. The code is 256 random bits and is
 * stored only as its hash, so whoever can open the tokens already holds the code.
 */
function codeKey(code: string): MasterKey {
  const key = Buffer.from(hkdfSync("sha256", Buffer.from(code, "utf8"), Buffer.alloc(0), codeKeyInfo, 32));
  // `source` only labels where a master key was loaded from; this key is never loaded or logged.
  return { key: createSecretKey(key), source: "env" };
}

function parsePendingLogin(stored: string): PendingSamlLogin | null {
  try {
    const value = JSON.parse(stored) as Record<string, unknown>;
    const { return_to: returnTo, code_challenge: codeChallenge, tenant_id: tenantId, provider_id: providerId } = value;
    if (typeof returnTo !== "string" || typeof codeChallenge !== "string" || typeof tenantId !== "string" || typeof providerId !== "string") return null;
    // Re-checked on the way out: only a loopback address is ever a redirect target.
    if (!loopbackReturn.test(returnTo)) return null;
    return { returnTo, codeChallenge, tenantId, providerId };
  } catch {
    return null;
  }
}
