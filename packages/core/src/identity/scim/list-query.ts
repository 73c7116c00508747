/**
 * Query parameters of SCIM reads (RFC 7644 §3.4.2, §3.9): filter, 1-based pagination, sorting and
 * attribute projection.
 */
import { ScimError } from "./scim-error.ts";
import { parseFilter } from "./filter.ts";
import type { Filter } from "./filter.ts";
import { isJsonObject } from "./patch.ts";
import type { JsonObject } from "./patch.ts";
import { MAX_PAGE_SIZE, resolveAttributePath, shorten } from "./schema.ts";
import type { ScimResourceType } from "./schema.ts";

/** Page size when the client names none. */
export const DEFAULT_PAGE_SIZE = 100;

/** Query parameters as they arrive (strings); absent ones are undefined. */
export interface ScimListQuery {
  readonly filter?: string | undefined;
  readonly startIndex?: string | undefined;
  readonly count?: string | undefined;
  readonly sortBy?: string | undefined;
  readonly sortOrder?: string | undefined;
  readonly attributes?: string | undefined;
  readonly excludedAttributes?: string | undefined;
}

/** Which attributes a response carries (`attributes` / `excludedAttributes`). */
export interface Projection {
  /** Only these (plus `id` and `schemas`), or null for the default set. */
  readonly attributes: readonly string[] | null;
  readonly excludedAttributes: readonly string[];
}

/** Validated list parameters. */
export interface ListParameters {
  readonly filter: Filter | null;
  /** 1-based. */
  readonly startIndex: number;
  /** 0 … {@link MAX_PAGE_SIZE}. */
  readonly count: number;
  readonly sortBy: string | null;
  readonly descending: boolean;
  readonly projection: Projection;
}

/**
 * Validates list parameters: `startIndex` below 1 counts as 1, a negative `count` as 0 and a
 * `count` above {@link MAX_PAGE_SIZE} as that maximum (RFC 7644 §3.4.2.4).
 * @throws ScimError 400 invalidFilter (bad filter), invalidValue (non-integer numbers, bad sortOrder).
 */
export function parseListQuery(query: ScimListQuery): ListParameters {
  const sortOrder = (query.sortOrder ?? "ascending").toLowerCase();
  if (sortOrder !== "ascending" && sortOrder !== "descending") throw new ScimError(400, "invalidValue", "sortOrder must be ascending or descending.");
  const sortBy = query.sortBy?.trim() ?? "";
  return {
    filter: query.filter === undefined ? null : parseFilter(query.filter),
    startIndex: Math.max(1, integerParameter(query.startIndex, "startIndex", 1)),
    count: Math.min(MAX_PAGE_SIZE, Math.max(0, integerParameter(query.count, "count", DEFAULT_PAGE_SIZE))),
    sortBy: sortBy === "" ? null : sortBy,
    descending: sortOrder === "descending",
    projection: parseProjection(query.attributes, query.excludedAttributes),
  };
}

function integerParameter(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined || text.trim() === "") return fallback;
  if (!/^-?\d{1,15}$/.test(text.trim())) throw new ScimError(400, "invalidValue", `${name} must be an integer.`);
  return Number(text.trim());
}

/** Parses comma-separated `attributes` and `excludedAttributes`. */
export function parseProjection(attributes: string | undefined, excludedAttributes: string | undefined): Projection {
  const split = (text: string | undefined) =>
    (text ?? "")
      .split(",")
      .map((name) => name.trim())
      .filter((name) => name !== "")
      .slice(0, 100);
  const only = split(attributes);
  return { attributes: only.length === 0 ? null : only, excludedAttributes: split(excludedAttributes) };
}

/** Whether a projection asks for `name` (a top-level attribute, compared case-insensitively). */
export function projectionIncludes(projection: Projection, name: string): boolean {
  const wanted = name.toLowerCase();
  const mentions = (paths: readonly string[]) => paths.some((path) => path.toLowerCase() === wanted || path.toLowerCase().startsWith(`${wanted}.`));
  if (mentions(projection.excludedAttributes)) return false;
  return projection.attributes === null || mentions(projection.attributes);
}

/**
 * The resource with only the projected attributes. `id` and `schemas` are always returned; names
 * this Host does not know are ignored.
 */
