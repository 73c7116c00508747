/**
 * The host's side of external identity: builds (and caches) the adapter for each tenant's
 * provider, accepts OIDC bearer tokens at the gateway, verifies service-account assertions and
 * certificates, and runs the scheduled directory sync.
 */
import { createHash, X509Certificate } from "node:crypto";
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import type { JWK } from "jose";
import { EnterpriseError, buildSecurityContext, assertPrincipalUsable, isErrorCode } from "@aesp/core";
import type {
  ClientAssertionVerifier,
  ClientCredentialRecord,
  Clock,
  CredentialInspector,
  ExternalBearerAuthenticator,
  ExternalSignIn,
  IdentityProviderRecord,
  IdentityProviders,
  OneTimeValueStore,
  PasswordDirectory,
  ReplayGuard,
  SecurityContext,
  Store,
  TenantDirectory,
} from "@aesp/core";
import type { Logger } from "pino";
import { LdapDirectory, parseLdapSettings } from "./ldap/ldap-directory.ts";
import { OidcVerifier, parseOidcSettings, unverifiedIssuer } from "./oidc/oidc-verifier.ts";
import type { HostProviderSettingsCodec } from "./provider-settings.ts";
import { SamlSp, parseSamlSettings } from "./saml/saml-sp.ts";
import type { SamlRequestCache } from "./saml/saml-sp.ts";

type Adapter = LdapDirectory | OidcVerifier | SamlSp;

/** {@link ReplayGuard} over the shared one-time-value store: one use per key across every Host. */
export class StoreReplayGuard implements ReplayGuard {
  readonly #store: OneTimeValueStore;
  readonly #clock: Clock;

  constructor(store: OneTimeValueStore, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  firstUse(key: string, expiresAt: number): Promise<boolean> {
    return this.#store.claim(key, Math.max(expiresAt, this.#clock.now() + 1000), this.#clock.now());
  }
}

/** {@link SamlRequestCache} over the shared one-time-value store, so the ACS may run on any Host. */
export class StoreSamlRequestCache implements SamlRequestCache {
  readonly #store: OneTimeValueStore;
  readonly #clock: Clock;

  constructor(store: OneTimeValueStore, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  async save(requestId: string, issuedAt: string, expiresAt: number): Promise<void> {
    await this.#store.put(requestId, issuedAt, expiresAt);
  }

  get(requestId: string): Promise<string | null> {
    return this.#store.get(requestId, this.#clock.now());
  }

  async remove(requestId: string): Promise<void> {
    await this.#store.delete(requestId);
  }
}

/** Provider ids are unique per tenant only, so request ids are kept per tenant. */
function tenantScoped(cache: SamlRequestCache, tenantId: string): SamlRequestCache {
  return {
    save: (requestId, issuedAt, expiresAt) => cache.save(`${tenantId}:${requestId}`, issuedAt, expiresAt),
    get: (requestId) => cache.get(`${tenantId}:${requestId}`),
    remove: (requestId) => cache.remove(`${tenantId}:${requestId}`),
  };
}

/**
 * Builds each provider's adapter once per provider revision and hands out the right kind.
 * Secrets are opened only here, in memory.
 */
export class IdentityAdapters {
  readonly #codec: HostProviderSettingsCodec;
  readonly #clock: Clock;
  readonly #samlRequests: SamlRequestCache;
  readonly #acsUrl: (tenantId: string, providerId: string) => string;
  readonly #cache = new Map<string, { revision: number; updatedAt: number; adapter: Adapter }>();

  constructor(deps: { codec: HostProviderSettingsCodec; clock: Clock; samlRequests: SamlRequestCache; acsUrl: (tenantId: string, providerId: string) => string }) {
    this.#codec = deps.codec;
    this.#clock = deps.clock;
    this.#samlRequests = deps.samlRequests;
    this.#acsUrl = deps.acsUrl;
  }

  directory(record: IdentityProviderRecord): PasswordDirectory {
    return this.#get(record, () => new LdapDirectory(parseLdapSettings(record.providerId, this.#settings(record)), { now: () => this.#clock.now() })) as LdapDirectory;
  }

  oidc(record: IdentityProviderRecord): OidcVerifier {
    return this.#get(record, () => new OidcVerifier(parseOidcSettings(record.providerId, this.#settings(record)), { clock: this.#clock })) as OidcVerifier;
  }

