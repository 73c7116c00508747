/**
 * The role graph of one tenant: roles, their permissions and their inheritance.
 *
 * Rules enforced:
 * - Inheritance is a DAG; a cycle (including a role inheriting itself) is
 *   refused when the graph is built, naming the cycle.
 * - A role's effective permissions are its own plus those of every role it
 *   inherits, transitively; they are computed once per role, at build time.
 * - Unknown names grant nothing: an unknown role in a principal's list, or an
 *   inherited role that does not exist, contributes no permission and
 *   satisfies no role requirement. Malformed permissions grant nothing either.
 * - All roles belong to one tenant; mixing tenants is refused.
 * - A role bound to a directory group is held by every principal whose groups
 *   name it (exact, case-sensitive match); a binding to a role the graph does
 *   not define grants nothing.
 */
import { EnterpriseError } from "../errors.ts";
import type { GroupRoleBindingRecord, RoleRecord } from "../records.ts";
import { isWellFormedPermission } from "./permissions.ts";

interface ResolvedRole {
  readonly record: RoleRecord;
  /** This role and every role it inherits, transitively (known roles only). */
  readonly closure: ReadonlySet<string>;
  readonly permissions: readonly string[];
}

/**
 * An immutable, validated role graph with memoised effective permissions.
 *
 * @example
 * const graph = RoleGraph.build(await stores.roles.list());
 * graph.effectivePermissions(principal.roles); // ["contracts:read", "tools:invoke", …]
 */
export class RoleGraph {
  readonly #roles: ReadonlyMap<string, ResolvedRole>;
  /** Group name → the known roles bound to it, sorted. */
  readonly #groupRoles: ReadonlyMap<string, readonly string[]>;

  private constructor(roles: ReadonlyMap<string, ResolvedRole>, groupRoles: ReadonlyMap<string, readonly string[]>) {
    this.#roles = roles;
    this.#groupRoles = groupRoles;
  }

  /**
   * Validates role records and resolves their inheritance.
   *
   * @param records - Every role of one tenant.
   * @param groupBindings - The tenant's roles bound to directory groups.
   * @returns The graph.
   * @throws EnterpriseError `INVALID_ARGUMENT` when a name repeats, the records
   *   (or bindings) span several tenants, or inheritance has a cycle (details.cycle, e.g. `a -> b -> a`).
   */
  static build(records: readonly RoleRecord[], groupBindings: readonly GroupRoleBindingRecord[] = []): RoleGraph {
    const byName = new Map<string, RoleRecord>();
    const tenantId = records[0]?.tenantId ?? groupBindings[0]?.tenantId;
    for (const record of [...records, ...groupBindings]) {
      if (record.tenantId !== tenantId) {
        throw new EnterpriseError("INVALID_ARGUMENT", { message: "A role graph holds the roles of one tenant only.", details: { field: "roles" } });
      }
    }
    for (const record of records) {
      if (byName.has(record.name)) {
        throw new EnterpriseError("INVALID_ARGUMENT", { message: "A role name is defined twice.", details: { field: "roles", role: record.name } });
      }
      byName.set(record.name, record);
    }
    const resolved = new Map<string, ResolvedRole>();
    const visiting: string[] = [];
    const resolve = (name: string): ResolvedRole => {
      const done = resolved.get(name);
      if (done !== undefined) return done;
      const record = byName.get(name) as RoleRecord;
      const cycleStart = visiting.indexOf(name);
      if (cycleStart >= 0) {
        const cycle = [...visiting.slice(cycleStart), name].join(" -> ");
        throw new EnterpriseError("INVALID_ARGUMENT", { message: "Role inheritance has a cycle.", details: { field: "inherits", cycle } });
      }
      visiting.push(name);
      const closure = new Set<string>([name]);
      const permissions = new Set<string>(record.permissions.filter(isWellFormedPermission));
      for (const parentName of record.inherits) {
        if (!byName.has(parentName)) continue;
        const parent = resolve(parentName);
        for (const role of parent.closure) closure.add(role);
        for (const permission of parent.permissions) permissions.add(permission);
      }
      visiting.pop();
      const role: ResolvedRole = { record, closure, permissions: Object.freeze([...permissions].sort()) };
      resolved.set(name, role);
      return role;
    };
    for (const name of [...byName.keys()].sort()) resolve(name);
    const groupRoles = new Map<string, string[]>();
    for (const binding of groupBindings) {
      if (!byName.has(binding.role)) continue;
      const roles = groupRoles.get(binding.group);
      if (roles === undefined) groupRoles.set(binding.group, [binding.role]);
      else if (!roles.includes(binding.role)) roles.push(binding.role);
    }
    for (const roles of groupRoles.values()) Object.freeze(roles.sort());
    return new RoleGraph(resolved, groupRoles);
  }

