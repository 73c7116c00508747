/**
 * Tool contract definitions: the checks a definition passes before it can be
 * submitted for approval.
 *
 * Rules enforced:
 * - `name` follows ADM FunctionDeclaration (`^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$`).
 * - `contractVersion` is strict SemVer 2.0.0 (no `v` prefix, no leading zeros).
 * - `description` has 1 to 1000 characters after trimming.
 * - `parameters` is an OBJECT schema; it and `returnType` are well-formed ADM schemas.
 * - Classification, risk, roles and permissions use the closed vocabularies.
 * - Unknown fields are refused, so a misspelt field cannot be silently ignored.
 */
import type { ToolContractDefinition } from "../records.ts";
import { isValidRoleName, isWellFormedPermission, ROLE_NAME_PATTERN } from "../rbac/permissions.ts";
import { childPointer, type ValidationIssue } from "./issues.ts";
import { findAdmSchemaIssues } from "./schema.ts";

/** Contract (tool) names, as ADM FunctionDeclaration names. */
export const CONTRACT_NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$/;

/** SemVer 2.0.0, the regular expression published at semver.org. */
export const SEMVER_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** Longest accepted contract version string. */
export const MAX_VERSION_LENGTH = 64;
/** Longest description, counted after trimming. */
export const MAX_DESCRIPTION_LENGTH = 1000;
/** Longest compliance tag or governance metadata key/value. */
export const MAX_LABEL_LENGTH = 256;

const CLASSIFICATIONS: readonly string[] = ["public", "internal", "confidential", "restricted"];
const RISKS: readonly string[] = ["LOW", "MEDIUM", "HIGH"];
const FIELDS: ReadonlySet<string> = new Set<keyof ToolContractDefinition>([
  "name", "contractVersion", "description", "parameters", "returnType", "supportsStreaming",
  "securityClassification", "requiredRoles", "requiredPermissions", "complianceTags",
  "riskAssessment", "governanceMetadata",
]);

/**
 * The identity of a contract version.
 *
 * @param name - Contract name.
 * @param version - SemVer contract version.
 * @returns `name@version`, e.g. `get_weather@1.2.0`.
 */
export function contractId(name: string, version: string): string {
  return `${name}@${version}`;
}

/**
 * Lists every way `definition` is not an acceptable tool contract definition.
 * Accepts any decoded value and never throws.
 *
 * @param definition - The candidate definition.
 * @returns Issues with JSON Pointers into the definition (`/parameters/properties/x/type`); empty when valid.
 */
export function validateContractDefinition(definition: unknown): ValidationIssue[] {
  if (typeof definition !== "object" || definition === null || Array.isArray(definition)) {
    return [{ path: "", message: "must be a contract definition object" }];
  }
  const def = definition as Record<string, unknown>;
  const issues: ValidationIssue[] = [];
  for (const key of Object.keys(def)) {
    if (!FIELDS.has(key)) issues.push({ path: childPointer("", key), message: `unknown field "${key}"` });
  }

  const name = def["name"];
  if (typeof name !== "string" || !CONTRACT_NAME_PATTERN.test(name)) {
    issues.push({ path: "/name", message: `must match ${CONTRACT_NAME_PATTERN.source}` });
  }
  const version = def["contractVersion"];
  if (typeof version !== "string" || version.length > MAX_VERSION_LENGTH || !SEMVER_PATTERN.test(version)) {
    issues.push({ path: "/contractVersion", message: `must be a SemVer 2.0.0 version of at most ${MAX_VERSION_LENGTH} characters, e.g. 1.0.0` });
  }
  const description = def["description"];
  const trimmedLength = typeof description === "string" ? description.trim().length : 0;
  if (trimmedLength < 1 || trimmedLength > MAX_DESCRIPTION_LENGTH) {
    issues.push({ path: "/description", message: `must have 1 to ${MAX_DESCRIPTION_LENGTH} characters after trimming` });
  }

  const parameters = def["parameters"];
  if (typeof parameters === "object" && parameters !== null && (parameters as Record<string, unknown>)["type"] !== "OBJECT") {
    issues.push({ path: "/parameters/type", message: "parameters must be an OBJECT schema" });
  } else {
    issues.push(...findAdmSchemaIssues(parameters, "/parameters"));
  }
  const returnType = def["returnType"];
  if (returnType !== null) issues.push(...findAdmSchemaIssues(returnType, "/returnType"));

  if (typeof def["supportsStreaming"] !== "boolean") issues.push({ path: "/supportsStreaming", message: "must be a boolean" });
  if (!CLASSIFICATIONS.includes(def["securityClassification"] as string)) {
    issues.push({ path: "/securityClassification", message: `must be one of ${CLASSIFICATIONS.join(", ")}` });
  }
  if (!RISKS.includes(def["riskAssessment"] as string)) {
    issues.push({ path: "/riskAssessment", message: `must be one of ${RISKS.join(", ")}` });
  }
  checkStringList(def["requiredRoles"], "/requiredRoles", isValidRoleName, `a role name matching ${ROLE_NAME_PATTERN.source}`, issues);
  checkStringList(def["requiredPermissions"], "/requiredPermissions", isWellFormedPermission, "a permission `resource:action` (segments may be `*`)", issues);
  checkStringList(def["complianceTags"], "/complianceTags", isLabel, `a non-empty tag of at most ${MAX_LABEL_LENGTH} characters`, issues);
  checkMetadata(def["governanceMetadata"], issues);
  return issues;
}

function checkStringList(
  value: unknown,
  path: string,
  accept: (entry: string) => boolean,
  expected: string,
  issues: ValidationIssue[],
): void {
  if (!Array.isArray(value)) {
    issues.push({ path, message: "must be an array of strings" });
    return;
  }
  const seen = new Set<string>();
  value.forEach((entry: unknown, index) => {
    const entryPath = childPointer(path, index);
    if (typeof entry !== "string" || !accept(entry)) issues.push({ path: entryPath, message: `must be ${expected}` });
    else if (seen.has(entry)) issues.push({ path: entryPath, message: `"${entry}" is listed twice` });
    else seen.add(entry);
  });
}

function checkMetadata(value: unknown, issues: ValidationIssue[]): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    issues.push({ path: "/governanceMetadata", message: "must be an object of string values" });
    return;
  }
  for (const [key, entry] of Object.entries(value)) {
    if (!isLabel(key) || typeof entry !== "string" || entry.length > MAX_LABEL_LENGTH) {
      issues.push({ path: childPointer("/governanceMetadata", key), message: `keys and values must be strings of at most ${MAX_LABEL_LENGTH} characters` });
    }
  }
}

function isLabel(text: string): boolean {
  return text.length > 0 && text.length <= MAX_LABEL_LENGTH;
}
