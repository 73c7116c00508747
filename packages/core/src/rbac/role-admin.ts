/**
 * The rules of role administration, as pure functions: what a role definition may say, who may
 * grant a role, who a request is about, and which roles grant a permission.
 *
 * Rules enforced (docs/adr/0007-authorization-model.md):
 * - A role name is lower case (`[a-z][a-z0-9_.-]{0,63}`), unique in the tenant, and never one the
 *   Host gives a meaning of its own (`platform-admin`). Built-in roles cannot be redefined.
 * - Permissions are well formed (`resource:action`, `*` per whole segment); a role inherits only
 *   roles that exist, and inheritance stays a DAG: a cycle is refused naming it.
 * - No escalation: a caller can define, grant or withdraw a role only when it holds every
 *   permission the role amounts to (inheritance included), the rule service-account creation and
 *   UpdatePrincipalRoles apply. A tenant administrator (`*`) passes by holding everything.
 * - A request is about the caller (empty id), another principal of the caller's tenant, or a
 *   directory group written `group:<name>`.
 */
import { EnterpriseError } from "../errors.ts";
import type { SecurityContext } from "../identity/security-context.ts";
import type { GroupRoleBindingRecord, RoleRecord } from "../records.ts";
import { isValidRoleName, isWellFormedPermission, permissionMatches } from "./permissions.ts";
import { RoleGraph } from "./role-graph.ts";

/** Names the Host itself interprets (the platform administrator); no tenant may define them. */
export const RESERVED_ROLE_NAMES: readonly string[] = Object.freeze(["platform-admin"]);

/** The prefix of a subject that names a directory group instead of a principal. */
export const GROUP_SUBJECT_PREFIX = "group:";

/** Longest group name accepted (directory DNs can be long). */
const MAX_GROUP_NAME_LENGTH = 512;
const MAX_ROLE_PERMISSIONS = 256;
const MAX_ROLE_PARENTS = 64;
const MAX_DESCRIPTION_LENGTH = 1000;

/** A role as an administrator asks for it. */
export interface RoleDefinitionInput {
  readonly name: string;
  readonly description: string;
  readonly permissions: readonly string[];
  readonly inherits: readonly string[];
  /** Only the Host creates built-in roles; true is refused. */
  readonly builtIn?: boolean;
}

/** Who a request is about. */
export type Subject =
  | { readonly kind: "principal"; readonly principalId: string; readonly self: boolean }
  | { readonly kind: "group"; readonly group: string };

/** Why a permission is held, or not. */
export interface PermissionExplanation {
  readonly granted: boolean;
  /** Roles whose own permissions cover it (after inheritance these are held), then `direct` for a direct grant; sorted. */
  readonly grantedBy: readonly string[];
  /** Caller-safe explanation. */
  readonly reason: string;
}

/**
 * Reads the subject of a request.
 *
 * @param ref - Empty for the caller, `group:<name>` for a directory group, else a principal id.
 * @param callerId - The caller's principal id.
 * @returns The subject.
 * @throws EnterpriseError `INVALID_ARGUMENT` for an empty or malformed group name.
 *
 * @example
 * parseSubject("", "usr_1");          // { kind: "principal", principalId: "usr_1", self: true }
 * parseSubject("group:eng", "usr_1"); // { kind: "group", group: "eng" }
 */
export function parseSubject(ref: string, callerId: string): Subject {
  if (ref.startsWith(GROUP_SUBJECT_PREFIX)) {
    const group = ref.slice(GROUP_SUBJECT_PREFIX.length);
    assertGroupName(group);
    return { kind: "group", group };
  }
  const principalId = ref === "" ? callerId : ref;
  return { kind: "principal", principalId, self: principalId === callerId };
}

/**
 * Checks a directory group name: 1 to 512 characters, no control characters.
 *
 * @throws EnterpriseError `INVALID_ARGUMENT` (field `group`).
 */
export function assertGroupName(group: string): void {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (group.length === 0 || group.length > MAX_GROUP_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(group)) {
    throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "group", expected: `1-${MAX_GROUP_NAME_LENGTH} characters, no control characters` } });
  }
}

/**
 * Validates a new role against the tenant's current roles and returns the record to store with
 * the graph it would make.
 *
 * @param existing - Every role of the tenant as stored now.
 * @param bindings - The tenant's group bindings (kept in the candidate graph).
 * @param input - The definition asked for.
 * @param meta - The tenant and creation time of the record.
 * @returns The record and the candidate graph that includes it.
 * @throws EnterpriseError `INVALID_ARGUMENT` (malformed or reserved name, malformed permission,
 *   unknown parent, inheritance cycle with `details.cycle`, built-in flag set), `ALREADY_EXISTS`
 *   (a role of that name exists; `details.reason` is `built_in` for a built-in role).
 */
