import { isErrorCode } from "../../errors.ts";
import type { AuditRecorder } from "../../audit-recorder.ts";
import { findPlainJsonIssues } from "../../contracts/plain-json.ts";
import type { Clock, IdSource, Store, TenantStores } from "../../ports.ts";
import type { GroupRecord, PrincipalRecord } from "../../records.ts";
import type { RequestOrigin } from "../security-context.ts";
import { compileFilter, findIndexedEquality } from "./filter.ts";
import { parseListQuery, project, projectionIncludes, sortResources } from "./list-query.ts";
import type { ListParameters, ScimListQuery } from "./list-query.ts";
import { applyPatch, field, isJsonObject, parsePatchRequest } from "./patch.ts";
import type { JsonObject, PatchOperation } from "./patch.ts";
import { entityTag, externalIdOf, externalSubjectFor, fromScimGroup, fromScimUser, readGroupFields, readUserFields, SCIM_ATTRIBUTE_KEYS, toScimGroup, toScimUser } from "./resources.ts";
import type { ScimGroupFields, ScimGroupRef, ScimUserFields } from "./resources.ts";
import { ScimError, toScimError } from "./scim-error.ts";
import { groupResourceType, LIST_RESPONSE_SCHEMA, shorten, userResourceType } from "./schema.ts";
import type { ScimResourceType } from "./schema.ts";

/** The `providerId` of every principal SCIM provisions. */
export const SCIM_PROVIDER_ID = "scim";
/** Most member changes one group PATCH may carry. */
export const MAX_PATCH_MEMBERS = 1000;
/** Most members one group may have. */
export const MAX_GROUP_MEMBERS = 50_000;
/**
 * Most resources a filter without an indexed equality (`id`, `userName`, `externalId` for users;
 * `id`, `displayName` for groups) or a `sortBy` may examine in memory. A tenant with more SCIM
 * users (or groups) gets 400 `tooMany` for such a query and must narrow it with an indexed
 * equality; IdPs only ever send those (Okta: `userName eq`, Entra: `externalId eq`/`id eq`).
 */
export const MAX_FILTER_SCAN = 10_000;
/** Store page size while scanning. */
const SCAN_PAGE_SIZE = 500;
/** Attempts of a read-modify-write that lost a revision race (without If-Match). */
const WRITE_ATTEMPTS = 3;

/**
 * Port the host implements: the effects of deprovisioning that reach beyond the principal record.
 */
export interface ScimLifecycle {
  /**
   * Called after a SCIM user was disabled (`active: false`) or deleted. Must take effect at once:
   * raise `tokensValidAfter`, revoke refresh tokens, destroy sessions. Idempotent: it is called
   * again for every later write that leaves the user disabled, and on retries.
   */
  principalDeactivated(tenantId: string, principalId: string, reason: string): Promise<void>;
  /** Optional: the principal's status, groups or synced roles changed; drop cached copies. */
  principalChanged?(tenantId: string, principalId: string): Promise<void>;
}

/** The authenticated SCIM client, and where its request came from. The tenant is never taken from the request. */
export interface ScimCaller {
  readonly tenantId: string;
  /** The principal (holding `scim:provision`) the IdP authenticated as; recorded as the actor. */
  readonly principalId: string;
  readonly origin: RequestOrigin;
  /** The SCIM base URL as the client reaches it (`https://host/scim/v2`), for `meta.location` and `$ref`s. */
  readonly baseUrl: string;
}

/** Conditions of a write. */
export interface ScimWriteOptions {
  /** The `If-Match` header: the write fails 412 unless it names the current version (or is `*`). */
  readonly ifMatch?: string | undefined;
}

/** A single resource with the headers it is served with. */
export interface ScimResourceResponse {
  readonly resource: JsonObject;
  /** `Location` (= `meta.location`). */
  readonly location: string;
  /** `ETag` (= `meta.version`). */
  readonly etag: string;
}

/** Collaborators and settings of {@link ScimService}. */
export interface ScimServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly audit: AuditRecorder;
  readonly lifecycle: ScimLifecycle;
  /** Group displayName → roles its members receive (as `syncedRoles`). */
  readonly groupRoles: Readonly<Record<string, readonly string[]>>;
  /** Whether `role` exists in the tenant; roles that do not are never granted. */
  readonly knownRole: (tenantId: string, role: string) => boolean | Promise<boolean>;
}

interface UserWrite {
  readonly before: PrincipalRecord;
  readonly after: PrincipalRecord;
  readonly groups: readonly ScimGroupRef[];
  readonly changed: readonly string[];
}

interface GroupWrite {
  readonly before: GroupRecord;
  readonly after: GroupRecord;
  readonly added: number;
  readonly removed: number;
  readonly principals: readonly string[];
}