export function project(resourceType: ScimResourceType, resource: JsonObject, projection: Projection): JsonObject {
  if (projection.attributes === null && projection.excludedAttributes.length === 0) return resource;
  let result: JsonObject;
  if (projection.attributes === null) {
    result = { ...resource };
  } else {
    result = { schemas: resource["schemas"], id: resource["id"] };
    for (const path of projection.attributes) copyPath(resourceType, resource, result, path);
  }
  for (const path of projection.excludedAttributes) removePath(resourceType, result, path);
  return result;
}

function resolveQuietly(resourceType: ScimResourceType, path: string) {
  try {
    return resolveAttributePath(resourceType, path);
  } catch {
    return null;
  }
}

function copyPath(resourceType: ScimResourceType, from: JsonObject, to: JsonObject, path: string): void {
  const resolved = resolveQuietly(resourceType, path);
  if (resolved === null) return;
  const key = resolved.attribute.name;
  const value = from[key];
  if (value === undefined) return;
  const sub = resolved.subAttribute;
  if (sub === undefined) {
    to[key] = value;
  } else if (Array.isArray(value)) {
    const existing = Array.isArray(to[key]) ? (to[key] as unknown[]) : value.map(() => ({}));
    to[key] = value.map((element: unknown, index) => ({
      ...(isJsonObject(existing[index]) ? existing[index] : {}),
      ...(isJsonObject(element) && element[sub.name] !== undefined ? { [sub.name]: element[sub.name] } : {}),
    }));
  } else if (isJsonObject(value) && value[sub.name] !== undefined) {
    to[key] = { ...(isJsonObject(to[key]) ? to[key] : {}), [sub.name]: value[sub.name] };
  }
}

function removePath(resourceType: ScimResourceType, resource: JsonObject, path: string): void {
  const resolved = resolveQuietly(resourceType, path);
  if (resolved === null) return;
  const key = resolved.attribute.name;
  if (key === "id" || key === "schemas") return;
  const sub = resolved.subAttribute;
  const value = resource[key];
  if (sub === undefined) {
    delete resource[key];
  } else if (Array.isArray(value)) {
    resource[key] = value.map((element: unknown) => {
      if (!isJsonObject(element)) return element;
      const copy = { ...element };
      delete copy[sub.name];
      return copy;
    });
  } else if (isJsonObject(value)) {
    const copy = { ...value };
    delete copy[sub.name];
    resource[key] = copy;
  }
}

/**
 * Sorts resources by `sortBy` (RFC 7644 §3.4.2.3): strings case-insensitively unless the attribute
 * is case-exact; a multi-valued attribute sorts by its primary (else first) value; resources
 * without the attribute come last in ascending order.
 * @throws ScimError 400 invalidPath when `sortBy` names no supported attribute.
 */
export function sortResources(resourceType: ScimResourceType, resources: JsonObject[], sortBy: string, descending: boolean): JsonObject[] {
  const resolved = resolveAttributePath(resourceType, sortBy);
  if (resolved === null) throw new ScimError(400, "invalidPath", `Cannot sort by "${shorten(sortBy)}".`);
  const leaf = resolved.subAttribute ?? resolved.attribute;
  const keyOf = (resource: JsonObject): string | number | boolean | null => {
    let value: unknown = resource[resolved.attribute.name];
    if (Array.isArray(value)) value = value.find((element) => isJsonObject(element) && element["primary"] === true) ?? value[0];
    if (resolved.subAttribute !== undefined || (resolved.attribute.type === "complex" && resolved.attribute.multiValued)) {
      value = isJsonObject(value) ? value[resolved.subAttribute?.name ?? "value"] : undefined;
    }
    if (typeof value === "string") return leaf.caseExact ? value : value.toLowerCase();
    return typeof value === "number" || typeof value === "boolean" ? value : null;
  };
  const keyed = resources.map((resource) => ({ resource, key: keyOf(resource) }));
  keyed.sort((a, b) => {
    if (a.key === b.key) return 0;
    if (a.key === null) return 1;
    if (b.key === null) return -1;
    return a.key < b.key ? -1 : 1;
  });
  if (descending) keyed.reverse();
  return keyed.map((entry) => entry.resource);
}
