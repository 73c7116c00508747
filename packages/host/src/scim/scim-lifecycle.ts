/**
 * The host's {@link ScimLifecycle}: what a SCIM deactivation or deletion does beyond the principal
 * record, and the per-tenant {@link ScimService} with its role mapping.
 *
 * Rules enforced:
 * - deactivating or deleting a SCIM user runs the same deprovisioning as directory sync
 *   ({@link ExternalSignIn.deprovision}): the principal is disabled (DISABLED) or revoked
 *   (REVOKED, on delete), `tokensValidAfter` is raised so every access token already issued is
 *   refused on its next use, its refresh-token families are revoked and its live sessions end, all
 *   before the SCIM client gets its answer; reactivation is the SCIM service's own status write;
 * - a SCIM group grants the roles the tenant's `provisioning: "scim"` providers map its name to
 *   (their claim mapping's `group_roles`), limited to roles that exist in the tenant;
 * - roles a user's sign-in granted through the claim mapping survive SCIM's membership changes
 *   (see {@link keepingSignInRoles}).
 */
import { ScimService, SCIM_PROVIDER_ID, scimGroupRoles, signInRolesOf } from "@aesp/core";
import type { AuditRecorder, Clock, ExternalSignIn, IdSource, PrincipalRecord, PrincipalStore, RequestOrigin, ScimLifecycle, Store, TenantDirectory, TenantStores } from "@aesp/core";

const scimOrigin: RequestOrigin = { sourceIp: "", userAgent: "aesp-host/scim", correlationId: "" };

/** Deprovisions through {@link ExternalSignIn.deprovision} and drops cached principals. */
export class HostScimLifecycle implements ScimLifecycle {
  readonly #signIn: ExternalSignIn;
  readonly #tenants: TenantDirectory;

  constructor(deps: { signIn: ExternalSignIn; tenants: TenantDirectory }) {
    this.#signIn = deps.signIn;
    this.#tenants = deps.tenants;
  }

  async principalDeactivated(tenantId: string, principalId: string, reason: string): Promise<void> {
    // A deleted user is already REVOKED: deprovisioning it as DISABLED would bring it back.
    await this.#signIn.deprovision(scimOrigin, tenantId, principalId, reason, SCIM_PROVIDER_ID, "system", reason === "scim_delete" ? "REVOKED" : "DISABLED");
  }

  async principalChanged(tenantId: string, principalId: string): Promise<void> {
    this.#tenants.forgetPrincipal(tenantId, principalId);
  }
}

/**
 * The SCIM service of one tenant, built per request: it is a handful of references, and building
 * it anew reads the tenant's current group → roles mapping (one read of its providers).
 */
export function scimServiceResolver(deps: {
  store: Store;
  clock: Clock;
  ids: IdSource;
  audit: AuditRecorder;
  tenants: TenantDirectory;
  lifecycle: ScimLifecycle;
}): (tenantId: string) => Promise<ScimService> {
  const store = keepingSignInRoles(deps.store);
  const knownRole = async (tenantId: string, role: string) => (await deps.tenants.snapshot(tenantId))?.roles.has(role) === true;
  return async (tenantId) =>
    new ScimService({
      store,
      clock: deps.clock,
      ids: deps.ids,
      audit: deps.audit,
      lifecycle: deps.lifecycle,
      groupRoles: scimGroupRoles(await deps.store.forTenant(tenantId).identityProviders.list()),
      knownRole,
    });
}

/**
 * The store the SCIM service writes through. The SCIM service sets a user's `syncedRoles` to the
 * roles of its groups; this view adds, in the same write and so in the same transaction, the
 * roles its last sign-in's claim mapping granted (kept in the `sso_roles` attribute), so a
 * membership change never drops them. Deleted (REVOKED) users are written as they are.
 */
export function keepingSignInRoles(store: Store): Store {
  return {
    kind: store.kind,
    platform: store.platform,
    forTenant: (tenantId) => withSignInRoles(store.forTenant(tenantId)),
    transaction: (work) => store.transaction((tx) => work(keepingSignInRoles(tx))),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}

function withSignInRoles(stores: TenantStores): TenantStores {
  const inner = stores.principals;
  const principals: PrincipalStore = {
    create: (record) => inner.create(plusSignInRoles(record)),
    get: (principalId) => inner.get(principalId),
    findByExternalSubject: (providerId, subject) => inner.findByExternalSubject(providerId, subject),
    list: (filter) => inner.list(filter),
    count: (filter) => inner.count(filter),
    update: (record, expectedRevision) => inner.update(plusSignInRoles(record), expectedRevision),
  };
  return { ...stores, principals };
}

function plusSignInRoles(record: PrincipalRecord): PrincipalRecord {
  if (record.providerId !== SCIM_PROVIDER_ID || record.type !== "USER" || record.status === "REVOKED") return record;
  const signInRoles = signInRolesOf(record);
  if (signInRoles.every((role) => record.syncedRoles.includes(role))) return record;
  return { ...record, syncedRoles: [...new Set([...record.syncedRoles, ...signInRoles])].sort() };
}
