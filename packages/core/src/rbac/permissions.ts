/**
 * Permissions: `resource:action` strings with whole-segment wildcards.
 *
 * Rules enforced:
 * - A permission is `*`, or two segments `resource:action`, each either `*` or
 *   a lower-case name; anything else is malformed and grants nothing.
 * - `*` matches a whole segment only: `tools:*` covers `tools:invoke`, but
 *   `tool*:invoke` is malformed. The lone `*` is shorthand for `*:*`.
 * - A granted permission covers a required one when every segment is equal or
 *   granted as `*`. A required `*` is covered only by a granted `*`, so a
 *   narrow grant never satisfies a broad requirement.
 * - Matching is case-sensitive; names are lower case, so `Tools:invoke` is
 *   malformed rather than a near miss.
 */

/** One segment of a permission: a lower-case name or `*`. */
const SEGMENT = "(?:\\*|[a-z][a-z0-9_.-]{0,63})";

/** The syntax of a permission string. */
export const PERMISSION_PATTERN: RegExp = new RegExp(`^(?:\\*|${SEGMENT}:${SEGMENT})$`);

/** The syntax of a role name: lower case, 1 to 64 characters. */
export const ROLE_NAME_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;

/** The permission every tool call needs, before any contract-specific requirement. */
export const INVOKE_PERMISSION = "tools:invoke";

/**
 * Tells whether `permission` is well formed.
 *
 * @param permission - Candidate permission.
 * @returns True for `*` and `resource:action` with optional `*` segments.
 */
export function isWellFormedPermission(permission: string): boolean {
  return PERMISSION_PATTERN.test(permission);
}

/**
 * Tells whether `name` is a well-formed role name.
 *
 * @param name - Candidate role name.
 * @returns True when it matches {@link ROLE_NAME_PATTERN}.
 */
export function isValidRoleName(name: string): boolean {
  return ROLE_NAME_PATTERN.test(name);
}

/**
 * Tells whether a granted permission covers a required one.
 *
 * @param granted - What a role or principal holds, e.g. `tools:*`.
 * @param required - What the action needs, e.g. `tools:invoke`.
 * @returns True when every segment of `granted` is `*` or equal to the one of
 *   `required`; false when either is malformed (deny by default).
 *
 * @example
 * permissionMatches("tools:*", "tools:invoke"); // true
 * permissionMatches("tools:invoke", "tools:*"); // false
 */
export function permissionMatches(granted: string, required: string): boolean {
  if (!isWellFormedPermission(granted) || !isWellFormedPermission(required)) return false;
  const [grantedResource, grantedAction] = segments(granted);
  const [requiredResource, requiredAction] = segments(required);
  return segmentCovers(grantedResource, requiredResource) && segmentCovers(grantedAction, requiredAction);
}

/**
 * Tells whether any of `granted` covers `required`.
 *
 * @param granted - Every permission the principal holds.
 * @param required - The permission needed.
 * @returns True when at least one grant covers it.
 */
export function hasPermission(granted: Iterable<string>, required: string): boolean {
  for (const permission of granted) {
    if (permissionMatches(permission, required)) return true;
  }
  return false;
}

function segments(permission: string): readonly [string, string] {
  if (permission === "*") return ["*", "*"];
  const colon = permission.indexOf(":");
  return [permission.slice(0, colon), permission.slice(colon + 1)];
}

function segmentCovers(granted: string, required: string): boolean {
  return granted === "*" || granted === required;
}
