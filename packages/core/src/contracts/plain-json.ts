/**
 * The plain-JSON gate run before any schema check.
 *
 * Tool arguments come from agents and are handed to runtimes written in other
 * languages, so they must be exactly JSON: no prototype-polluting keys, no
 * values JSON cannot carry, and no nesting deep enough to exhaust a stack in a
 * validator, a policy engine or a runtime's parser.
 */
import { childPointer, type ValidationIssue } from "./issues.ts";

/** Deepest container nesting accepted in arguments and results. */
export const MAX_JSON_DEPTH = 32;

/** Keys that change object prototypes in JavaScript runtimes; never meaningful as data. */
export const FORBIDDEN_JSON_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/** Stop walking once this many issues are known: the report is bounded anyway. */
const WALK_ISSUE_CAP = 100;

/**
 * Lists every way `value` departs from plain JSON: forbidden keys
 * (`__proto__`, `constructor`, `prototype`) at any depth, containers nested
 * deeper than {@link MAX_JSON_DEPTH}, non-finite numbers, and values JSON cannot
 * represent (`undefined`, functions, symbols, bigints, class instances).
 * Never throws, whatever the input (cycles end at the depth limit).
 *
 * @param value - The decoded arguments or result.
 * @param maxDepth - Deepest nesting allowed; the root container is depth 1.
 * @returns The issues found, empty when `value` is plain JSON.
 */
export function findPlainJsonIssues(value: unknown, maxDepth = MAX_JSON_DEPTH): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  walk(value, "", 0, maxDepth, issues);
  return issues;
}

function walk(value: unknown, path: string, depth: number, maxDepth: number, issues: ValidationIssue[]): void {
  if (issues.length >= WALK_ISSUE_CAP) return;
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) issues.push({ path, message: "must be a finite number" });
      return;
    case "undefined":
    case "function":
    case "symbol":
    case "bigint":
      issues.push({ path, message: `is not a JSON value (${typeof value})` });
      return;
    case "object":
      break;
  }
  if (value === null) return;
  if (depth + 1 > maxDepth) {
    issues.push({ path, message: `nesting is deeper than ${maxDepth} levels` });
    return;
  }
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      walk(value[index], childPointer(path, index), depth + 1, maxDepth, issues);
    }
    return;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    issues.push({ path, message: "is not a plain JSON object" });
    return;
  }
  for (const key of Object.keys(value)) {
    const childPath = childPointer(path, key);
    if (FORBIDDEN_JSON_KEYS.has(key)) {
      issues.push({ path: childPath, message: `key "${key}" is not allowed` });
      continue;
    }
    walk((value as Record<string, unknown>)[key], childPath, depth + 1, maxDepth, issues);
  }
}
