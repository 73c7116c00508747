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
  readonly exp: number;
  /** How the principal authenticated (RFC 8176 `amr` values). */
  readonly amr: readonly string[];
}

/**
 * Port: issues and verifies the Host's short-lived access tokens (EdDSA JWTs in
 * the host, via `jose`). `verify` throws `AUTHENTICATION_FAILED` for anything
 * forged, malformed or of the wrong audience, and `TOKEN_EXPIRED` for expiry.
 */
export interface AccessTokens {
  issue(input: { principalId: string; tenantId: string; principalType: PrincipalType; ttlSeconds: number; amr: readonly string[] }): Promise<{ token: string; jti: string; expiresAt: number }>;
  verify(token: string): Promise<AccessClaims>;
}
