/**
 * LDAP and Active Directory as a {@link PasswordDirectory}: search-then-bind with a service account,
 * nested groups, an "account enabled" filter, and strict TLS. Every operation opens its own
 * connection and always unbinds it.
 *
 * Rules enforced:
 * - no clear-text binds: the URL is `ldaps://`, or `ldap://` upgraded with StartTLS; the server
 *   certificate is verified (configured CA or the system store, TLS 1.2+, host name of the URL);
 *   there is deliberately no "skip verification" setting;
 * - never an anonymous or unauthenticated bind (RFC 4513 §5.1.2): empty passwords are refused here;
 * - the username is escaped into the search filter (RFC 4515) and exactly one entry must match;
 * - a dropped connection is never silently re-opened (that would be unencrypted or anonymous);
 * - network, TLS and timeout failures become IDENTITY_PROVIDER_UNAVAILABLE, bounded by `timeout_ms`.
 */
import { X509Certificate } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { Client, Filter, FilterParser, InvalidCredentialsError, NoSuchObjectError, ResultCodeError } from "ldapts";
import type { ClientOptions, Entry } from "ldapts";
import { EnterpriseError, providerUnavailable } from "@aesp/core";
import type { ClaimValue, DirectoryLookup, ExternalIdentity, PasswordDirectory } from "@aesp/core";

/**
 * How nested group membership is expanded:
 * - `recursive`: breadth-first over `member` values, one search per nesting level (any server);
 * - `in_chain`: one search with Active Directory's LDAP_MATCHING_RULE_IN_CHAIN (AD only);
 * - `member_of`: follows `memberOf` of the user, then of each group (AD, OpenLDAP memberof overlay);
 * - `none`: direct memberships only.
 */
export type NestedGroupMode = "recursive" | "in_chain" | "member_of" | "none";

/** A validated LDAP provider (see {@link parseLdapSettings} for the snake_case source). */
export interface LdapProviderSettings {
  readonly providerId: string;
  readonly url: string;
  readonly startTls: boolean;
  /** PEM of the CA(s) that may sign the server certificate; absent means the system trust store. */
  readonly tlsCaPem?: string;
  readonly bindDn: string;
  readonly bindPassword: string;
  readonly userBaseDn: string;
  /** Filter with `{username}` where the escaped username goes. */
  readonly userFilter: string;
  readonly usernameAttribute: string;
  readonly displayNameAttribute: string;
  readonly emailAttribute: string;
  /** `entryUUID`, `objectGUID`, `dn`, or any single-valued attribute; entries without it fall back to their DN. */
  readonly subjectAttribute: string;
  readonly groupBaseDn: string;
  readonly groupFilter: string;
  readonly groupMemberAttribute: string;
  readonly groupNameAttribute: string;
  readonly nestedGroups: NestedGroupMode;
  /** Filter an account must match to be enabled; "" when every found account is enabled. */
  readonly activeFilter: string;
  /** Bound on connecting, on the TLS handshake, and on each LDAP operation. */
  readonly timeoutMs: number;
  /** User attributes copied into `claims` (never password attributes). */
  readonly claimAttributes: readonly string[];
}

const settingKeys = [
  "url", "start_tls", "tls_ca_pem", "bind_dn", "bind_password", "user_base_dn", "user_filter",
  "username_attribute", "display_name_attribute", "email_attribute", "subject_attribute",
  "group_base_dn", "group_filter", "group_member_attribute", "group_name_attribute",
  "nested_groups", "active_filter", "timeout_ms", "claim_attributes",
] as const;
const nestedGroupModes: readonly NestedGroupMode[] = ["recursive", "in_chain", "member_of", "none"];
const secretAttributes = new Set([
  "userpassword", "authpassword", "unicodepwd", "dbcspwd", "supplementalcredentials", "ntpwdhistory", "lmpwdhistory",
  "sambantpassword", "sambalmpassword", "userpkcs12", "msds-managedpassword", "ms-mcs-admpwd", "mslaps-password",
  "mslaps-encryptedpassword", "krbprincipalkey",
]);
const attributeNamePattern = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)(?:;[A-Za-z0-9-]+)*$/;
const maxUsernameLength = 256;
const maxPasswordLength = 1024;
const maxSubjectLength = 1024;
const maxGroupNestingDepth = 16;
const maxGroups = 1000;
const memberDnsPerSearch = 50;
const inChainMatchingRule = "1.2.840.113556.1.4.1941";

