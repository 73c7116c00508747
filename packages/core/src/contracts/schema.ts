/**
 * ADM schemas: their well-formedness rules and their translation to JSON Schema 2020-12.
 *
 * The Host is the only contract authority, so a schema is checked here before
 * it can ever be approved, and the checked schema is what every argument and
 * result is validated against. Deviations from ADM v1.0, on purpose:
 * - OBJECT rejects undeclared properties unless `additionalProperties: true`
 *   (ADM leaves this to "implementation policy"; an empty `properties` map does
 *   NOT mean "anything goes").
 * - Constraint keywords (`minimum`, `pattern`, `format`, …) are accepted only on
 *   the types they constrain, so a misplaced keyword is an error, not a no-op.
 * - Unknown keywords are rejected, so a typo (`minimun`) cannot silently weaken a contract.
 */
import { EnterpriseError } from "../errors.ts";
import type { AdmSchema, AdmSchemaType } from "../records.ts";
import { FORBIDDEN_JSON_KEYS } from "./plain-json.ts";
import { boundIssues, childPointer, issuesToDetails, type ValidationIssue } from "./issues.ts";

/** Deepest schema nesting accepted (the root schema is depth 1). */
export const MAX_SCHEMA_DEPTH = 32;
/** Most schema nodes (the root and every nested `properties` / `items` entry) in one schema. */
export const MAX_SCHEMA_NODES = 1000;
/** Longest `pattern` accepted, in UTF-16 code units. */
export const MAX_PATTERN_LENGTH = 1024;
/** Property names: an identifier-like name of 1 to 64 characters. */
export const PROPERTY_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
/** The JSON Schema dialect every translated schema declares. */
export const JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema";

/** `format` values accepted on STRING schemas (those ajv-formats implements). */
export const STRING_FORMATS: ReadonlySet<string> = new Set([
  "date", "time", "date-time", "iso-time", "iso-date-time", "duration", "uri", "uri-reference",
  "uri-template", "url", "email", "hostname", "ipv4", "ipv6", "regex", "uuid", "json-pointer",
  "json-pointer-uri-fragment", "relative-json-pointer", "byte", "password", "binary",
]);
/** `format` values accepted on NUMBER and INTEGER schemas. */
export const NUMBER_FORMATS: ReadonlySet<string> = new Set(["int32", "int64", "float", "double"]);

