import type { PrincipalType } from "../records.ts";

/** The claims the Host puts in (and trusts from) its own access tokens. */
export interface AccessClaims {
  /** Principal id. */
  readonly sub: string;
  /** Tenant id. */
  readonly tid: string;
  readonly typ: PrincipalType;
  /** Token id, for revocation and audit. */
  readonly jti: string;
  /** Epoch seconds. */
  readonly iat: number;
  /**
   * Issue time in epoch milliseconds, when the issuer states it (the Host's tokens do, as
   * `iat_ms`): lets a token issued just after a revocation in the same second stay valid.
   */
  readonly issuedAtMs?: number;
  readonly exp: number;
  /** How the principal authenticated (RFC 8176 `amr` values). */
  readonly amr: readonly string[];
  /** Authentication context class of the sign-in; "" when none. */
  readonly acr: string;
  /** The identity provider of the sign-in; "" for Host credentials. */
  readonly idp: string;
  /** The refresh-token family (sign-in) the token was issued from; revoking the family revokes it. */
  readonly family?: string;
}

/** What {@link AccessTokens.issue} puts in a token. */
export interface AccessTokenInput {
  readonly principalId: string;
  readonly tenantId: string;
  readonly principalType: PrincipalType;
  readonly ttlSeconds: number;
  readonly amr: readonly string[];
  readonly acr?: string;
  readonly idp?: string;
  /** The refresh-token family the token belongs to, when issued with one. */
  readonly family?: string;
}

/**
 * Port: issues and verifies the Host's short-lived access tokens (EdDSA JWTs in
 * the host, via `jose`). `verify` throws `AUTHENTICATION_FAILED` for anything
 * forged, malformed or of the wrong audience, and `TOKEN_EXPIRED` for expiry.
 */
export interface AccessTokens {
  issue(input: AccessTokenInput): Promise<{ token: string; jti: string; expiresAt: number }>;
  verify(token: string): Promise<AccessClaims>;
}

/** The revoked-token id under which a refresh-token family's access tokens are revoked. */
export function familyRevocationId(familyId: string): string {
  return `family:${familyId}`;
}
