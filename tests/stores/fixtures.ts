/**
 * Record builders for the store conformance suite: every field set, nullable
 * fields null unless a test says otherwise, ids unique per call.
 */
import { createHash, randomUUID } from "node:crypto";
import type {
  BreakGlassGrantRecord,
  ApiKeyRecord,
  ApprovalRequestRecord,
  AuditEventDraft,
  AuditHead,
  AuditRecord,
  CertificateRecord,
  ClientCredentialRecord,
  ContractRecord,
  GroupRecord,
  IdentityProviderRecord,
  JoinTokenRecord,
  KeyMaterialRecord,
  PolicyRecord,
  PrincipalRecord,
  RefreshTokenRecord,
  RevokedTokenRecord,
  RoleRecord,
  RuntimeRegistrationRecord,
  SessionRecord,
  TenantRecord,
  ToolContractDefinition,
} from "@aesp/core";

/** A short random suffix, so tests on one database never collide. */
export function unique(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

/** A tenant with a unique id. */
export function tenantRecord(overrides: Partial<TenantRecord> = {}): TenantRecord {
  return { tenantId: unique("ten"), displayName: "Acme Corp", status: "ACTIVE", createdAt: 1_700_000_000_000, policyEngine: "cel", ...overrides };
}

/** An ACTIVE user of `tenantId` created in the Host, with roles, permissions and attributes set, never expiring. */
export function principalRecord(tenantId: string, overrides: Partial<PrincipalRecord> = {}): PrincipalRecord {
  return {
    tenantId,
    principalId: unique("usr"),
    type: "USER",
    displayName: "Ada Lovelace",
    description: "analyst",
    roles: ["analyst", "viewer"],
    permissions: ["tools:invoke"],
    clearance: "confidential",
    status: "ACTIVE",
    attributes: { department: "research", "cost-center": "42" },
    createdAt: 1_700_000_000_123,
    createdBy: "usr_admin",
    expiresAt: null,
    userName: "",
    providerId: "",
    externalSubject: "",
    groups: [],
    syncedRoles: [],
    syncedAt: 0,
    tokensValidAfter: 0,
    revision: 1,
    ...overrides,
  };
}

/** An unrevoked, non-expiring API key of `principalId`. */
export function apiKeyRecord(tenantId: string, principalId: string, overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    tenantId,
    keyId: unique("key"),
    principalId,
    secretHash: "scrypt$16384$8$1$c2FsdA$aGFzaA",
    createdAt: 1_700_000_000_000,
    expiresAt: null,
    revokedAt: null,
    ...overrides,
  };
}

/** A live session of `tenantId` expiring at 10,000 ms. */
export function sessionRecord(tenantId: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    tenantId,
    sessionId: unique("ses"),
    principalId: "usr_1",
    createdAt: 1_000,
    expiresAt: 10_000,
    destroyedAt: null,
    metadata: { client: "sdk-ts", "user-agent": "aesp/1" },
    ...overrides,
  };
}

/** A definition whose parameter properties are deliberately not in sorted key order. */
export function contractDefinition(name: string, overrides: Partial<ToolContractDefinition> = {}): ToolContractDefinition {
  return {
    name,
    contractVersion: "1.0.0",
    description: "Weather for a city — «ünïcødé» and emoji 🌦",
    parameters: {
      type: "OBJECT",
      properties: {
        zeta_city: { type: "STRING", minLength: 1, maxLength: 80, description: "City name" },
        a: { type: "INTEGER", minimum: 1, maximum: 14 },
        units: { type: "STRING", enum: ["metric", "imperial"], nullable: true },
        tags: { type: "ARRAY", items: { type: "STRING" }, maxItems: 5 },
        api_key: { type: "STRING", secret: true },
      },
      required: ["zeta_city"],
      additionalProperties: false,
    },
    returnType: { type: "OBJECT", properties: { temperature: { type: "NUMBER" } }, additionalProperties: true },
    supportsStreaming: false,
    securityClassification: "internal",
    requiredRoles: ["analyst"],
    requiredPermissions: ["weather:read"],
    complianceTags: ["GDPR"],
    riskAssessment: "LOW",
    governanceMetadata: { owner: "team-weather" },
    ...overrides,
  };
}

/** A DRAFT contract `<unique name>@1.0.0` of `tenantId`. */
export function contractRecord(tenantId: string, overrides: Partial<ContractRecord> = {}): ContractRecord {
  const name = unique("get_weather");
  return {
    tenantId,
    contractId: `${name}@1.0.0`,
    definition: contractDefinition(name),
    status: "DRAFT",
    createdBy: "usr_author",
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    approvedBy: null,
    approvedAt: null,
    revision: 1,
    ...overrides,
  };
}

/** Version 1 of a DRAFT, enabled DENY policy of `tenantId`. */
export function policyRecord(tenantId: string, overrides: Partial<PolicyRecord> = {}): PolicyRecord {
  return {
    tenantId,
    policyId: unique("pol"),
    name: "deny-large-amounts",
    description: "Denies payments above 1000",
    version: 1,
    rule: { condition: "request.amount > 1000", effect: "DENY", actions: ["invoke"], parameters: { limit: "1000" } },
    appliesTo: ["contract:pay", "role:clerk"],
    enabled: true,
    status: "DRAFT",
    createdBy: "usr_author",
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    revision: 1,
    ...overrides,
  };
}

