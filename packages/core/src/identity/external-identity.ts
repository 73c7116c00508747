/**
 * The one shape every external identity source (OIDC, SAML, LDAP, SCIM) is reduced to, and the
 * ports through which the core reaches those sources. Adapters live in the host; the core maps an
 * {@link ExternalIdentity} to a principal with {@link mapExternalIdentity} and never learns how
 * the person signed in.
 */
import { EnterpriseError } from "../errors.ts";
import type { Classification } from "../records.ts";

/** A claim value as the identity provider asserted it (strings, or lists of strings). */
export type ClaimValue = string | readonly string[];

/** What an identity provider asserted about someone, after its signature or bind was verified. */
export interface ExternalIdentity {
  /** The provider (per tenant) that asserted it. */
  readonly providerId: string;
  /** Stable identifier at the provider: OIDC `sub`, SAML NameID, LDAP DN or entryUUID, SCIM id. */
  readonly subject: string;
  /** Login name (preferred_username, sAMAccountName, uid, SCIM userName). */
  readonly username: string;
  readonly displayName: string;
  readonly email: string;
  /** Group names (not DNs) the subject belongs to, nested groups expanded. */
  readonly groups: readonly string[];
  /** Raw claims or attributes, never secrets; policies may read the mapped subset. */
  readonly claims: Readonly<Record<string, ClaimValue>>;
  /** RFC 8176 authentication methods (`pwd`, `mfa`, `otp`, `hwk`, …). */
  readonly amr: readonly string[];
  /** Authentication context class reference; empty when the provider gave none. */
  readonly acr: string;
  /** Epoch milliseconds of the authentication at the provider; 0 when unknown. */
  readonly authTime: number;
}

/**
 * How a provider's claims become roles, clearance and attributes. Declared per provider (snake_case
 * in YAML/JSON, see docs/guides/identity.md); every field is optional.
 */
export interface ClaimMapping {
  /** Claim holding group names. Default `groups`. */
  readonly groupsClaim?: string;
  /** Group name → roles granted to its members. */
  readonly groupRoles?: Readonly<Record<string, readonly string[]>>;
  /** Claim whose values are role names; only roles in {@link allowedRoles} are taken. */
  readonly rolesClaim?: string;
  readonly allowedRoles?: readonly string[];
  /** Roles every principal of this provider receives. */
  readonly defaultRoles?: readonly string[];
  /** Claim holding the clearance (`public` … `restricted`). */
  readonly clearanceClaim?: string;
  /** Clearance when the claim is absent or invalid. Default `internal`. */
  readonly defaultClearance?: Classification;
  /** The highest clearance this provider may assert. Default `confidential`. */
  readonly maxClearance?: Classification;
  /** Principal attribute → claim name; these reach policies as `principal.attributes`. */
  readonly attributes?: Readonly<Record<string, string>>;
}

/** The result of mapping an external identity through a {@link ClaimMapping}. */
export interface MappedIdentity {
  readonly roles: string[];
  readonly groups: string[];
  readonly clearance: Classification;
  readonly attributes: Record<string, string>;
}

const classificationOrder: readonly Classification[] = ["public", "internal", "confidential", "restricted"];
const maxAttributeLength = 512;

/** First string of a claim, or "". */
export function claimString(value: ClaimValue | undefined): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : (value[0] ?? "");
}

/** A claim as a list of strings (a space- or comma-free single value becomes a one-item list). */
export function claimList(value: ClaimValue | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === "string" ? (value === "" ? [] : [value]) : [...value];
}

/**
 * Maps an external identity to roles, clearance and attributes.
 *
 * Rules enforced:
 * - only roles that exist in the tenant (`knownRole`) are granted; unknown ones are dropped, never created;
 * - a roles claim grants only roles the provider is allowed to grant;
 * - clearance never exceeds the provider's `maxClearance`;
 * - attributes are strings, bounded in length.
 */
