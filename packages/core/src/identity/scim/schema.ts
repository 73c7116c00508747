/**
 * The SCIM 2.0 schemas the Host serves (RFC 7643 §4, §8.7) — only the attributes it stores — and
 * the resolution of attribute paths against them. The same definitions drive the `/Schemas`
 * discovery document, case-insensitive attribute names, case-exact filter comparisons and PATCH
 * semantics (multi-valued, complex, read-only), so what is advertised is what is enforced.
 */
import { ScimError } from "./scim-error.ts";

export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
export const LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
export const SERVICE_PROVIDER_CONFIG_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
export const RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
export const SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/** The most resources one list response carries, whatever `count` asks for. */
export const MAX_PAGE_SIZE = 200;

/** One attribute definition, as RFC 7643 §7 describes it. */
export interface ScimAttribute {
  readonly name: string;
  readonly type: "string" | "boolean" | "complex" | "reference" | "dateTime";
  readonly multiValued: boolean;
  readonly description: string;
  readonly required: boolean;
  readonly caseExact: boolean;
  readonly mutability: "readOnly" | "readWrite" | "immutable" | "writeOnly";
  readonly returned: "always" | "never" | "default" | "request";
  readonly uniqueness: "none" | "server" | "global";
  readonly subAttributes?: readonly ScimAttribute[];
  readonly referenceTypes?: readonly string[];
  readonly canonicalValues?: readonly string[];
}

/** A schema: its URN and attributes. */
export interface ScimSchema {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly attributes: readonly ScimAttribute[];
}

/** A resource type: its core schema plus extensions, keyed by URN. */
export interface ScimResourceType {
  readonly name: "User" | "Group";
  readonly endpoint: "/Users" | "/Groups";
  readonly schema: ScimSchema;
  readonly extensions: readonly ScimSchema[];
}

type AttributeOptions = Partial<Omit<ScimAttribute, "name" | "type" | "description">>;

function attribute(name: string, type: ScimAttribute["type"], description: string, options: AttributeOptions = {}): ScimAttribute {
  return {
    name,
    type,
    description,
    multiValued: false,
    required: false,
    caseExact: false,
    mutability: "readWrite",
    returned: "default",
    uniqueness: "none",
    ...options,
  };
}

const userSchema: ScimSchema = {
  id: USER_SCHEMA,
  name: "User",
  description: "User Account",
  attributes: [
    attribute("userName", "string", "Unique identifier for the User, used to sign in. Unique among the tenant's SCIM users, compared case-insensitively.", {
      required: true,
      uniqueness: "server",
    }),
    attribute("name", "complex", "The components of the user's name.", {
      subAttributes: [
        attribute("formatted", "string", "The full name; becomes the principal's display name when displayName is absent."),
        attribute("familyName", "string", "The family name."),
        attribute("givenName", "string", "The given name."),
      ],
    }),
    attribute("displayName", "string", "The name of the User, suitable for display."),
    attribute("active", "boolean", "Whether the user may sign in; false disables the principal and revokes its sessions and tokens."),
    attribute("emails", "complex", "Email addresses; the primary one becomes the principal's `email` attribute.", {
      multiValued: true,
      subAttributes: [
        attribute("value", "string", "The email address."),
        attribute("display", "string", "A human-readable name."),
        attribute("type", "string", "A label: work, home or other.", { canonicalValues: ["work", "home", "other"] }),
        attribute("primary", "boolean", "Whether this is the primary address."),
      ],
    }),
    attribute("groups", "complex", "Groups the user belongs to, managed through the Group resource.", {
      multiValued: true,
      mutability: "readOnly",
      subAttributes: [
        attribute("value", "string", "The group's id.", { mutability: "readOnly", caseExact: true }),
        attribute("$ref", "reference", "The group's URI.", { mutability: "readOnly", caseExact: true, referenceTypes: ["Group"] }),
        attribute("display", "string", "The group's display name.", { mutability: "readOnly" }),
        attribute("type", "string", "Always direct: nested groups are not supported.", { mutability: "readOnly", canonicalValues: ["direct"] }),
      ],
    }),
  ],
};

