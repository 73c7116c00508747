/**
 * SCIM PATCH (RFC 7644 §3.5.2), applied to a resource's SCIM representation.
 *
 * Rules enforced:
 * - `add`, `replace` and `remove`, with or without `path`; op names in any case (Entra sends `Add`);
 * - paths: `attr`, `attr.sub`, `urn:…:attr`, extension URNs alone, and value filters
 *   `attr[filter]` / `attr[filter].sub` evaluated with the schema's comparison rules;
 * - without a path, each key of the value object is treated as a path (Entra's `"name.givenName"`
 *   and URN-qualified keys included), and read-only keys (`id`, `meta`) are skipped;
 * - `remove` without a path fails `noTarget`; `replace` through a value filter that matches nothing
 *   fails `noTarget`, except `attr[type eq "work"].sub`-style paths, which create the element the
 *   equality filter describes (Entra replaces `emails[type eq "work"].value` on users that have none);
 * - `remove` of a multi-valued attribute with a value removes just those values (Entra's member
 *   removal); removing values that are absent is a no-op, so retries are idempotent;
 * - an explicit path to a read-only attribute fails `mutability`; attributes this Host does not
 *   store are ignored (RFC 7644 §3.3), so an IdP's unmapped attributes never break provisioning;
 * - booleans arrive as JSON booleans or as the strings "True"/"False" in any case (Entra);
 * - a null value unassigns (RFC 7643 §2.5); at most one element of a multi-valued attribute stays primary.
 */
import { ScimError } from "./scim-error.ts";
import { compileFilter, parseFilter } from "./filter.ts";
import type { Filter } from "./filter.ts";
import { PATCH_OP_SCHEMA, resolveAttributePath, shorten } from "./schema.ts";
import type { ResolvedAttribute, ScimAttribute, ScimResourceType } from "./schema.ts";

/** A SCIM resource or request body as decoded JSON. */
export type JsonObject = Record<string, unknown>;

export type PatchOpName = "add" | "replace" | "remove";

/** One entry of a PatchOp's `Operations`. */
export interface PatchOperation {
  readonly op: PatchOpName;
  readonly path?: string;
  readonly value?: unknown;
}

/** Most operations in one PATCH request. */
export const MAX_PATCH_OPERATIONS = 1000;
/** Longest string value or path accepted anywhere in a resource. */
export const MAX_STRING_LENGTH = 2048;

/** True for a JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The value of `name` in `object`, matching the key case-insensitively (RFC 7643 §2.1). */
export function field(object: JsonObject, name: string): unknown {
  if (Object.hasOwn(object, name)) return object[name];
  const wanted = name.toLowerCase();
  for (const key of Object.keys(object)) if (key.toLowerCase() === wanted) return object[key];
  return undefined;
}

/**
 * Validates a PatchOp request body.
 * @throws ScimError 400 invalidSyntax (not a PatchOp, no or too many operations, unknown op),
 *   invalidPath (a path that is not a string or too long).
 */
export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isJsonObject(body)) throw new ScimError(400, "invalidSyntax", "The body must be a PatchOp object.");
  const schemas = field(body, "schemas");
  if (!Array.isArray(schemas) || !schemas.some((schema) => typeof schema === "string" && schema.toLowerCase() === PATCH_OP_SCHEMA.toLowerCase())) {
    throw new ScimError(400, "invalidSyntax", `The body's schemas must include ${PATCH_OP_SCHEMA}.`);
  }
  const operations = field(body, "Operations");
  if (!Array.isArray(operations) || operations.length === 0) throw new ScimError(400, "invalidSyntax", "Operations must be a non-empty array.");
  if (operations.length > MAX_PATCH_OPERATIONS) throw new ScimError(400, "invalidSyntax", `At most ${MAX_PATCH_OPERATIONS} operations per request.`);
  return operations.map((operation: unknown, index) => {
    if (!isJsonObject(operation)) throw new ScimError(400, "invalidSyntax", `Operation ${index} must be an object.`);
    const op = field(operation, "op");
    const name = typeof op === "string" ? op.toLowerCase() : "";
    if (name !== "add" && name !== "replace" && name !== "remove") throw new ScimError(400, "invalidSyntax", `Operation ${index}: op must be add, replace or remove.`);
    const path = field(operation, "path");
    if (path !== undefined && path !== null && (typeof path !== "string" || path.length > MAX_STRING_LENGTH)) {
      throw new ScimError(400, "invalidPath", `Operation ${index}: path must be a string of at most ${MAX_STRING_LENGTH} characters.`);
    }
    const value = field(operation, "value");
    return {
      op: name,
      ...(typeof path === "string" && path.trim() !== "" ? { path: path.trim() } : {}),
      ...(value === undefined ? {} : { value }),
    };
  });
}