/**
 * SCIM 2.0 provisioning (RFC 7643, RFC 7644) of a tenant's users and groups by its identity
 * provider.
 *
 * Rules enforced:
 * - every read and write is bound to the caller's tenant; ids of other tenants, principals not
 *   provisioned by SCIM and deleted users are all simply "not found";
 * - `userName` is unique (case-insensitively) among the tenant's live SCIM users, and so is a
 *   non-empty `externalId`; group display names are unique in the tenant: 409 `uniqueness`;
 * - `active: false` disables the principal and a delete revokes it (never removes it: the audit log
 *   refers to it) after leaving all its groups; both call {@link ScimLifecycle.principalDeactivated}
 *   so sessions and tokens stop working at once;
 * - a member's `groups` are the display names of its groups and its `syncedRoles` the roles the
 *   `groupRoles` mapping grants them, limited to roles that exist in the tenant; both are
 *   recomputed in the transaction that changes a membership, a group's name or a user's deletion;
 * - members are users of the tenant (no nested groups), at most {@link MAX_GROUP_MEMBERS} per group
 *   and {@link MAX_PATCH_MEMBERS} changes per PATCH;
 * - writes honour `If-Match` (412 on a stale version) and otherwise retry a lost revision race;
 * - each change is audited after it commits (`scim_user.*`, `scim_group.*`);
 * - every failure leaves as a {@link ScimError}.
 */
export class ScimService {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #audit: AuditRecorder;
  readonly #lifecycle: ScimLifecycle;
  readonly #groupRoles: Readonly<Record<string, readonly string[]>>;
  readonly #knownRole: ScimServiceDeps["knownRole"];

