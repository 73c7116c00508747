import { createPublicKey, type KeyObject } from "node:crypto";
import { errors as joseErrors, exportJWK, jwtVerify, SignJWT } from "jose";
import type { JWK } from "jose";
import { EnterpriseError } from "@aesp/core";
import type { AccessClaims, AccessTokenInput, AccessTokens, Clock, IdSource, KeyMaterialStore, PrincipalType } from "@aesp/core";
import { loadOrCreateKey, openKeyRecord } from "../crypto/key-material.ts";
import type { MasterKey } from "../crypto/master-key.ts";

/** A signing key of the token issuer. */
export interface TokenSigningKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

const principalTypes: readonly PrincipalType[] = ["USER", "SERVICE_ACCOUNT", "SYSTEM_ACCOUNT"];
const maxCachedTokens = 20_000;
/** Unknown key ids trigger a reload of the key ring at most this often (another Host may have rotated). */
const reloadCooldownMs = 1000;

/**
 * The access-token signing keys, shared by every Host through the key store: the newest
 * unretired key signs; every stored key verifies, so tokens signed before a rotation stay valid
 * until they expire.
 */
export class TokenSigningKeys {
  readonly #keys: KeyMaterialStore;
  readonly #masterKey: MasterKey;
  readonly #clock: Clock;
  #signing: TokenSigningKey;
  #verifying = new Map<string, KeyObject>();
  #lastReload = 0;

  private constructor(keys: KeyMaterialStore, masterKey: MasterKey, clock: Clock, signing: TokenSigningKey) {
    this.#keys = keys;
    this.#masterKey = masterKey;
    this.#clock = clock;
    this.#signing = signing;
  }

  /** Loads the key ring, creating the first key on a new store. */
  static async open(keys: KeyMaterialStore, masterKey: MasterKey, clock: Clock): Promise<TokenSigningKeys> {
    const current = await loadOrCreateKey(keys, masterKey, "token-signing", "Ed25519", clock);
    const ring = new TokenSigningKeys(keys, masterKey, clock, { keyId: current.record.keyId, privateKey: current.privateKey, publicKey: current.publicKey });
    await ring.reload();
    return ring;
  }

  get signing(): TokenSigningKey {
    return this.#signing;
  }

