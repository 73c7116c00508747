import type { Classification, PrincipalType } from "../records.ts";

/**
 * Who is calling, in which tenant, with what rights: built once per request
 * from a verified credential and the principal's current record, so the rest of
 * the Host never knows how the caller signed in. Mirrors `aesp.v1.EnterpriseSecurityContext`.
 */
export interface SecurityContext {
  readonly principalId: string;
  readonly tenantId: string;
  readonly principalType: PrincipalType;
  readonly displayName: string;
  /** Roles bound to the principal (not expanded). */
  readonly roles: readonly string[];
  /** Effective permissions: the roles' (with inheritance) plus direct grants. */
  readonly permissions: readonly string[];
  readonly clearance: Classification;
  readonly attributes: Readonly<Record<string, string>>;
  /** Claims of the presented token that policies may read (never the token itself). */
  readonly claims: Readonly<Record<string, string>>;
  readonly tokenId: string;
  readonly tokenExpiresAt: number;
}

/** Where a request came from; carried into audit and policy input. */
export interface RequestOrigin {
  readonly sourceIp: string;
  readonly userAgent: string;
  readonly correlationId: string;
}
