/**
 * SCIM filters (RFC 7644 §3.4.2.2): parsed by `scim2-parse-filter`, evaluated in memory with the
 * comparison rules of the schema (case-insensitive unless the attribute is `caseExact`), and
 * inspected for the equality tests the store can answer from an index.
 */
import { parse, Tester } from "scim2-parse-filter";
import type { Compare, Filter } from "scim2-parse-filter";
import { ScimError } from "./scim-error.ts";
import { isCaseExact, shorten } from "./schema.ts";
import type { ScimResourceType } from "./schema.ts";

export type { Filter } from "scim2-parse-filter";

/** Longest filter accepted; bounds parser recursion and work. */
export const MAX_FILTER_LENGTH = 2048;

/**
 * Parses a filter expression.
 * @throws ScimError 400 invalidFilter when it is empty, too long or not valid filter syntax.
 */
export function parseFilter(text: string): Filter {
  if (text.trim() === "") throw new ScimError(400, "invalidFilter", "The filter is empty.");
  if (text.length > MAX_FILTER_LENGTH) throw new ScimError(400, "invalidFilter", `The filter is longer than ${MAX_FILTER_LENGTH} characters.`);
  let parsed: Filter;
  try {
    parsed = parse(text);
  } catch (err) {
    throw new ScimError(400, "invalidFilter", `The filter "${shorten(text)}" is not valid SCIM filter syntax.`, { cause: err });
  }
  return withoutCoreUrns(parsed);
}

/** `urn:…:core:2.0:User:userName` means `userName`: core attributes sit at the top of a resource. */
function withoutCoreUrns(filter: Filter): Filter {
  switch (filter.op) {
    case "and":
    case "or":
      return { op: filter.op, filters: filter.filters.map(withoutCoreUrns) };
    case "not":
      return { op: "not", filter: withoutCoreUrns(filter.filter) };
    case "[]":
      return { op: "[]", attrPath: stripCoreUrn(filter.attrPath), valFilter: filter.valFilter };
    case "pr":
      return { op: "pr", attrPath: stripCoreUrn(filter.attrPath) };
    case "eq":
    case "ne":
    case "co":
    case "sw":
    case "ew":
    case "gt":
    case "lt":
    case "ge":
    case "le":
      return { op: filter.op, attrPath: stripCoreUrn(filter.attrPath), compValue: filter.compValue };
  }
}

function fold(value: unknown): unknown {
  return typeof value === "string" ? value.toLowerCase() : value;
}

/**
 * The library's evaluator with SCIM's comparison rules: strings compare case-insensitively unless
 * the schema marks the attribute `caseExact` (ids, externalId, member values). Paths inside a
 * value filter (`members[value eq "x"]`) are judged by their full name (`members.value`).
 */
class SchemaTester extends Tester {
  readonly #resourceType: ScimResourceType;
  readonly #prefix: string;

  constructor(resourceType: ScimResourceType, prefix = "") {
    super();
    this.#resourceType = resourceType;
    this.#prefix = prefix;
  }

  override test(resource: unknown, filter: Filter): boolean {
    switch (filter.op) {
      case "[]": {
        const inner = new SchemaTester(this.#resourceType, `${this.#prefix}${filter.attrPath}.`);
        return this.attrTest(this.attrPath(filter.attrPath), resource, (element: unknown) => inner.test(element, filter.valFilter));
      }
      case "eq":
      case "ne":
      case "co":
      case "sw":
      case "ew":
      case "gt":
      case "lt":
      case "ge":
      case "le":
        return this.#compare(resource, filter);
      case "pr":
      case "and":
      case "or":
      case "not":
        return super.test(resource, filter);
    }
  }

  #compare(resource: unknown, filter: Compare): boolean {
    if (typeof filter.compValue !== "string" || isCaseExact(this.#resourceType, `${this.#prefix}${filter.attrPath}`)) return super.test(resource, filter);
    const expected = filter.compValue.toLowerCase();
    const op = filter.op;
    return this.attrTest(this.attrPath(filter.attrPath), resource, (actual: unknown) => this[op](fold(actual), expected));
  }
}

/** A predicate for `filter` over SCIM resources (or, for value filters, their elements) of one type. */
export function compileFilter(resourceType: ScimResourceType, filter: Filter, prefix = ""): (resource: unknown) => boolean {
  const tester = new SchemaTester(resourceType, prefix);
  return (resource) => tester.test(resource, filter);
}

/** An equality test on one attribute that a store index can answer. */
export interface IndexedEquality {
  /** The attribute as written, lower-cased: `id`, `username`, `externalid`, `displayname`. */
  readonly attribute: string;
  readonly value: string;
}

/**
 * The equality test on one of `attributes` that every match must pass: the filter itself, or a
 * conjunct of a top-level `and`. The whole filter is still evaluated on the candidates it yields.
 */
export function findIndexedEquality(filter: Filter, attributes: readonly string[]): IndexedEquality | null {
  const conjuncts = filter.op === "and" ? filter.filters : [filter];
  for (const attribute of attributes) {
    for (const conjunct of conjuncts) {
      if (conjunct.op === "eq" && typeof conjunct.compValue === "string" && conjunct.attrPath.toLowerCase() === attribute) {
        return { attribute, value: conjunct.compValue };
      }
    }
  }
  return null;
}

function stripCoreUrn(path: string): string {
  const match = /^urn:ietf:params:scim:schemas:core:2\.0:(?:User|Group):/i.exec(path);
  return match === null ? path : path.slice(match[0].length);
}