/** Where an operation applies: an attribute, optionally a value filter on it, optionally a sub-attribute. */
interface PatchTarget extends ResolvedAttribute {
  readonly path: string;
  readonly filter?: Filter;
}

/**
 * Parses `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub` (optionally URN-qualified).
 * @returns null when the attribute is one this Host does not store.
 * @throws ScimError 400 invalidPath, invalidFilter.
 */
export function parsePatchPath(resourceType: ScimResourceType, path: string): PatchTarget | null {
  const open = path.indexOf("[");
  if (open === -1) {
    const resolved = resolveAttributePath(resourceType, path);
    return resolved === null ? null : { ...resolved, path };
  }
  const close = closingBracket(path, open);
  if (close === -1) throw new ScimError(400, "invalidPath", `Unbalanced brackets in path "${shorten(path)}".`);
  const rest = path.slice(close + 1);
  if (rest !== "" && !/^\.[A-Za-z$][\w$-]*$/.test(rest)) throw new ScimError(400, "invalidPath", `Invalid path "${shorten(path)}".`);
  const resolved = resolveAttributePath(resourceType, path.slice(0, open));
  if (resolved === null) return null;
  if (resolved.subAttribute !== undefined || !resolved.attribute.multiValued) {
    throw new ScimError(400, "invalidPath", `A value filter applies only to a multi-valued attribute: "${shorten(path)}".`);
  }
  const filter = parseFilter(path.slice(open + 1, close));
  if (rest === "") return { attribute: resolved.attribute, filter, path };
  const subAttribute = subAttributeNamed(resolved.attribute, rest.slice(1));
  return subAttribute === undefined ? null : { attribute: resolved.attribute, subAttribute, filter, path };
}

/** Index of the `]` closing the `[` at `open`, skipping quoted strings; -1 when there is none. */
function closingBracket(path: string, open: number): number {
  let inString = false;
  for (let i = open + 1; i < path.length; i++) {
    const char = path[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
    } else if (char === "]") {
      return i;
    }
  }
  return -1;
}

function subAttributeNamed(attribute: ScimAttribute, name: string): ScimAttribute | undefined {
  const wanted = name.toLowerCase();
  return attribute.subAttributes?.find((sub) => sub.name.toLowerCase() === wanted);
}

/**
 * Applies `operations` in order to a copy of `resource` (which must be in the canonical form the
 * mappers produce) and returns it; the input is not modified. All or nothing: the first failing
 * operation throws and nothing is kept.
 *
 * @throws ScimError 400 noTarget, invalidPath, invalidFilter, invalidValue, mutability.
 */
export function applyPatch(resourceType: ScimResourceType, resource: JsonObject, operations: readonly PatchOperation[]): JsonObject {
  const document = structuredClone(resource);
  for (const operation of operations) applyOperation(resourceType, document, operation);
  return document;
}

function applyOperation(resourceType: ScimResourceType, document: JsonObject, operation: PatchOperation): void {
  if (operation.path === undefined) {
    if (operation.op === "remove") throw new ScimError(400, "noTarget", "A remove operation needs a path.");
    if (!isJsonObject(operation.value)) throw new ScimError(400, "invalidValue", "Without a path, the value must be an object of attributes.");
    for (const [key, value] of Object.entries(operation.value)) {
      const resolved = resolveAttributePath(resourceType, key);
      if (resolved === null || !isWritable(resolved)) continue;
      applyAt(resourceType, document, operation.op, { ...resolved, path: key }, value);
    }
    return;
  }
  const target = parsePatchPath(resourceType, operation.path);
  if (target === null) return;
  if (!isWritable(target)) throw new ScimError(400, "mutability", `"${shorten(operation.path)}" is read-only.`);
  applyAt(resourceType, document, operation.op, target, operation.value);
}

function isWritable(target: ResolvedAttribute): boolean {
  return target.attribute.mutability !== "readOnly" && target.attribute.name !== "schemas" && target.subAttribute?.mutability !== "readOnly";
}