  /** The verification key for `kid`, reloading the ring once when it is unknown. */
  async verificationKey(kid: string): Promise<KeyObject | undefined> {
    const known = this.#verifying.get(kid);
    if (known !== undefined) return known;
    if (this.#clock.now() - this.#lastReload < reloadCooldownMs) return undefined;
    await this.reload();
    return this.#verifying.get(kid);
  }

  /** Re-reads the store: picks up keys another Host created and a newer current key. */
  async reload(): Promise<void> {
    this.#lastReload = this.#clock.now();
    const records = await this.#keys.list("token-signing");
    this.#verifying = new Map(records.map((r) => [r.keyId, createPublicKey(r.publicKeyPem)]));
    const current = await this.#keys.current("token-signing");
    if (current !== null && current.keyId !== this.#signing.keyId) {
      const opened = openKeyRecord(current, this.#masterKey, "Ed25519");
      this.#signing = { keyId: current.keyId, privateKey: opened.privateKey, publicKey: opened.publicKey };
    }
  }

  /** Retires the current key and makes a new one current. */
  async rotate(): Promise<{ keyId: string; previousKeyId: string }> {
    const previousKeyId = this.#signing.keyId;
    await this.#keys.retire(previousKeyId, this.#clock.now());
    const next = await loadOrCreateKey(this.#keys, this.#masterKey, "token-signing", "Ed25519", this.#clock);
    this.#signing = { keyId: next.record.keyId, privateKey: next.privateKey, publicKey: next.publicKey };
    await this.reload();
    return { keyId: next.record.keyId, previousKeyId };
  }

  /** The public JWKS (RFC 7517) of every key that may still verify a token. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const keys: JWK[] = [];
    for (const [kid, publicKey] of this.#verifying) keys.push({ ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" });
    return { keys };
  }
}

/**
 * Host-issued access tokens: EdDSA (Ed25519) JWTs signed and verified with `jose`.
 *
 * Verification pins the algorithm (no `none`, no HS*), the issuer, the audience, the `typ` and
 * the key id; verified tokens are cached until expiry so the hot path pays for one signature
 * check per token, not per call (revocation is checked per call by the Authenticator).
 */
export class JwtAccessTokens implements AccessTokens {
  readonly #issuer: string;
  readonly #audience: string;
  readonly #keys: TokenSigningKeys;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #verified = new Map<string, AccessClaims>();

  constructor(deps: { issuer: string; audience: string; keys: TokenSigningKeys; clock: Clock; ids: IdSource }) {
    this.#issuer = deps.issuer;
    this.#audience = deps.audience;
    this.#keys = deps.keys;
    this.#clock = deps.clock;
    this.#ids = deps.ids;
  }

  /** The `iss` of the Host's tokens. */
  get issuer(): string {
    return this.#issuer;
  }

  async issue(input: AccessTokenInput): Promise<{ token: string; jti: string; expiresAt: number }> {
    const issuedAtMs = this.#clock.now();
    const iat = Math.floor(issuedAtMs / 1000);
    const exp = iat + input.ttlSeconds;
    const jti = this.#ids.newId("tok");
    const signing = this.#keys.signing;
    const claims: Record<string, unknown> = { tid: input.tenantId, typ: input.principalType, amr: [...input.amr], iat_ms: issuedAtMs };
    if (input.acr !== undefined && input.acr !== "") claims["acr"] = input.acr;
    if (input.idp !== undefined && input.idp !== "") claims["idp"] = input.idp;
    if (input.family !== undefined && input.family !== "") claims["fam"] = input.family;
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: "EdDSA", kid: signing.keyId, typ: "at+jwt" })
      .setIssuer(this.#issuer)
      .setAudience(this.#audience)
      .setSubject(input.principalId)
      .setJti(jti)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(signing.privateKey);
    return { token, jti, expiresAt: exp * 1000 };
  }

  async verify(token: string): Promise<AccessClaims> {
    const nowSeconds = this.#clock.now() / 1000;
    const cached = this.#verified.get(token);
    if (cached !== undefined) {
      if (cached.exp > nowSeconds) return cached;
      this.#verified.delete(token);
      throw new EnterpriseError("TOKEN_EXPIRED");
    }
    if (token.length > 8192) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "token_too_large" } });
    let payload;
    try {
      ({ payload } = await jwtVerify(token, async (header) => this.#keyFor(header.kid), {
        issuer: this.#issuer,
        audience: this.#audience,
        algorithms: ["EdDSA"],
        typ: "at+jwt",
        currentDate: new Date(this.#clock.now()),
        requiredClaims: ["sub", "jti", "exp", "iat"],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new EnterpriseError("TOKEN_EXPIRED", { cause: err });
      if (err instanceof EnterpriseError) throw err;
      throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "invalid_token" }, cause: err });
    }
    const { sub, jti, exp, iat } = payload;
    const tid = payload["tid"];
    const typ = payload["typ"];
    const amr = payload["amr"];
    const acr = payload["acr"] ?? "";
    const idp = payload["idp"] ?? "";
    const issuedAtMs = payload["iat_ms"];
    const family = payload["fam"];
    if (
      typeof sub !== "string" || typeof jti !== "string" || typeof exp !== "number" || typeof iat !== "number" ||
      typeof tid !== "string" || !principalTypes.includes(typ as PrincipalType) || typeof acr !== "string" || typeof idp !== "string" ||
      !Array.isArray(amr) || !amr.every((a): a is string => typeof a === "string") ||
      // iat_ms must agree with iat, so it cannot move a token's issue time out of its second.
      (issuedAtMs !== undefined && (typeof issuedAtMs !== "number" || Math.floor(issuedAtMs / 1000) !== iat)) ||
      (family !== undefined && typeof family !== "string")
    ) {
      throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "invalid_claims" } });
    }
    const claims: AccessClaims = { sub, tid, typ: typ as PrincipalType, jti, iat, exp, amr, acr, idp, ...(typeof issuedAtMs === "number" ? { issuedAtMs } : {}), ...(typeof family === "string" ? { family } : {}) };
    if (this.#verified.size >= maxCachedTokens) this.#verified.clear();
    this.#verified.set(token, claims);
    return claims;
  }

  async #keyFor(kid: string | undefined): Promise<KeyObject> {
    const key = kid === undefined ? undefined : await this.#keys.verificationKey(kid);
    if (key === undefined) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "unknown_key_id" } });
    return key;
  }
}