  constructor(deps: ScimServiceDeps) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#ids = deps.ids;
    this.#audit = deps.audit;
    this.#lifecycle = deps.lifecycle;
    this.#groupRoles = deps.groupRoles;
    this.#knownRole = deps.knownRole;
  }

  // ------------------------------------------------------------ users

  /**
   * Provisions a user.
   * @throws ScimError 400 (invalidSyntax, invalidValue), 409 uniqueness.
   */
  async createUser(caller: ScimCaller, body: unknown): Promise<ScimResourceResponse> {
    return this.#guard(async () => {
      const fields = fromScimUser(plainJson(body));
      const now = this.#clock.now();
      const record = await this.#store.transaction(async (tx) => {
        const stores = tx.forTenant(caller.tenantId);
        await assertUniqueUser(stores, fields, null);
        const principalId = this.#ids.newId("usr");
        const principal: PrincipalRecord = {
          tenantId: caller.tenantId,
          principalId,
          type: "USER",
          displayName: fields.displayName,
          description: "Provisioned through SCIM",
          roles: [],
          permissions: [],
          clearance: "internal",
          status: fields.active === false ? "DISABLED" : "ACTIVE",
          attributes: { ...fields.attributes },
          createdAt: now,
          createdBy: caller.principalId,
          expiresAt: null,
          userName: fields.userName,
          providerId: SCIM_PROVIDER_ID,
          externalSubject: externalSubjectFor(principalId, fields.externalId),
          groups: [],
          syncedRoles: [],
          syncedAt: now,
          tokensValidAfter: 0,
          revision: 0,
        };
        await stores.principals.create(principal);
        return principal;
      });
      await this.#audit.record({
        eventType: "scim_user.created",
        tenantId: caller.tenantId,
        principalId: caller.principalId,
        resource: `principal:${record.principalId}`,
        action: "create",
        outcome: "SUCCESS",
        origin: caller.origin,
        metadata: { user_name: record.userName, external_id: externalIdOf(record), active: String(record.status === "ACTIVE") },
      });
      return userResponse(caller, record, []);
    });
  }

  /**
   * Reads a user.
   * @throws ScimError 404 (absent, another tenant's, not provisioned by SCIM, deleted).
   */
  async getUser(caller: ScimCaller, id: string, query: Pick<ScimListQuery, "attributes" | "excludedAttributes"> = {}): Promise<ScimResourceResponse> {
    return this.#guard(async () => {
      const parameters = parseListQuery({ attributes: query.attributes, excludedAttributes: query.excludedAttributes });
      const stores = this.#store.forTenant(caller.tenantId);
      const principal = await loadUser(stores, id);
      const response = userResponse(caller, principal, groupRefs(await stores.groups.listForMember(id)));
      return { ...response, resource: project(userResourceType, response.resource, parameters.projection) };
    });
  }

  /**
   * Replaces a user (PUT): attributes absent from the body are unassigned, except `active`, which
   * then keeps its value (a PUT that forgets it must not re-enable a disabled account).
   * @throws ScimError 400, 404, 409 uniqueness, 412.
   */
  async replaceUser(caller: ScimCaller, id: string, body: unknown, options: ScimWriteOptions = {}): Promise<ScimResourceResponse> {
    return this.#guard(async () => {
      const fields = fromScimUser(plainJson(body));
      return this.#updateUser(caller, id, options, () => fields);
    });
  }

  /**
   * Modifies a user (PATCH, RFC 7644 §3.5.2); `active: false` deactivates it.
   * @throws ScimError 400 (invalidSyntax, invalidPath, invalidFilter, invalidValue, noTarget, mutability), 404, 409, 412.
   */
  async patchUser(caller: ScimCaller, id: string, body: unknown, options: ScimWriteOptions = {}): Promise<ScimResourceResponse> {
    return this.#guard(async () => {
      const operations = parsePatchRequest(plainJson(body));
      return this.#updateUser(caller, id, options, (existing, groups) => {
        const current = toScimUser(existing, { baseUrl: caller.baseUrl, groups });
        return readUserFields(withFormattedNameAsDisplayName(current, applyPatch(userResourceType, current, operations)));
      });
    });
  }

  /**
   * Deprovisions a user: removes it from its groups, revokes the principal (kept for the audit
   * log) and ends its sessions and tokens. Afterwards the user is not found.
   * @throws ScimError 404, 412.
   */
  async deleteUser(caller: ScimCaller, id: string, options: ScimWriteOptions = {}): Promise<void> {
    return this.#guard(async () => {
      const left = await this.#retrying(options, () =>
        this.#store.transaction(async (tx) => {
          const stores = tx.forTenant(caller.tenantId);
          const existing = await loadUser(stores, id);
          checkPrecondition(options, existing.revision);
          const now = this.#clock.now();
          const memberships = await stores.groups.listForMember(id);
          for (const group of memberships) {
            await stores.groups.update({ ...group, members: group.members.filter((member) => member !== id), updatedAt: now, revision: group.revision + 1 }, group.revision);
          }
          // The IdP's id is released (the placeholder takes its place) so the IdP may provision it again.
          await stores.principals.update(
            { ...existing, status: "REVOKED", externalSubject: externalSubjectFor(id, ""), groups: [], syncedRoles: [], syncedAt: now, revision: existing.revision + 1 },
            existing.revision,
          );
          return { existing, groups: memberships.length };
        }),
      );
      await this.#lifecycle.principalDeactivated(caller.tenantId, id, "scim_delete");
      await this.#audit.record({
        eventType: "scim_user.deleted",
        tenantId: caller.tenantId,
        principalId: caller.principalId,
        resource: `principal:${id}`,
        action: "delete",
        outcome: "SUCCESS",
        origin: caller.origin,
        metadata: { user_name: left.existing.userName, external_id: externalIdOf(left.existing), groups_left: String(left.groups) },
      });
    });
  }

  /**
   * Lists users (RFC 7644 §3.4.2): filter, sort, 1-based pages of at most 200.
   * @throws ScimError 400 (invalidFilter, invalidValue, invalidPath, tooMany).
   */
  async listUsers(caller: ScimCaller, query: ScimListQuery): Promise<JsonObject> {
    return this.#guard(async () => {
      const parameters = parseListQuery(query);
      const stores = this.#store.forTenant(caller.tenantId);
      const withGroups = parameters.projection.attributes !== null && projectionIncludes(parameters.projection, "groups");
      const render = async (principal: PrincipalRecord) =>
        toScimUser(principal, { baseUrl: caller.baseUrl, ...(withGroups ? { groups: groupRefs(await stores.groups.listForMember(principal.principalId)) } : {}) });
      const page = await this.#listPage(userResourceType, parameters, {
        indexed: async (attribute, value) => {
          switch (attribute) {
            case "id": {
              const principal = await stores.principals.get(value);
              return principal === null ? [] : [principal];
            }
            case "username":
              return stores.principals.list({ providerId: SCIM_PROVIDER_ID, type: "USER", userName: value, includeInactive: true, limit: 10 });
            case "externalid": {
              const principal = await stores.principals.findByExternalSubject(SCIM_PROVIDER_ID, value);
              return principal === null ? [] : [principal];
            }
            default:
              return [];
          }
        },
        indexedAttributes: ["id", "username", "externalid"],
        total: async () => (await stores.principals.count(scimUsers("ACTIVE"))) + (await stores.principals.count(scimUsers("DISABLED"))),
        page: (cursor) => stores.principals.list({ providerId: SCIM_PROVIDER_ID, type: "USER", includeInactive: true, limit: SCAN_PAGE_SIZE, ...(cursor === undefined ? {} : { cursor }) }),
        cursorOf: (principal) => principal.principalId,
        live: isLiveScimUser,
        render,
      });
      return page;
    });
  }

  // ------------------------------------------------------------ groups

  /**
   * Creates a group, with members.
   * @throws ScimError 400 (invalidSyntax, invalidValue: unknown member, too many members), 409 uniqueness.
   */
  async createGroup(caller: ScimCaller, body: unknown): Promise<ScimResourceResponse> {
    return this.#guard(async () => {
      const fields = fromScimGroup(plainJson(body));
      assertGroupSize(fields);
      const roles = await this.#resolvedGroupRoles(caller.tenantId);
      const now = this.#clock.now();
      const { group, principals } = await this.#store.transaction(async (tx) => {
        const stores = tx.forTenant(caller.tenantId);
        if ((await stores.groups.findByDisplayName(fields.displayName)) !== null) {
          throw new ScimError(409, "uniqueness", `A group named "${shorten(fields.displayName)}" already exists.`);
        }
        await assertMembers(stores, fields.members);
        const group: GroupRecord = {
          tenantId: caller.tenantId,
          groupId: this.#ids.newId("grp"),
          displayName: fields.displayName,
          externalId: fields.externalId,
          members: [...fields.members],
          createdAt: now,
          updatedAt: now,
          revision: 0,
        };
        await stores.groups.create(group);
        return { group, principals: await syncMemberships(stores, fields.members, roles, now) };
      });
      await this.#principalsChanged(caller.tenantId, principals);
      await this.#audit.record({
        eventType: "scim_group.created",
        tenantId: caller.tenantId,
        principalId: caller.principalId,
        resource: `group:${group.groupId}`,
        action: "create",
        outcome: "SUCCESS",
        origin: caller.origin,
        metadata: { display_name: group.displayName, external_id: group.externalId, members: String(group.members.length) },
      });
      return groupResponse(caller, group);
    });
  }

  /**
   * Reads a group.
   * @throws ScimError 404.
   */
  async getGroup(caller: ScimCaller, id: string, query: Pick<ScimListQuery, "attributes" | "excludedAttributes"> = {}): Promise<ScimResourceResponse> {
    return this.#guard(async () => {
      const parameters = parseListQuery({ attributes: query.attributes, excludedAttributes: query.excludedAttributes });
      const group = await loadGroup(this.#store.forTenant(caller.tenantId), id);
      const response = groupResponse(caller, group);
      return { ...response, resource: project(groupResourceType, response.resource, parameters.projection) };
    });
  }

  /**
   * Replaces a group (PUT), its members included.
   * @throws ScimError 400, 404, 409 uniqueness, 412.
   */
  async replaceGroup(caller: ScimCaller, id: string, body: unknown, options: ScimWriteOptions = {}): Promise<ScimResourceResponse> {
    return this.#guard(async () => {
      const fields = fromScimGroup(plainJson(body));
      return this.#updateGroup(caller, id, options, () => fields);
    });
  }

  /**
   * Modifies a group (PATCH): rename, add and remove members (`members[value eq "…"]`, or Entra's
   * `remove` of `members` with a value list).
   * @throws ScimError 400, 404, 409 uniqueness, 412.
   */
  async patchGroup(caller: ScimCaller, id: string, body: unknown, options: ScimWriteOptions = {}): Promise<ScimResourceResponse> {
    return this.#guard(async () => {
      const operations = parsePatchRequest(plainJson(body));
      if (memberChanges(operations) > MAX_PATCH_MEMBERS) {
        throw new ScimError(400, "invalidValue", `At most ${MAX_PATCH_MEMBERS} member changes per PATCH; split the request.`);
      }
      return this.#updateGroup(caller, id, options, (existing) =>
        readGroupFields(applyPatch(groupResourceType, toScimGroup(existing, { baseUrl: caller.baseUrl }), operations)),
      );
    });
  }

  /**
   * Deletes a group; its former members lose its name and the roles it granted.
   * @throws ScimError 404, 412.
   */
  async deleteGroup(caller: ScimCaller, id: string, options: ScimWriteOptions = {}): Promise<void> {
    return this.#guard(async () => {
      const roles = await this.#resolvedGroupRoles(caller.tenantId);
      const { group, principals } = await this.#retrying(options, () =>
        this.#store.transaction(async (tx) => {
          const stores = tx.forTenant(caller.tenantId);
          const group = await loadGroup(stores, id);
          checkPrecondition(options, group.revision);
          await stores.groups.delete(id);
          return { group, principals: await syncMemberships(stores, group.members, roles, this.#clock.now()) };
        }),
      );
      await this.#principalsChanged(caller.tenantId, principals);
      await this.#audit.record({
        eventType: "scim_group.deleted",
        tenantId: caller.tenantId,
        principalId: caller.principalId,
        resource: `group:${id}`,
        action: "delete",
        outcome: "SUCCESS",
        origin: caller.origin,
        metadata: { display_name: group.displayName, members: String(group.members.length) },
      });
    });
  }

  /**
   * Lists groups: filter (`displayName eq` and `id eq` use indexes; Entra's
   * `id eq "…" and members[value eq "…"]` membership probe included), sort, pages.
   * @throws ScimError 400 (invalidFilter, invalidValue, invalidPath, tooMany).
   */
  async listGroups(caller: ScimCaller, query: ScimListQuery): Promise<JsonObject> {
    return this.#guard(async () => {
      const parameters = parseListQuery(query);
      const stores = this.#store.forTenant(caller.tenantId);
      return this.#listPage(groupResourceType, parameters, {
        indexed: async (attribute, value) => {
          if (attribute === "id") {
            const group = await stores.groups.get(value);
            return group === null ? [] : [group];
          }
          const exact = await stores.groups.findByDisplayName(value);
          if (exact !== null) return [exact];
          // SCIM compares display names case-insensitively and the index is exact: on a miss, scan.
          return scanGroups(stores, (group) => group.displayName.toLowerCase() === value.toLowerCase());
        },
        indexedAttributes: ["id", "displayname"],
        total: () => stores.groups.count(),
        page: (cursor) => stores.groups.list({ limit: SCAN_PAGE_SIZE, ...(cursor === undefined ? {} : { cursor }) }),
        cursorOf: (group) => group.groupId,
        live: () => true,
        render: async (group) => toScimGroup(group, { baseUrl: caller.baseUrl }),
      });
    });
  }

  // ------------------------------------------------------------ internals

  async #updateUser(
    caller: ScimCaller,
    id: string,
    options: ScimWriteOptions,
    change: (existing: PrincipalRecord, groups: readonly ScimGroupRef[]) => ScimUserFields,
  ): Promise<ScimResourceResponse> {
    const write: UserWrite = await this.#retrying(options, () =>
      this.#store.transaction(async (tx) => {
        const stores = tx.forTenant(caller.tenantId);
        const before = await loadUser(stores, id);
        checkPrecondition(options, before.revision);
        const groups = groupRefs(await stores.groups.listForMember(id));
        const fields = change(before, groups);
        if (fields.userName.toLowerCase() !== before.userName.toLowerCase() || fields.externalId !== externalIdOf(before)) {
          await assertUniqueUser(stores, fields, id);
        }
        const candidate = withUserFields(before, fields);
        const changed = changedUserFields(before, candidate);
        if (changed.length === 0) return { before, after: before, groups, changed };
        const after = { ...candidate, syncedAt: this.#clock.now(), revision: before.revision + 1 };
        await stores.principals.update(after, before.revision);
        return { before, after, groups, changed };
      }),
    );
    const { before, after } = write;
    if (after.status === "DISABLED") await this.#lifecycle.principalDeactivated(caller.tenantId, id, "scim_deactivate");
    else if (write.changed.length > 0) await this.#principalsChanged(caller.tenantId, [id]);
    if (write.changed.length > 0) {
      const deactivated = before.status === "ACTIVE" && after.status === "DISABLED";
      await this.#audit.record({
        eventType: deactivated ? "scim_user.deactivated" : "scim_user.updated",
        tenantId: caller.tenantId,
        principalId: caller.principalId,
        resource: `principal:${id}`,
        action: deactivated ? "deactivate" : "update",
        outcome: "SUCCESS",
        origin: caller.origin,
        metadata: { user_name: after.userName, changed: write.changed.join(","), active: String(after.status === "ACTIVE") },
      });
    }
    return userResponse(caller, after, write.groups);
  }

  async #updateGroup(caller: ScimCaller, id: string, options: ScimWriteOptions, change: (existing: GroupRecord) => ScimGroupFields): Promise<ScimResourceResponse> {
    const roles = await this.#resolvedGroupRoles(caller.tenantId);
    const write: GroupWrite = await this.#retrying(options, () =>
      this.#store.transaction(async (tx) => {
        const stores = tx.forTenant(caller.tenantId);
        const before = await loadGroup(stores, id);
        checkPrecondition(options, before.revision);
        const fields = change(before);
        assertGroupSize(fields);
        const renamed = fields.displayName !== before.displayName;
        if (renamed) {
          const holder = await stores.groups.findByDisplayName(fields.displayName);
          if (holder !== null && holder.groupId !== id) throw new ScimError(409, "uniqueness", `A group named "${shorten(fields.displayName)}" already exists.`);
        }
        const previous = new Set(before.members);
        const next = new Set(fields.members);
        const added = fields.members.filter((member) => !previous.has(member));
        const removed = before.members.filter((member) => !next.has(member));
        if (!renamed && added.length === 0 && removed.length === 0 && fields.externalId === before.externalId) {
          return { before, after: before, added: 0, removed: 0, principals: [] };
        }
        await assertMembers(stores, added);
        const now = this.#clock.now();
        const after: GroupRecord = { ...before, displayName: fields.displayName, externalId: fields.externalId, members: [...fields.members], updatedAt: now, revision: before.revision + 1 };
        await stores.groups.update(after, before.revision);
        const affected = renamed ? [...new Set([...before.members, ...fields.members])] : [...added, ...removed];
        return { before, after, added: added.length, removed: removed.length, principals: await syncMemberships(stores, affected, roles, now) };
      }),
    );
    await this.#principalsChanged(caller.tenantId, write.principals);
    if (write.after !== write.before) {
      await this.#audit.record({
        eventType: "scim_group.updated",
        tenantId: caller.tenantId,
        principalId: caller.principalId,
        resource: `group:${id}`,
        action: "update",
        outcome: "SUCCESS",
        origin: caller.origin,
        metadata: {
          display_name: write.after.displayName,
          previous_display_name: write.before.displayName,
          added: String(write.added),
          removed: String(write.removed),
          members: String(write.after.members.length),
        },
      });
    }
    return groupResponse(caller, write.after);
  }

  /**
   * One page of a list: through an index when the filter has an indexed equality, else by
   * scanning (bounded by {@link MAX_FILTER_SCAN} when every resource must be seen).
   */
  async #listPage<R>(
    resourceType: ScimResourceType,
    parameters: ListParameters,
    source: {
      readonly indexed: (attribute: string, value: string) => Promise<R[]>;
      readonly indexedAttributes: readonly string[];
      readonly total: () => Promise<number>;
      readonly page: (cursor: string | undefined) => Promise<R[]>;
      readonly cursorOf: (record: R) => string;
      readonly live: (record: R) => boolean;
      readonly render: (record: R) => Promise<JsonObject>;
    },
  ): Promise<JsonObject> {
    const { filter, sortBy, startIndex, count } = parameters;
    let total: number;
    let window: JsonObject[];
    const equality = filter === null ? null : findIndexedEquality(filter, source.indexedAttributes);
    if (filter !== null && equality !== null) {
      const matches = compileFilter(resourceType, filter);
      const candidates = (await source.indexed(equality.attribute, equality.value)).filter(source.live);
      const resources: JsonObject[] = [];
      for (const candidate of candidates) {
        const resource = await source.render(candidate);
        if (matches(resource)) resources.push(resource);
      }
      const sorted = sortBy === null ? resources : sortResources(resourceType, resources, sortBy, parameters.descending);
      total = sorted.length;
      window = sorted.slice(startIndex - 1, startIndex - 1 + count);
    } else if (filter !== null || sortBy !== null) {
      if ((await source.total()) > MAX_FILTER_SCAN) {
        throw new ScimError(400, "tooMany", `This filter or sort would examine more than ${MAX_FILTER_SCAN} resources; filter with an "eq" on ${source.indexedAttributes.join(", ")}.`);
      }
      const matches = filter === null ? () => true : compileFilter(resourceType, filter);
      const resources: JsonObject[] = [];
      let cursor: string | undefined;
      for (let scanned = 0; scanned <= MAX_FILTER_SCAN; ) {
        const records = await source.page(cursor);
        for (const record of records) {
          if (!source.live(record)) continue;
          const resource = await source.render(record);
          if (matches(resource)) resources.push(resource);
        }
        scanned += records.length;
        const last = records.at(-1);
        if (records.length < SCAN_PAGE_SIZE || last === undefined) break;
        cursor = source.cursorOf(last);
      }
      const sorted = sortBy === null ? resources : sortResources(resourceType, resources, sortBy, parameters.descending);
      total = sorted.length;
      window = sorted.slice(startIndex - 1, startIndex - 1 + count);
    } else {
      total = await source.total();
      window = [];
      if (count > 0 && startIndex <= total) {
        let skip = startIndex - 1;
        let cursor: string | undefined;
        for (;;) {
          const records = await source.page(cursor);
          for (const record of records) {
            if (!source.live(record)) continue;
            if (skip > 0) {
              skip--;
              continue;
            }
            if (window.length < count) window.push(await source.render(record));
          }
          const last = records.at(-1);
          if (window.length >= count || records.length < SCAN_PAGE_SIZE || last === undefined) break;
          cursor = source.cursorOf(last);
        }
      }
    }
    return {
      schemas: [LIST_RESPONSE_SCHEMA],
      totalResults: total,
      startIndex,
      itemsPerPage: window.length,
      Resources: window.map((resource) => project(resourceType, resource, parameters.projection)),
    };
  }

  /** The `groupRoles` mapping restricted to roles that exist in the tenant (resolved before a transaction opens). */
  async #resolvedGroupRoles(tenantId: string): Promise<ReadonlyMap<string, readonly string[]>> {
    const resolved = new Map<string, string[]>();
    for (const [group, roles] of Object.entries(this.#groupRoles)) {
      const known: string[] = [];
      for (const role of roles) if (await this.#knownRole(tenantId, role)) known.push(role);
      resolved.set(group, known);
    }
    return resolved;
  }

  async #principalsChanged(tenantId: string, principalIds: readonly string[]): Promise<void> {
    if (this.#lifecycle.principalChanged === undefined) return;
    for (const principalId of principalIds) await this.#lifecycle.principalChanged(tenantId, principalId);
  }

  /** Retries `work` when it lost a revision race, unless the client pinned a version with If-Match. */
  async #retrying<T>(options: ScimWriteOptions, work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (err) {
        if (!isErrorCode(err, "CONFLICT") || options.ifMatch !== undefined || attempt >= WRITE_ATTEMPTS) throw err;
      }
    }
  }

  async #guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw toScimError(err);
    }
  }
}

