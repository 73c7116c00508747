/**
 * The relational shape of the store, as Kysely table types.
 *
 * Column names are snake_case; record fields are camelCase; the mappers in the
 * store modules translate. JSON columns are written as JSON text and read back
 * as whatever the driver yields (text from SQLite, a parsed value from `pg`),
 * which is why their select type is `unknown`: only {@link Codec.readJson}
 * turns them into record fields. Booleans are 0/1 in SQLite and `boolean` in
 * PostgreSQL, hence `boolean | number`.
 */
import type { ColumnType } from "kysely";
import type {
  ApprovalStatus,
  ArtifactStatus,
  ArtifactType,
  AuditOutcome,
  BreakGlassReviewStatus,
  BreakGlassStatus,
  Classification,
  ClientCredentialRecord,
  IdentityProviderKind,
  KeyPurpose,
  PolicyRolloutMode,
  PolicyRolloutStatus,
  PrincipalStatus,
  PrincipalType,
  PolicyEngineId,
  TenantStatus,
} from "@aesp/core";

/** A JSON-valued column: written as JSON text, read through the dialect's codec. */
export type JsonColumn = ColumnType<unknown, string, string>;

/** A boolean column: 0/1 in SQLite, `boolean` in PostgreSQL. */
export type BooleanColumn = ColumnType<boolean | number, boolean | number, boolean | number>;

// ------------------------------------------------------------ platform tables

export interface TenantsTable {
  tenant_id: string;
  display_name: string;
  status: TenantStatus;
  created_at: number;
  /** Migration 12; `cel` for tenants created before. */
  policy_engine: PolicyEngineId;
}

export interface KeyMaterialTable {
  key_id: string;
  purpose: KeyPurpose;
  algorithm: string;
  public_key_pem: string;
  encrypted_private_key: string;
  certificate_pem: string | null;
  created_at: number;
  retired_at: number | null;
}

export interface BootstrapTable {
  /** Always 1: the table holds at most one row. */
  id: number;
  token_hash: string;
  created_at: number;
  consumed_at: number | null;
  consumed_by: string | null;
}

export interface AuditEventsTable {
  seq: number;
  event_id: string;
  timestamp_ms: number;
  event_type: string;
  tenant_id: string;
  principal_id: string;
  session_id: string;
  resource: string;
  action: string;
  outcome: AuditOutcome;
  source_ip: string;
  user_agent: string;
  correlation_id: string;
  risk_score: string;
  policy_violations: JsonColumn;
  metadata: JsonColumn;
  leaf_hash: string;
  chain_hash: string;
  /** '' or an AuditTombstoneReason (migration 10); defaults to '' on insert. */
  tombstone: ColumnType<string, string | undefined, string>;
}

export interface AuditHeadTable {
  /** Always 1: the table holds exactly one row, seeded by the first migration. */
  id: number;
  size: number;
  chain_hash: string;
}

export interface AuditCheckpointsTable {
  tree_size: number;
  root_hash: string;
  chain_hash: string;
  signed_note: string;
  key_id: string;
  created_at: number;
}

// ------------------------------------------------------------ tenant tables (tenant_id leads every primary key)

export interface PrincipalsTable {
  tenant_id: string;
  principal_id: string;
  type: PrincipalType;
  display_name: string;
  description: string;
  roles: JsonColumn;
  permissions: JsonColumn;
  clearance: Classification;
  status: PrincipalStatus;
  attributes: JsonColumn;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  /** Added by migration 2, like every column below; "" when none. */
  user_name: string;
  /** "" for principals created in the Host. */
  provider_id: string;
  external_subject: string;
  groups: JsonColumn;
  synced_roles: JsonColumn;
  synced_at: number;
  tokens_valid_after: number;
  revision: number;
}

