import { EnterpriseError } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock, Store } from "../ports.ts";
import type { Classification, ClaimMappingRecord, IdentityProviderKind, IdentityProviderRecord } from "../records.ts";
import type { TenantDirectory } from "../tenancy/tenant-snapshot.ts";
import { requirePermission } from "./require-permission.ts";
import type { RequestOrigin, SecurityContext } from "./security-context.ts";

/**
 * Port: the host's knowledge of each provider kind's settings. Adapters validate them, seal the
 * secrets inside them (bind passwords, client secrets) under the master key, and mask them for display.
 */
export interface ProviderSettingsCodec {
  /**
   * Validates `raw` and returns what to store, secrets sealed. A secret given as the mask
   * ({@link maskedSecret}) keeps its value from `previous`.
   * @throws EnterpriseError INVALID_ARGUMENT naming the field.
   */
  prepare(kind: IdentityProviderKind, providerId: string, raw: Record<string, unknown>, previous: Record<string, unknown> | null): Record<string, unknown>;
  /** Stored settings with every secret replaced by {@link maskedSecret}. */
  redact(kind: IdentityProviderKind, stored: Record<string, unknown>): Record<string, unknown>;
}

/** What a secret setting reads as through the API. */
export const maskedSecret = "********";

const providerIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;
const kinds: readonly IdentityProviderKind[] = ["oidc", "saml", "ldap"];
const classifications: readonly Classification[] = ["public", "internal", "confidential", "restricted"];

/** What an administrator submits to create or replace a provider. */
export interface IdentityProviderInput {
  readonly providerId: string;
  readonly kind: string;
  readonly displayName: string;
  readonly enabled: boolean;
  readonly jitProvisioning: boolean;
  readonly settings: Record<string, unknown>;
  /** snake_case claim mapping (see docs/guides/identity.md). */
  readonly mapping: Record<string, unknown>;
}

/**
 * A tenant's identity providers: created, replaced and deleted by its administrators.
 *
 * Rules enforced:
 * - only principals with `identity_providers:manage` change them, and only in their own tenant;
 * - settings are validated by the kind's adapter before anything is stored, secrets are sealed,
 *   and reads never return a secret;
 * - a claim mapping may only grant roles that exist in the tenant;
 * - every change is audited.
 */
export class IdentityProviders {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #audit: AuditRecorder;
  readonly #tenants: TenantDirectory;
  readonly #codec: ProviderSettingsCodec;
  readonly #changed: (tenantId: string, providerId: string) => void;

  constructor(deps: { store: Store; clock: Clock; audit: AuditRecorder; tenants: TenantDirectory; codec: ProviderSettingsCodec; onChange?: (tenantId: string, providerId: string) => void }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
    this.#tenants = deps.tenants;
    this.#codec = deps.codec;
    this.#changed = deps.onChange ?? (() => undefined);
  }