/**
 * Validates a provider's snake_case settings. Unknown keys are refused (a misspelt `start_tls`
 * must not silently mean "off").
 *
 * @throws EnterpriseError INVALID_ARGUMENT with `details.field` naming the offending setting.
 */
export function parseLdapSettings(providerId: string, raw: Record<string, unknown>): LdapProviderSettings {
  const invalid = (field: string, expected: string): EnterpriseError =>
    new EnterpriseError("INVALID_ARGUMENT", { message: `LDAP provider ${providerId}: ${field} must be ${expected}.`, details: { provider: providerId, field, expected } });
  for (const key of Object.keys(raw)) {
    if (key === "tls_insecure_skip_verify") throw invalid(key, "absent: certificate verification cannot be turned off; set tls_ca_pem to the directory's CA");
    if (!(settingKeys as readonly string[]).includes(key)) throw invalid(key, `one of the known settings (${settingKeys.join(", ")})`);
  }
  const text = (field: string, fallback?: string): string => {
    const value = raw[field] ?? fallback;
    if (typeof value !== "string" || value.trim() === "") throw invalid(field, "a non-empty string");
    if (hasControlCharacter(value) && field !== "tls_ca_pem") throw invalid(field, "free of control characters");
    return value;
  };
  const attribute = (field: string, fallback: string): string => {
    const value = text(field, fallback);
    if (!attributeNamePattern.test(value)) throw invalid(field, "an LDAP attribute name");
    return value;
  };
  const dn = (field: string): string => {
    const value = text(field);
    if (!value.includes("=") || value.length > 1024) throw invalid(field, "a distinguished name such as ou=people,dc=example,dc=com");
    return value;
  };
  const filter = (field: string, fallback: string, placeholder?: string): string => {
    const value = text(field, fallback).trim();
    if (!isOneParenthesizedFilter(value)) throw invalid(field, "one LDAP filter in balanced parentheses");
    if (placeholder !== undefined && !value.includes(placeholder)) throw invalid(field, `a filter containing ${placeholder}`);
    try {
      FilterParser.parseString(placeholder === undefined ? value : value.replaceAll(placeholder, "x"));
    } catch {
      throw invalid(field, "a valid RFC 4515 filter");
    }
    return value;
  };

  const url = text("url");
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw invalid("url", "an ldap:// or ldaps:// URL");
  }
  if ((parsedUrl.protocol !== "ldap:" && parsedUrl.protocol !== "ldaps:") || parsedUrl.hostname === "" || parsedUrl.username !== "" || parsedUrl.password !== "" || (parsedUrl.pathname !== "" && parsedUrl.pathname !== "/") || parsedUrl.search !== "" || parsedUrl.hash !== "") {
    throw invalid("url", "an ldap:// or ldaps:// URL with host and optional port only");
  }
  const startTls = raw["start_tls"] ?? false;
  if (typeof startTls !== "boolean") throw invalid("start_tls", "true or false");
  if (startTls && parsedUrl.protocol === "ldaps:") throw invalid("start_tls", "false with an ldaps:// URL (it is TLS already)");
  if (!startTls && parsedUrl.protocol === "ldap:") throw invalid("start_tls", "true with an ldap:// URL: passwords are never sent in clear text");

  let tlsCaPem: string | undefined;
  if (raw["tls_ca_pem"] !== undefined) {
    tlsCaPem = text("tls_ca_pem");
    const blocks = tlsCaPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    try {
      if (blocks.length === 0) throw new Error("no certificate");
      for (const block of blocks) new X509Certificate(block);
    } catch {
      throw invalid("tls_ca_pem", "one or more PEM certificates");
    }
  }

  const bindPassword = raw["bind_password"];
  if (typeof bindPassword !== "string" || bindPassword === "") throw invalid("bind_password", "the service account's password (anonymous binds are not used)");

  const nestedGroups = raw["nested_groups"] ?? "recursive";
  if (typeof nestedGroups !== "string" || !(nestedGroupModes as readonly string[]).includes(nestedGroups)) throw invalid("nested_groups", nestedGroupModes.join(" | "));

  const activeFilter = raw["active_filter"] === undefined || raw["active_filter"] === "" ? "" : filter("active_filter", "");

  const timeoutMs = raw["timeout_ms"] ?? 5000;
  if (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 120_000) throw invalid("timeout_ms", "an integer from 100 to 120000");

  const claimsRaw = raw["claim_attributes"] ?? [];
  if (!Array.isArray(claimsRaw) || claimsRaw.length > 64) throw invalid("claim_attributes", "a list of at most 64 attribute names");
  const claimAttributes: string[] = [];
  for (const name of claimsRaw) {
    if (typeof name !== "string" || !attributeNamePattern.test(name)) throw invalid("claim_attributes", "a list of LDAP attribute names");
    if (secretAttributes.has(name.toLowerCase())) throw invalid("claim_attributes", `free of secret attributes (${name})`);
    claimAttributes.push(name);
  }

  return {
    providerId,
    url,
    startTls,
    ...(tlsCaPem === undefined ? {} : { tlsCaPem }),
    bindDn: dn("bind_dn"),
    bindPassword,
    userBaseDn: dn("user_base_dn"),
    userFilter: filter("user_filter", "(uid={username})", "{username}"),
    usernameAttribute: attribute("username_attribute", "uid"),
    displayNameAttribute: attribute("display_name_attribute", "cn"),
    emailAttribute: attribute("email_attribute", "mail"),
    subjectAttribute: attribute("subject_attribute", "entryUUID"),
    groupBaseDn: dn("group_base_dn"),
    groupFilter: filter("group_filter", "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"),
    groupMemberAttribute: attribute("group_member_attribute", "member"),
    groupNameAttribute: attribute("group_name_attribute", "cn"),
    nestedGroups: nestedGroups as NestedGroupMode,
    activeFilter,
    timeoutMs,
    claimAttributes,
  };
}

