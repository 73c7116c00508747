/** Assembles the stores of one tenant. */
import type { TenantStores } from "@aesp/core";
import type { StoreContext } from "../context.ts";
import { KyselyApiKeyStore } from "./api-keys.ts";
import { KyselyApprovalStore } from "./approvals.ts";
import { KyselyTenantAuditReader } from "./audit-reader.ts";
import { KyselyCertificateStore } from "./certificates.ts";
import { KyselyClientCredentialStore } from "./client-credentials.ts";
import { KyselyContractStore } from "./contracts.ts";
import { KyselyGroupStore } from "./groups.ts";
import { KyselyGroupRoleBindingStore } from "./group-role-bindings.ts";
import { KyselyIdentityProviderStore } from "./identity-providers.ts";
import { KyselyJoinTokenStore } from "./join-tokens.ts";
import { KyselyPolicyStore } from "./policies.ts";
import { KyselyPolicyRolloutStore } from "./policy-rollouts.ts";
import { KyselyPrincipalStore } from "./principals.ts";
import { KyselyRefreshTokenStore } from "./refresh-tokens.ts";
import { KyselyRevokedTokenStore } from "./revoked-tokens.ts";
import { KyselyRoleStore } from "./roles.ts";
import { KyselyRuntimeRegistrationStore } from "./runtimes.ts";
import { KyselySessionStore } from "./sessions.ts";
import { KyselyTenantEpochStore } from "./tenant-epoch.ts";
import { KyselyBreakGlassGrantStore } from "./break-glass-grants.ts";
import { KyselyAuditRetentionStore } from "./audit-retention.ts";
import { KyselyAuditSubjectKeyStore } from "./audit-subject-keys.ts";

export { policyCursor } from "./policies.ts";

/**
 * Every store of `tenantId`, each bound to it for life.
 *
 * @param context - the database handle (root or transaction).
 * @param tenantId - a non-empty tenant id, validated by the caller.
 */
export function createTenantStores(context: StoreContext, tenantId: string): TenantStores {
  return Object.freeze({
    tenantId,
    principals: new KyselyPrincipalStore(context, tenantId),
    apiKeys: new KyselyApiKeyStore(context, tenantId),
    sessions: new KyselySessionStore(context, tenantId),
    contracts: new KyselyContractStore(context, tenantId),
    policies: new KyselyPolicyStore(context, tenantId),
    roles: new KyselyRoleStore(context, tenantId),
    approvals: new KyselyApprovalStore(context, tenantId),
    runtimes: new KyselyRuntimeRegistrationStore(context, tenantId),
    joinTokens: new KyselyJoinTokenStore(context, tenantId),
    certificates: new KyselyCertificateStore(context, tenantId),
    refreshTokens: new KyselyRefreshTokenStore(context, tenantId),
    revokedTokens: new KyselyRevokedTokenStore(context, tenantId),
    clientCredentials: new KyselyClientCredentialStore(context, tenantId),
    identityProviders: new KyselyIdentityProviderStore(context, tenantId),
    groups: new KyselyGroupStore(context, tenantId),
    groupRoleBindings: new KyselyGroupRoleBindingStore(context, tenantId),
    epoch: new KyselyTenantEpochStore(context, tenantId),
    audit: new KyselyTenantAuditReader(context, tenantId),
    breakGlass: new KyselyBreakGlassGrantStore(context, tenantId),
    policyRollouts: new KyselyPolicyRolloutStore(context, tenantId),
    auditRetention: new KyselyAuditRetentionStore(context, tenantId),
    auditSubjectKeys: new KyselyAuditSubjectKeyStore(context, tenantId),
  });
}