// ---------------------------------------------------------------- helpers

function plainJson(body: unknown): unknown {
  if (findPlainJsonIssues(body, 16).length > 0) {
    throw new ScimError(400, "invalidSyntax", "The body must be plain JSON without __proto__, constructor or prototype keys, nested at most 16 deep.");
  }
  return body;
}

function scimUsers(status: "ACTIVE" | "DISABLED") {
  return { providerId: SCIM_PROVIDER_ID, type: "USER" as const, status, limit: 1 };
}

/** Groups passing `predicate`, from a scan of at most {@link MAX_FILTER_SCAN} groups (none beyond that). */
async function scanGroups(stores: TenantStores, predicate: (group: GroupRecord) => boolean): Promise<GroupRecord[]> {
  if ((await stores.groups.count()) > MAX_FILTER_SCAN) return [];
  const found: GroupRecord[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await stores.groups.list({ limit: SCAN_PAGE_SIZE, ...(cursor === undefined ? {} : { cursor }) });
    found.push(...page.filter(predicate));
    const last = page.at(-1);
    if (page.length < SCAN_PAGE_SIZE || last === undefined) return found;
    cursor = last.groupId;
  }
}

function isLiveScimUser(principal: PrincipalRecord): boolean {
  return principal.type === "USER" && principal.providerId === SCIM_PROVIDER_ID && principal.status !== "REVOKED";
}