/** C0 and C1 controls (NUL, newline, DEL, …): never part of a login name or a setting. */
function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

/** RFC 4515 values carry parentheses only as \28 and \29, so counting them is exact. */
function isOneParenthesizedFilter(filter: string): boolean {
  let depth = 0;
  for (let i = 0; i < filter.length; i++) {
    if (filter[i] === "(") depth++;
    else if (filter[i] === ")" && --depth === 0 && i !== filter.length - 1) return false;
    if (depth < 0) return false;
  }
  return depth === 0 && filter.startsWith("(");
}

/**
 * Builds the user search filter: every `{username}` becomes the username escaped per RFC 4515,
 * so `*`, `(`, `)`, `\` and NUL are matched literally and cannot widen the search.
 */
export function userSearchFilter(template: string, username: string): string {
  const escaped = Filter.escape(username);
  return template.replaceAll("{username}", () => escaped);
}

/** Epoch milliseconds; tests pass a fixed clock. */
export interface LdapDirectoryDeps {
  readonly now: () => number;
}

/** One LDAP or Active Directory provider. Thread-safe: operations share no connection. */
export class LdapDirectory implements PasswordDirectory {
  readonly #settings: LdapProviderSettings;
  readonly #now: () => number;
  readonly #host: string;
  readonly #secureUrl: boolean;
  readonly #open = new Set<Client>();
  #closed = false;

  constructor(settings: LdapProviderSettings, deps: LdapDirectoryDeps = { now: Date.now }) {
    this.#settings = settings;
    this.#now = deps.now;
    const url = new URL(settings.url);
    this.#host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    this.#secureUrl = url.protocol === "ldaps:";
  }