function applyAt(resourceType: ScimResourceType, document: JsonObject, op: PatchOpName, target: PatchTarget, value: unknown): void {
  const { attribute, subAttribute, filter } = target;
  const key = attribute.name;
  // A null value unassigns (RFC 7643 §2.5), whatever the operation says.
  const removing = op === "remove" || value === null;
  if (filter !== undefined) {
    applyFiltered(resourceType, document, op, { ...target, filter }, value);
    return;
  }
  if (subAttribute !== undefined) {
    if (attribute.multiValued) {
      throw new ScimError(400, "invalidPath", `Select the values of "${attribute.name}" with a filter, e.g. ${attribute.name}[type eq "work"].${subAttribute.name}.`);
    }
    const container = isJsonObject(document[key]) ? { ...document[key] } : {};
    if (removing) delete container[subAttribute.name];
    else container[subAttribute.name] = coerce(subAttribute, value, target.path);
    assign(document, key, Object.keys(container).length === 0 ? undefined : container);
    return;
  }
  if (attribute.multiValued) {
    const existing = Array.isArray(document[key]) ? (document[key] as unknown[]) : [];
    if (op === "remove" && value !== undefined && value !== null) {
      const unwanted = coerceValues(attribute, value, target.path);
      assign(document, key, nonEmpty(existing.filter((element) => !unwanted.some((gone) => sameElement(element, gone)))));
    } else if (removing) {
      assign(document, key, undefined);
    } else if (op === "add") {
      assign(document, key, nonEmpty(mergeValues(existing, coerceValues(attribute, value, target.path))));
    } else {
      assign(document, key, nonEmpty(mergeValues([], coerceValues(attribute, value, target.path))));
    }
    return;
  }
  if (removing) {
    assign(document, key, undefined);
  } else if (attribute.type === "complex") {
    // add and replace both merge sub-attributes into a single-valued complex attribute (§3.5.2.1, §3.5.2.3).
    const merged = mergeComplex(isJsonObject(document[key]) ? document[key] : {}, attribute, value, target.path);
    assign(document, key, Object.keys(merged).length === 0 ? undefined : merged);
  } else {
    assign(document, key, coerce(attribute, value, target.path));
  }
}

function applyFiltered(
  resourceType: ScimResourceType,
  document: JsonObject,
  op: PatchOpName,
  target: PatchTarget & { readonly filter: Filter },
  value: unknown,
): void {
  const { attribute, subAttribute, filter } = target;
  const key = attribute.name;
  const existing = Array.isArray(document[key]) ? [...(document[key] as unknown[])] : [];
  const matches = compileFilter(resourceType, filter, `${key}.`);
  const hits = existing.map((element, index) => (matches(element) ? index : -1)).filter((index) => index !== -1);
  if (subAttribute === undefined) {
    if (op === "remove" || value === null) {
      assign(document, key, nonEmpty(existing.filter((_element, index) => !hits.includes(index))));
      return;
    }
    const replacement = coerceElement(attribute, value, target.path);
    if (hits.length === 0) {
      const seed = equalitiesOf(attribute, filter);
      if (op === "replace" || seed === null) throw new ScimError(400, "noTarget", `No value of "${attribute.name}" matches the filter in "${shorten(target.path)}".`);
      existing.push(isJsonObject(replacement) ? { ...seed, ...replacement } : replacement);
    } else {
      for (const index of hits) {
        const current = existing[index];
        existing[index] = op === "add" && isJsonObject(current) && isJsonObject(replacement) ? { ...current, ...replacement } : replacement;
      }
    }
    assign(document, key, nonEmpty(mergeValues([], existing)));
    return;
  }
  if (op === "remove" || value === null) {
    for (const index of hits) {
      const current = existing[index];
      if (isJsonObject(current)) {
        const copy = { ...current };
        delete copy[subAttribute.name];
        existing[index] = copy;
      }
    }
    assign(document, key, nonEmpty(existing));
    return;
  }
  const coerced = coerce(subAttribute, value, target.path);
  if (hits.length === 0) {
    const seed = equalitiesOf(attribute, filter);
    if (seed === null) throw new ScimError(400, "noTarget", `No value of "${attribute.name}" matches the filter in "${shorten(target.path)}".`);
    existing.push({ ...seed, [subAttribute.name]: coerced });
  } else {
    for (const index of hits) {
      const current = existing[index];
      existing[index] = { ...(isJsonObject(current) ? current : {}), [subAttribute.name]: coerced };
    }
  }
  assign(document, key, nonEmpty(mergeValues([], existing)));
}

/**
 * The element a filter of equalities describes (`type eq "work" and primary eq true` →
 * `{type: "work", primary: true}`), or null when the filter is anything else.
 */