/** The JSON Schema 2020-12 subset an ADM schema translates to. */
export interface JsonSchema {
  $schema?: string;
  type: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean;
  items?: JsonSchema;
  enum?: (string | null)[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minItems?: number;
  maxItems?: number;
}

const SCHEMA_TYPES: readonly AdmSchemaType[] = ["STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"];

/** Which schema types each constraint keyword may appear on; absent keywords apply to all types. */
const KEYWORD_TYPES: Readonly<Record<string, readonly AdmSchemaType[]>> = {
  properties: ["OBJECT"],
  required: ["OBJECT"],
  additionalProperties: ["OBJECT"],
  items: ["ARRAY"],
  minItems: ["ARRAY"],
  maxItems: ["ARRAY"],
  enum: ["STRING"],
  minLength: ["STRING"],
  maxLength: ["STRING"],
  pattern: ["STRING"],
  minimum: ["NUMBER", "INTEGER"],
  maximum: ["NUMBER", "INTEGER"],
  format: ["STRING", "NUMBER", "INTEGER"],
};

const KNOWN_KEYWORDS: ReadonlySet<string> = new Set([
  "type", "description", "nullable", "secret", ...Object.keys(KEYWORD_TYPES),
]);

interface WalkState {
  nodes: number;
  tooLarge: boolean;
  readonly issues: ValidationIssue[];
}

/**
 * Lists every way `schema` is not a well-formed ADM schema: ARRAY without
 * `items`, `required` entries missing from `properties` or repeated, `enum` on a
 * non-STRING type, an invalid `pattern`, an unknown `format`, a keyword on a type
 * it does not constrain, bad property names, nesting deeper than
 * {@link MAX_SCHEMA_DEPTH} or more than {@link MAX_SCHEMA_NODES} nodes.
 * Accepts any decoded JSON and never throws.
 *
 * @param schema - The candidate schema, as decoded from the wire.
 * @param basePath - JSON Pointer of the schema inside its container, for issue paths.
 * @returns All issues found (unbounded; see {@link validateAdmSchema} for the bounded form).
 */
export function findAdmSchemaIssues(schema: unknown, basePath = ""): ValidationIssue[] {
  const state: WalkState = { nodes: 0, tooLarge: false, issues: [] };
  checkNode(schema, basePath, 1, state);
  if (state.tooLarge) state.issues.push({ path: basePath, message: `schema has more than ${MAX_SCHEMA_NODES} nodes` });
  return state.issues;
}

/**
 * Asserts that `schema` is a well-formed ADM schema.
 *
 * @param schema - The candidate schema, as decoded from the wire.
 * @param basePath - JSON Pointer of the schema inside its container, for error details.
 * @throws EnterpriseError `INVALID_ARGUMENT` whose details name the first issue
 *   (`field`, `error`) and list up to 20 (`validation_errors`).
 */
export function validateAdmSchema(schema: unknown, basePath = ""): asserts schema is AdmSchema {
  const issues = findAdmSchemaIssues(schema, basePath);
  if (issues.length > 0) {
    throw new EnterpriseError("INVALID_ARGUMENT", {
      message: "The schema is not a valid ADM schema.",
      details: issuesToDetails(boundIssues(issues)),
    });
  }
}

function checkNode(node: unknown, path: string, depth: number, state: WalkState): void {
  if (state.tooLarge) return;
  state.nodes += 1;
  if (state.nodes > MAX_SCHEMA_NODES) {
    state.tooLarge = true;
    return;
  }
  const { issues } = state;
  if (depth > MAX_SCHEMA_DEPTH) {
    issues.push({ path, message: `schema nesting is deeper than ${MAX_SCHEMA_DEPTH} levels` });
    return;
  }
  if (!isPlainObject(node)) {
    issues.push({ path, message: "must be a schema object" });
    return;
  }
  for (const key of Object.keys(node)) {
    if (!KNOWN_KEYWORDS.has(key)) issues.push({ path: childPointer(path, key), message: `unknown schema keyword "${key}"` });
  }
  const type = node["type"];
  if (typeof type !== "string" || !(SCHEMA_TYPES as readonly string[]).includes(type)) {
    issues.push({ path: childPointer(path, "type"), message: `must be one of ${SCHEMA_TYPES.join(", ")}` });
    return;
  }
  const schemaType = type as AdmSchemaType;
  for (const [keyword, types] of Object.entries(KEYWORD_TYPES)) {
    if (node[keyword] !== undefined && !types.includes(schemaType)) {
      issues.push({ path: childPointer(path, keyword), message: `"${keyword}" is allowed only on ${types.join(" or ")}, not ${schemaType}` });
    }
  }
  checkOptionalType(node, "description", "string", path, issues);
  checkOptionalType(node, "nullable", "boolean", path, issues);
  checkOptionalType(node, "secret", "boolean", path, issues);
  checkOptionalType(node, "additionalProperties", "boolean", path, issues);
  checkBounds(node, "minimum", "maximum", false, path, issues);
  checkBounds(node, "minLength", "maxLength", true, path, issues);
  checkBounds(node, "minItems", "maxItems", true, path, issues);
  if (schemaType === "STRING") {
    checkEnum(node["enum"], childPointer(path, "enum"), issues);
    checkPattern(node["pattern"], childPointer(path, "pattern"), issues);
  }
  if (node["format"] !== undefined && (KEYWORD_TYPES["format"] ?? []).includes(schemaType)) {
    const formats = schemaType === "STRING" ? STRING_FORMATS : NUMBER_FORMATS;
    const format = node["format"];
    if (typeof format !== "string" || !formats.has(format)) {
      issues.push({ path: childPointer(path, "format"), message: `unknown format for ${schemaType}; expected one of ${[...formats].join(", ")}` });
    }
  }
  if (schemaType === "ARRAY") {
    if (node["items"] === undefined) issues.push({ path: childPointer(path, "items"), message: "ARRAY requires items" });
    else checkNode(node["items"], childPointer(path, "items"), depth + 1, state);
  }
  if (schemaType === "OBJECT") checkObjectKeywords(node, path, depth, state);
}

function checkObjectKeywords(node: Record<string, unknown>, path: string, depth: number, state: WalkState): void {
  const { issues } = state;
  const properties = node["properties"];
  const propertiesPath = childPointer(path, "properties");
  let declared: ReadonlySet<string> = new Set();
  if (properties !== undefined) {
    if (!isPlainObject(properties)) {
      issues.push({ path: propertiesPath, message: "must be an object mapping property names to schemas" });
    } else {
      declared = new Set(Object.keys(properties));
      for (const [name, child] of Object.entries(properties)) {
        const childPath = childPointer(propertiesPath, name);
        if (!PROPERTY_NAME_PATTERN.test(name)) {
          issues.push({ path: childPath, message: `property name must match ${PROPERTY_NAME_PATTERN.source}` });
          continue;
        }
        if (FORBIDDEN_JSON_KEYS.has(name)) {
          // It matches the name pattern, but the plain-JSON gate refuses such keys in every argument.
          issues.push({ path: childPath, message: `property name "${name}" is reserved` });
          continue;
        }
        checkNode(child, childPath, depth + 1, state);
      }
    }
  }
  const required = node["required"];
  if (required === undefined) return;
  const requiredPath = childPointer(path, "required");
  if (!Array.isArray(required)) {
    issues.push({ path: requiredPath, message: "must be an array of property names" });
    return;
  }
  const seen = new Set<string>();
  required.forEach((entry: unknown, index) => {
    const entryPath = childPointer(requiredPath, index);
    if (typeof entry !== "string") {
      issues.push({ path: entryPath, message: "must be a property name" });
    } else if (seen.has(entry)) {
      issues.push({ path: entryPath, message: `"${entry}" is listed twice` });
    } else {
      seen.add(entry);
      if (!declared.has(entry)) issues.push({ path: entryPath, message: `"${entry}" is not declared in properties` });
    }
  });
}

function checkEnum(values: unknown, path: string, issues: ValidationIssue[]): void {
  if (values === undefined) return;
  if (!Array.isArray(values) || values.length === 0) {
    issues.push({ path, message: "must be a non-empty array of strings" });
    return;
  }
  const seen = new Set<string>();
  values.forEach((value: unknown, index) => {
    if (typeof value !== "string") issues.push({ path: childPointer(path, index), message: "must be a string" });
    else if (seen.has(value)) issues.push({ path: childPointer(path, index), message: `"${value}" is listed twice` });
    else seen.add(value);
  });
}

function checkPattern(pattern: unknown, path: string, issues: ValidationIssue[]): void {
  if (pattern === undefined) return;
  if (typeof pattern !== "string" || pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) {
    issues.push({ path, message: `must be a regular expression of 1 to ${MAX_PATTERN_LENGTH} characters` });
    return;
  }
  try {
    // Compiled exactly as the validator will compile it (Unicode mode), so a pattern valid here is valid there.
    new RegExp(pattern, "u");
  } catch {
    issues.push({ path, message: "is not a valid regular expression" });
  }
}

function checkBounds(node: Record<string, unknown>, lowKey: string, highKey: string, counts: boolean, path: string, issues: ValidationIssue[]): void {
  const low = node[lowKey];
  const high = node[highKey];
  for (const [key, value] of [[lowKey, low], [highKey, high]] as const) {
    if (value === undefined) continue;
    const valid = counts ? Number.isSafeInteger(value) && (value as number) >= 0 : typeof value === "number" && Number.isFinite(value);
    if (!valid) issues.push({ path: childPointer(path, key), message: counts ? "must be a non-negative integer" : "must be a finite number" });
  }
  if (typeof low === "number" && typeof high === "number" && low > high) {
    issues.push({ path: childPointer(path, lowKey), message: `must not exceed ${highKey}` });
  }
}

function checkOptionalType(node: Record<string, unknown>, key: string, expected: "string" | "boolean", path: string, issues: ValidationIssue[]): void {
  const value = node[key];
  if (value !== undefined && typeof value !== expected) issues.push({ path: childPointer(path, key), message: `must be a ${expected}` });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Translates a well-formed ADM schema to JSON Schema 2020-12: types lower-cased,
 * `nullable` as a type union with `"null"` (and `null` added to any `enum`),
 * OBJECT `additionalProperties` defaulting to `false`, `required` only when
 * non-empty, constraint keywords copied as they are. `secret` has no JSON Schema
 * counterpart and is dropped (redaction reads it from the ADM schema).
 *
 * @param schema - A schema that passed {@link validateAdmSchema}.
 * @param options - `dialect: false` omits `$schema` (for embedding in a larger document).
 * @returns A new JSON Schema object; the input is not modified.
 *
 * @example
 * toJsonSchema({ type: "OBJECT", properties: { city: { type: "STRING" } }, required: ["city"] });
 * // { $schema: "https://json-schema.org/draft/2020-12/schema", type: "object",
 * //   properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false }
 */
export function toJsonSchema(schema: AdmSchema, options: { dialect?: boolean } = {}): JsonSchema {
  const translated = translate(schema);
  return options.dialect === false ? translated : { $schema: JSON_SCHEMA_DIALECT, ...translated };
}

function translate(schema: AdmSchema): JsonSchema {
  const type = schema.type.toLowerCase();
  const result: JsonSchema = { type: schema.nullable === true ? [type, "null"] : type };
  if (schema.description !== undefined) result.description = schema.description;
  if (schema.enum !== undefined) result.enum = schema.nullable === true ? [...schema.enum, null] : [...schema.enum];
  if (schema.minimum !== undefined) result.minimum = schema.minimum;
  if (schema.maximum !== undefined) result.maximum = schema.maximum;
  if (schema.minLength !== undefined) result.minLength = schema.minLength;
  if (schema.maxLength !== undefined) result.maxLength = schema.maxLength;
  if (schema.pattern !== undefined) result.pattern = schema.pattern;
  if (schema.format !== undefined) result.format = schema.format;
  if (schema.minItems !== undefined) result.minItems = schema.minItems;
  if (schema.maxItems !== undefined) result.maxItems = schema.maxItems;
  if (schema.type === "ARRAY" && schema.items !== undefined) result.items = translate(schema.items);
  if (schema.type === "OBJECT") {
    const properties: Record<string, JsonSchema> = {};
    for (const [name, child] of Object.entries(schema.properties ?? {})) properties[name] = translate(child);
    result.properties = properties;
    if (schema.required !== undefined && schema.required.length > 0) result.required = [...schema.required];
    result.additionalProperties = schema.additionalProperties ?? false;
  }
  return result;
}
