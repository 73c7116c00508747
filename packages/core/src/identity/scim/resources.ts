/**
 * Mapping between the Host's records and SCIM resources.
 *
 * User ↔ principal (type USER, providerId "scim"):
 * | SCIM | Principal |
 * |---|---|
 * | `id` | `principalId` |
 * | `externalId` | `externalSubject`; without one, the principal's own id (see {@link externalSubjectFor}) |
 * | `userName` | `userName` |
 * | `displayName`, else `name.formatted`, else given + family name, else `userName` | `displayName` |
 * | `name.givenName`, `name.familyName` | `attributes.given_name`, `attributes.family_name` |
 * | primary `emails` value (else the first) | `attributes.email` |
 * | `active` (absent: a new user is active, an existing one keeps its status) | `status` ACTIVE / DISABLED |
 * | enterprise `department`, `organization`, `costCenter` | `attributes.business_unit`, `.organization`, `.cost_center` |
 *
 * Group ↔ {@link GroupRecord}: `id` ↔ `groupId`, `displayName`, `externalId`, `members[].value` ↔ `members`.
 * `meta.version` is the weak entity tag `W/"<revision>"`.
 */
import type { GroupRecord, PrincipalRecord } from "../../records.ts";
import { ScimError } from "./scim-error.ts";
import { field, isJsonObject, toBoolean } from "./patch.ts";
import type { JsonObject } from "./patch.ts";
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from "./schema.ts";

/** Longest userName, displayName or externalId accepted. */
export const MAX_NAME_LENGTH = 256;
/** Longest value stored in a principal attribute (as for other identity providers). */
export const MAX_ATTRIBUTE_LENGTH = 512;

/** The principal attributes SCIM owns; others (set by administrators) survive a PUT. */
export const SCIM_ATTRIBUTE_KEYS = ["email", "given_name", "family_name", "business_unit", "organization", "cost_center"] as const;

/** What a SCIM User says about a principal. Empty strings mean "not given". */
export interface ScimUserFields {
  readonly userName: string;
  readonly externalId: string;
  readonly displayName: string;
  /** null when not given: a new user is active, an existing one keeps its status. */
  readonly active: boolean | null;
  /** Principal attributes, keyed by {@link SCIM_ATTRIBUTE_KEYS}; absent keys are unassigned. */
  readonly attributes: Readonly<Record<string, string>>;
}

/** What a SCIM Group says. */
export interface ScimGroupFields {
  readonly displayName: string;
  readonly externalId: string;
  /** Member principal ids, without duplicates, in the order given. */
  readonly members: readonly string[];
}

/** A group a user belongs to, for the user's read-only `groups` attribute. */
export interface ScimGroupRef {
  readonly groupId: string;
  readonly displayName: string;
}

/**
 * The `externalSubject` stored for a SCIM user. Subjects are unique per provider in a tenant (a
 * store index), so a user without an `externalId` — and a deleted user, which releases its IdP id
 * for re-provisioning — holds its own principal id instead of "".
 */
export function externalSubjectFor(principalId: string, externalId: string): string {
  return externalId === "" ? principalId : externalId;
}

/** The `externalId` of a SCIM user: "" when it holds the placeholder of {@link externalSubjectFor}. */
export function externalIdOf(principal: PrincipalRecord): string {
  return principal.externalSubject === principal.principalId ? "" : principal.externalSubject;
}

/** The weak entity tag of a revision, as `meta.version` and the ETag header carry it. */
export function entityTag(revision: number): string {
  return `W/"${revision}"`;
}