export interface ApiKeysTable {
  tenant_id: string;
  key_id: string;
  principal_id: string;
  secret_hash: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

export interface SessionsTable {
  tenant_id: string;
  session_id: string;
  principal_id: string;
  created_at: number;
  expires_at: number;
  destroyed_at: number | null;
  metadata: JsonColumn;
}

export interface ContractsTable {
  tenant_id: string;
  contract_id: string;
  /** `definition.name`, kept as a column so the name filter can use an index. */
  name: string;
  definition: JsonColumn;
  status: ArtifactStatus;
  created_by: string;
  created_at: number;
  updated_at: number;
  approved_by: string | null;
  approved_at: number | null;
  revision: number;
}

export interface PoliciesTable {
  tenant_id: string;
  policy_id: string;
  version: number;
  name: string;
  description: string;
  rule: JsonColumn;
  applies_to: JsonColumn;
  enabled: BooleanColumn;
  status: ArtifactStatus;
  created_by: string;
  created_at: number;
  updated_at: number;
  revision: number;
}

export interface RolesTable {
  tenant_id: string;
  name: string;
  description: string;
  permissions: JsonColumn;
  inherits: JsonColumn;
  built_in: BooleanColumn;
  created_at: number;
}

export interface ApprovalRequestsTable {
  tenant_id: string;
  approval_request_id: string;
  artifact_type: ArtifactType;
  artifact_id: string;
  requester_id: string;
  justification: string;
  required_approvers: JsonColumn;
  status: ApprovalStatus;
  created_at: number;
  expires_at: number;
  decided_by: string | null;
  decided_at: number | null;
  comments: string;
  metadata: JsonColumn;
  revision: number;
}

export interface RuntimeRegistrationsTable {
  tenant_id: string;
  runtime_id: string;
  allowed_contracts: JsonColumn;
  created_by: string;
  created_at: number;
}

export interface JoinTokensTable {
  tenant_id: string;
  token_id: string;
  secret_hash: string;
  runtime_id: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface CertificatesTable {
  tenant_id: string;
  serial: string;
  runtime_id: string;
  spiffe_id: string;
  not_before: number;
  not_after: number;
  certificate_pem: string;
  revoked_at: number | null;
  revocation_reason: string | null;
}

export interface RefreshTokensTable {
  tenant_id: string;
  token_id: string;
  family_id: string;
  principal_id: string;
  secret_hash: string;
  amr: JsonColumn;
  acr: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
}

export interface RevokedTokensTable {
  tenant_id: string;
  token_id: string;
  principal_id: string;
  expires_at: number;
  revoked_at: number;
  reason: string;
}

export interface ClientCredentialsTable {
  tenant_id: string;
  credential_id: string;
  principal_id: string;
  kind: ClientCredentialRecord["kind"];
  material: string;
  thumbprint: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

export interface IdentityProvidersTable {
  tenant_id: string;
  provider_id: string;
  kind: IdentityProviderKind;
  display_name: string;
  enabled: BooleanColumn;
  settings: JsonColumn;
  mapping: JsonColumn;
  jit_provisioning: BooleanColumn;
  created_at: number;
  updated_at: number;
  updated_by: string;
  revision: number;
}

export interface ScimGroupsTable {
  tenant_id: string;
  group_id: string;
  display_name: string;
  external_id: string;
  /** The record's member list as written (order and all); scim_group_members indexes it. */
  members: JsonColumn;
  created_at: number;
  updated_at: number;
  revision: number;
}

/** One row per distinct member of a group, kept in step with `scim_groups.members`. */
export interface ScimGroupMembersTable {
  tenant_id: string;
  group_id: string;
  principal_id: string;
}

// ------------------------------------------------------------ platform tables of migration 2

export interface SignInThrottleTable {
  key: string;
  failures: number;
  window_started_at: number;
  locked_until: number;
}

export interface OneTimeValuesTable {
  key: string;
  value: ColumnType<string, string | undefined, string>;
  expires_at: number;
}

// ------------------------------------------------------------ tenant tables of migration 3

/** A role bound to a directory group (`principals.groups` names it). */
export interface GroupRoleBindingsTable {
  tenant_id: string;
  group_name: string;
  role: string;
  created_at: number;
  created_by: string;
}

/** One row per tenant that has changed since migration 3: its change epoch. */
export interface TenantEpochsTable {
  tenant_id: string;
  epoch: number;
}

// ------------------------------------------------------------ tenant tables of migration 5

/** A staged rollout of a policy version; counters are only ever incremented in place. */
export interface PolicyRolloutsTable {
  tenant_id: string;
  rollout_id: string;
  policy_id: string;
  candidate_version: number;
  baseline_version: number;
  mode: PolicyRolloutMode;
  percent: number;
  principals: JsonColumn;
  /** The threshold in parts per million (0.05 → 50000): both dialects hold integers exactly. */
  threshold_ppm: number;
  min_samples: number;
  ends_at: number;
  evaluated: number;
  disagreements: number;
  status: PolicyRolloutStatus;
  approval_request_id: string;
  started_by: string;
  created_at: number;
  started_at: number;
  ended_at: number;
  ended_by: string;
  end_reason: string;
  revision: number;
}

/** A perfect Merkle subtree of the audit log (migration 6), by in-order position. */
export interface AuditTreeNodesTable {
  position: number;
  /** Hex SHA-256. */
  hash: string;
}

// ------------------------------------------------------------ platform table of migration 7

/** SIEM deliveries that failed every retry, kept for replay. */
export interface SiemDeadLettersTable {
  dead_letter_id: string;
  destination: string;
  payload: string;
  event_count: number;
  first_seq: number;
  last_seq: number;
  reason: string;
  attempts: number;
  created_at: number;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: number;
}

/** Every table of the store, keyed by table name. */
export interface BreakGlassGrantsTable {
  tenant_id: string;
  grant_id: string;
  principal_id: string;
  justification: string;
  contracts: JsonColumn;
  status: BreakGlassStatus;
  activated_at: number;
  expires_at: number;
  closed_at: number | null;
  closed_by: string;
  close_reason: string;
  first_used_at: number | null;
  review_status: BreakGlassReviewStatus;
  review_due_at: number;
  reviewed_by: string | null;
  reviewed_at: number | null;
  review_comments: string;
  review_overdue_alerted_at: number | null;
  revision: number;
}

export interface Database {
  schema_migrations: SchemaMigrationsTable;
  tenants: TenantsTable;
  key_material: KeyMaterialTable;
  bootstrap: BootstrapTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  audit_checkpoints: AuditCheckpointsTable;
  principals: PrincipalsTable;
  api_keys: ApiKeysTable;
  sessions: SessionsTable;
  contracts: ContractsTable;
  policies: PoliciesTable;
  roles: RolesTable;
  approval_requests: ApprovalRequestsTable;
  runtime_registrations: RuntimeRegistrationsTable;
  join_tokens: JoinTokensTable;
  certificates: CertificatesTable;
  refresh_tokens: RefreshTokensTable;
  revoked_tokens: RevokedTokensTable;
  client_credentials: ClientCredentialsTable;
  identity_providers: IdentityProvidersTable;
  scim_groups: ScimGroupsTable;
  scim_group_members: ScimGroupMembersTable;
  sign_in_throttle: SignInThrottleTable;
  one_time_values: OneTimeValuesTable;
  group_role_bindings: GroupRoleBindingsTable;
  tenant_epochs: TenantEpochsTable;
  break_glass_grants: BreakGlassGrantsTable;
  policy_rollouts: PolicyRolloutsTable;
  audit_tree_nodes: AuditTreeNodesTable;
  siem_dead_letters: SiemDeadLettersTable;
  audit_retention_rules: AuditRetentionRulesTable;
  audit_legal_holds: AuditLegalHoldsTable;
  audit_subject_keys: AuditSubjectKeysTable;
}

/** Per-tenant audit retention rules (migration 10). */
export interface AuditRetentionRulesTable {
  tenant_id: string;
  pattern: string;
  days: number;
  updated_at: number;
  updated_by: string;
}

/** Per-tenant legal holds on audit events (migration 10). */
export interface AuditLegalHoldsTable {
  tenant_id: string;
  hold_id: string;
  principal_id: string;
  from_ms: number;
  to_ms: number;
  reason: string;
  placed_by: string;
  placed_at: number;
  released_at: number | null;
  released_by: string;
}

/** Per-subject keys sealing personal fields of audit events (migration 10). */
export interface AuditSubjectKeysTable {
  tenant_id: string;
  key_id: string;
  subject_id: string;
  wrapped_key: string;
  created_at: number;
  erased_at: number | null;
}
