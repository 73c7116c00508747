import type { KeyObject } from "node:crypto";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { EnterpriseError } from "@aesp/core";
import type { AccessClaims, AccessTokens, Clock, IdSource, PrincipalType } from "@aesp/core";

/** A signing key of the token issuer; older keys stay listed for verification. */
export interface TokenSigningKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

const principalTypes: readonly PrincipalType[] = ["USER", "SERVICE_ACCOUNT", "SYSTEM_ACCOUNT"];
const maxCachedTokens = 20_000;

/**
 * Host-issued access tokens: EdDSA (Ed25519) JWTs signed and verified with `jose`.
 *
 * Verification pins the algorithm (no `none`, no HS*), the issuer, the audience and
 * the key id; verified tokens are cached until expiry so the hot path pays for one
 * signature check per token, not per call.
 */
export class JwtAccessTokens implements AccessTokens {
  readonly #issuer: string;
  readonly #audience: string;
  readonly #signing: TokenSigningKey;
  readonly #verifying: ReadonlyMap<string, KeyObject>;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #verified = new Map<string, AccessClaims>();

  constructor(deps: { issuer: string; audience: string; signing: TokenSigningKey; verifying: readonly TokenSigningKey[]; clock: Clock; ids: IdSource }) {
    this.#issuer = deps.issuer;
    this.#audience = deps.audience;
    this.#signing = deps.signing;
    this.#verifying = new Map([deps.signing, ...deps.verifying].map((k) => [k.keyId, k.publicKey]));
    this.#clock = deps.clock;
    this.#ids = deps.ids;
  }

  async issue(input: { principalId: string; tenantId: string; principalType: PrincipalType; ttlSeconds: number; amr: readonly string[] }): Promise<{ token: string; jti: string; expiresAt: number }> {
    const iat = Math.floor(this.#clock.now() / 1000);
    const exp = iat + input.ttlSeconds;
    const jti = this.#ids.newId("tok");
    const token = await new SignJWT({ tid: input.tenantId, typ: input.principalType, amr: [...input.amr] })
      .setProtectedHeader({ alg: "EdDSA", kid: this.#signing.keyId, typ: "at+jwt" })
      .setIssuer(this.#issuer)
      .setAudience(this.#audience)
      .setSubject(input.principalId)
      .setJti(jti)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.#signing.privateKey);
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
      ({ payload } = await jwtVerify(token, (header) => this.#keyFor(header.kid), {
        issuer: this.#issuer,
        audience: this.#audience,
        algorithms: ["EdDSA"],
        typ: "at+jwt",
        currentDate: new Date(this.#clock.now()),
        requiredClaims: ["sub", "jti", "exp", "iat"],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new EnterpriseError("TOKEN_EXPIRED", { cause: err });
      throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "invalid_token" }, cause: err });
    }
    const { sub, jti, exp, iat } = payload;
    const tid = payload["tid"];
    const typ = payload["typ"];
    const amr = payload["amr"];
    if (
      typeof sub !== "string" || typeof jti !== "string" || typeof exp !== "number" || typeof iat !== "number" ||
      typeof tid !== "string" || !principalTypes.includes(typ as PrincipalType) ||
      !Array.isArray(amr) || !amr.every((a): a is string => typeof a === "string")
    ) {
      throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "invalid_claims" } });
    }
    const claims: AccessClaims = { sub, tid, typ: typ as PrincipalType, jti, iat, exp, amr };
    if (this.#verified.size >= maxCachedTokens) this.#verified.clear();
    this.#verified.set(token, claims);
    return claims;
  }

  #keyFor(kid: string | undefined): KeyObject {
    const key = kid === undefined ? undefined : this.#verifying.get(kid);
    if (key === undefined) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "unknown_key_id" } });
    return key;
  }
}
