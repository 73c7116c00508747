import { EnterpriseError, isErrorCode } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock, IdSource, Store } from "../ports.ts";
import type { IdentityProviderRecord, PrincipalRecord } from "../records.ts";
import type { SessionManager } from "../sessions/session-manager.ts";
import type { TenantDirectory } from "../tenancy/tenant-snapshot.ts";
import type { TenantSnapshot } from "../tenancy/tenant-snapshot.ts";
import type { TenantStores } from "../ports.ts";
import type { DirectoryLookup, ExternalIdentity, MappedIdentity, OidcTokenVerifier, PasswordDirectory, ReplayGuard, SamlServiceProvider } from "./external-identity.ts";
import type { SignInThrottle } from "./sign-in-throttle.ts";
import { claimString, mapExternalIdentity } from "./external-identity.ts";
import { provisioningOf, scimGroupRoles } from "./identity-providers.ts";
import type { ProviderProvisioning } from "./identity-providers.ts";
import { SCIM_ATTRIBUTE_KEYS } from "./scim/resources.ts";
import { SCIM_PROVIDER_ID } from "./scim/scim-service.ts";
import { assertPrincipalUsable } from "./authenticate.ts";
import { updatePrincipal } from "./principal-updates.ts";
import type { RequestOrigin } from "./security-context.ts";
import type { IssuedTokens, TokenService } from "./token-service.ts";

const systemOrigin: RequestOrigin = { sourceIp: "", userAgent: "aesp-host", correlationId: "" };

/**
 * The principal attribute holding, for a SCIM-provisioned user, the roles its last sign-in's claim
 * mapping granted (comma-separated). Its `syncedRoles` are those plus the roles of its SCIM groups;
 * the attribute lets each source recompute its share without wiping the other's (see
 * {@link ExternalSignIn.syncPrincipal} and the host's SCIM store).
 */
export const SSO_ROLES_ATTRIBUTE = "sso_roles";

/** The roles a SCIM user's last sign-in granted through the claim mapping ({@link SSO_ROLES_ATTRIBUTE}). */
export function signInRolesOf(principal: PrincipalRecord): string[] {
  const value = principal.attributes[SSO_ROLES_ATTRIBUTE] ?? "";
  return value === "" ? [] : value.split(",");
}

/**
 * Turns a verified external identity into a Host principal, and keeps that principal in step
 * with its provider.
 *
 * Rules enforced:
 * - the provider belongs to one tenant and the principal is created in that tenant only: no claim
 *   can move someone into another tenant;
 * - a principal is linked to its provider account by (provider, subject), never by name or email,
 *   so a second provider asserting the same email gets a different principal;
 * - roles, groups, clearance and attributes are replaced from the provider at every sign-in and
 *   sync; roles an administrator assigned in the Host are kept;
 * - a principal disabled in the Host stays disabled whatever the provider says;
 * - a provider account that is disabled or gone loses access at the next sync or sign-in: the
 *   principal is disabled and its tokens and sessions are revoked at once;
 * - a provider with `provisioning: "scim"` creates no principal: a sign-in finds the live SCIM user
 *   of the provider's tenant it names, and an unknown or deactivated user is refused.
 */
export class ExternalSignIn {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #audit: AuditRecorder;
  readonly #tenants: TenantDirectory;
  readonly #tokens: TokenService;
  readonly #sessions: SessionManager;
  readonly #throttle: SignInThrottle;

  constructor(deps: { store: Store; clock: Clock; ids: IdSource; audit: AuditRecorder; tenants: TenantDirectory; tokens: TokenService; sessions: SessionManager; throttle: SignInThrottle }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#ids = deps.ids;
    this.#audit = deps.audit;
    this.#tenants = deps.tenants;
    this.#tokens = deps.tokens;
    this.#sessions = deps.sessions;
    this.#throttle = deps.throttle;
  }

