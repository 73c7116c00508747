/**
 * The persisted shape of every record the Host stores.
 *
 * Every tenant-owned record carries `tenantId`; store adapters bind it at
 * construction (see {@link TenantStores}) so no read can forget the tenant.
 * Times are Unix epoch milliseconds. Records are plain JSON-compatible data.
 */

/** Ordered sensitivity levels: public < internal < confidential < restricted. */
export type Classification = "public" | "internal" | "confidential" | "restricted";

export type TenantStatus = "ACTIVE" | "SUSPENDED";

/** The policy languages a tenant can choose (see docs/guides/policy-engines.md). */
export type PolicyEngineId = "cel" | "cedar";

export interface TenantRecord {
  tenantId: string;
  displayName: string;
  status: TenantStatus;
  createdAt: number;
  /** The language the tenant's policy conditions are written in and evaluated with. */
  policyEngine: PolicyEngineId;
}

export type PrincipalType = "USER" | "SERVICE_ACCOUNT" | "SYSTEM_ACCOUNT";
export type PrincipalStatus = "ACTIVE" | "DISABLED" | "REVOKED";

export interface PrincipalRecord {
  tenantId: string;
  principalId: string;
  type: PrincipalType;
  displayName: string;
  description: string;
  roles: string[];
  /** Permissions granted directly, in addition to those of the roles. */
  permissions: string[];
  clearance: Classification;
  status: PrincipalStatus;
  attributes: Record<string, string>;
  createdAt: number;
  createdBy: string;
  /** null: never expires. */
  expiresAt: number | null;
  /** Login name (SCIM `userName`, `preferred_username`, LDAP uid); "" when none. */
  userName: string;
  /** The identity provider that owns the account; "" for principals created in the Host. */
  providerId: string;
  /** The account's stable id at that provider (OIDC `sub`, SAML NameID, LDAP entryUUID, SCIM id). */
  externalSubject: string;
  /** Directory groups as of the last synchronisation with the provider. */
  groups: string[];
  /** Roles the provider's claim mapping granted at the last synchronisation; replaced at each one. */
  syncedRoles: string[];
  /** Epoch ms of the last synchronisation; 0 when never. */
  syncedAt: number;
  /** Tokens issued before this instant are refused: raised to revoke every token at once. */
  tokensValidAfter: number;
  revision: number;
}