async function loadUser(stores: TenantStores, id: string): Promise<PrincipalRecord> {
  const principal = await stores.principals.get(id);
  if (principal === null || !isLiveScimUser(principal)) throw new ScimError(404, "", `User "${shorten(id)}" not found.`);
  return principal;
}

async function loadGroup(stores: TenantStores, id: string): Promise<GroupRecord> {
  const group = await stores.groups.get(id);
  if (group === null) throw new ScimError(404, "", `Group "${shorten(id)}" not found.`);
  return group;
}

async function assertUniqueUser(stores: TenantStores, fields: ScimUserFields, self: string | null): Promise<void> {
  const sameName = await stores.principals.list({ providerId: SCIM_PROVIDER_ID, type: "USER", userName: fields.userName, includeInactive: true, limit: 10 });
  if (sameName.some((principal) => principal.principalId !== self && isLiveScimUser(principal))) {
    throw new ScimError(409, "uniqueness", `userName "${shorten(fields.userName)}" is already taken.`);
  }
  if (fields.externalId === "") return;
  const linked = await stores.principals.findByExternalSubject(SCIM_PROVIDER_ID, fields.externalId);
  if (linked !== null && linked.principalId !== self && isLiveScimUser(linked)) {
    throw new ScimError(409, "uniqueness", `externalId "${shorten(fields.externalId)}" is already linked to another user.`);
  }
}