function equalitiesOf(attribute: ScimAttribute, filter: Filter): JsonObject | null {
  if (filter.op === "and") {
    const seed: JsonObject = {};
    for (const part of filter.filters) {
      const found = equalitiesOf(attribute, part);
      if (found === null) return null;
      Object.assign(seed, found);
    }
    return seed;
  }
  if (filter.op !== "eq" || filter.compValue === null) return null;
  const sub = subAttributeNamed(attribute, filter.attrPath);
  if (sub === undefined || sub.mutability === "readOnly") return null;
  return { [sub.name]: coerce(sub, filter.compValue, filter.attrPath) };
}

function assign(document: JsonObject, key: string, value: unknown): void {
  if (value === undefined) delete document[key];
  else document[key] = value;
}

function nonEmpty(values: unknown[]): unknown[] | undefined {
  return values.length === 0 ? undefined : values;
}

/** Appends `added` to `existing`, merging an element into an equal one (same `value`), keeping one primary. */
function mergeValues(existing: readonly unknown[], added: readonly unknown[]): unknown[] {
  const result = [...existing];
  for (const element of added) {
    const index = result.findIndex((current) => sameElement(current, element));
    if (index === -1) {
      result.push(element);
    } else {
      const current = result[index];
      result[index] = isJsonObject(current) && isJsonObject(element) ? { ...current, ...element } : element;
    }
  }
  const lastPrimary = result.findLastIndex((element) => isJsonObject(element) && element["primary"] === true);
  return lastPrimary === -1
    ? result
    : result.map((element, index) => (index !== lastPrimary && isJsonObject(element) && element["primary"] === true ? { ...element, primary: false } : element));
}

/** Elements are the same value when their `value` sub-attributes are equal, or when they are equal outright. */
function sameElement(a: unknown, b: unknown): boolean {
  if (isJsonObject(a) && isJsonObject(b)) {
    if (a["value"] !== undefined || b["value"] !== undefined) return a["value"] === b["value"];
    return deepEqual(a, b);
  }
  return a === b;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => deepEqual(item, b[index]));
  if (isJsonObject(a) && isJsonObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]));
  }
  return false;
}

function mergeComplex(current: JsonObject, attribute: ScimAttribute, value: unknown, path: string): JsonObject {
  if (!isJsonObject(value)) throw new ScimError(400, "invalidValue", `"${shorten(path)}" takes an object of sub-attributes.`);
  const merged = { ...current };
  for (const [name, subValue] of Object.entries(value)) {
    const sub = subAttributeNamed(attribute, name);
    if (sub === undefined) continue;
    if (subValue === null) delete merged[sub.name];
    else merged[sub.name] = coerce(sub, subValue, `${path}.${sub.name}`);
  }
  return merged;
}

/** The values of a multi-valued attribute: an array, or a single value taken as one. */
export function coerceValues(attribute: ScimAttribute, value: unknown, path: string): unknown[] {
  const values = Array.isArray(value) ? value : [value];
  return values.filter((item) => item !== null && item !== undefined).map((item) => coerceElement(attribute, item, path));
}

/** One element of a multi-valued attribute. */
function coerceElement(attribute: ScimAttribute, value: unknown, path: string): unknown {
  if (attribute.type !== "complex") return coerceSimple(attribute, value, path);
  return mergeComplex({}, attribute, value, path);
}

/** A single-valued attribute's value, checked and normalised against its definition. */
export function coerce(attribute: ScimAttribute, value: unknown, path: string): unknown {
  if (attribute.multiValued) return coerceValues(attribute, value, path);
  if (attribute.type === "complex") return mergeComplex({}, attribute, value, path);
  return coerceSimple(attribute, value, path);
}

function coerceSimple(attribute: ScimAttribute, value: unknown, path: string): unknown {
  switch (attribute.type) {
    case "boolean":
      return toBoolean(value, path);
    case "string":
    case "reference":
    case "dateTime":
    case "complex":
      if (typeof value !== "string") throw new ScimError(400, "invalidValue", `"${shorten(path)}" must be a string.`);
      if (value.length > MAX_STRING_LENGTH) throw new ScimError(400, "invalidValue", `"${shorten(path)}" is longer than ${MAX_STRING_LENGTH} characters.`);
      return value;
  }
}

/**
 * A SCIM boolean: JSON true/false, or the strings "true"/"false" in any case (Entra ID sends
 * `"False"`).
 * @throws ScimError 400 invalidValue for anything else.
 */
export function toBoolean(value: unknown, path: string): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") {
    const lower = value.trim().toLowerCase();
    if (lower === "true") return true;
    if (lower === "false") return false;
  }
  throw new ScimError(400, "invalidValue", `"${shorten(path)}" must be a boolean.`);
}