  /**
   * Signs in with a directory username and password, throttled per account and source address.
   * @throws EnterpriseError AUTHENTICATION_FAILED, ACCOUNT_LOCKED, TENANT_SUSPENDED, IDENTITY_PROVIDER_UNAVAILABLE
   */
  async passwordSignIn(origin: RequestOrigin, provider: IdentityProviderRecord, directory: PasswordDirectory, username: string, password: string): Promise<IssuedTokens> {
    const subject = { tenantId: provider.tenantId, method: "ldap", account: `${provider.providerId}/${username}`, sourceIp: origin.sourceIp };
    await this.#throttle.assertNotLocked(subject);
    return this.#auditingFailures(origin, provider, "ldap", async () => {
      let identity: ExternalIdentity;
      try {
        identity = await directory.authenticate(username, password);
      } catch (err) {
        if (isErrorCode(err, "AUTHENTICATION_FAILED")) {
          await this.#throttle.failed(subject, origin);
          // A disabled directory account also loses its Host principal at once.
          if (err.details["reason"] === "account_disabled") await this.#deprovisionLinked(provider, username);
        }
        throw err;
      }
      await this.#throttle.succeeded(subject);
      return this.signIn(origin, provider, identity, "ldap");
    });
  }

  /**
   * Signs in with a SAML response: validated by the provider's SP, each assertion accepted once.
   * @throws EnterpriseError AUTHENTICATION_FAILED, TENANT_SUSPENDED
   */
  async samlSignIn(origin: RequestOrigin, provider: IdentityProviderRecord, sp: SamlServiceProvider, samlResponse: string, replay: ReplayGuard): Promise<IssuedTokens> {
    return this.#auditingFailures(origin, provider, "saml", async () => {
      const assertion = await sp.acceptResponse(samlResponse);
      if (!(await replay.firstUse(`saml-assertion:${provider.tenantId}:${provider.providerId}:${assertion.assertionId}`, assertion.notOnOrAfter))) {
        throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "assertion_replayed" } });
      }
      return this.signIn(origin, provider, assertion.identity, "saml");
    });
  }

  /**
   * Signs in with an OIDC ID token issued to the provider's client.
   * @throws EnterpriseError AUTHENTICATION_FAILED, TOKEN_EXPIRED, TENANT_SUSPENDED, IDENTITY_PROVIDER_UNAVAILABLE
   */
  async oidcSignIn(origin: RequestOrigin, provider: IdentityProviderRecord, verifier: OidcTokenVerifier, idToken: string, replay: ReplayGuard): Promise<IssuedTokens> {
    return this.#auditingFailures(origin, provider, "oidc", async () => {
      const identity = await verifier.verifyIdToken(idToken);
      // An ID token is a one-time proof of sign-in: presenting it twice is a replay. Most IdPs send
      // no `jti`, and `iat` has one-second resolution, so the (signed) `nonce` of each login tells
      // apart two sign-ins of one user within a second.
      const tokenKey = `oidc-id-token:${provider.tenantId}:${provider.providerId}:${identity.subject}:${String(identity.claims["jti"] ?? "")}:${String(identity.claims["iat"] ?? "")}:${String(identity.claims["nonce"] ?? "")}`;
      if (!(await replay.firstUse(tokenKey, this.#clock.now() + 24 * 3600 * 1000))) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "id_token_replayed" } });
      return this.signIn(origin, provider, identity, "oidc");
    });
  }

  /** Runs a sign-in and records `authn.failed` once for any refusal, wherever in the sign-in it arose. */
  async #auditingFailures(origin: RequestOrigin, provider: IdentityProviderRecord, method: string, signIn: () => Promise<IssuedTokens>): Promise<IssuedTokens> {
    try {
      return await signIn();
    } catch (err) {
      if (isErrorCode(err, "AUTHENTICATION_FAILED", "TOKEN_EXPIRED", "TENANT_SUSPENDED")) await this.#auditFailure(origin, provider, method, err.details["reason"] ?? err.code.toLowerCase());
      throw err;
    }
  }

  async #auditFailure(origin: RequestOrigin, provider: IdentityProviderRecord, method: string, reason: string): Promise<void> {
    await this.#audit.record({
      eventType: "authn.failed",
      tenantId: provider.tenantId,
      resource: `identity_provider:${provider.providerId}`,
      action: "authenticate",
      outcome: "DENIED",
      origin,
      metadata: { method, reason, provider_id: provider.providerId },
    });
  }

  async #deprovisionLinked(provider: IdentityProviderRecord, username: string): Promise<void> {
    const linked = await this.#store.forTenant(provider.tenantId).principals.list({ providerId: provider.providerId, userName: username, limit: 5 });
    for (const principal of linked) {
      if (principal.status === "ACTIVE") await this.deprovision(systemOrigin, provider.tenantId, principal.principalId, "disabled", provider.providerId, "system");
    }
  }

  /**
   * Signs in someone a provider vouched for: links or creates their principal, synchronises it,
   * and issues an access token and a refresh token.
   * @throws EnterpriseError TENANT_SUSPENDED, AUTHENTICATION_FAILED (principal disabled in the Host, or unknown without JIT provisioning)
   */
  async signIn(origin: RequestOrigin, provider: IdentityProviderRecord, identity: ExternalIdentity, method: string) {
    const principal = await this.syncPrincipal(origin, provider, identity);
    assertPrincipalUsable(principal, this.#clock.now());
    return this.#tokens.issue(principal, { amr: identity.amr, acr: identity.acr, providerId: provider.providerId, method }, origin, true);
  }

  /**
   * Links or creates the principal for `identity` and replaces its synchronised fields. With
   * `provisioning: "scim"` it finds the SCIM user instead (see {@link #syncScimUser}).
   * @throws EnterpriseError TENANT_SUSPENDED, AUTHENTICATION_FAILED (unknown principal and JIT
   *   provisioning off; with SCIM provisioning `not_provisioned`, `ambiguous_user`, `principal_inactive`)
   */
  async syncPrincipal(origin: RequestOrigin, provider: IdentityProviderRecord, identity: ExternalIdentity): Promise<PrincipalRecord> {
    if (identity.providerId !== provider.providerId) throw new EnterpriseError("INTERNAL_ERROR", { message: "Identity asserted by another provider." });
    const snapshot = await this.#tenants.snapshot(provider.tenantId);
    if (snapshot === null) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "unknown_tenant" } });
    if (snapshot.tenant.status !== "ACTIVE") throw new EnterpriseError("TENANT_SUSPENDED", { tenantId: provider.tenantId });
    const mapped = mapExternalIdentity(identity, provider.mapping, (role) => snapshot.roles.has(role));
    const provisioning = provisioningOf(provider);
    if (provisioning.mode === "scim") return this.#syncScimUser(origin, provider, provisioning, identity, mapped, snapshot);
    const stores = this.#store.forTenant(provider.tenantId);
    const now = this.#clock.now();
    for (let attempt = 0; ; attempt++) {
      const existing = await stores.principals.findByExternalSubject(provider.providerId, identity.subject);
      try {
        let principal: PrincipalRecord;
        if (existing === null) {
          if (!provider.jitProvisioning) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "not_provisioned" } });
          principal = {
            tenantId: provider.tenantId,
            principalId: this.#ids.newId("usr"),
            type: "USER",
            displayName: (identity.displayName || identity.username || identity.subject).slice(0, 128),
            description: `Signed in through ${provider.providerId}`,
            roles: [],
            permissions: [],
            clearance: mapped.clearance,
            status: "ACTIVE",
            attributes: mapped.attributes,
            createdAt: now,
            createdBy: `idp:${provider.providerId}`,
            expiresAt: null,
            userName: identity.username.slice(0, 256),
            providerId: provider.providerId,
            externalSubject: identity.subject,
            groups: mapped.groups,
            syncedRoles: mapped.roles,
            syncedAt: now,
            tokensValidAfter: 0,
            revision: 0,
          };
          await stores.principals.create(principal);
        } else {
          principal = {
            ...existing,
            displayName: (identity.displayName || existing.displayName).slice(0, 128),
            userName: identity.username === "" ? existing.userName : identity.username.slice(0, 256),
            clearance: mapped.clearance,
            attributes: mapped.attributes,
            groups: mapped.groups,
            syncedRoles: mapped.roles,
            syncedAt: now,
            revision: existing.revision + 1,
          };
          await stores.principals.update(principal, existing.revision);
        }
        this.#tenants.forgetPrincipal(provider.tenantId, principal.principalId);
        await this.#audit.record({
          eventType: "principal.synced",
          tenantId: provider.tenantId,
          principalId: principal.principalId,
          resource: `principal:${principal.principalId}`,
          action: "sync",
          outcome: "SUCCESS",
          origin,
          metadata: { provider_id: provider.providerId, created: String(existing === null), roles: mapped.roles.join(","), groups: mapped.groups.join(",").slice(0, 1024) },
        });
        return principal;
      } catch (err) {
        // Two first sign-ins racing, or a concurrent update: re-read and apply again.
        if (!isErrorCode(err, "ALREADY_EXISTS", "CONFLICT") || attempt >= 3) throw err;
      }
    }
  }

  /**
   * Signs in a user the tenant's SCIM client provisioned. The SCIM user is looked up at every
   * sign-in, never linked by copying the provider's subject onto it: the principal keeps
   * `providerId: "scim"` so SCIM keeps owning it (name, status, groups, deletion), and a rename or
   * re-provisioning through SCIM is followed at once. The lookup takes, in this order, the live
   * SCIM user whose `externalId` is the provider's subject, then the one whose `userName` equals
   * the configured claim (default: the mapped user name), compared case-insensitively as SCIM does.
   *
   * Roles: `syncedRoles` becomes the roles of the user's SCIM groups (the `group_roles` of the
   * tenant's SCIM-provisioned providers) plus the roles this sign-in's claim mapping grants; the
   * latter are also kept in {@link SSO_ROLES_ATTRIBUTE}, so SCIM can recompute its share without
   * dropping them, and this sign-in replaces only its own share. Name, status, groups and the
   * attributes SCIM owns are left to SCIM; clearance and other mapped attributes come from the claims.
   */
  async #syncScimUser(
    origin: RequestOrigin,
    provider: IdentityProviderRecord,
    provisioning: ProviderProvisioning,
    identity: ExternalIdentity,
    mapped: MappedIdentity,
    snapshot: TenantSnapshot,
  ): Promise<PrincipalRecord> {
    const stores = this.#store.forTenant(provider.tenantId);
    const groupRoles = scimGroupRoles(await stores.identityProviders.list());
    const now = this.#clock.now();
    for (let attempt = 0; ; attempt++) {
      const { principal: existing, linkedBy } = await findScimUser(stores, provisioning, identity);
      if (existing.status !== "ACTIVE") throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "principal_inactive" } });
      const fromGroups = existing.groups.flatMap((group) => groupRoles[group] ?? []).filter((role) => snapshot.roles.has(role));
      const attributes: Record<string, string> = {};
      for (const [key, value] of Object.entries(mapped.attributes)) if (!isScimOwned(key)) attributes[key] = value;
      for (const key of SCIM_ATTRIBUTE_KEYS) if (existing.attributes[key] !== undefined) attributes[key] = existing.attributes[key];
      if (mapped.roles.length > 0) attributes[SSO_ROLES_ATTRIBUTE] = mapped.roles.join(",");
      const principal: PrincipalRecord = {
        ...existing,
        clearance: mapped.clearance,
        attributes,
        syncedRoles: [...new Set([...fromGroups, ...mapped.roles])].sort(),
        syncedAt: now,
        revision: existing.revision + 1,
      };
      try {
        await stores.principals.update(principal, existing.revision);
      } catch (err) {
        // A SCIM write raced this sign-in: re-read and apply again.
        if (!isErrorCode(err, "CONFLICT") || attempt >= 3) throw err;
        continue;
      }
      this.#tenants.forgetPrincipal(provider.tenantId, principal.principalId);
      await this.#audit.record({
        eventType: "principal.synced",
        tenantId: provider.tenantId,
        principalId: principal.principalId,
        resource: `principal:${principal.principalId}`,
        action: "sync",
        outcome: "SUCCESS",
        origin,
        metadata: { provider_id: provider.providerId, created: "false", linked_by: linkedBy, roles: principal.syncedRoles.join(","), groups: principal.groups.join(",").slice(0, 1024) },
      });
      return principal;
    }
  }

  /**
   * Applies a directory's answer about a linked principal (scheduled sync): refreshes it when
   * active, deprovisions it when disabled or gone.
   * @returns what happened to the principal.
   */
  async applyDirectoryLookup(provider: IdentityProviderRecord, principal: PrincipalRecord, lookup: DirectoryLookup): Promise<"synced" | "deprovisioned" | "unchanged"> {
    if (lookup.state === "active") {
      if (principal.status !== "ACTIVE") return "unchanged";
      await this.syncPrincipal(systemOrigin, provider, lookup.identity);
      return "synced";
    }
    if (principal.status !== "ACTIVE") return "unchanged";
    await this.deprovision(systemOrigin, principal.tenantId, principal.principalId, lookup.state === "disabled" ? "disabled" : "absent", provider.providerId, "system");
    return "deprovisioned";
  }

  /**
   * Disables a principal and ends its sessions and tokens at once.
   * @param status - DISABLED (may come back) or REVOKED (deleted at the provider).
   */
  async deprovision(origin: RequestOrigin, tenantId: string, principalId: string, reason: string, providerId: string, actorPrincipalId: string, status: "DISABLED" | "REVOKED" = "DISABLED"): Promise<void> {
    const stores = this.#store.forTenant(tenantId);
    const exists = await updatePrincipal(stores.principals, principalId, (current) => (current.status === status ? null : { ...current, status }));
    if (!exists) return;
    this.#tenants.forgetPrincipal(tenantId, principalId);
    const revoked = await this.#tokens.revokeAllForPrincipal(origin, tenantId, principalId, reason, actorPrincipalId);
    const sessionsEnded = await this.#sessions.endForPrincipal(tenantId, principalId);
    await this.#audit.record({
      eventType: "principal.deprovisioned",
      tenantId,
      principalId: actorPrincipalId,
      resource: `principal:${principalId}`,
      action: "deprovision",
      outcome: "SUCCESS",
      origin,
      metadata: { ...(providerId === "" ? {} : { provider_id: providerId }), reason, revoked_count: String(revoked), sessions_ended: String(sessionsEnded) },
    });
  }
}