async function assertMembers(stores: TenantStores, principalIds: readonly string[]): Promise<void> {
  for (const principalId of principalIds) {
    const principal = await stores.principals.get(principalId);
    // One answer for absent, other tenants', non-SCIM and deleted principals: none are visible here.
    if (principal === null || !isLiveScimUser(principal)) throw new ScimError(400, "invalidValue", `Member "${shorten(principalId)}" is not a user of this tenant.`);
  }
}

function assertGroupSize(fields: ScimGroupFields): void {
  if (fields.members.length > MAX_GROUP_MEMBERS) throw new ScimError(400, "invalidValue", `A group has at most ${MAX_GROUP_MEMBERS} members.`);
}

/** How many member values a group PATCH adds or removes. */
function memberChanges(operations: readonly PatchOperation[]): number {
  let total = 0;
  const size = (value: unknown) => (Array.isArray(value) ? value.length : value === undefined || value === null ? 0 : 1);
  for (const operation of operations) {
    if (operation.path === undefined) {
      if (isJsonObject(operation.value)) total += size(field(operation.value, "members"));
    } else if (/^(?:urn:ietf:params:scim:schemas:core:2\.0:group:)?members(?:$|[[.])/i.test(operation.path)) {
      total += Math.max(1, size(operation.value));
    }
  }
  return total;
}

/**
 * Recomputes `groups` and `syncedRoles` of each principal from its current memberships (read in
 * the caller's transaction) and writes those that changed. Returns the ids written.
 */
async function syncMemberships(stores: TenantStores, principalIds: readonly string[], roles: ReadonlyMap<string, readonly string[]>, now: number): Promise<string[]> {
  const written: string[] = [];
  for (const principalId of new Set(principalIds)) {
    const principal = await stores.principals.get(principalId);
    if (principal === null || !isLiveScimUser(principal)) continue;
    const groups = [...new Set((await stores.groups.listForMember(principalId)).map((group) => group.displayName))].sort();
    const syncedRoles = [...new Set(groups.flatMap((group) => roles.get(group) ?? []))].sort();
    if (sameList(groups, principal.groups) && sameList(syncedRoles, principal.syncedRoles)) continue;
    await stores.principals.update({ ...principal, groups, syncedRoles, syncedAt: now, revision: principal.revision + 1 }, principal.revision);
    written.push(principalId);
  }
  return written;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

function groupRefs(groups: readonly GroupRecord[]): ScimGroupRef[] {
  return groups.map((group) => ({ groupId: group.groupId, displayName: group.displayName }));
}

/** The principal with a SCIM User's fields applied; attributes SCIM does not own are kept. */
function withUserFields(principal: PrincipalRecord, fields: ScimUserFields): PrincipalRecord {
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(principal.attributes)) {
    if (!(SCIM_ATTRIBUTE_KEYS as readonly string[]).includes(key)) attributes[key] = value;
  }
  Object.assign(attributes, fields.attributes);
  return {
    ...principal,
    userName: fields.userName,
    externalSubject: externalSubjectFor(principal.principalId, fields.externalId),
    displayName: fields.displayName,
    status: fields.active === null ? principal.status : fields.active ? "ACTIVE" : "DISABLED",
    attributes,
  };
}

/** Names of the SCIM-visible fields that differ, for the audit record. */
function changedUserFields(before: PrincipalRecord, after: PrincipalRecord): string[] {
  const changed: string[] = [];
  if (before.userName !== after.userName) changed.push("userName");
  if (before.externalSubject !== after.externalSubject) changed.push("externalId");
  if (before.displayName !== after.displayName) changed.push("displayName");
  if (before.status !== after.status) changed.push("active");
  for (const key of SCIM_ATTRIBUTE_KEYS) if (before.attributes[key] !== after.attributes[key]) changed.push(key);
  return changed;
}

/**
 * The stored user carries its display name twice (`displayName`, `name.formatted`); a PATCH that
 * changed only `name.formatted` means to rename the user.
 */
function withFormattedNameAsDisplayName(before: JsonObject, after: JsonObject): JsonObject {
  const formatted = (user: JsonObject) => (isJsonObject(user["name"]) ? user["name"]["formatted"] : undefined);
  if (after["displayName"] !== before["displayName"] || formatted(after) === formatted(before) || typeof formatted(after) !== "string") return after;
  return { ...after, displayName: formatted(after) };
}

function checkPrecondition(options: ScimWriteOptions, revision: number): void {
  if (options.ifMatch === undefined) return;
  const current = entityTag(revision).replace(/^W\//, "");
  const accepted = options.ifMatch.split(",").map((tag) => tag.trim().replace(/^W\//, ""));
  if (!accepted.includes("*") && !accepted.includes(current)) {
    throw new ScimError(412, "", "The resource changed since that version was read; fetch it again.");
  }
}

function userResponse(caller: ScimCaller, principal: PrincipalRecord, groups: readonly ScimGroupRef[]): ScimResourceResponse {
  const resource = toScimUser(principal, { baseUrl: caller.baseUrl, groups });
  return { resource, location: `${caller.baseUrl}/Users/${principal.principalId}`, etag: entityTag(principal.revision) };
}

function groupResponse(caller: ScimCaller, group: GroupRecord): ScimResourceResponse {
  return { resource: toScimGroup(group, { baseUrl: caller.baseUrl }), location: `${caller.baseUrl}/Groups/${group.groupId}`, etag: entityTag(group.revision) };
}