  /**
   * Search-then-bind sign-in.
   *
   * @throws EnterpriseError AUTHENTICATION_FAILED (`details.reason`: `invalid_username`,
   *   `invalid_credentials`, `unknown_user`, `ambiguous_user`, `account_disabled`) or
   *   IDENTITY_PROVIDER_UNAVAILABLE (`details.reason`: `connection_refused`, `timeout`, `tls_*`, …).
   */
  async authenticate(username: string, password: string): Promise<ExternalIdentity> {
    if (username === "" || username.length > maxUsernameLength || hasControlCharacter(username)) throw authenticationFailed("invalid_username");
    // An empty password would make the user bind "unauthenticated", which many servers accept.
    if (password === "" || password.length > maxPasswordLength) throw authenticationFailed("invalid_credentials");
    return this.#withConnection(async (client) => {
      await this.#bindServiceAccount(client);
      const matches = await this.#search(client, this.#settings.userBaseDn, "sub", userSearchFilter(this.#settings.userFilter, username), this.#userAttributes(), 2);
      const [entry] = matches;
      if (entry === undefined) throw authenticationFailed("unknown_user");
      if (matches.length > 1) throw authenticationFailed("ambiguous_user");
      if (!(await this.#isActive(client, entry.dn))) throw authenticationFailed("account_disabled");
      await this.#bindUser(client, entry.dn, password);
      const authTime = this.#now();
      // The user may not read groups; group resolution runs as the service account again.
      await this.#bindServiceAccount(client);
      const groups = await this.#resolveGroups(client, entry);
      return this.#identity(entry, groups, username, { amr: ["pwd"], authTime });
    });
  }

