/**
 * Ports: every effect the core needs, as interfaces the host implements.
 *
 * The core never touches the clock, randomness, crypto keys, sockets or disks
 * directly; it receives these. Store ports are narrow and async. Tenant-owned
 * data is reachable only through {@link TenantStores}, which an adapter binds to
 * one tenant when it is created, so a query cannot omit or swap the tenant.
 */
import type {
  ApiKeyRecord,
  ApprovalRequestRecord,
  BreakGlassGrantRecord,
  BreakGlassReviewStatus,
  BreakGlassStatus,
  ArtifactStatus,
  AuditCheckpointRecord,
  AuditEventDraft,
  AuditHead,
  AuditQuery,
  AuditRecord,
  AuditStatisticsRow,
  AuditLegalHoldRecord,
  AuditRetentionRuleRecord,
  AuditSubjectKeyRecord,
  BootstrapRecord,
  CertificateRecord,
  ClientCredentialRecord,
  ContractRecord,
  GroupRecord,
  GroupRoleBindingRecord,
  IdentityProviderRecord,
  JoinTokenRecord,
  KeyMaterialRecord,
  KeyPurpose,
  PolicyRecord,
  PolicyRolloutRecord,
  PolicyRolloutStatus,
  PrincipalRecord,
  PrincipalStatus,
  PrincipalType,
  RefreshTokenRecord,
  RevokedTokenRecord,
  RoleRecord,
  RuntimeRegistrationRecord,
  SessionRecord,
  SignInThrottleRecord,
  TenantRecord,
} from "./records.ts";

// ---------------------------------------------------------------- effects

/** Wall-clock time in epoch milliseconds. */
export interface Clock {
  now(): number;
}

/** Identifiers and secrets; production uses a CSPRNG. */
export interface IdSource {
  /** A unique, URL-safe identifier with a readable prefix, e.g. `ses_…`. */
  newId(prefix: string): string;
  /** `bytes` random bytes, base64url-encoded: for secrets handed to callers once. */
  newSecret(bytes: number): string;
}

/** Synchronous hashing used by the audit log. */
export interface Hasher {
  sha256(data: Uint8Array): Uint8Array;
}

