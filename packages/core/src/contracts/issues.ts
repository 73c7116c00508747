/**
 * Validation issues: the one shape every contract check reports problems in.
 *
 * Paths are JSON Pointers (RFC 6901) into the value that was checked, so a
 * caller can point at the exact field; `""` is the value itself.
 */

/** One problem found in a value, located by a JSON Pointer. */
export interface ValidationIssue {
  /** JSON Pointer (RFC 6901) to the offending value; `""` for the root. */
  path: string;
  /** What is wrong, in caller-safe words (never the value itself: it may be a secret). */
  message: string;
}

/**
 * How many issues a single check reports at most. A hostile payload can break
 * every rule at once; reporting all of it would let a caller amplify work and
 * response size.
 */
export const MAX_REPORTED_ISSUES = 20;

/**
 * Appends one reference token to a JSON Pointer, escaping `~` and `/`.
 *
 * @param base - The pointer of the parent value.
 * @param token - A property name or array index.
 * @returns The pointer of the child.
 */
export function childPointer(base: string, token: string | number): string {
  const text = typeof token === "number" ? String(token) : token.replaceAll("~", "~0").replaceAll("/", "~1");
  return `${base}/${text}`;
}

/**
 * Caps a list of issues at {@link MAX_REPORTED_ISSUES}; when some are dropped the
 * last slot says how many, so the caller knows the list is incomplete.
 *
 * @param issues - All issues found.
 * @param limit - Maximum length of the result (at least 1).
 * @returns At most `limit` issues.
 */
export function boundIssues(issues: readonly ValidationIssue[], limit = MAX_REPORTED_ISSUES): ValidationIssue[] {
  if (issues.length <= limit) return [...issues];
  const kept = issues.slice(0, Math.max(0, limit - 1));
  kept.push({ path: "", message: `${issues.length - kept.length} more issues not shown` });
  return kept;
}

/**
 * Renders issues as `EnterpriseError` details: the first issue as `field`/`error`
 * and all of them as `validation_errors` (`path: message` joined by `; `).
 *
 * @param issues - A non-empty list of issues.
 * @returns A details record safe to return to callers.
 */
export function issuesToDetails(issues: readonly ValidationIssue[]): Record<string, string> {
  const first = issues[0];
  return {
    field: first?.path ?? "",
    error: first?.message ?? "",
    validation_errors: issues.map((issue) => `${issue.path === "" ? "/" : issue.path}: ${issue.message}`).join("; "),
  };
}