  /**
   * Creates or replaces a provider.
   * @throws EnterpriseError AUTHORIZATION_DENIED, INVALID_ARGUMENT, CONFLICT (a concurrent change)
   */
  async put(ctx: SecurityContext, origin: RequestOrigin, input: IdentityProviderInput): Promise<IdentityProviderRecord> {
    requirePermission(ctx, "identity_providers:manage");
    if (!providerIdPattern.test(input.providerId)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "provider_id", expected: "[a-z0-9][a-z0-9-]{0,62}" } });
    if (!kinds.includes(input.kind as IdentityProviderKind)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "kind", expected: kinds.join("|") } });
    const kind = input.kind as IdentityProviderKind;
    const snapshot = await this.#tenants.activeSnapshot(ctx.tenantId);
    const mapping = parseClaimMapping(input.mapping, (role) => snapshot.roles.has(role));
    const stores = this.#store.forTenant(ctx.tenantId);
    const previous = await stores.identityProviders.get(input.providerId);
    if (previous !== null && previous.kind !== kind) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "kind", reason: "a provider's kind cannot change; delete it and create a new one" } });
    // Provisioning settings are common to every kind: validated here, kept out of the kind's parser.
    const provisioning = parseProvisioningSettings(input.settings);
    const settings = {
      ...this.#codec.prepare(kind, input.providerId, withoutProvisioningSettings(input.settings), previous === null ? null : withoutProvisioningSettings(previous.settings)),
      ...provisioningSettingsToStore(provisioning),
    };
    const now = this.#clock.now();
    const record: IdentityProviderRecord = {
      tenantId: ctx.tenantId,
      providerId: input.providerId,
      kind,
      displayName: (input.displayName.trim() || input.providerId).slice(0, 128),
      enabled: input.enabled,
      settings,
      mapping,
      jitProvisioning: input.jitProvisioning,
      createdAt: previous?.createdAt ?? now,
      updatedAt: now,
      updatedBy: ctx.principalId,
      revision: previous === null ? 0 : previous.revision + 1,
    };
    if (previous === null) await stores.identityProviders.create(record);
    else await stores.identityProviders.update(record, previous.revision);
    this.#changed(ctx.tenantId, input.providerId);
    await this.#audit.record({
      eventType: "identity_provider.changed",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `identity_provider:${input.providerId}`,
      action: previous === null ? "create" : "update",
      outcome: "SUCCESS",
      origin,
      metadata: { kind, change: previous === null ? "created" : "updated", enabled: String(record.enabled) },
    });
    return this.#redacted(record);
  }

  /** A provider of the caller's tenant, secrets masked. @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND */
  async get(ctx: SecurityContext, providerId: string): Promise<IdentityProviderRecord> {
    requirePermission(ctx, "identity_providers:read");
    const record = await this.#store.forTenant(ctx.tenantId).identityProviders.get(providerId);
    if (record === null) throw new EnterpriseError("NOT_FOUND", { details: { provider_id: providerId.slice(0, 64) } });
    return this.#redacted(record);
  }

  /** Every provider of the caller's tenant, secrets masked. */
  async list(ctx: SecurityContext): Promise<IdentityProviderRecord[]> {
    requirePermission(ctx, "identity_providers:read");
    return (await this.#store.forTenant(ctx.tenantId).identityProviders.list()).map((r) => this.#redacted(r));
  }

  /** Deletes a provider; its principals stay (disabled providers cannot sign anyone in). */
  async delete(ctx: SecurityContext, origin: RequestOrigin, providerId: string): Promise<boolean> {
    requirePermission(ctx, "identity_providers:manage");
    const stores = this.#store.forTenant(ctx.tenantId);
    const previous = await stores.identityProviders.get(providerId);
    if (previous === null) return false;
    const deleted = await stores.identityProviders.delete(providerId);
    this.#changed(ctx.tenantId, providerId);
    await this.#audit.record({
      eventType: "identity_provider.changed",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `identity_provider:${providerId}`,
      action: "delete",
      outcome: "SUCCESS",
      origin,
      metadata: { kind: previous.kind, change: "deleted", enabled: "false" },
    });
    return deleted;
  }

  /**
   * The stored (sealed, unmasked) record of an enabled provider, for signing someone in.
   * An unknown or disabled provider is AUTHENTICATION_FAILED, so probing reveals nothing.
   */
  async resolveEnabled(tenantId: string, providerId: string, kind: IdentityProviderKind): Promise<IdentityProviderRecord> {
    const record = providerIdPattern.test(providerId) && tenantId !== "" ? await this.#store.forTenant(tenantId).identityProviders.get(providerId) : null;
    if (record === null || !record.enabled || record.kind !== kind) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "unknown_provider" } });
    return record;
  }

  /** Enabled providers of a tenant (stored form), for sign-in discovery and scheduled sync. */
  async listEnabled(tenantId: string): Promise<IdentityProviderRecord[]> {
    return (await this.#store.forTenant(tenantId).identityProviders.list()).filter((r) => r.enabled);
  }

  #redacted(record: IdentityProviderRecord): IdentityProviderRecord {
    return { ...record, settings: this.#codec.redact(record.kind, record.settings) };
  }
}

