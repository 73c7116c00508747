import type {
  ClientAssertionVerifier,
  CredentialInspector,
  ExternalSignIn,
  IdentityProviders,
  ReplayGuard,
  TokenService,
  AuditRecorder,
  Authenticator,
  BreakGlassService,
  Clock,
  ContractRegistry,
  GovernanceService,
  IdSource,
  IdentityService,
  PipelineDeps,
  PolicyRegistry,
  PolicyRollouts,
  RuntimeDirectory,
  RuntimeEnrollment,
  SessionManager,
  Store,
  TenantAdmin,
  TenantDirectory,
} from "@aesp/core";
import type { DirectorySync, IdentityAdapters } from "../../identity/identity-adapters.ts";
import type { TokenSigningKeys } from "../../identity/jwt-access-tokens.ts";
import type { AuditCheckpointRecord } from "@aesp/core";
import type { AuditProofs } from "@aesp/core/audit";
import type { AuditSigningKeys } from "../../audit/signing-keys.ts";
import type { SiemForwarding } from "../../audit/forwarding/siem-forwarding.ts";
import type { AuditRetention } from "../../audit/retention.ts";
import type { AuditSubjectCipher } from "../../audit/subject-cipher.ts";

/** Public facts about this Host, served by HostService.GetHostInfo. */
export interface HostInfo {
  readonly version: string;
  readonly trustDomain: string;
  readonly caCertificatePem: string;
  /** Set once the runtime plane listens. */
  runtimePlaneUrl: string;
  readonly auditKeys: readonly { keyId: string; publicKeyRaw: Uint8Array; publicKeyPem: string; verifierKey: string; createdAt: number; retiredAt: number | null }[];
}

/** The core use-cases the gateway's services call; wired in main.ts. */
export interface GatewayDeps {
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly audit: AuditRecorder;
  readonly store: Store;
  readonly authenticator: Authenticator;
  readonly identity: IdentityService;
  readonly tokens: TokenService;
  readonly signingKeys: TokenSigningKeys;
  readonly identityProviders: IdentityProviders;
  readonly externalSignIn: ExternalSignIn;
  readonly adapters: IdentityAdapters;
  readonly directorySync: DirectorySync;
  readonly replayGuard: ReplayGuard;
  readonly clientAssertions: ClientAssertionVerifier;
  readonly credentialInspector: CredentialInspector;
  /** The tenant holding platform administrators. */
  readonly platformTenantId: string;
  /** The gateway's external base URL (SAML ACS and metadata). */
  readonly publicUrl: () => string;
  readonly tenantAdmin: TenantAdmin;
  readonly tenants: TenantDirectory;
  readonly sessions: SessionManager;
  readonly contracts: ContractRegistry;
  readonly governance: GovernanceService;
  readonly policies: PolicyRegistry;
  /** Staged policy rollouts (shadow, canary). */
  readonly rollouts: PolicyRollouts;
  readonly enrollment: RuntimeEnrollment;
  readonly runtimes: RuntimeDirectory;
  readonly pipeline: PipelineDeps;
  readonly breakGlass: BreakGlassService;
  readonly hostInfo: HostInfo;
  /** Audit proofs, checkpoints and signing keys (EnterpriseAuditService's invented RPCs). */
  readonly auditTrail: {
    readonly proofs: AuditProofs;
    readonly keys: AuditSigningKeys;
    /** Signs a checkpoint over everything committed now. */
    readonly checkpointNow: () => Promise<AuditCheckpointRecord>;
    readonly origin: string;
  };
  /** Details of live runtime connections, for ListRuntimes. */
  readonly describeConnections: (tenantId: string) => ConnectionInfo[];
  /** SIEM forwarding (dead-letter replay). */
  readonly siem: SiemForwarding;
  /** Retention rules, legal holds, erasure (EnterpriseAuditService's invented RPCs). */
  readonly retention: AuditRetention;
  /** Opens sealed personal fields for authorized readers. */
  readonly subjectCipher: AuditSubjectCipher;
}

export interface ConnectionInfo {
  readonly runtimeId: string;
  readonly healthy: boolean;
  readonly inFlight: number;
  readonly acceptedContracts: readonly string[];
  readonly connectedSince: number;
  readonly lastHeartbeat: number;
  readonly language: string;
  readonly version: string;
}