export function defineRole(
  existing: readonly RoleRecord[],
  bindings: readonly GroupRoleBindingRecord[],
  input: RoleDefinitionInput,
  meta: { readonly tenantId: string; readonly now: number },
): { record: RoleRecord; graph: RoleGraph } {
  const name = input.name;
  if (!isValidRoleName(name)) {
    throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "role.name", expected: "[a-z][a-z0-9_.-]{0,63}" } });
  }
  if (RESERVED_ROLE_NAMES.includes(name)) {
    throw new EnterpriseError("INVALID_ARGUMENT", { message: "This role name is reserved by the Host.", details: { field: "role.name", role: name } });
  }
  if (input.builtIn === true) throw new EnterpriseError("INVALID_ARGUMENT", { message: "Only the Host defines built-in roles.", details: { field: "role.built_in" } });
  if (input.description.length > MAX_DESCRIPTION_LENGTH) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "role.description", max: String(MAX_DESCRIPTION_LENGTH) } });
  if (input.permissions.length > MAX_ROLE_PERMISSIONS) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "role.permissions", max: String(MAX_ROLE_PERMISSIONS) } });
  if (input.inherits.length > MAX_ROLE_PARENTS) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "role.inherits", max: String(MAX_ROLE_PARENTS) } });
  for (const permission of input.permissions) {
    if (!isWellFormedPermission(permission)) {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: "A permission is `resource:action`, each a lower-case name or `*`.", details: { field: "role.permissions", permission: permission.slice(0, 130) } });
    }
  }
  for (const parent of input.inherits) {
    if (!isValidRoleName(parent)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "role.inherits", unknown_role: parent.slice(0, 64) } });
  }
  const clash = existing.find((role) => role.name === name);
  if (clash !== undefined) {
    throw new EnterpriseError("ALREADY_EXISTS", {
      message: clash.builtIn ? "Built-in roles cannot be redefined." : "A role of this name exists.",
      details: { role: name, ...(clash.builtIn ? { reason: "built_in" } : {}) },
    });
  }
  const record: RoleRecord = {
    tenantId: meta.tenantId,
    name,
    description: input.description,
    permissions: [...new Set(input.permissions)].sort(),
    inherits: [...new Set(input.inherits)],
    builtIn: false,
    createdAt: meta.now,
  };
  // The cycle check comes first, so a role inheriting itself is named as the cycle it is.
  const graph = RoleGraph.build([...existing, record], bindings);
  for (const parent of record.inherits) {
    if (!existing.some((role) => role.name === parent)) {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: "A role can inherit only roles that exist.", details: { field: "role.inherits", unknown_role: parent } });
    }
  }
  return { record, graph };
}

/**
 * Refuses a permission set the caller does not itself hold (no escalation).
 *
 * @param ctx - The caller.
 * @param permissions - What would be granted, inheritance expanded.
 * @param role - The role concerned, for the refusal's details.
 * @throws EnterpriseError `AUTHORIZATION_DENIED` (`details.reason` `role_beyond_creator`, `permission`).
 */
export function assertWithinCallerGrants(ctx: SecurityContext, permissions: readonly string[], role: string): void {
  for (const permission of permissions) {
    if (!ctx.permissions.some((granted) => permissionMatches(granted, permission))) {
      throw new EnterpriseError("AUTHORIZATION_DENIED", {
        message: "You cannot grant a permission you do not hold.",
        details: { reason: "role_beyond_creator", role, permission },
        tenantId: ctx.tenantId,
        principalId: ctx.principalId,
      });
    }
  }
}

/**
 * Refuses to let the caller grant or withdraw a role it could not have granted itself.
 *
 * @param ctx - The caller.
 * @param graph - The tenant's role graph.
 * @param role - The role to grant or withdraw.
 * @throws EnterpriseError `INVALID_ARGUMENT` (`unknown_role`), `AUTHORIZATION_DENIED` (`role_beyond_creator`).
 */
export function assertMayGrantRole(ctx: SecurityContext, graph: RoleGraph, role: string): void {
  if (!graph.has(role)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "role", unknown_role: role.slice(0, 64) } });
  assertWithinCallerGrants(ctx, graph.effectivePermissions([role]), role);
  if (RESERVED_ROLE_NAMES.includes(role) && !ctx.roles.includes(role)) {
    throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { reason: "role_beyond_creator", role } });
  }
}

/**
 * Says whether, and through what, a subject holds a permission.
 *
 * @param graph - The tenant's role graph.
 * @param boundRoles - The subject's bound roles (direct, synchronised and group-bound).
 * @param directPermissions - Permissions granted directly to the subject.
 * @param permission - The permission asked about (well formed).
 * @returns The answer, the granting roles and a reason.
 *
 * @example
 * explainPermission(graph, ["finance-lead"], [], "payments:read");
 * // { granted: true, grantedBy: ["finance"], reason: "granted by role finance" }
 */
export function explainPermission(graph: RoleGraph, boundRoles: readonly string[], directPermissions: readonly string[], permission: string): PermissionExplanation {
  const grantedBy: string[] = [];
  for (const role of graph.effectiveRoles(boundRoles)) {
    const own = graph.get(role)?.permissions ?? [];
    if (own.some((granted) => permissionMatches(granted, permission))) grantedBy.push(role);
  }
  const direct = directPermissions.some((granted) => permissionMatches(granted, permission));
  if (direct) grantedBy.push("direct");
  if (grantedBy.length === 0) return { granted: false, grantedBy, reason: `no role or direct grant covers ${permission} (deny by default)` };
  const roles = grantedBy.filter((by) => by !== "direct");
  const parts = [...(roles.length > 0 ? [`granted by role${roles.length > 1 ? "s" : ""} ${roles.join(", ")}`] : []), ...(direct ? ["granted directly"] : [])];
  return { granted: true, grantedBy, reason: parts.join("; ") };
}

/**
 * The roles a set of bound roles amounts to, bound names the graph does not define included
 * (the Host interprets some, such as `platform-admin`), sorted.
 *
 * @param graph - The tenant's role graph.
 * @param boundRoles - Bound roles.
 * @returns Bound and inherited role names.
 */
export function expandedRoles(graph: RoleGraph, boundRoles: readonly string[]): string[] {
  return [...new Set([...boundRoles, ...graph.effectiveRoles(boundRoles)])].sort();
}