const enterpriseUserSchema: ScimSchema = {
  id: ENTERPRISE_USER_SCHEMA,
  name: "EnterpriseUser",
  description: "Enterprise User",
  attributes: [
    attribute("costCenter", "string", "Cost center; becomes the principal's `cost_center` attribute."),
    attribute("organization", "string", "Organization; becomes the principal's `organization` attribute."),
    attribute("department", "string", "Department; becomes the principal's `business_unit` attribute."),
  ],
};

const groupSchema: ScimSchema = {
  id: GROUP_SCHEMA,
  name: "Group",
  description: "Group",
  attributes: [
    attribute("displayName", "string", "A human-readable name, unique in the tenant; mapped to roles by the Host's group mapping.", {
      required: true,
      uniqueness: "server",
    }),
    attribute("members", "complex", "Users of the tenant that belong to the group (nested groups are not supported).", {
      multiValued: true,
      subAttributes: [
        attribute("value", "string", "The member's id.", { mutability: "immutable", caseExact: true }),
        attribute("$ref", "reference", "The member's URI.", { mutability: "immutable", caseExact: true, referenceTypes: ["User"] }),
        attribute("display", "string", "The member's display name (not returned).", { mutability: "immutable" }),
        attribute("type", "string", "Always User.", { mutability: "immutable", canonicalValues: ["User"] }),
      ],
    }),
  ],
};

/** Attributes every resource has (RFC 7643 §3.1), outside any schema's list. */
const commonAttributes: readonly ScimAttribute[] = [
  attribute("id", "string", "The service provider's identifier of the resource.", { mutability: "readOnly", returned: "always", caseExact: true, uniqueness: "server" }),
  attribute("externalId", "string", "The provisioning client's identifier of the resource.", { caseExact: true }),
  attribute("schemas", "string", "Schema URNs of the resource.", { multiValued: true, caseExact: true, returned: "always" }),
  attribute("meta", "complex", "Resource metadata.", {
    mutability: "readOnly",
    subAttributes: [
      attribute("resourceType", "string", "User or Group.", { mutability: "readOnly", caseExact: true }),
      attribute("created", "dateTime", "When the resource was created.", { mutability: "readOnly" }),
      attribute("lastModified", "dateTime", "When the resource last changed.", { mutability: "readOnly" }),
      attribute("location", "reference", "The resource's URI.", { mutability: "readOnly", caseExact: true }),
      attribute("version", "string", "The resource's weak entity tag.", { mutability: "readOnly", caseExact: true }),
    ],
  }),
];

export const userResourceType: ScimResourceType = { name: "User", endpoint: "/Users", schema: userSchema, extensions: [enterpriseUserSchema] };
export const groupResourceType: ScimResourceType = { name: "Group", endpoint: "/Groups", schema: groupSchema, extensions: [] };

/**
 * Where an attribute path points: a top-level attribute (an extension schema counts as a complex
 * attribute named by its URN, since its data sits under that key), and optionally one of its
 * sub-attributes.
 */
export interface ResolvedAttribute {
  readonly attribute: ScimAttribute;
  readonly subAttribute?: ScimAttribute;
}

function extensionAsAttribute(extension: ScimSchema): ScimAttribute {
  return attribute(extension.id, "complex", extension.description, { subAttributes: extension.attributes });
}

function byName(attributes: readonly ScimAttribute[], name: string): ScimAttribute | undefined {
  const wanted = name.toLowerCase();
  return attributes.find((candidate) => candidate.name.toLowerCase() === wanted);
}

/**
 * Resolves `name`, `name.sub`, `urn:…:attr`, `urn:…:attr.sub` or an extension URN alone against a
 * resource type, case-insensitively (RFC 7643 §2.1).
 *
 * @returns null when the path names no attribute this Host supports (callers ignore such
 *   attributes, as RFC 7644 §3.3 allows, so unmapped IdP attributes do not break provisioning).
 * @throws ScimError 400 invalidPath when the path is malformed (too deep, empty segment).
 */
