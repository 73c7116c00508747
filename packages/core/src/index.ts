/**
 * @aesp/core — the AESP domain. Pure: every effect (clock, randomness, crypto keys,
 * storage, transports) is a port the host supplies. Named exports only.
 */
export { EnterpriseError, errorCatalogue, isErrorCode, renderErrorReference, toEnterpriseError } from "./errors.ts";
export type { EnterpriseErrorOptions, ErrorCode, ErrorStatus } from "./errors.ts";
export type * from "./records.ts";
export type * from "./ports.ts";
export type { AuditInput, AuditRecorder } from "./audit-recorder.ts";
export { toHex, utf8 } from "./audit/encoding.ts";

export type { AccessClaims, AccessTokenInput, AccessTokens } from "./identity/access-tokens.ts";
export { formatApiKey, parseApiKey } from "./identity/api-keys.ts";
export { Authenticator, assertPrincipalUsable, buildSecurityContext, effectiveRoleBindings } from "./identity/authenticate.ts";
export type { ExternalBearerAuthenticator } from "./identity/authenticate.ts";
export { IdentityService } from "./identity/identity-service.ts";
export type { ClientAssertionVerifier, CredentialInspector, IdentityOptions } from "./identity/identity-service.ts";
export { TokenService } from "./identity/token-service.ts";
export type { IssuedTokens, SignInEvidence, TokenOptions } from "./identity/token-service.ts";
export { SignInThrottle } from "./identity/sign-in-throttle.ts";
export type { ThrottleOptions, ThrottleSubject } from "./identity/sign-in-throttle.ts";
export { ExternalSignIn, SSO_ROLES_ATTRIBUTE, signInRolesOf } from "./identity/external-sign-in.ts";
export {
  IdentityProviders,
  maskedSecret,
  parseClaimMapping,
  parseProvisioningSettings,
  PROVISIONING_SETTING_KEYS,
  provisioningOf,
  scimGroupRoles,
  withoutProvisioningSettings,
} from "./identity/identity-providers.ts";
export type { IdentityProviderInput, ProviderProvisioning, ProviderSettingsCodec, ProvisioningMode } from "./identity/identity-providers.ts";
export { hasPermission, requirePermission } from "./identity/require-permission.ts";
export type { RequestOrigin, SecurityContext } from "./identity/security-context.ts";

export { TenantDirectory, compareSemver, findServableContract } from "./tenancy/tenant-snapshot.ts";
export type { ServableContract, TenantSnapshot } from "./tenancy/tenant-snapshot.ts";
export { TenantAdmin, provisionTenant } from "./tenancy/tenant-admin.ts";

export { SessionManager } from "./sessions/session-manager.ts";
export type { SessionOptions } from "./sessions/session-manager.ts";

export { ContractRegistry } from "./governance/contract-registry.ts";
export { GovernanceService } from "./governance/approvals.ts";
export { CallApprovals } from "./governance/call-approvals.ts";
export type { CallApprovalOptions, HeldCall } from "./governance/call-approvals.ts";
export { BreakGlassService, effectiveStatus as breakGlassEffectiveStatus, grantCovers, MAX_JUSTIFICATION_CHARS as BREAK_GLASS_MAX_JUSTIFICATION, MIN_JUSTIFICATION_CHARS as BREAK_GLASS_MIN_JUSTIFICATION } from "./governance/break-glass.ts";
export type { BreakGlassOptions, BreakGlassUse, BreakGlassUseRecorder } from "./governance/break-glass.ts";
export type { GovernanceOptions } from "./governance/approvals.ts";
export { DELETION_PARAMETER, PolicyRegistry, isDeletionVersion, presentedStatus, requestPolicyDeletion } from "./governance/policy-registry.ts";
export type { PolicyChange, PolicyDraftInput, PolicyEngineResolver, PolicyValidationIssue } from "./governance/policy-registry.ts";
export { validatePolicyDraft } from "./governance/policy-validation.ts";
export { PolicyRollouts, ROLLOUT_APPROVAL_KEY, isLiveRollout } from "./governance/policy-rollouts.ts";
export type { PolicyRolloutInput, PolicyRolloutOptions } from "./governance/policy-rollouts.ts";
export { cohortBucket, decideWithRollout, disagreementRate, inCohort, shouldRollBack } from "./policy/index.ts";
export type { RolloutDecision, RolloutObserver, RolloutView } from "./policy/index.ts";
export { DECISION_INPUT_KEY, MAX_RECORDED_ARGUMENTS, decisionInputOf, recordDecisionInput } from "./governance/decision-record.ts";
export { MAX_REPLAY_SAMPLES, PolicySimulator, differingPolicies, verdictsOf } from "./governance/policy-simulation.ts";
export type {
  CandidatePolicy,
  PolicyEvaluationResult,
  PolicyReplayChange,
  PolicyReplaySummary,
  PolicyTestCase,
  PolicyTestCaseResult,
  PolicyTestResult,
  PolicyVerdict,
  RequestQuery,
} from "./governance/policy-simulation.ts";