  saml(record: IdentityProviderRecord): SamlSp {
    return this.#get(
      record,
      () =>
        new SamlSp({
          providerId: record.providerId,
          settings: parseSamlSettings(record.providerId, this.#settings(record)),
          requestCache: tenantScoped(this.#samlRequests, record.tenantId),
          acsUrl: this.#acsUrl(record.tenantId, record.providerId),
        }),
    ) as SamlSp;
  }

  /** Drops a provider's adapter after it changed or was deleted. */
  forget(tenantId: string, providerId: string): void {
    const entry = this.#cache.get(`${tenantId}\u0000${providerId}`);
    this.#cache.delete(`${tenantId}\u0000${providerId}`);
    if (entry?.adapter instanceof LdapDirectory) void entry.adapter.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    for (const { adapter } of this.#cache.values()) if (adapter instanceof LdapDirectory) await adapter.close().catch(() => undefined);
    this.#cache.clear();
  }

  #settings(record: IdentityProviderRecord): Record<string, unknown> {
    return this.#codec.open(record.kind, record.providerId, record.settings);
  }

  #get(record: IdentityProviderRecord, build: () => Adapter): Adapter {
    const key = `${record.tenantId}\u0000${record.providerId}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined && cached.revision === record.revision && cached.updatedAt === record.updatedAt) return cached.adapter;
    if (cached?.adapter instanceof LdapDirectory) void cached.adapter.close().catch(() => undefined);
    const adapter = build();
    this.#cache.set(key, { revision: record.revision, updatedAt: record.updatedAt, adapter });
    return adapter;
  }
}

interface CachedBearer {
  readonly tenantId: string;
  readonly principalId: string;
  readonly expiresAt: number;
  readonly claims: Record<string, string>;
}

/**
 * Accepts JWT access tokens of the tenants' OIDC providers as bearer tokens at the gateway.
 *
 * Rules enforced:
 * - only issuers configured by some tenant are considered, and a token is tried only against the
 *   providers with exactly its issuer; its audience must be one the provider accepts;
 * - the principal lives in the provider's tenant: a token of tenant A's issuer never acts in B;
 * - the principal is synchronised (or just-in-time created) on the token's first use, then reused
 *   until the token expires; status is re-checked on every call.
 */
export class OidcBearerAuthenticator implements ExternalBearerAuthenticator {
  readonly #hostIssuer: string;
  readonly #store: Store;
  readonly #providers: IdentityProviders;
  readonly #adapters: IdentityAdapters;
  readonly #signIn: ExternalSignIn;
  readonly #tenants: TenantDirectory;
  readonly #clock: Clock;
  readonly #verified = new Map<string, CachedBearer>();
  #issuers: Map<string, IdentityProviderRecord[]> | null = null;

  constructor(deps: { hostIssuer: string; store: Store; providers: IdentityProviders; adapters: IdentityAdapters; signIn: ExternalSignIn; tenants: TenantDirectory; clock: Clock }) {
    this.#hostIssuer = deps.hostIssuer;
    this.#store = deps.store;
    this.#providers = deps.providers;
    this.#adapters = deps.adapters;
    this.#signIn = deps.signIn;
    this.#tenants = deps.tenants;
    this.#clock = deps.clock;
  }

  handles(token: string): boolean {
    const issuer = unverifiedIssuer(token);
    return issuer !== null && issuer !== this.#hostIssuer;
  }

  /** Forgets the issuer index after a provider changed. */
  invalidate(): void {
    this.#issuers = null;
  }

  async authenticate(token: string): Promise<SecurityContext> {
    const now = this.#clock.now();
    const cached = this.#verified.get(token);
    if (cached !== undefined && cached.expiresAt > now) return this.#context(cached);
    if (cached !== undefined) {
      this.#verified.delete(token);
      throw new EnterpriseError("TOKEN_EXPIRED");
    }
    const issuer = unverifiedIssuer(token) ?? "";
    const candidates = (await this.#index()).get(issuer) ?? [];
    if (candidates.length === 0) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "unknown_issuer" } });
    let lastError: unknown = new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "invalid_token" } });
    for (const provider of candidates) {
      let identity;
      try {
        identity = await this.#adapters.oidc(provider).verifyAccessToken(token);
      } catch (err) {
        lastError = err;
        if (isErrorCode(err, "AUTHENTICATION_FAILED")) continue;
        throw err;
      }
      const principal = await this.#signIn.syncPrincipal({ sourceIp: "", userAgent: "", correlationId: "" }, provider, identity);
      const exp = decodeJwt(token).exp;
      const entry: CachedBearer = {
        tenantId: provider.tenantId,
        principalId: principal.principalId,
        expiresAt: typeof exp === "number" ? exp * 1000 : now + 60_000,
        claims: { amr: identity.amr.join(" "), idp: provider.providerId, ...(identity.acr === "" ? {} : { acr: identity.acr }) },
      };
      if (this.#verified.size > 10_000) this.#verified.clear();
      this.#verified.set(token, entry);
      return this.#context(entry);
    }
    throw lastError;
  }

  async #context(entry: CachedBearer): Promise<SecurityContext> {
    // currentSnapshot checks the tenant's change epoch, so a role or status change made on another
    // Host is seen by this bearer's next call, as for the Host's own tokens.
    const snapshot = await this.#tenants.currentSnapshot(entry.tenantId);
    if (snapshot === null) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "unknown_tenant" } });
    if (snapshot.tenant.status !== "ACTIVE") throw new EnterpriseError("TENANT_SUSPENDED", { tenantId: entry.tenantId });
    const principal = await this.#tenants.principal(entry.tenantId, entry.principalId);
    assertPrincipalUsable(principal, this.#clock.now());
    return buildSecurityContext(snapshot, principal, { tokenId: "", tokenExpiresAt: entry.expiresAt, claims: entry.claims });
  }

  async #index(): Promise<Map<string, IdentityProviderRecord[]>> {
    if (this.#issuers !== null) return this.#issuers;
    const index = new Map<string, IdentityProviderRecord[]>();
    for (const tenant of await this.#store.platform.tenants.list()) {
      if (tenant.status !== "ACTIVE") continue;
      for (const provider of await this.#providers.listEnabled(tenant.tenantId)) {
        if (provider.kind !== "oidc") continue;
        const issuer = typeof provider.settings["issuer"] === "string" ? provider.settings["issuer"] : "";
        index.set(issuer, [...(index.get(issuer) ?? []), provider]);
      }
    }
    this.#issuers = index;
    return index;
  }
}

/** Algorithms accepted for service-account assertions: asymmetric only. */
const assertionAlgorithms = ["EdDSA", "ES256", "ES384", "RS256", "PS256"];

/**
 * Verifies `private_key_jwt` client assertions (RFC 7523 §3): `iss` = `sub` = the service account,
 * `aud` = the Host's token audience, a short `exp`, a `jti`, signed by a registered key.
 */
export class JoseClientAssertionVerifier implements ClientAssertionVerifier {
  readonly #audience: string;
  readonly #clock: Clock;

  constructor(audience: string, clock: Clock) {
    this.#audience = audience;
    this.#clock = clock;
  }

  peekSubject(assertion: string): string | null {
    if (assertion.length > 16_384) return null;
    try {
      const sub = decodeJwt(assertion).sub;
      return typeof sub === "string" && /^sa_[A-Za-z0-9_-]{1,64}$/.test(sub) ? sub : null;
    } catch {
      return null;
    }
  }

  async verify(assertion: string, keys: readonly ClientCredentialRecord[]): Promise<{ jti: string; expiresAt: number; credentialId: string }> {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(assertion).kid;
    } catch {
      throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "invalid_assertion" } });
    }
    const candidates = kid === undefined ? keys : keys.filter((k) => k.credentialId === kid || k.thumbprint === kid);
    for (const credential of candidates) {
      const jwk = JSON.parse(credential.material) as JWK;
      try {
        const key = await importJWK(jwk, jwk.alg ?? algorithmFor(jwk));
        const { payload } = await jwtVerify(assertion, key, {
          audience: this.#audience,
          algorithms: assertionAlgorithms,
          currentDate: new Date(this.#clock.now()),
          requiredClaims: ["iss", "sub", "exp", "jti"],
        });
        if (payload.iss !== payload.sub || payload.sub !== credential.principalId) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "issuer_mismatch" } });
        return { jti: payload.jti as string, expiresAt: (payload.exp as number) * 1000, credentialId: credential.credentialId };
      } catch (err) {
        if (err instanceof EnterpriseError) throw err;
        if ((err as { code?: string }).code === "ERR_JWT_EXPIRED") throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "assertion_expired" } });
      }
    }
    throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "invalid_assertion" } });
  }
}

function algorithmFor(jwk: JWK): string {
  if (jwk.kty === "OKP") return "EdDSA";
  if (jwk.kty === "EC") return jwk.crv === "P-384" ? "ES384" : "ES256";
  return "RS256";
}

/** Inspects registered credentials with jose and node:crypto; keeps only public material. */
export class HostCredentialInspector implements CredentialInspector {
  async publicKey(jwkJson: string): Promise<{ material: string; thumbprint: string }> {
    let jwk: JWK;
    try {
      jwk = JSON.parse(jwkJson) as JWK;
    } catch {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "public_key_jwk", reason: "not JSON" } });
    }
    if (typeof jwk !== "object" || jwk === null || !["OKP", "EC", "RSA"].includes(jwk.kty ?? "")) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "public_key_jwk", reason: "kty must be OKP, EC or RSA" } });
    if (jwk.d !== undefined || jwk.p !== undefined) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "public_key_jwk", reason: "a private key was sent; register only the public key" } });
    const publicOnly: JWK = Object.fromEntries(Object.entries(jwk).filter(([k]) => ["kty", "crv", "x", "y", "n", "e", "alg", "kid"].includes(k)));
    try {
      await importJWK(publicOnly, publicOnly.alg ?? algorithmFor(publicOnly));
    } catch (err) {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "public_key_jwk", reason: "not a usable public key" }, cause: err });
    }
    return { material: JSON.stringify(publicOnly), thumbprint: Buffer.from(await calculateJwkThumbprint(publicOnly, "sha256"), "base64url").toString("hex") };
  }

  async certificate(pem: string): Promise<{ material: string; thumbprint: string; notAfter: number }> {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(pem);
    } catch (err) {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "certificate_pem", reason: "not a PEM certificate" }, cause: err });
    }
    return { material: certificate.toString(), thumbprint: certificateThumbprint(certificate.raw), notAfter: Date.parse(certificate.validTo) };
  }
}

/** SHA-256 of a certificate's DER, lowercase hex: how pinned certificates are looked up. */
export function certificateThumbprint(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
}

/**
 * Re-reads every principal linked to a tenant's LDAP providers on a schedule: accounts disabled or
 * removed in the directory lose access at once; others get fresh groups and roles.
 */
export class DirectorySync {
  readonly #store: Store;
  readonly #providers: IdentityProviders;
  readonly #adapters: IdentityAdapters;
  readonly #signIn: ExternalSignIn;
  readonly #logger: Logger;

  constructor(deps: { store: Store; providers: IdentityProviders; adapters: IdentityAdapters; signIn: ExternalSignIn; logger: Logger }) {
    this.#store = deps.store;
    this.#providers = deps.providers;
    this.#adapters = deps.adapters;
    this.#signIn = deps.signIn;
    this.#logger = deps.logger;
  }

  /** Syncs one provider's linked, active principals. */
  async syncProvider(provider: IdentityProviderRecord): Promise<{ checked: number; synced: number; deprovisioned: number; failed: number }> {
    const totals = { checked: 0, synced: 0, deprovisioned: 0, failed: 0 };
    if (provider.kind !== "ldap") return totals;
    const directory = this.#adapters.directory(provider);
    const stores = this.#store.forTenant(provider.tenantId);
    let cursor: string | undefined;
    for (;;) {
      const page = await stores.principals.list({ providerId: provider.providerId, status: "ACTIVE", limit: 200, ...(cursor === undefined ? {} : { cursor }) });
      for (const principal of page) {
        totals.checked++;
        try {
          const outcome = await this.#signIn.applyDirectoryLookup(provider, principal, await directory.lookup(principal.externalSubject));
          if (outcome === "synced") totals.synced++;
          if (outcome === "deprovisioned") totals.deprovisioned++;
        } catch (err) {
          totals.failed++;
          // A directory outage must not deprovision anyone; the next sync or sign-in decides.
          if (isErrorCode(err, "IDENTITY_PROVIDER_UNAVAILABLE")) {
            this.#logger.warn({ err, provider: provider.providerId, tenant: provider.tenantId }, "directory sync stopped: directory unavailable");
            return totals;
          }
          this.#logger.error({ err, provider: provider.providerId, principal: principal.principalId }, "directory sync failed for a principal");
        }
      }
      if (page.length < 200) return totals;
      cursor = page.at(-1)?.principalId;
    }
  }

  /** Syncs every enabled LDAP provider of every active tenant. */
  async syncAll(): Promise<void> {
    for (const tenant of await this.#store.platform.tenants.list()) {
      if (tenant.status !== "ACTIVE") continue;
      for (const provider of await this.#providers.listEnabled(tenant.tenantId)) {
        if (provider.kind !== "ldap") continue;
        const totals = await this.syncProvider(provider).catch((err: unknown) => {
          this.#logger.error({ err, provider: provider.providerId }, "directory sync failed");
          return null;
        });
        if (totals !== null) this.#logger.info({ provider: provider.providerId, tenant: tenant.tenantId, ...totals }, "directory sync finished");
      }
    }
  }
}