  /**
   * The roles bound to any of these directory groups (known roles only, not expanded).
   *
   * @param groups - A principal's groups.
   * @returns Role names, sorted and unique; empty when no group is bound.
   */
  rolesOfGroups(groups: Iterable<string>): readonly string[] {
    const roles = new Set<string>();
    for (const group of groups) for (const role of this.#groupRoles.get(group) ?? []) roles.add(role);
    return [...roles].sort();
  }

  /**
   * The directory groups a role is bound to.
   *
   * @param role - Role name.
   * @returns Group names, sorted.
   */
  groupsOf(role: string): readonly string[] {
    const groups: string[] = [];
    for (const [group, roles] of this.#groupRoles) if (roles.includes(role)) groups.push(group);
    return groups.sort();
  }

  /**
   * Tells whether a role of this name exists.
   *
   * @param name - Role name.
   * @returns True when the graph defines it.
   */
  has(name: string): boolean {
    return this.#roles.has(name);
  }

  /**
   * The record of a role.
   *
   * @param name - Role name.
   * @returns The record, or undefined when unknown.
   */
  get(name: string): RoleRecord | undefined {
    return this.#roles.get(name)?.record;
  }

  /** Every role name, sorted. */
  names(): string[] {
    return [...this.#roles.keys()].sort();
  }

  /**
   * The permissions granted by a set of roles, inheritance included.
   *
   * @param roleNames - Roles bound to a principal; unknown names grant nothing.
   * @returns The union of their effective permissions, sorted and unique.
   */
  effectivePermissions(roleNames: Iterable<string>): readonly string[] {
    const single = singleKnownRole(this.#roles, roleNames);
    if (single !== undefined) return single.permissions;
    const permissions = new Set<string>();
    for (const name of roleNames) {
      for (const permission of this.#roles.get(name)?.permissions ?? []) permissions.add(permission);
    }
    return [...permissions].sort();
  }

  /**
   * The roles a set of roles amounts to: each known role and every role it inherits.
   *
   * @param roleNames - Roles bound to a principal; unknown names are dropped.
   * @returns Role names, sorted and unique.
   */
  effectiveRoles(roleNames: Iterable<string>): readonly string[] {
    const roles = new Set<string>();
    for (const name of roleNames) {
      for (const role of this.#roles.get(name)?.closure ?? []) roles.add(role);
    }
    return [...roles].sort();
  }

  /**
   * Tells whether holding `roleNames` amounts to holding `required`: one of them
   * is `required` or inherits it, transitively.
   *
   * @param roleNames - Roles bound to a principal.
   * @param required - The role asked for; a role the graph does not define is never held.
   * @returns True when satisfied.
   */
  holdsRole(roleNames: Iterable<string>, required: string): boolean {
    for (const name of roleNames) {
      if (this.#roles.get(name)?.closure.has(required) === true) return true;
    }
    return false;
  }
}

/** The common case, one bound role, returns the memoised list itself instead of building a new one. */
function singleKnownRole(roles: ReadonlyMap<string, ResolvedRole>, roleNames: Iterable<string>): ResolvedRole | undefined {
  if (!Array.isArray(roleNames)) return undefined;
  const list = roleNames as readonly string[];
  return list.length === 1 && list[0] !== undefined ? roles.get(list[0]) : undefined;
}