export { RuntimeDirectory } from "./runtimes/runtime-directory.ts";
export type { BreakerOptions, DispatchOutcome, DispatchRequest, RuntimeConnection } from "./runtimes/runtime-directory.ts";
export { RuntimeEnrollment } from "./runtimes/enrollment.ts";
export type { CertificateIssuer, EnrollmentOptions, RevocationListener } from "./runtimes/enrollment.ts";
export { RuntimeAdmission } from "./runtimes/admission.ts";
export type { Admission, PeerIdentity, RuntimeClaims } from "./runtimes/admission.ts";

export { governedCallSteps, invokeTool } from "./pipeline/invoke-tool.ts";
export type { ToolCallOutcome } from "./pipeline/invoke-tool.ts";
export type { GovernedCall, InvocationOptions, PipelineDeps, Step, ToolCallRequest } from "./pipeline/governed-call.ts";

export { envName, hostConfigSchema, renderConfigReference, resolveConfig } from "./config/index.ts";
export type { ConfigKey, ConfigOrigin, HostConfigSchema, ResolvedConfig } from "./config/index.ts";

export { CompiledContract, contractId, validateAdmSchema, validateContractDefinition } from "./contracts/index.ts";
export { RoleGraph, builtInRoles, classificationRank, permissionMatches } from "./rbac/index.ts";
export { AuthorizationService, GROUP_SUBJECT_PREFIX } from "./rbac/index.ts";
export type { ActionDecision, ActionQuery, CallRefusalCode, EffectiveRights, PermissionCheck, PolicyEvaluation, PolicyTrace, RoleView } from "./rbac/index.ts";
export {
  CelPolicyEngine,
  CompiledPolicyCache,
  MAX_CONDITION_LENGTH,
  MATCH,
  NO_MATCH,
  PolicyCompiler,
  PolicySet,
  celPolicyEngine,
  checkConditionSchema,
  compilePolicy,
  compilePolicyScope,
  conditionPosition,
  diagnosticsOf,
  hasMultiFactorEvidence,
  policyCompileError,
  renderPolicyVariablesMarkdown,
} from "./policy/index.ts";
export type {
  CelCompiledPolicy,
  CompiledPolicy,
  Decision,
  PolicyDiagnostic,
  PolicyEngine,
  PolicyInput,
  PolicyOutcome,
  PolicyScope,
  PolicySetOptions,
  PolicyTarget,
  SchemaIssue,
} from "./policy/index.ts";
export { claimList, claimString, mapExternalIdentity, providerUnavailable } from "./identity/external-identity.ts";
export type {
  ClaimMapping,
  ClaimValue,
  DirectoryLookup,
  ExternalIdentity,
  MappedIdentity,
  OidcTokenVerifier,
  PasswordDirectory,
  ReplayGuard,
  SamlAssertion,
  SamlServiceProvider,
} from "./identity/external-identity.ts";
export {
  ScimError,
  ScimService,
  SCIM_PROVIDER_ID,
  resourceTypeDocuments as scimResourceTypeDocuments,
  schemaDocuments as scimSchemaDocuments,
  serviceProviderConfig as scimServiceProviderConfig,
  toScimError,
} from "./identity/scim/index.ts";
export type { ScimCaller, ScimLifecycle, ScimListQuery, ScimResourceResponse, ScimServiceDeps, ScimType, ScimWriteOptions } from "./identity/scim/index.ts";