export function resolveAttributePath(resourceType: ScimResourceType, path: string): ResolvedAttribute | null {
  const lower = path.toLowerCase();
  for (const extension of resourceType.extensions) {
    const urn = extension.id.toLowerCase();
    if (lower === urn) return { attribute: extensionAsAttribute(extension) };
    if (lower.startsWith(`${urn}:`)) {
      const rest = path.slice(urn.length + 1);
      const [name, sub, ...deeper] = rest.split(".");
      if (name === undefined || name === "" || deeper.length > 0 || sub === "") throw new ScimError(400, "invalidPath", `Invalid attribute path "${shorten(path)}".`);
      const found = byName(extension.attributes, name);
      // Extension attributes are simple, so a sub-attribute of one names nothing.
      if (found === undefined || sub !== undefined) return null;
      return { attribute: extensionAsAttribute(extension), subAttribute: found };
    }
  }
  const corePrefix = `${resourceType.schema.id.toLowerCase()}:`;
  const relative = lower.startsWith(corePrefix) ? path.slice(corePrefix.length) : path;
  if (relative.toLowerCase().startsWith("urn:")) return null;
  const [name, sub, ...deeper] = relative.split(".");
  if (name === undefined || name === "" || deeper.length > 0 || sub === "") throw new ScimError(400, "invalidPath", `Invalid attribute path "${shorten(path)}".`);
  const found = byName(resourceType.schema.attributes, name) ?? byName(commonAttributes, name);
  if (found === undefined) return null;
  if (sub === undefined) return { attribute: found };
  const subAttribute = byName(found.subAttributes ?? [], sub);
  return subAttribute === undefined ? null : { attribute: found, subAttribute };
}

/** Whether comparisons on `path` (as written in a filter, e.g. `members.value`) are case-exact. */
export function isCaseExact(resourceType: ScimResourceType, path: string): boolean {
  try {
    const resolved = resolveAttributePath(resourceType, path);
    if (resolved === null) return false;
    return (resolved.subAttribute ?? resolved.attribute).caseExact;
  } catch {
    return false;
  }
}

/** A path for error messages: bounded, so a huge path is not echoed back whole. */
export function shorten(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

// ---------------------------------------------------------------- discovery documents

/** `/ServiceProviderConfig` (RFC 7643 §5): what this service provider supports. */
export function serviceProviderConfig(baseUrl: string): Record<string, unknown> {
  return {
    schemas: [SERVICE_PROVIDER_CONFIG_SCHEMA],
    documentationUri: "https://datatracker.ietf.org/doc/html/rfc7644",
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_PAGE_SIZE },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: "oauthbearertoken",
        name: "OAuth Bearer Token",
        description: "An access token of a principal holding scim:provision, sent as `Authorization: Bearer`.",
        specUri: "https://www.rfc-editor.org/info/rfc6750",
        primary: true,
      },
    ],
    meta: { resourceType: "ServiceProviderConfig", location: `${baseUrl}/ServiceProviderConfig` },
  };
}

function resourceTypeDocument(resourceType: ScimResourceType, baseUrl: string): Record<string, unknown> {
  return {
    schemas: [RESOURCE_TYPE_SCHEMA],
    id: resourceType.name,
    name: resourceType.name,
    endpoint: resourceType.endpoint,
    description: resourceType.schema.description,
    schema: resourceType.schema.id,
    schemaExtensions: resourceType.extensions.map((extension) => ({ schema: extension.id, required: false })),
    meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/${resourceType.name}` },
  };
}

/** `/ResourceTypes` entries (RFC 7643 §6). */
export function resourceTypeDocuments(baseUrl: string): Record<string, unknown>[] {
  return [resourceTypeDocument(userResourceType, baseUrl), resourceTypeDocument(groupResourceType, baseUrl)];
}

function schemaDocument(schema: ScimSchema, baseUrl: string): Record<string, unknown> {
  return {
    schemas: [SCHEMA_SCHEMA],
    id: schema.id,
    name: schema.name,
    description: schema.description,
    attributes: schema.attributes,
    meta: { resourceType: "Schema", location: `${baseUrl}/Schemas/${schema.id}` },
  };
}

/** `/Schemas` entries (RFC 7643 §7). */
export function schemaDocuments(baseUrl: string): Record<string, unknown>[] {
  return [userSchema, enterpriseUserSchema, groupSchema].map((schema) => schemaDocument(schema, baseUrl));
}