/** Waiting, for the few core use-cases that must wait (a call held for a human approval). */
export interface Scheduler {
  /** Resolves after `ms`, or early when `signal` aborts (never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Signs with a private key the core never sees. */
export interface Signer {
  readonly keyId: string;
  /** Ed25519 public key, raw 32 bytes. */
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** Verifies an Ed25519 signature given a raw public key. */
export interface SignatureVerifier {
  verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/** Slow, salted hashing for stored secrets (scrypt in the host). */
export interface SecretHasher {
  hash(secret: string): Promise<string>;
  /** Constant-time comparison. */
  verify(secret: string, stored: string): Promise<boolean>;
}

// ---------------------------------------------------------------- stores

/** Optimistic concurrency: updates name the revision they read; a mismatch throws CONFLICT. */
export interface Revisioned {
  revision: number;
}

/** Filters of {@link PrincipalStore.list}; all given ones must hold. */
export interface PrincipalFilter {
  type?: PrincipalType;
  /** Only ACTIVE principals unless set (ignored when `status` is given). */
  includeInactive?: boolean;
  status?: PrincipalStatus;
  /** Exact provider id; "" selects principals created in the Host. */
  providerId?: string;
  /** Exact login name (case-insensitive). */
  userName?: string;
  /** Display names starting with this text (case-insensitive). */
  displayNamePrefix?: string;
  /** Principals holding this role directly or through synchronisation. */
  role?: string;
  limit: number;
  /** The last principalId of the previous page. */
  cursor?: string;
}

export interface PrincipalStore {
  create(record: PrincipalRecord): Promise<void>;
  get(principalId: string): Promise<PrincipalRecord | null>;
  /** The principal linked to an account at an identity provider. */
  findByExternalSubject(providerId: string, subject: string): Promise<PrincipalRecord | null>;
  /** Ordered by principalId. */
  list(filter: PrincipalFilter): Promise<PrincipalRecord[]>;
  /** How many principals match (the filter's limit and cursor are ignored). */
  count(filter: PrincipalFilter): Promise<number>;
  update(record: PrincipalRecord, expectedRevision: number): Promise<void>;
}

export interface RefreshTokenStore {
  create(record: RefreshTokenRecord): Promise<void>;
  get(tokenId: string): Promise<RefreshTokenRecord | null>;
  /** Marks the token used iff it is neither used nor revoked; false when someone used it first. */
  markUsed(tokenId: string, at: number): Promise<boolean>;
  /** Revokes every unrevoked token of the family; returns how many. */
  revokeFamily(familyId: string, at: number): Promise<number>;
  /** Revokes every unrevoked token of the principal; returns how many. */
  revokeForPrincipal(principalId: string, at: number): Promise<number>;
}

export interface RevokedTokenStore {
  /** Records the revocation; false when the token was already revoked. */
  revoke(record: RevokedTokenRecord): Promise<boolean>;
  isRevoked(tokenId: string): Promise<boolean>;
  /** Whether any of `tokenIds` is revoked, in one lookup (a token's own id and its sign-in family's). */
  isAnyRevoked(tokenIds: readonly string[]): Promise<boolean>;
  /** Forgets revocations of tokens that expired before `now` (they are refused as expired anyway); returns how many. */
  purgeExpired(now: number): Promise<number>;
}

export interface ClientCredentialStore {
  create(record: ClientCredentialRecord): Promise<void>;
  get(credentialId: string): Promise<ClientCredentialRecord | null>;
  findByThumbprint(thumbprint: string): Promise<ClientCredentialRecord | null>;
  listForPrincipal(principalId: string): Promise<ClientCredentialRecord[]>;
  revokeForPrincipal(principalId: string, at: number): Promise<number>;
}

export interface IdentityProviderStore {
  create(record: IdentityProviderRecord): Promise<void>;
  get(providerId: string): Promise<IdentityProviderRecord | null>;
  list(): Promise<IdentityProviderRecord[]>;
  update(record: IdentityProviderRecord, expectedRevision: number): Promise<void>;
  /** False when it did not exist. */
  delete(providerId: string): Promise<boolean>;
}

export interface GroupStore {
  create(record: GroupRecord): Promise<void>;
  get(groupId: string): Promise<GroupRecord | null>;
  findByDisplayName(displayName: string): Promise<GroupRecord | null>;
  /** Ordered by groupId; cursor is the last groupId of the previous page. */
  list(filter: { limit: number; cursor?: string }): Promise<GroupRecord[]>;
  count(): Promise<number>;
  update(record: GroupRecord, expectedRevision: number): Promise<void>;
  /** False when it did not exist. */
  delete(groupId: string): Promise<boolean>;
  /** Groups having the principal as a member. */
  listForMember(principalId: string): Promise<GroupRecord[]>;
}

export interface ApiKeyStore {
  create(record: ApiKeyRecord): Promise<void>;
  get(keyId: string): Promise<ApiKeyRecord | null>;
  listForPrincipal(principalId: string): Promise<ApiKeyRecord[]>;
  revokeForPrincipal(principalId: string, at: number): Promise<number>;
}

export interface SessionStore {
  create(record: SessionRecord): Promise<void>;
  get(sessionId: string): Promise<SessionRecord | null>;
  markDestroyed(sessionId: string, at: number): Promise<boolean>;
  /** Sessions not destroyed and not expired at `now`. */
  listLive(now: number, limit: number): Promise<SessionRecord[]>;
}

export interface ContractStore {
  create(record: ContractRecord): Promise<void>;
  get(contractId: string): Promise<ContractRecord | null>;
  list(filter: { name?: string; status?: ArtifactStatus; limit: number; cursor?: string }): Promise<ContractRecord[]>;
  update(record: ContractRecord, expectedRevision: number): Promise<void>;
}

export interface PolicyStore {
  create(record: PolicyRecord): Promise<void>;
  get(policyId: string, version: number): Promise<PolicyRecord | null>;
  /** All versions of all policies, optionally filtered by status. */
  list(filter: { status?: ArtifactStatus; limit: number; cursor?: string }): Promise<PolicyRecord[]>;
  update(record: PolicyRecord, expectedRevision: number): Promise<void>;
}

/**
 * Staged rollouts of policy versions (see {@link PolicyRolloutRecord}). The counters are written
 * only by {@link PolicyRolloutStore.addCounts}, never by `update`, so Hosts flushing counts and an
 * operator ending the rollout never overwrite each other.
 */
export interface PolicyRolloutStore {
  /** @throws EnterpriseError ALREADY_EXISTS (same id, or another rollout of the tenant is PENDING_APPROVAL or RUNNING). */
  create(record: PolicyRolloutRecord): Promise<void>;
  get(rolloutId: string): Promise<PolicyRolloutRecord | null>;
  /** Ordered by rolloutId; cursor is the last rolloutId of the previous page. */
  list(filter: { status?: PolicyRolloutStatus; policyId?: string; limit: number; cursor?: string }): Promise<PolicyRolloutRecord[]>;
  /** Replaces everything but the counters. @throws EnterpriseError CONFLICT, NOT_FOUND */
  update(record: PolicyRolloutRecord, expectedRevision: number): Promise<void>;
  /**
   * Adds to the counters of a RUNNING rollout in one atomic statement (concurrent Hosts are all
   * counted) and returns the record with the new totals; null when it is not RUNNING (nothing added).
   */
  addCounts(rolloutId: string, evaluated: number, disagreements: number): Promise<PolicyRolloutRecord | null>;
}

export interface RoleStore {
  upsert(record: RoleRecord): Promise<void>;
  get(name: string): Promise<RoleRecord | null>;
  list(): Promise<RoleRecord[]>;
}

/** Roles bound to directory groups of one tenant. */
export interface GroupRoleBindingStore {
  /** Binds the role to the group; false when it was already bound (the first record stays). */
  bind(record: GroupRoleBindingRecord): Promise<boolean>;
  /** False when the role was not bound to the group. */
  unbind(group: string, role: string): Promise<boolean>;
  /** Every binding of the tenant, ordered by group, then role. */
  list(): Promise<GroupRoleBindingRecord[]>;
}

/**
 * The tenant's change epoch: a counter raised after every committed change to what its snapshot
 * holds (roles, group bindings, contracts, policies, status), so every Host sharing the database
 * can tell with one read whether its snapshot is stale.
 */
export interface TenantEpochStore {
  /** The current epoch; 0 before the first change. */
  current(): Promise<number>;
  /** Raises the epoch by one atomically (concurrent advances are all counted) and returns it. */
  advance(): Promise<number>;
}

export interface ApprovalStore {
  create(record: ApprovalRequestRecord): Promise<void>;
  get(approvalRequestId: string): Promise<ApprovalRequestRecord | null>;
  /** Oldest first. `artifactId` narrows to one artifact (e.g. one call fingerprint). */
  list(filter: { status?: ApprovalRequestRecord["status"]; artifactType?: string; artifactId?: string; limit: number; cursor?: string }): Promise<ApprovalRequestRecord[]>;
  update(record: ApprovalRequestRecord, expectedRevision: number): Promise<void>;
}

/**
 * Break-glass grants of one tenant. At most one ACTIVE grant per principal: a second `create` of an
 * ACTIVE grant for the same principal is refused with ALREADY_EXISTS, even when two Hosts race.
 */
export interface BreakGlassGrantStore {
  create(record: BreakGlassGrantRecord): Promise<void>;
  get(grantId: string): Promise<BreakGlassGrantRecord | null>;
  /** Grants ordered by (activatedAt, grantId); cursor: the last grantId seen. */
  list(filter: { status?: BreakGlassStatus; reviewStatus?: BreakGlassReviewStatus; principalId?: string; limit: number; cursor?: string }): Promise<BreakGlassGrantRecord[]>;
  /** Replaces the grant; CONFLICT when its revision moved, NOT_FOUND when absent. */
  update(record: BreakGlassGrantRecord, expectedRevision: number): Promise<void>;
  /** Sets `firstUsedAt` iff it is unset; true for the one caller that set it. */
  markFirstUse(grantId: string, at: number): Promise<boolean>;
}

export interface RuntimeRegistrationStore {
  upsert(record: RuntimeRegistrationRecord): Promise<void>;
  get(runtimeId: string): Promise<RuntimeRegistrationRecord | null>;
  list(): Promise<RuntimeRegistrationRecord[]>;
}

export interface JoinTokenStore {
  create(record: JoinTokenRecord): Promise<void>;
  get(tokenId: string): Promise<JoinTokenRecord | null>;
  /** Marks the token used iff it was unused; false when someone used it first. */
  consume(tokenId: string, at: number): Promise<boolean>;
}

export interface CertificateStore {
  create(record: CertificateRecord): Promise<void>;
  get(serial: string): Promise<CertificateRecord | null>;
  listForRuntime(runtimeId: string): Promise<CertificateRecord[]>;
  revoke(serial: string, at: number, reason: string): Promise<boolean>;
}

/** Tenant-scoped audit reads. Appends go through {@link AuditLogStore}. */
export interface TenantAuditReader {
  query(query: AuditQuery): Promise<AuditRecord[]>;
  /** The tenant's event counts grouped by type, outcome and UTC day, for `fromMs <= t < toMs`. */
  statistics(fromMs: number, toMs: number): Promise<AuditStatisticsRow[]>;
}

/** Every store of one tenant. Obtain through {@link Store.forTenant}; the tenant is fixed. */
export interface TenantStores {
  readonly tenantId: string;
  readonly principals: PrincipalStore;
  readonly apiKeys: ApiKeyStore;
  readonly sessions: SessionStore;
  readonly contracts: ContractStore;
  readonly policies: PolicyStore;
  readonly roles: RoleStore;
  readonly approvals: ApprovalStore;
  readonly runtimes: RuntimeRegistrationStore;
  readonly joinTokens: JoinTokenStore;
  readonly certificates: CertificateStore;
  readonly refreshTokens: RefreshTokenStore;
  readonly revokedTokens: RevokedTokenStore;
  readonly clientCredentials: ClientCredentialStore;
  readonly identityProviders: IdentityProviderStore;
  readonly groups: GroupStore;
  readonly groupRoleBindings: GroupRoleBindingStore;
  readonly epoch: TenantEpochStore;
  readonly audit: TenantAuditReader;
  readonly breakGlass: BreakGlassGrantStore;
  readonly policyRollouts: PolicyRolloutStore;
  readonly auditRetention: AuditRetentionStore;
  readonly auditSubjectKeys: AuditSubjectKeyStore;
}

/** A tenant's audit retention rules and legal holds. */
export interface AuditRetentionStore {
  /** Creates or replaces the rule for `record.pattern`. */
  putRule(record: AuditRetentionRuleRecord): Promise<void>;
  /** False when there was no rule for the pattern. */
  deleteRule(pattern: string): Promise<boolean>;
  /** Every rule, by pattern. */
  listRules(): Promise<AuditRetentionRuleRecord[]>;
  /** @throws EnterpriseError ALREADY_EXISTS when the hold id is taken. */
  placeHold(record: AuditLegalHoldRecord): Promise<void>;
  getHold(holdId: string): Promise<AuditLegalHoldRecord | null>;
  /** Releases an active hold; false when it does not exist or was already released. */
  releaseHold(holdId: string, at: number, by: string): Promise<boolean>;
  /** Holds by placement time; released ones only when asked. */
  listHolds(includeReleased: boolean): Promise<AuditLegalHoldRecord[]>;
}

/** A tenant's per-subject keys for personal data inside audit events (crypto-shredding). */
export interface AuditSubjectKeyStore {
  /** The subject's live (not erased) key, or null. */
  activeKey(subjectId: string): Promise<AuditSubjectKeyRecord | null>;
  /** Inserts a key; false when the subject already has a live key (another Host made one first). */
  create(record: AuditSubjectKeyRecord): Promise<boolean>;
  /** The keys with these ids (live and erased); unknown ids are left out. */
  byKeyIds(keyIds: readonly string[]): Promise<AuditSubjectKeyRecord[]>;
  /** Destroys every live key of the subject (wrapped key emptied, erasedAt set); returns how many. */
  erase(subjectId: string, at: number): Promise<number>;
}

export interface TenantStore {
  create(record: TenantRecord): Promise<void>;
  get(tenantId: string): Promise<TenantRecord | null>;
  list(): Promise<TenantRecord[]>;
  setStatus(tenantId: string, status: TenantRecord["status"]): Promise<boolean>;
  /** Sets the tenant's policy engine; false when the tenant is unknown. */
  setPolicyEngine(tenantId: string, engine: TenantRecord["policyEngine"]): Promise<boolean>;
}

export interface KeyMaterialStore {
  create(record: KeyMaterialRecord): Promise<void>;
  /** The newest non-retired key for the purpose. */
  current(purpose: KeyPurpose): Promise<KeyMaterialRecord | null>;
  list(purpose: KeyPurpose): Promise<KeyMaterialRecord[]>;
  retire(keyId: string, at: number): Promise<void>;
}

export interface BootstrapStore {
  get(): Promise<BootstrapRecord | null>;
  /** Creates the record iff none exists; false when one already does. */
  init(record: BootstrapRecord): Promise<boolean>;
  /** Marks it consumed iff the hash matches and it is unconsumed. */
  consume(tokenHash: string, at: number, by: string): Promise<boolean>;
}

/** Failed sign-in counters shared by every Host (keys name an account or a source address). */
export interface SignInThrottleStore {
  get(key: string): Promise<SignInThrottleRecord | null>;
  put(record: SignInThrottleRecord): Promise<void>;
  /**
   * Counts one failure under `key` atomically (concurrent failures on several Hosts are all
   * counted): starts a new window at `now` when there is none or the last one began more than
   * `windowMs` ago (clearing its lock), else adds one. Returns the counters after the update.
   */
  recordFailure(key: string, now: number, windowMs: number): Promise<SignInThrottleRecord>;
  /** Raises `key`'s lock to `lockedUntil` unless it is already later (never shortens a lock). */
  extendLock(key: string, lockedUntil: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Forgets counters whose window ended before `now - windowMs` and whose lock has expired; returns how many. */
  purgeExpired(now: number, windowMs: number): Promise<number>;
}

/** One-time values (SAML assertion ids, JWT `jti`s) remembered until they expire, across Hosts. */
export interface OneTimeValueStore {
  /** Inserts `key` iff it is absent or expired at `now`; false when a live entry exists. */
  claim(key: string, expiresAt: number, now: number): Promise<boolean>;
  /** Stores `value` under `key` until `expiresAt`, replacing any entry (e.g. SAML request ids). */
  put(key: string, value: string, expiresAt: number): Promise<void>;
  /** The value under `key`, or null when absent or expired at `now`. */
  get(key: string, now: number): Promise<string | null>;
  delete(key: string): Promise<void>;
  /** Deletes entries expired at `now`; returns how many. */
  purgeExpired(now: number): Promise<number>;
}

/**
 * The append side of the audit log, shared by all tenants (one global order).
 *
 * `append` runs `link` under the store's exclusive append lock, with the current
 * head, and durably writes what it returns in one transaction (one fsync), so
 * several Hosts sharing a database still build one unbroken chain.
 */
export interface AuditLogStore {
  append(drafts: readonly AuditEventDraft[], link: (head: AuditHead) => AuditRecord[]): Promise<AuditRecord[]>;
  head(): Promise<AuditHead>;
  /** Records with seq in [fromSeq, fromSeq+limit), ascending. */
  readRange(fromSeq: number, limit: number): Promise<AuditRecord[]>;
  saveCheckpoint(checkpoint: AuditCheckpointRecord): Promise<void>;
  latestCheckpoint(): Promise<AuditCheckpointRecord | null>;
  listCheckpoints(): Promise<AuditCheckpointRecord[]>;
}

/**
 * Reads that serve audit proofs, checkpoints and platform-wide search. Proof nodes come from
 * perfect subtrees the store persisted as the log grew, so a proof costs O(log n) reads.
 */
export interface AuditProofStore {
  /** Hashes of perfect subtrees `{level, index}` of the committed log, in the order asked. */
  nodeHashes(nodes: readonly { readonly level: number; readonly index: number }[]): Promise<Uint8Array[]>;
  /** The record with this event id, any tenant; null when there is none. */
  recordByEventId(eventId: string): Promise<AuditRecord | null>;
  /** The checkpoint of exactly this tree size, or null. */
  checkpointAt(treeSize: number): Promise<AuditCheckpointRecord | null>;
  /** Checkpoints with tree size greater than `afterTreeSize`, ascending, at most `limit`. */
  checkpointPage(afterTreeSize: number, limit: number): Promise<AuditCheckpointRecord[]>;
  /** Events of every tenant (platform auditors only; the caller decides who may). */
  queryAllTenants(query: AuditQuery & { tenantId?: string }): Promise<AuditRecord[]>;
}

/** Which event types an {@link AuditPruneStep} selects: all, one exact type, or a `family.` prefix. */
export interface AuditTypeSelector {
  readonly kind: "any" | "exact" | "prefix";
  /** The type, or the prefix including its final dot; empty for `any`. */
  readonly value: string;
}

/** One retention rule as the store applies it. */
export interface AuditPruneStep {
  /** Events with timestampMs strictly below this are due. */
  readonly beforeMs: number;
  readonly include: AuditTypeSelector;
  /** Types a more specific rule governs. */
  readonly exclude: readonly AuditTypeSelector[];
  /** Restricts the step to, or away from, these exact types (the security floor); null: no restriction. */
  readonly typeFilter: { readonly mode: "only" | "exclude"; readonly types: readonly string[] } | null;
}

/** What one retention pass may remove for one tenant. */
export interface AuditPrunePlan {
  readonly tenantId: string;
  readonly steps: readonly AuditPruneStep[];
  /** Active legal holds: an event matching any of them is kept. */
  readonly holds: readonly Pick<AuditLegalHoldRecord, "principalId" | "fromMs" | "toMs">[];
  /** Most records to tombstone in this pass. */
  readonly limit: number;
}

/** What a retention pass removed. */
export interface AuditPruneResult {
  readonly count: number;
  /** -1 when nothing was removed. */
  readonly firstSeq: number;
  readonly lastSeq: number;
}

/**
 * Removes the content of expired audit records, keeping each as a tombstone (seq, event id,
 * time, type, tenant, outcome, leaf and chain hash), so that the chain, the Merkle tree and every
 * signed checkpoint still verify.
 */
export interface AuditPruningStore {
  pruneExpired(plan: AuditPrunePlan): Promise<AuditPruneResult>;
}

/** Host-wide stores; never reachable from a tenant-scoped code path. */
export interface PlatformStores {
  readonly tenants: TenantStore;
  readonly keys: KeyMaterialStore;
  readonly bootstrap: BootstrapStore;
  readonly auditLog: AuditLogStore;
  readonly auditProofs: AuditProofStore;
  readonly auditPruning: AuditPruningStore;
  readonly signInThrottle: SignInThrottleStore;
  readonly oneTimeValues: OneTimeValueStore;
  readonly deadLetters: DeadLetterStore;
}

// ---------------------------------------------------------------- SIEM dead letters

/**
 * A batch of audit records a SIEM destination did not accept after every retry. The payload is
 * the records as forwarded (already redacted: secrets never enter audit events), kept until a
 * platform administrator replays it.
 */
export interface DeadLetterRecord {
  readonly deadLetterId: string;
  /** The destination's name, e.g. `syslog` or `webhook`. */
  readonly destination: string;
  /** The records, JSON (an array of AuditRecord). */
  readonly payload: string;
  readonly eventCount: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** Why the last attempt failed (no secret, no response body). */
  readonly reason: string;
  readonly attempts: number;
  readonly createdAt: number;
}

/** Platform-wide store of dead-lettered SIEM deliveries. */
export interface DeadLetterStore {
  add(record: DeadLetterRecord): Promise<void>;
  /** Oldest first (by createdAt, then id); `afterId` continues a listing. */
  list(query: { destination?: string; limit: number; afterId?: string }): Promise<DeadLetterRecord[]>;
  get(deadLetterId: string): Promise<DeadLetterRecord | null>;
  /** Removes it after a successful replay; false when it was already gone (another Host replayed it). */
  delete(deadLetterId: string): Promise<boolean>;
  /** How many are stored for a destination (all when omitted). */
  count(destination?: string): Promise<number>;
}

// ---------------------------------------------------------------- alerts

/** How urgently an operator should look at an alert. */
export type AlertSeverity = "INFO" | "WARNING" | "HIGH" | "CRITICAL";

/**
 * Something an operator must see now (break-glass used, a detection rule fired). The audit log
 * keeps the record; an alert is the interruption.
 */
export interface Alert {
  /** What happened, as an audit-style type, e.g. `break_glass.activated`. */
  readonly kind: string;
  readonly severity: AlertSeverity;
  readonly tenantId: string;
  /** Who caused it; empty when nobody did. */
  readonly principalId: string;
  /** One line for a human. */
  readonly title: string;
  readonly detail: Readonly<Record<string, string>>;
  readonly raisedAt: number;
}

/**
 * Delivers alerts to the configured connectors (webhook, chat, log). `raise` returns at once and
 * never throws: delivery, retries and dead-lettering happen in the background, so an alert never
 * slows or fails the call that raised it.
 */
export interface AlertNotifier {
  raise(alert: Alert): void;
}

/** A storage backend (SQLite or PostgreSQL). */
export interface Store {
  readonly kind: "sqlite" | "postgres";
  readonly platform: PlatformStores;
  forTenant(tenantId: string): TenantStores;
  /** Runs `work` in one transaction; stores obtained from `tx` join it. */
  transaction<T>(work: (tx: Store) => Promise<T>): Promise<T>;
  /** Cheap liveness probe for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