function timestamp(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/**
 * A principal as a SCIM User.
 * @param options.baseUrl - The SCIM base URL (`https://host/scim/v2`), for `meta.location` and `$ref`s.
 * @param options.groups - The user's groups; omitted from the resource when not given.
 */
export function toScimUser(principal: PrincipalRecord, options: { baseUrl: string; groups?: readonly ScimGroupRef[] }): JsonObject {
  const attributes = principal.attributes;
  const schemas = [USER_SCHEMA];
  const user: JsonObject = { schemas, id: principal.principalId };
  const externalId = externalIdOf(principal);
  if (externalId !== "") user["externalId"] = externalId;
  user["userName"] = principal.userName;
  const name: JsonObject = { formatted: principal.displayName };
  if (attributes["given_name"] !== undefined) name["givenName"] = attributes["given_name"];
  if (attributes["family_name"] !== undefined) name["familyName"] = attributes["family_name"];
  user["name"] = name;
  user["displayName"] = principal.displayName;
  user["active"] = principal.status === "ACTIVE";
  if (attributes["email"] !== undefined) user["emails"] = [{ value: attributes["email"], type: "work", primary: true }];
  if (options.groups !== undefined && options.groups.length > 0) {
    user["groups"] = options.groups.map((group) => ({ value: group.groupId, $ref: `${options.baseUrl}/Groups/${group.groupId}`, display: group.displayName, type: "direct" }));
  }
  const enterprise: JsonObject = {};
  if (attributes["business_unit"] !== undefined) enterprise["department"] = attributes["business_unit"];
  if (attributes["organization"] !== undefined) enterprise["organization"] = attributes["organization"];
  if (attributes["cost_center"] !== undefined) enterprise["costCenter"] = attributes["cost_center"];
  if (Object.keys(enterprise).length > 0) {
    schemas.push(ENTERPRISE_USER_SCHEMA);
    user[ENTERPRISE_USER_SCHEMA] = enterprise;
  }
  user["meta"] = {
    resourceType: "User",
    created: timestamp(principal.createdAt),
    lastModified: timestamp(Math.max(principal.createdAt, principal.syncedAt)),
    location: `${options.baseUrl}/Users/${principal.principalId}`,
    version: entityTag(principal.revision),
  };
  return user;
}

/**
 * Reads a POST or PUT body as a User.
 * @throws ScimError 400 invalidSyntax (not a User), invalidValue (missing userName, bad types, too long).
 */
export function fromScimUser(body: unknown): ScimUserFields {
  requireSchema(body, USER_SCHEMA);
  return readUserFields(body);
}

/**
 * Reads a User resource (a request body, or a stored user after PATCH), attribute names
 * case-insensitively.
 * @throws ScimError 400 invalidValue.
 */
export function readUserFields(user: JsonObject): ScimUserFields {
  const userName = requiredString(field(user, "userName"), "userName", MAX_NAME_LENGTH);
  const name = optionalObject(field(user, "name"), "name");
  const givenName = optionalString(field(name, "givenName"), "name.givenName", MAX_ATTRIBUTE_LENGTH);
  const familyName = optionalString(field(name, "familyName"), "name.familyName", MAX_ATTRIBUTE_LENGTH);
  const displayName =
    optionalString(field(user, "displayName"), "displayName", MAX_NAME_LENGTH) ||
    optionalString(field(name, "formatted"), "name.formatted", MAX_NAME_LENGTH) ||
    [givenName, familyName].filter((part) => part !== "").join(" ").slice(0, MAX_NAME_LENGTH) ||
    userName;
  const active = field(user, "active");
  const enterprise = optionalObject(field(user, ENTERPRISE_USER_SCHEMA), ENTERPRISE_USER_SCHEMA);
  const attributes: Record<string, string> = {};
  const put = (key: (typeof SCIM_ATTRIBUTE_KEYS)[number], value: string) => {
    if (value !== "") attributes[key] = value;
  };
  put("email", primaryEmail(field(user, "emails")));
  put("given_name", givenName);
  put("family_name", familyName);
  put("business_unit", optionalString(field(enterprise, "department"), "department", MAX_ATTRIBUTE_LENGTH));
  put("organization", optionalString(field(enterprise, "organization"), "organization", MAX_ATTRIBUTE_LENGTH));
  put("cost_center", optionalString(field(enterprise, "costCenter"), "costCenter", MAX_ATTRIBUTE_LENGTH));
  return {
    userName,
    externalId: optionalString(field(user, "externalId"), "externalId", MAX_NAME_LENGTH),
    displayName,
    active: active === undefined || active === null ? null : toBoolean(active, "active"),
    attributes,
  };
}

function primaryEmail(emails: unknown): string {
  if (emails === undefined || emails === null) return "";
  if (!Array.isArray(emails)) throw new ScimError(400, "invalidValue", "emails must be an array.");
  let first = "";
  for (const email of emails) {
    if (!isJsonObject(email)) throw new ScimError(400, "invalidValue", "Each email must be an object.");
    const value = optionalString(field(email, "value"), "emails.value", MAX_ATTRIBUTE_LENGTH);
    if (value === "") continue;
    const primary = field(email, "primary");
    if (primary !== undefined && primary !== null && toBoolean(primary, "emails.primary")) return value;
    if (first === "") first = value;
  }
  return first;
}

/**
 * A group as a SCIM Group.
 * @param options.baseUrl - The SCIM base URL, for `meta.location` and member `$ref`s.
 * @param options.members - Whether to include `members` (Entra asks for groups without them).
 */
export function toScimGroup(group: GroupRecord, options: { baseUrl: string; members?: boolean }): JsonObject {
  const resource: JsonObject = { schemas: [GROUP_SCHEMA], id: group.groupId };
  if (group.externalId !== "") resource["externalId"] = group.externalId;
  resource["displayName"] = group.displayName;
  if (options.members !== false && group.members.length > 0) {
    resource["members"] = group.members.map((principalId) => ({ value: principalId, $ref: `${options.baseUrl}/Users/${principalId}`, type: "User" }));
  }
  resource["meta"] = {
    resourceType: "Group",
    created: timestamp(group.createdAt),
    lastModified: timestamp(group.updatedAt),
    location: `${options.baseUrl}/Groups/${group.groupId}`,
    version: entityTag(group.revision),
  };
  return resource;
}

/**
 * Reads a POST or PUT body as a Group.
 * @throws ScimError 400 invalidSyntax, invalidValue.
 */
export function fromScimGroup(body: unknown): ScimGroupFields {
  requireSchema(body, GROUP_SCHEMA);
  return readGroupFields(body);
}

/**
 * Reads a Group resource, attribute names case-insensitively.
 * @throws ScimError 400 invalidValue (no displayName, a member that is not a User, bad types).
 */
export function readGroupFields(group: JsonObject): ScimGroupFields {
  const members = field(group, "members");
  if (members !== undefined && members !== null && !Array.isArray(members)) throw new ScimError(400, "invalidValue", "members must be an array.");
  const ids = new Set<string>();
  for (const member of Array.isArray(members) ? (members as unknown[]) : []) {
    if (!isJsonObject(member)) throw new ScimError(400, "invalidValue", "Each member must be an object with a value.");
    const type = optionalString(field(member, "type"), "members.type", MAX_NAME_LENGTH);
    if (type !== "" && type.toLowerCase() !== "user") throw new ScimError(400, "invalidValue", "Only users can be members; nested groups are not supported.");
    ids.add(requiredString(field(member, "value"), "members.value", MAX_NAME_LENGTH));
  }
  return {
    displayName: requiredString(field(group, "displayName"), "displayName", MAX_NAME_LENGTH),
    externalId: optionalString(field(group, "externalId"), "externalId", MAX_NAME_LENGTH),
    members: [...ids],
  };
}

function requireSchema(body: unknown, schema: string): asserts body is JsonObject {
  if (!isJsonObject(body)) throw new ScimError(400, "invalidSyntax", "The body must be a JSON object.");
  const schemas = field(body, "schemas");
  const wanted = schema.toLowerCase();
  if (!Array.isArray(schemas) || !schemas.some((candidate) => typeof candidate === "string" && candidate.toLowerCase() === wanted)) {
    throw new ScimError(400, "invalidSyntax", `The body's schemas must include ${schema}.`);
  }
}

/** Control characters never belong in names; they would confuse logs and displays. */
function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function optionalString(value: unknown, path: string, maxLength: number): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw new ScimError(400, "invalidValue", `${path} must be a string.`);
  const trimmed = value.trim();
  if (trimmed.length > maxLength) throw new ScimError(400, "invalidValue", `${path} is longer than ${maxLength} characters.`);
  if (hasControlCharacters(trimmed)) throw new ScimError(400, "invalidValue", `${path} contains control characters.`);
  return trimmed;
}

function requiredString(value: unknown, path: string, maxLength: number): string {
  const text = optionalString(value, path, maxLength);
  if (text === "") throw new ScimError(400, "invalidValue", `${path} is required.`);
  return text;
}

function optionalObject(value: unknown, path: string): JsonObject {
  if (value === undefined || value === null) return {};
  if (!isJsonObject(value)) throw new ScimError(400, "invalidValue", `${path} must be an object.`);
  return value;
}