  /** Re-reads an account by the subject {@link authenticate} returned; disabled when it fails `active_filter`. */
  async lookup(subject: string): Promise<DirectoryLookup> {
    if (subject === "" || subject.length > maxSubjectLength || hasControlCharacter(subject)) return { state: "absent" };
    return this.#withConnection(async (client) => {
      await this.#bindServiceAccount(client);
      const entry = await this.#findBySubject(client, subject);
      if (entry === undefined) return { state: "absent" };
      if (!(await this.#isActive(client, entry.dn))) return { state: "disabled" };
      const groups = await this.#resolveGroups(client, entry);
      return { state: "active", identity: this.#identity(entry, groups, "", { amr: [], authTime: 0 }) };
    });
  }

  /** Ends operations still running; later calls fail as unavailable. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#open].map((client) => unbindQuietly(client)));
  }

  // ------------------------------------------------------------------ connection

  async #withConnection<T>(work: (client: Client) => Promise<T>): Promise<T> {
    if (this.#closed) throw providerUnavailable(this.#settings.providerId, "closed");
    const timeout = this.#settings.timeoutMs;
    const options: ClientOptions = {
      url: this.#settings.url,
      timeout,
      connectTimeout: timeout,
      strictDN: true,
      createConnection: connectOnce(net.connect),
      createSecureConnection: connectOnce(tls.connect),
    };
    // ldapts goes TLS-from-the-first-byte whenever tlsOptions is set, so StartTLS must not set it.
    if (this.#secureUrl) options.tlsOptions = this.#tlsOptions();
    const client = new Client(options);
    this.#open.add(client);
    try {
      if (this.#settings.startTls) await this.#startTls(client);
      return await work(client);
    } catch (err) {
      throw this.#unavailable(err);
    } finally {
      this.#open.delete(client);
      await unbindQuietly(client);
    }
  }

  async #startTls(client: Client): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    // ldapts bounds the StartTLS request but not the handshake after it.
    const handshakeDeadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error("TLS handshake timed out"), { code: "ETIMEDOUT" })), this.#settings.timeoutMs);
    });
    try {
      await Promise.race([client.startTLS(this.#tlsOptions()), handshakeDeadline]);
    } catch (err) {
      if (err instanceof ResultCodeError) throw providerUnavailable(this.#settings.providerId, "start_tls_refused", err);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  #tlsOptions(): tls.ConnectionOptions {
    const host = this.#host;
    return {
      ...(this.#settings.tlsCaPem === undefined ? {} : { ca: [this.#settings.tlsCaPem] }),
      minVersion: "TLSv1.2",
      rejectUnauthorized: true,
      host,
      // SNI carries names only; the identity check below covers IP addresses too.
      ...(net.isIP(host) === 0 ? { servername: host } : {}),
      // Always the URL's host: a StartTLS upgrade would otherwise check against "localhost".
      checkServerIdentity: (_name, certificate) => tls.checkServerIdentity(host, certificate),
    };
  }

  #unavailable(err: unknown): EnterpriseError {
    if (err instanceof EnterpriseError) return err;
    return providerUnavailable(this.#settings.providerId, failureReason(err), err);
  }

  // ------------------------------------------------------------------ binds and searches

  async #bindServiceAccount(client: Client): Promise<void> {
    try {
      await client.bind(this.#settings.bindDn, this.#settings.bindPassword);
    } catch (err) {
      if (err instanceof InvalidCredentialsError) throw providerUnavailable(this.#settings.providerId, "service_bind_failed", err);
      throw err;
    }
  }

  async #bindUser(client: Client, dn: string, password: string): Promise<void> {
    try {
      await client.bind(dn, password);
    } catch (err) {
      if (!(err instanceof InvalidCredentialsError)) throw err;
      // Active Directory explains a refused bind in the diagnostic text: 533 disabled, 701 expired.
      if (/\bdata (533|701)\b/.test(err.message)) throw authenticationFailed("account_disabled");
      throw authenticationFailed("invalid_credentials");
    }
  }

  async #search(client: Client, base: string, scope: "base" | "sub", filter: string, attributes: readonly string[], sizeLimit = 0): Promise<Entry[]> {
    try {
      const { searchEntries } = await client.search(base, {
        scope,
        filter,
        attributes: [...attributes],
        explicitBufferAttributes: attributes.filter(isObjectGuid),
        sizeLimit,
        timeLimit: Math.ceil(this.#settings.timeoutMs / 1000),
        ...(scope === "sub" && sizeLimit === 0 ? { paged: { pageSize: 500 } } : {}),
      });
      return searchEntries;
    } catch (err) {
      if (err instanceof NoSuchObjectError && scope === "base") return [];
      throw err;
    }
  }

  #userAttributes(): string[] {
    const s = this.#settings;
    const wanted = [s.usernameAttribute, s.displayNameAttribute, s.emailAttribute, ...s.claimAttributes];
    if (s.subjectAttribute.toLowerCase() !== "dn") wanted.push(s.subjectAttribute);
    if (s.nestedGroups === "member_of") wanted.push("memberOf");
    return [...new Set(wanted)];
  }

  async #isActive(client: Client, dn: string): Promise<boolean> {
    if (this.#settings.activeFilter === "") return true;
    const found = await this.#search(client, dn, "base", this.#settings.activeFilter, ["1.1"], 1);
    return found.length === 1;
  }

  async #findBySubject(client: Client, subject: string): Promise<Entry | undefined> {
    const s = this.#settings;
    const subjectIsDn = s.subjectAttribute.toLowerCase() === "dn" || (subject.includes("=") && isWithin(subject, s.userBaseDn));
    let found: Entry[];
    if (subjectIsDn) {
      if (!isWithin(subject, s.userBaseDn)) return undefined;
      found = await this.#search(client, subject, "base", "(objectClass=*)", this.#userAttributes(), 2);
    } else {
      const value = isObjectGuid(s.subjectAttribute) ? guidFilterValue(subject) : Filter.escape(subject);
      if (value === undefined) return undefined;
      found = await this.#search(client, s.userBaseDn, "sub", `(${s.subjectAttribute}=${value})`, this.#userAttributes(), 2);
    }
    if (found.length > 1) throw providerUnavailable(s.providerId, "ambiguous_subject");
    return found[0];
  }

  // ------------------------------------------------------------------ groups

  async #resolveGroups(client: Client, user: Entry): Promise<string[]> {
    const names = new Map<string, string>();
    switch (this.#settings.nestedGroups) {
      case "none":
        await this.#expandByMember(client, user.dn, names, 1);
        break;
      case "recursive":
        await this.#expandByMember(client, user.dn, names, maxGroupNestingDepth);
        break;
      case "in_chain": {
        const filter = `(&${this.#settings.groupFilter}(${this.#settings.groupMemberAttribute}:${inChainMatchingRule}:=${Filter.escape(user.dn)}))`;
        for (const group of await this.#search(client, this.#settings.groupBaseDn, "sub", filter, [this.#settings.groupNameAttribute])) this.#remember(names, group);
        break;
      }
      case "member_of":
        await this.#expandByMemberOf(client, values(user, "memberOf"), names);
        break;
    }
    return [...new Set(names.values())].sort();
  }

  /** Breadth-first over "groups whose member is one of these DNs"; `seen` makes cycles terminate. */
  async #expandByMember(client: Client, userDn: string, names: Map<string, string>, depth: number): Promise<void> {
    const s = this.#settings;
    let frontier = [userDn];
    for (let level = 0; level < depth && frontier.length > 0 && names.size < maxGroups; level++) {
      const next: string[] = [];
      for (let i = 0; i < frontier.length; i += memberDnsPerSearch) {
        const members = frontier.slice(i, i + memberDnsPerSearch).map((dn) => `(${s.groupMemberAttribute}=${Filter.escape(dn)})`).join("");
        const groups = await this.#search(client, s.groupBaseDn, "sub", `(&${s.groupFilter}(|${members}))`, [s.groupNameAttribute]);
        for (const group of groups) if (this.#remember(names, group)) next.push(group.dn);
      }
      frontier = next;
    }
  }

  /** Follows `memberOf` upwards, reading each group once; groups outside `group_base_dn` are ignored. */
  async #expandByMemberOf(client: Client, start: readonly string[], names: Map<string, string>): Promise<void> {
    const s = this.#settings;
    const visited = new Set<string>();
    let frontier = [...start];
    for (let level = 0; level < maxGroupNestingDepth && frontier.length > 0 && names.size < maxGroups; level++) {
      const next: string[] = [];
      for (const dn of frontier) {
        const key = normalizeDn(dn);
        if (visited.has(key) || !isWithin(dn, s.groupBaseDn)) continue;
        visited.add(key);
        const [group] = await this.#search(client, dn, "base", s.groupFilter, [s.groupNameAttribute, "memberOf"], 1);
        if (group === undefined) continue;
        this.#remember(names, group);
        next.push(...values(group, "memberOf"));
      }
      frontier = next;
    }
  }