/** A custom role of `tenantId` with a unique name. */
export function roleRecord(tenantId: string, overrides: Partial<RoleRecord> = {}): RoleRecord {
  return {
    tenantId,
    name: unique("role"),
    description: "Reads weather",
    permissions: ["weather:read", "tools:*"],
    inherits: ["viewer"],
    builtIn: false,
    createdAt: 1_700_000_000_000,
    ...overrides,
  };
}

/** A PENDING approval request of `tenantId` for a contract. */
export function approvalRecord(tenantId: string, overrides: Partial<ApprovalRequestRecord> = {}): ApprovalRequestRecord {
  return {
    tenantId,
    approvalRequestId: unique("apr"),
    artifactType: "TOOL_CONTRACT",
    artifactId: "get_weather@1.0.0",
    requesterId: "usr_author",
    justification: "New tool",
    requiredApprovers: ["role:security-officer", "principal:usr_ciso"],
    status: "PENDING",
    createdAt: 1_700_000_000_000,
    expiresAt: 1_700_086_400_000,
    decidedBy: null,
    decidedAt: null,
    comments: "",
    metadata: { ticket: "SEC-1" },
    revision: 1,
    ...overrides,
  };
}

/** A runtime registration of `tenantId` with a unique runtime id. */
export function runtimeRecord(tenantId: string, overrides: Partial<RuntimeRegistrationRecord> = {}): RuntimeRegistrationRecord {
  return {
    tenantId,
    runtimeId: unique("rt"),
    allowedContracts: ["get_weather", "*"],
    createdBy: "usr_admin",
    createdAt: 1_700_000_000_000,
    ...overrides,
  };
}

/** An unused join token of `tenantId`. */
export function joinTokenRecord(tenantId: string, overrides: Partial<JoinTokenRecord> = {}): JoinTokenRecord {
  return {
    tenantId,
    tokenId: unique("jt"),
    secretHash: "scrypt$16384$8$1$c2FsdA$aGFzaA",
    runtimeId: "rt_weather",
    createdBy: "usr_admin",
    createdAt: 1_700_000_000_000,
    expiresAt: 1_700_000_600_000,
    usedAt: null,
    ...overrides,
  };
}

/** An unrevoked certificate of `tenantId` with a random serial. */
export function certificateRecord(tenantId: string, overrides: Partial<CertificateRecord> = {}): CertificateRecord {
  return {
    tenantId,
    serial: randomUUID().replaceAll("-", ""),
    runtimeId: "rt_weather",
    spiffeId: `spiffe://aesp.local/tenant/${tenantId}/runtime/rt_weather`,
    notBefore: 1_700_000_000_000,
    notAfter: 1_700_086_400_000,
    certificatePem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    revokedAt: null,
    revocationReason: null,
    ...overrides,
  };
}