/**
 * How a provider's sign-ins find their principal.
 * - `jit` (default): linked by (provider, subject); an unknown subject gets a new principal when
 *   the provider's `jitProvisioning` is on, and is refused otherwise.
 * - `scim`: the tenant's SCIM client provisions users; a sign-in never creates a principal, it
 *   finds the live SCIM user it names (see {@link ExternalSignIn.syncPrincipal}).
 */
export type ProvisioningMode = "jit" | "scim";

/** The provisioning settings of a provider (`settings.provisioning`, `settings.scim_user_name_claim`). */
export interface ProviderProvisioning {
  readonly mode: ProvisioningMode;
  /**
   * With `scim`: the claim (or SAML/LDAP attribute) whose value must equal the SCIM `userName`;
   * null: the user name the provider's settings map (`username_claim`, `username_attribute`).
   */
  readonly userNameClaim: string | null;
}

/** Setting names every provider kind accepts, whatever its kind's own settings are. */
export const PROVISIONING_SETTING_KEYS: readonly string[] = ["provisioning", "scim_user_name_claim"];
const provisioningModes: readonly ProvisioningMode[] = ["jit", "scim"];

/**
 * Validates a provider's provisioning settings (the rest of `settings` is the kind parser's).
 * @throws EnterpriseError INVALID_ARGUMENT naming the field.
 */
export function parseProvisioningSettings(settings: Record<string, unknown>): ProviderProvisioning {
  const mode = settings["provisioning"] ?? "jit";
  if (!provisioningModes.includes(mode as ProvisioningMode)) throw invalid("settings.provisioning", provisioningModes.join("|"));
  const claim = settings["scim_user_name_claim"];
  if (claim !== undefined && (typeof claim !== "string" || claim === "" || claim.length > 128)) throw invalid("settings.scim_user_name_claim", "a claim name");
  if (claim !== undefined && mode !== "scim") throw invalid("settings.scim_user_name_claim", 'absent unless provisioning is "scim"');
  return { mode: mode as ProvisioningMode, userNameClaim: claim ?? null };
}

/** The provisioning settings of a stored provider. */
export function provisioningOf(provider: IdentityProviderRecord): ProviderProvisioning {
  return parseProvisioningSettings(provider.settings);
}

/** `settings` without the provisioning keys: what the kind's own parser sees. */
export function withoutProvisioningSettings(settings: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(settings).filter(([key]) => !PROVISIONING_SETTING_KEYS.includes(key)));
}

function provisioningSettingsToStore(provisioning: ProviderProvisioning): Record<string, unknown> {
  if (provisioning.mode === "jit") return {};
  return { provisioning: provisioning.mode, ...(provisioning.userNameClaim === null ? {} : { scim_user_name_claim: provisioning.userNameClaim }) };
}

/**
 * The group → roles mapping SCIM groups of a tenant grant: the `group_roles` of its providers with
 * `provisioning: "scim"`, merged. A group a SCIM client provisions thus grants the same roles as
 * the same group asserted in a sign-in through those providers.
 */
export function scimGroupRoles(providers: readonly IdentityProviderRecord[]): Record<string, string[]> {
  const merged = new Map<string, Set<string>>();
  for (const provider of providers) {
    if (provisioningOf(provider).mode !== "scim") continue;
    for (const [group, roles] of Object.entries(provider.mapping.groupRoles ?? {})) {
      const into = merged.get(group) ?? new Set<string>();
      for (const role of roles) into.add(role);
      merged.set(group, into);
    }
  }
  return Object.fromEntries([...merged].map(([group, roles]) => [group, [...roles].sort()]));
}