  /** Records a group's name; false when the group was already known. */
  #remember(names: Map<string, string>, group: Entry): boolean {
    const key = normalizeDn(group.dn);
    if (names.has(key)) return false;
    const name = values(group, this.#settings.groupNameAttribute)[0];
    if (name === undefined || name === "") return false;
    names.set(key, name);
    return true;
  }

  // ------------------------------------------------------------------ identity

  #identity(entry: Entry, groups: string[], typedUsername: string, auth: { amr: string[]; authTime: number }): ExternalIdentity {
    const s = this.#settings;
    const claims: Record<string, ClaimValue> = {};
    for (const attribute of s.claimAttributes) {
      const found = values(entry, attribute);
      if (found.length === 1) claims[attribute] = found[0] as string;
      else if (found.length > 1) claims[attribute] = found;
    }
    return {
      providerId: s.providerId,
      subject: subjectOf(entry, s.subjectAttribute),
      username: values(entry, s.usernameAttribute)[0] ?? typedUsername,
      displayName: values(entry, s.displayNameAttribute)[0] ?? "",
      email: values(entry, s.emailAttribute)[0] ?? "",
      groups,
      claims,
      amr: auth.amr,
      acr: "",
      authTime: auth.authTime,
    };
  }
}

function authenticationFailed(reason: string): EnterpriseError {
  return new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason } });
}

/** The string values of an attribute, matched case-insensitively; binary values are left out. */
function values(entry: Entry, attribute: string): string[] {
  const wanted = attribute.toLowerCase();
  for (const [name, value] of Object.entries(entry)) {
    if (name.toLowerCase() !== wanted || name === "dn") continue;
    const list = Array.isArray(value) ? value : [value];
    return list.filter((v): v is string => typeof v === "string");
  }
  return [];
}