/** An unused, unrevoked refresh token of `principalId` in a family of its own. */
export function refreshTokenRecord(tenantId: string, principalId: string, overrides: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord {
  return {
    tenantId,
    tokenId: unique("rt"),
    familyId: unique("fam"),
    principalId,
    secretHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    amr: ["pwd", "mfa"],
    acr: "urn:aesp:acr:mfa",
    createdAt: 1_700_000_000_000,
    expiresAt: 1_700_086_400_000,
    usedAt: null,
    revokedAt: null,
    ...overrides,
  };
}

/** A revoked access token of `principalId`. */
export function revokedTokenRecord(tenantId: string, principalId: string, overrides: Partial<RevokedTokenRecord> = {}): RevokedTokenRecord {
  return {
    tenantId,
    tokenId: unique("jti"),
    principalId,
    expiresAt: 1_700_000_900_000,
    revokedAt: 1_700_000_100_000,
    reason: "logout",
    ...overrides,
  };
}

/** An unrevoked public-key credential of `principalId` with a unique thumbprint. */
export function clientCredentialRecord(tenantId: string, principalId: string, overrides: Partial<ClientCredentialRecord> = {}): ClientCredentialRecord {
  return {
    tenantId,
    credentialId: unique("cred"),
    principalId,
    kind: "public_key",
    material: '{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}',
    thumbprint: randomUUID().replaceAll("-", ""),
    createdAt: 1_700_000_000_000,
    expiresAt: null,
    revokedAt: null,
    ...overrides,
  };
}

/** An enabled OIDC provider of `tenantId` with nested settings and a full claim mapping. */
export function identityProviderRecord(tenantId: string, overrides: Partial<IdentityProviderRecord> = {}): IdentityProviderRecord {
  return {
    tenantId,
    providerId: unique("idp").replaceAll("_", "-"),
    kind: "oidc",
    displayName: "Corporate SSO — «ünïcødé»",
    enabled: true,
    settings: {
      issuer: "https://127.0.0.1:8443/realms/acme",
      clientId: "aesp",
      clientSecret: "v1.sealed.c2VjcmV0",
      scopes: ["openid", "profile", "email"],
      pkce: true,
      clockSkewSeconds: 30,
    },
    mapping: {
      groupsClaim: "groups",
      groupRoles: { "cn=admins": ["admin"], engineers: ["developer", "viewer"] },
      rolesClaim: "roles",
      allowedRoles: ["admin", "developer", "viewer"],
      defaultRoles: ["viewer"],
      clearanceClaim: "clearance",
      defaultClearance: "internal",
      maxClearance: "confidential",
      attributes: { department: "dept" },
    },
    jitProvisioning: true,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    updatedBy: "usr_admin",
    revision: 1,
    ...overrides,
  };
}

/** A group of `tenantId` with the given members. */
export function groupRecord(tenantId: string, members: string[] = [], overrides: Partial<GroupRecord> = {}): GroupRecord {
  return {
    tenantId,
    groupId: unique("grp"),
    displayName: unique("Engineering"),
    externalId: "ext-42",
    members,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    revision: 1,
    ...overrides,
  };
}

/** A current (unretired) audit-signing key with a unique id. */
export function keyMaterialRecord(overrides: Partial<KeyMaterialRecord> = {}): KeyMaterialRecord {
  return {
    keyId: unique("kid"),
    purpose: "audit-signing",
    algorithm: "Ed25519",
    publicKeyPem: "-----BEGIN PUBLIC KEY-----\nMCow\n-----END PUBLIC KEY-----\n",
    encryptedPrivateKey: "v1.aXY.Y2lwaGVy",
    certificatePem: null,
    createdAt: 1_700_000_000_000,
    retiredAt: null,
    ...overrides,
  };
}

/** A platform audit draft (empty tenant) with unique event and correlation ids. */
export function auditDraft(overrides: Partial<AuditEventDraft> = {}): AuditEventDraft {
  return {
    eventId: unique("evt"),
    timestampMs: 1_700_000_000_000,
    eventType: "tool.invoked",
    tenantId: "",
    principalId: "usr_1",
    sessionId: "ses_1",
    resource: "contract:get_weather@1.0.0",
    action: "invoke",
    outcome: "SUCCESS",
    sourceIp: "127.0.0.1",
    userAgent: "aesp-test",
    correlationId: unique("cor"),
    riskScore: "0.1",
    policyViolations: [],
    // Keys deliberately unsorted and of different lengths: PostgreSQL jsonb would reorder them.
    metadata: { zz: "last", a: "first", "mid-key": "ünïcødé ✓" },
    ...overrides,
  };
}

function sha256Hex(...parts: Buffer[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return hash.digest("hex");
}

/** The leaf hash the test link function assigns: SHA-256 of the draft's JSON. */
export function leafHashOf(draft: AuditEventDraft): string {
  return sha256Hex(Buffer.from(JSON.stringify(draft)));
}

/** SHA-256(previous chain hash || leaf hash), over the raw bytes. */
export function chainHashOf(previousChainHex: string, leafHex: string): string {
  return sha256Hex(Buffer.from(previousChainHex, "hex"), Buffer.from(leafHex, "hex"));
}

/**
 * A real hash-chaining `link`: numbers the drafts from the head and chains them.
 *
 * @param drafts - the batch.
 * @param seen - receives every head `link` is called with.
 */
export function chainLink(drafts: readonly AuditEventDraft[], seen: AuditHead[] = []): (head: AuditHead) => AuditRecord[] {
  return (head) => {
    seen.push({ ...head });
    let previous = head.chainHash;
    return drafts.map((draft, offset) => {
      const leafHash = leafHashOf(draft);
      const chainHash = chainHashOf(previous, leafHash);
      previous = chainHash;
      return { ...draft, seq: head.size + offset, leafHash, chainHash };
    });
  };
}

/** 64 hex zeros: the chain hash of the empty log. */
export const EMPTY_CHAIN_HASH = "0".repeat(64);

/** An ACTIVE break-glass grant of `tenantId` for a unique principal, limited to one contract, unused and awaiting review. */
export function breakGlassGrantRecord(tenantId: string, overrides: Partial<BreakGlassGrantRecord> = {}): BreakGlassGrantRecord {
  return {
    tenantId,
    grantId: unique("bgl"),
    principalId: unique("usr"),
    justification: "INC-4711: payments outage, the after-hours policy blocks the fix",
    contracts: ["issue_refund", "get_weather"],
    status: "ACTIVE",
    activatedAt: 1_700_000_000_000,
    expiresAt: 1_700_001_800_000,
    closedAt: null,
    closedBy: "",
    closeReason: "",
    firstUsedAt: null,
    reviewStatus: "PENDING",
    reviewDueAt: 1_700_088_200_000,
    reviewedBy: null,
    reviewedAt: null,
    reviewComments: "",
    reviewOverdueAlertedAt: null,
    revision: 1,
    ...overrides,
  };
}