function isScimOwned(attribute: string): boolean {
  return attribute === SSO_ROLES_ATTRIBUTE || (SCIM_ATTRIBUTE_KEYS as readonly string[]).includes(attribute);
}

function isLiveScimUser(principal: PrincipalRecord): boolean {
  return principal.type === "USER" && principal.providerId === SCIM_PROVIDER_ID && principal.status !== "REVOKED";
}

/**
 * The live SCIM user a sign-in names: by `externalId` = subject, else by `userName`.
 * @throws EnterpriseError AUTHENTICATION_FAILED `not_provisioned` (none), `ambiguous_user` (several).
 */
async function findScimUser(stores: TenantStores, provisioning: ProviderProvisioning, identity: ExternalIdentity): Promise<{ principal: PrincipalRecord; linkedBy: "external_id" | "user_name" }> {
  if (identity.subject !== "") {
    const bySubject = await stores.principals.findByExternalSubject(SCIM_PROVIDER_ID, identity.subject);
    // A SCIM user without an externalId holds its own principal id as subject: never a match.
    if (bySubject !== null && bySubject.externalSubject !== bySubject.principalId && isLiveScimUser(bySubject)) return { principal: bySubject, linkedBy: "external_id" };
  }
  const userName = provisioning.userNameClaim === null ? identity.username : claimString(identity.claims[provisioning.userNameClaim]);
  if (userName === "") throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "not_provisioned" } });
  const named = (await stores.principals.list({ providerId: SCIM_PROVIDER_ID, type: "USER", userName, includeInactive: true, limit: 3 })).filter(isLiveScimUser);
  const [only] = named;
  if (only === undefined) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "not_provisioned" } });
  if (named.length > 1) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "ambiguous_user" } });
  return { principal: only, linkedBy: "user_name" };
}