function subjectOf(entry: Entry, subjectAttribute: string): string {
  if (subjectAttribute.toLowerCase() === "dn") return entry.dn;
  if (isObjectGuid(subjectAttribute)) {
    const raw = Object.entries(entry).find(([name]) => name.toLowerCase() === "objectguid")?.[1];
    const bytes = Array.isArray(raw) ? raw[0] : raw;
    return Buffer.isBuffer(bytes) && bytes.length === 16 ? guidFromBytes(bytes) : entry.dn;
  }
  return values(entry, subjectAttribute)[0] ?? entry.dn;
}

function isObjectGuid(attribute: string): boolean {
  return attribute.toLowerCase() === "objectguid";
}

/** Active Directory's GUID text form: the first three fields are stored little-endian. */
export function guidFromBytes(bytes: Buffer): string {
  const hex = (from: number, to: number, reverse: boolean): string => {
    const part = [...bytes.subarray(from, to)];
    return (reverse ? part.reverse() : part).map((b) => b.toString(16).padStart(2, "0")).join("");
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)].join("-");
}

/** The `\hh` filter value matching the objectGUID whose text form is `guid`; undefined when malformed. */
export function guidFilterValue(guid: string): string | undefined {
  const match = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\}?$/i.exec(guid);
  if (match === null) return undefined;
  const bytes = (hex: string, reverse: boolean): string[] => {
    const pairs = hex.match(/../g) ?? [];
    return reverse ? pairs.reverse() : pairs;
  };
  const [, a = "", b = "", c = "", d = "", e = ""] = match;
  return [...bytes(a, true), ...bytes(b, true), ...bytes(c, true), ...bytes(d, false), ...bytes(e, false)].map((h) => `\\${h.toLowerCase()}`).join("");
}

/** Case and spacing around separators do not make two DNs different (enough for set keys and suffix checks). */
function normalizeDn(dn: string): string {
  return dn.trim().replace(/\s*([,=+])\s*/g, "$1").toLowerCase();
}

function isWithin(dn: string, base: string): boolean {
  const child = normalizeDn(dn);
  const parent = normalizeDn(base);
  return child === parent || child.endsWith(`,${parent}`);
}

/**
 * Wraps a socket factory so a client connects once. ldapts re-opens dropped connections by
 * itself; after StartTLS that new connection would be clear text, and after a bind, anonymous.
 */
function connectOnce<F extends typeof net.connect | typeof tls.connect>(connect: F): F {
  let used = false;
  const wrapped = (...args: unknown[]): net.Socket => {
    if (!used) {
      used = true;
      return (connect as (...a: unknown[]) => net.Socket)(...args);
    }
    // Thrown inside ldapts's connect promise, so the pending operation rejects at once.
    throw Object.assign(new Error("the LDAP connection was lost and is not re-opened"), { code: "ERR_LDAP_CONNECTION_LOST" });
  };
  return wrapped as F;
}

async function unbindQuietly(client: Client): Promise<void> {
  try {
    await client.unbind();
  } catch {
    // The connection is gone either way; unbind() has destroyed the socket.
  }
}

const tlsTrustCodes = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT", "CERT_SIGNATURE_FAILURE", "CERT_UNTRUSTED", "CERT_REJECTED", "INVALID_CA", "CERT_CHAIN_TOO_LONG",
]);

/** A short, stable reason for details.reason; the original error stays in `cause`. */
function failureReason(err: unknown): string {
  if (err instanceof ResultCodeError) return `ldap_result_${err.code}`;
  const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
  const message = err instanceof Error ? err.message : "";
  if (tlsTrustCodes.has(code)) return "tls_untrusted_certificate";
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return "tls_hostname_mismatch";
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return "tls_certificate_expired";
  if (code === "ETIMEDOUT" || /timed? ?out/i.test(message)) return "timeout";
  if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_") || /\bTLS\b|\bSSL\b|handshake/i.test(message)) return "tls_handshake_failed";
  if (code === "ECONNREFUSED") return "connection_refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "dns_failure";
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return "network_unreachable";
  if (code === "ECONNRESET" || code === "EPIPE" || code === "ERR_LDAP_CONNECTION_LOST" || /connection closed|socket error/i.test(message)) return "connection_lost";
  return "directory_error";
}