export function mapExternalIdentity(identity: ExternalIdentity, mapping: ClaimMapping, knownRole: (role: string) => boolean): MappedIdentity {
  const groups = [...new Set(identity.groups.length > 0 ? identity.groups : claimList(identity.claims[mapping.groupsClaim ?? "groups"]))].sort();
  const roles = new Set<string>(mapping.defaultRoles ?? []);
  for (const group of groups) for (const role of mapping.groupRoles?.[group] ?? []) roles.add(role);
  if (mapping.rolesClaim !== undefined) {
    const allowed = new Set(mapping.allowedRoles ?? []);
    for (const role of claimList(identity.claims[mapping.rolesClaim])) if (allowed.has(role)) roles.add(role);
  }
  const maxLevel = classificationOrder.indexOf(mapping.maxClearance ?? "confidential");
  const asserted = mapping.clearanceClaim === undefined ? "" : claimString(identity.claims[mapping.clearanceClaim]);
  let clearance: Classification = mapping.defaultClearance ?? "internal";
  if (classificationOrder.includes(asserted as Classification)) clearance = asserted as Classification;
  if (classificationOrder.indexOf(clearance) > maxLevel) clearance = classificationOrder[maxLevel] as Classification;
  const attributes: Record<string, string> = {};
  for (const [attribute, claim] of Object.entries(mapping.attributes ?? {})) {
    const value = claimList(identity.claims[claim]).join(",");
    if (value !== "") attributes[attribute] = value.slice(0, maxAttributeLength);
  }
  if (identity.email !== "") attributes["email"] ??= identity.email.slice(0, maxAttributeLength);
  return { roles: [...roles].filter(knownRole).sort(), groups, clearance, attributes };
}

// ---------------------------------------------------------------- ports to identity sources

/** A directory answer about one account during synchronisation. */
export type DirectoryLookup =
  | { readonly state: "active"; readonly identity: ExternalIdentity }
  | { readonly state: "disabled" }
  | { readonly state: "absent" };

/**
 * Port: a username/password directory (LDAP, Active Directory).
 *
 * `authenticate` binds as the user and returns who they are, with nested groups expanded.
 * Errors: AUTHENTICATION_FAILED (details.reason: `invalid_credentials`, `account_disabled`,
 * `unknown_user`, `invalid_username`), IDENTITY_PROVIDER_UNAVAILABLE (down, timeout, TLS failure).
 */
export interface PasswordDirectory {
  authenticate(username: string, password: string): Promise<ExternalIdentity>;
  /** Re-reads an account for synchronisation, by the `subject` `authenticate` returned. */
  lookup(subject: string): Promise<DirectoryLookup>;
  close(): Promise<void>;
}

/**
 * Port: verifies tokens of an external OpenID Connect provider (signature through its JWKS,
 * issuer, audience, expiry, `nbf`, algorithm allow-list).
 * Errors: AUTHENTICATION_FAILED (details.reason), TOKEN_EXPIRED, IDENTITY_PROVIDER_UNAVAILABLE.
 */
export interface OidcTokenVerifier {
  /** An ID token issued to the Host's client id; `nonce` is checked when given. */
  verifyIdToken(idToken: string, options?: { nonce?: string }): Promise<ExternalIdentity>;
  /** A JWT access token presented as a bearer token directly to the gateway. */
  verifyAccessToken(accessToken: string): Promise<ExternalIdentity>;
  /** True when the token's unverified `iss` names this provider (used only to pick a verifier). */
  claimsIssuer(issuer: string): boolean;
}

/** A validated SAML assertion. */
export interface SamlAssertion {
  readonly identity: ExternalIdentity;
  /** The assertion's ID, for replay protection. */
  readonly assertionId: string;
  /** Epoch ms after which the assertion is no longer acceptable (SubjectConfirmationData / Conditions). */
  readonly notOnOrAfter: number;
}

/**
 * Port: a SAML 2.0 service provider for one tenant's IdP.
 * Errors: AUTHENTICATION_FAILED (details.reason: `invalid_signature`, `unsigned`, `wrong_audience`,
 * `expired`, `wrong_recipient`, `malformed`), IDENTITY_PROVIDER_UNAVAILABLE.
 */
export interface SamlServiceProvider {
  /** The IdP URL to redirect a browser to (SP-initiated, HTTP-Redirect binding). */
  loginUrl(relayState: string): Promise<string>;
  /** Validates a base64 SAMLResponse (HTTP-POST binding). Replay is checked by the caller. */
  acceptResponse(samlResponse: string): Promise<SamlAssertion>;
  /** SP metadata XML. */
  metadata(): string;
}

/** Port: remembers one-time values (SAML assertion ids, JWT `jti`s) across Hosts until they expire. */
export interface ReplayGuard {
  /** True the first time `key` is seen before `expiresAt`; false on every later use. */
  firstUse(key: string, expiresAt: number): Promise<boolean>;
}

/**
 * Raises IDENTITY_PROVIDER_UNAVAILABLE with the provider named; adapters call it for network,
 * TLS and timeout failures so callers get one clear, retryable error.
 */
export function providerUnavailable(providerId: string, reason: string, cause?: unknown): EnterpriseError {
  return new EnterpriseError("IDENTITY_PROVIDER_UNAVAILABLE", { details: { provider: providerId, reason }, cause });
}