/**
 * Validates a snake_case claim mapping.
 * @throws EnterpriseError INVALID_ARGUMENT naming the field (including roles the tenant does not have).
 */
export function parseClaimMapping(raw: Record<string, unknown>, knownRole: (role: string) => boolean): ClaimMappingRecord {
  const allowed = new Set(["groups_claim", "group_roles", "roles_claim", "allowed_roles", "default_roles", "clearance_claim", "default_clearance", "max_clearance", "attributes"]);
  for (const key of Object.keys(raw)) if (!allowed.has(key)) throw invalid(`mapping.${key.slice(0, 64)}`, "unknown field");
  const mapping: ClaimMappingRecord = {};
  const claimName = (field: string): string | undefined => {
    const value = raw[field];
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value === "" || value.length > 128) throw invalid(`mapping.${field}`, "a claim name");
    return value;
  };
  const roleList = (field: string, value: unknown): string[] => {
    if (!Array.isArray(value) || value.length > 256 || !value.every((r): r is string => typeof r === "string")) throw invalid(field, "a list of role names");
    for (const role of value) if (!knownRole(role)) throw invalid(field, `unknown role ${role.slice(0, 64)}`);
    return [...new Set(value)];
  };
  const level = (field: string): Classification | undefined => {
    const value = raw[field];
    if (value === undefined) return undefined;
    if (!classifications.includes(value as Classification)) throw invalid(`mapping.${field}`, classifications.join("|"));
    return value as Classification;
  };
  const groupsClaim = claimName("groups_claim");
  if (groupsClaim !== undefined) mapping.groupsClaim = groupsClaim;
  const rolesClaim = claimName("roles_claim");
  if (rolesClaim !== undefined) mapping.rolesClaim = rolesClaim;
  const clearanceClaim = claimName("clearance_claim");
  if (clearanceClaim !== undefined) mapping.clearanceClaim = clearanceClaim;
  if (raw["allowed_roles"] !== undefined) mapping.allowedRoles = roleList("mapping.allowed_roles", raw["allowed_roles"]);
  if (raw["default_roles"] !== undefined) mapping.defaultRoles = roleList("mapping.default_roles", raw["default_roles"]);
  if (raw["group_roles"] !== undefined) {
    const groupRoles = raw["group_roles"];
    if (typeof groupRoles !== "object" || groupRoles === null || Array.isArray(groupRoles) || Object.keys(groupRoles).length > 1000) throw invalid("mapping.group_roles", "a map of group name to roles");
    mapping.groupRoles = Object.fromEntries(Object.entries(groupRoles).map(([group, roles]) => [group.slice(0, 256), roleList(`mapping.group_roles.${group.slice(0, 64)}`, roles)]));
  }
  const defaultClearance = level("default_clearance");
  if (defaultClearance !== undefined) mapping.defaultClearance = defaultClearance;
  const maxClearance = level("max_clearance");
  if (maxClearance !== undefined) mapping.maxClearance = maxClearance;
  if (raw["attributes"] !== undefined) {
    const attributes = raw["attributes"];
    if (typeof attributes !== "object" || attributes === null || Array.isArray(attributes) || Object.keys(attributes).length > 64) throw invalid("mapping.attributes", "a map of attribute name to claim name");
    const entries = Object.entries(attributes);
    if (!entries.every(([name, claim]) => /^[a-z][a-z0-9_]{0,63}$/.test(name) && typeof claim === "string" && claim !== "" && claim.length <= 128)) {
      throw invalid("mapping.attributes", "attribute names are [a-z][a-z0-9_]*, values claim names");
    }
    mapping.attributes = Object.fromEntries(entries as [string, string][]);
  }
  return mapping;
}

function invalid(field: string, expected: string): EnterpriseError {
  return new EnterpriseError("INVALID_ARGUMENT", { details: { field, expected } });
}