/** A secret credential of a principal; the secret itself is never stored, only its scrypt hash. */
export interface ApiKeyRecord {
  tenantId: string;
  keyId: string;
  principalId: string;
  /** `scrypt$N$r$p$salt$hash`, base64url parts. */
  secretHash: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

export interface SessionRecord {
  tenantId: string;
  sessionId: string;
  principalId: string;
  createdAt: number;
  expiresAt: number;
  destroyedAt: number | null;
  metadata: Record<string, string>;
}

/** The lifecycle of governed artifacts (contracts, policies). */
export type ArtifactStatus = "DRAFT" | "PENDING_APPROVAL" | "ACTIVE" | "DEPRECATED" | "RETIRED" | "REJECTED";

/** ADM `SchemaType`, upper case as in ADM JSON. */
export type AdmSchemaType = "STRING" | "NUMBER" | "INTEGER" | "BOOLEAN" | "ARRAY" | "OBJECT";

/**
 * ADM `Schema` (an OpenAPI-3.0-like subset) plus the few constraint keywords the
 * Host adds. `secret` marks a value that must never reach logs or audit.
 */
export interface AdmSchema {
  type: AdmSchemaType;
  description?: string;
  properties?: Record<string, AdmSchema>;
  required?: string[];
  items?: AdmSchema;
  enum?: string[];
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minItems?: number;
  maxItems?: number;
  /** OBJECT only: whether keys not in `properties` are allowed. Default false (rejected). */
  additionalProperties?: boolean;
  secret?: boolean;
}

/** What an author submits: an EnterpriseToolContract without its governance state. */
export interface ToolContractDefinition {
  name: string;
  contractVersion: string;
  description: string;
  parameters: AdmSchema;
  /** null: any JSON result is accepted. */
  returnType: AdmSchema | null;
  supportsStreaming: boolean;
  securityClassification: Classification;
  requiredRoles: string[];
  requiredPermissions: string[];
  complianceTags: string[];
  riskAssessment: "LOW" | "MEDIUM" | "HIGH";
  governanceMetadata: Record<string, string>;
}

export interface ContractRecord {
  tenantId: string;
  /** `name@version`. */
  contractId: string;
  definition: ToolContractDefinition;
  status: ArtifactStatus;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  approvedBy: string | null;
  approvedAt: number | null;
  revision: number;
}

/**
 * What a matching rule does: ALLOW and DENY decide, AUDIT only flags, REQUIRE_APPROVAL holds the
 * call until a human approves it (see core/governance/call-approvals.ts).
 */
export type PolicyEffect = "ALLOW" | "DENY" | "AUDIT" | "REQUIRE_APPROVAL";

export interface PolicyRuleDefinition {
  /** CEL expression, evaluated over the documented variables; true means the rule applies. */
  condition: string;
  effect: PolicyEffect;
  actions: string[];
  parameters: Record<string, string>;
}

export interface PolicyRecord {
  tenantId: string;
  policyId: string;
  name: string;
  description: string;
  /** Monotonic per policyId; a new version is a new record. */
  version: number;
  rule: PolicyRuleDefinition;
  /** Targets: `contract:<name>`, `role:<name>`, `tenant:*`; empty means everything in the tenant. */
  appliesTo: string[];
  enabled: boolean;
  status: ArtifactStatus;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  revision: number;
}

export interface RoleRecord {
  tenantId: string;
  name: string;
  description: string;
  /** `resource:action` strings; `*` wildcards allowed per segment. */
  permissions: string[];
  inherits: string[];
  builtIn: boolean;
  createdAt: number;
}

/**
 * A role bound to a directory group of the tenant: every principal whose `groups` (synchronised
 * from LDAP, OIDC, SAML or SCIM) name the group holds the role.
 */
export interface GroupRoleBindingRecord {
  tenantId: string;
  /** The group's name exactly as it appears in {@link PrincipalRecord.groups}. */
  group: string;
  role: string;
  createdAt: number;
  /** Principal id of whoever bound it. */
  createdBy: string;
}

/** What an approval request is about; TOOL_CALL requests are opened by REQUIRE_APPROVAL policies only. */
export type ArtifactType = "TOOL_CONTRACT" | "POLICY" | "TOOL_CALL";
export type ApprovalStatus = "PENDING" | "APPROVED" | "REJECTED" | "EXPIRED" | "CANCELLED";

export interface ApprovalRequestRecord {
  tenantId: string;
  approvalRequestId: string;
  artifactType: ArtifactType;
  artifactId: string;
  requesterId: string;
  justification: string;
  /** Roles (`role:<name>`) or principals (`principal:<id>`) any one of which may adjudicate. */
  requiredApprovers: string[];
  status: ApprovalStatus;
  createdAt: number;
  expiresAt: number;
  decidedBy: string | null;
  decidedAt: number | null;
  comments: string;
  metadata: Record<string, string>;
  revision: number;
}

/** A runtime a tenant has registered, with the contracts it may fulfil. */
export interface RuntimeRegistrationRecord {
  tenantId: string;
  runtimeId: string;
  /** Contract names (or `*`) this runtime may be admitted for. */
  allowedContracts: string[];
  createdBy: string;
  createdAt: number;
}

/** A one-time join token; only its hash is stored. */
export interface JoinTokenRecord {
  tenantId: string;
  tokenId: string;
  secretHash: string;
  runtimeId: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

export interface CertificateRecord {
  tenantId: string;
  /** Hex serial number, unique across the Host. */
  serial: string;
  runtimeId: string;
  spiffeId: string;
  notBefore: number;
  notAfter: number;
  certificatePem: string;
  revokedAt: number | null;
  revocationReason: string | null;
}

export type KeyPurpose = "ca" | "gateway-tls" | "token-signing" | "audit-signing";

/** Host key material; private keys are stored only encrypted under the master key. */
export interface KeyMaterialRecord {
  keyId: string;
  purpose: KeyPurpose;
  algorithm: string;
  publicKeyPem: string;
  /** AES-256-GCM under the master key: `v1.<iv>.<ciphertext+tag>` base64url. */
  encryptedPrivateKey: string;
  certificatePem: string | null;
  createdAt: number;
  retiredAt: number | null;
}

/** Host-wide one-time state such as the bootstrap token hash. */
export interface BootstrapRecord {
  tokenHash: string;
  createdAt: number;
  consumedAt: number | null;
  consumedBy: string | null;
}

export type AuditOutcome = "SUCCESS" | "FAILURE" | "DENIED" | "ERROR";

/** An audit event before it is linked into the log. Mirrors `aesp.v1.AuditEvent`. */
export interface AuditEventDraft {
  eventId: string;
  timestampMs: number;
  eventType: string;
  /** Empty for platform events. */
  tenantId: string;
  principalId: string;
  sessionId: string;
  resource: string;
  action: string;
  outcome: AuditOutcome;
  sourceIp: string;
  userAgent: string;
  correlationId: string;
  riskScore: string;
  policyViolations: string[];
  metadata: Record<string, string>;
}

/** A linked audit record: position in the log plus its leaf and chain hashes (hex). */
export interface AuditRecord extends AuditEventDraft {
  /** 0-based position in the global log. */
  seq: number;
  leafHash: string;
  /** SHA-256(previous chainHash || leafHash); the first record links to 32 zero bytes. */
  chainHash: string;
  /**
   * Set when the event's content was removed (retention): only seq, event id, time, type, tenant,
   * outcome and the two hashes remain, and verification trusts the stored leaf hash (bound by the
   * chain and the signed checkpoints) instead of recomputing it. Absent on intact records.
   */
  tombstone?: AuditTombstoneReason;
}

/** Why an audit record's content was removed. */
export type AuditTombstoneReason = "retention" | "erasure";

/**
 * How long a tenant keeps the audit events of some types. `pattern` is an exact event type
 * (`authz.evaluated`), a family (`tool_call.*`) or `*` (every type without a more specific rule).
 */
export interface AuditRetentionRuleRecord {
  tenantId: string;
  pattern: string;
  /** Whole days after the event's time before it may be removed. */
  days: number;
  updatedAt: number;
  updatedBy: string;
}

/**
 * A legal hold: while active, the tenant's events it covers are never removed by retention, and
 * an erasure of a subject it covers is refused.
 */
export interface AuditLegalHoldRecord {
  tenantId: string;
  holdId: string;
  /** Empty: every principal of the tenant. */
  principalId: string;
  /** Inclusive lower bound on event time; 0 when open. */
  fromMs: number;
  /** Exclusive upper bound on event time; 0 when open. */
  toMs: number;
  reason: string;
  placedBy: string;
  placedAt: number;
  releasedAt: number | null;
  releasedBy: string;
}

/**
 * A data subject's key for the personal fields of audit events (AES-256-GCM), wrapped by the
 * Host master key. Erasure empties `wrappedKey` and sets `erasedAt`: the ciphertexts stay hashed
 * in the log, but nobody can read them again.
 */
export interface AuditSubjectKeyRecord {
  tenantId: string;
  keyId: string;
  /** The principal whose personal data the key protects. */
  subjectId: string;
  wrappedKey: string;
  createdAt: number;
  erasedAt: number | null;
}

/** The tip of the log: what the next record links to. */
export interface AuditHead {
  /** Number of records in the log (= next seq). */
  size: number;
  /** chainHash of the last record, or 64 zeros for an empty log. */
  chainHash: string;
}

export interface AuditCheckpointRecord {
  /** Number of records covered. */
  treeSize: number;
  /** Merkle root (RFC 6962) over the first treeSize leaves, hex. */
  rootHash: string;
  /** chainHash of record treeSize-1, hex. */
  chainHash: string;
  /** The C2SP signed note, as text. */
  signedNote: string;
  keyId: string;
  createdAt: number;
}

/** Filter for tenant-scoped audit reads. */
export interface AuditQuery {
  fromMs?: number;
  toMs?: number;
  eventTypes?: string[];
  principalId?: string;
  correlationId?: string;
  /** Exclusive lower bound on seq, for cursor pagination. */
  afterSeq?: number;
  limit: number;
  /** Exact matches on further event fields (a contract is `resource: "contract:<id>"`). */
  outcome?: AuditOutcome;
  resource?: string;
  sessionId?: string;
  action?: string;
  /** Every entry must equal the event's metadata value under that key. */
  metadata?: Readonly<Record<string, string>>;
}

/** One group of {@link AuditStatisticsRow}s: events of one type and outcome on one UTC day. */
export interface AuditStatisticsRow {
  eventType: string;
  outcome: string;
  /** Days since the epoch (UTC): floor(timestampMs / 86,400,000). */
  day: number;
  count: number;
  firstMs: number;
  lastMs: number;
}

/** Kinds of identity provider a tenant can connect. */
export type IdentityProviderKind = "oidc" | "saml" | "ldap";

/**
 * A tenant's connection to an external identity provider. `settings` is kind-specific
 * (validated by the host adapter); secrets inside it are stored sealed under the master key.
 */
export interface IdentityProviderRecord {
  tenantId: string;
  /** Unique within the tenant: `[a-z0-9][a-z0-9-]*`. */
  providerId: string;
  kind: IdentityProviderKind;
  displayName: string;
  enabled: boolean;
  settings: Record<string, unknown>;
  mapping: ClaimMappingRecord;
  /** Create principals on first sign-in (just-in-time provisioning). */
  jitProvisioning: boolean;
  createdAt: number;
  updatedAt: number;
  updatedBy: string;
  revision: number;
}

/** The stored form of a claim mapping (see `ClaimMapping` in the identity module). */
export interface ClaimMappingRecord {
  groupsClaim?: string;
  groupRoles?: Record<string, string[]>;
  rolesClaim?: string;
  allowedRoles?: string[];
  defaultRoles?: string[];
  clearanceClaim?: string;
  defaultClearance?: Classification;
  maxClearance?: Classification;
  attributes?: Record<string, string>;
}

/**
 * One rotating refresh token. Tokens of one sign-in form a family; presenting a token that
 * was already used revokes the whole family (RFC 9700 §4.14.2 reuse detection).
 */
export interface RefreshTokenRecord {
  tenantId: string;
  tokenId: string;
  familyId: string;
  principalId: string;
  /** SHA-256 (hex) of the token's secret part; the secret is 256 random bits, so a fast hash suffices. */
  secretHash: string;
  /** How the family's sign-in authenticated, carried into every access token it yields. */
  amr: string[];
  acr: string;
  createdAt: number;
  /** The family's absolute end; rotation never extends it. */
  expiresAt: number;
  usedAt: number | null;
  revokedAt: number | null;
}

/** An access token revoked before its expiry (kept until then). */
export interface RevokedTokenRecord {
  tenantId: string;
  tokenId: string;
  principalId: string;
  expiresAt: number;
  revokedAt: number;
  reason: string;
}

/** Non-secret credentials of a service account: a public key for `private_key_jwt` or a pinned mTLS certificate. */
export interface ClientCredentialRecord {
  tenantId: string;
  credentialId: string;
  principalId: string;
  kind: "public_key" | "certificate";
  /** Public JWK (JSON text) or certificate (PEM). */
  material: string;
  /** JWK thumbprint (RFC 7638) or SHA-256 of the certificate's DER, hex. */
  thumbprint: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

/** A SCIM group: a named set of a tenant's principals. */
export interface GroupRecord {
  tenantId: string;
  groupId: string;
  displayName: string;
  /** The provisioning client's id for the group; "" when none. */
  externalId: string;
  /** Principal ids. */
  members: string[];
  createdAt: number;
  updatedAt: number;
  revision: number;
}

/** Failed sign-ins under one key (an account or a source address). */
export interface SignInThrottleRecord {
  key: string;
  failures: number;
  windowStartedAt: number;
  lockedUntil: number;
}

/** Where a break-glass grant stands: ACTIVE until its holder or an administrator ends it or it expires. */
export type BreakGlassStatus = "ACTIVE" | "ENDED" | "EXPIRED";

/** The mandatory after-the-fact review of a break-glass grant. */
export type BreakGlassReviewStatus = "PENDING" | "JUSTIFIED" | "UNJUSTIFIED";

/**
 * An emergency override (break-glass) granted to one principal: for a limited time it lets that
 * principal's calls go on where a policy would refuse them. Stored status ACTIVE with `expiresAt`
 * in the past is already expired: a grant never acts past its expiry, whatever the stored status.
 */
export interface BreakGlassGrantRecord {
  tenantId: string;
  grantId: string;
  /** The holder: the only principal whose calls the grant covers. */
  principalId: string;
  justification: string;
  /** Contract names the grant is limited to; empty: every contract of the tenant. */
  contracts: string[];
  status: BreakGlassStatus;
  activatedAt: number;
  expiresAt: number;
  /** When it was ended or its expiry recorded; null while ACTIVE. */
  closedAt: number | null;
  /** Who ended it early; "" when it expired or is ACTIVE. */
  closedBy: string;
  closeReason: string;
  /** First call that went on under this grant; null while unused. */
  firstUsedAt: number | null;
  reviewStatus: BreakGlassReviewStatus;
  reviewDueAt: number;
  reviewedBy: string | null;
  reviewedAt: number | null;
  reviewComments: string;
  /** When the overdue-review alert was raised; null until then (raised once). */
  reviewOverdueAlertedAt: number | null;
  revision: number;
}

/** How a policy rollout evaluates its candidate version: alongside (SHADOW) or acting for a share (CANARY). */
export type PolicyRolloutMode = "SHADOW" | "CANARY";
/**
 * PENDING_APPROVAL: a canary waiting for its governance approval (nothing acts yet);
 * RUNNING: evaluated on every call; the rest are final.
 */
export type PolicyRolloutStatus = "PENDING_APPROVAL" | "RUNNING" | "PROMOTED" | "ROLLED_BACK" | "STOPPED";

/**
 * A staged rollout of one policy version in one tenant: the candidate is evaluated next to the
 * baseline (the ACTIVE version) on real calls and disagreements are counted; past the threshold
 * the rollout rolls back by itself. At most one rollout per tenant is PENDING_APPROVAL or RUNNING.
 */
export interface PolicyRolloutRecord {
  tenantId: string;
  rolloutId: string;
  policyId: string;
  candidateVersion: number;
  /** The ACTIVE version when the rollout started; 0 for a policy without one. */
  baselineVersion: number;
  mode: PolicyRolloutMode;
  /** Share of principals chosen by a stable hash of their id, 1..100; 0: none by share. */
  percent: number;
  /** Chosen principals: ids, or `role:<name>` for every holder of the role. */
  principals: string[];
  /** Disagreement rate beyond which the rollout rolls back, in (0, 1]. */
  threshold: number;
  /** Evaluations needed before the threshold applies. */
  minSamples: number;
  /** Epoch ms after which the rollout ends by itself; 0: never. */
  endsAt: number;
  /** Calls on which the policy applied under either version (stored totals across Hosts). */
  evaluated: number;
  disagreements: number;
  status: PolicyRolloutStatus;
  /** The approval request of a canary; "" for a shadow. */
  approvalRequestId: string;
  startedBy: string;
  createdAt: number;
  /** When it began running; 0 before. */
  startedAt: number;
  /** When it ended; 0 while it has not. */
  endedAt: number;
  /** Who ended it ("" for the Host itself). */
  endedBy: string;
  endReason: string;
  revision: number;
}
