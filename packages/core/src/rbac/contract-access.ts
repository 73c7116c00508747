/**
 * RBAC for a tool call: may this principal invoke this contract at all?
 *
 * Rules enforced (deny by default):
 * - The principal needs `tools:invoke`, from a role or a direct grant.
 * - When the contract lists required roles, the principal needs at least one of
 *   them; holding a role that inherits a required role counts. Roles unknown to
 *   the tenant's graph never count, even when their name matches.
 * - The principal needs every required permission of the contract, from roles
 *   (with inheritance, wildcards honoured) or direct grants.
 * - A refusal lists everything missing at once, so one request to an
 *   administrator can fix it.
 */
import { hasPermission, INVOKE_PERMISSION } from "./permissions.ts";
import type { RoleGraph } from "./role-graph.ts";

/** What {@link checkContractAccess} needs to decide. */
export interface ContractAccessInput {
  /** Roles bound to the principal (not expanded; the graph expands them). */
  readonly principalRoles: readonly string[];
  /** Permissions granted directly to the principal (effective ones are fine too). */
  readonly principalPermissions: readonly string[];
  /** The tenant's role graph. */
  readonly graph: RoleGraph;
  /** The contract's requirements. */
  readonly contract: { readonly requiredRoles: readonly string[]; readonly requiredPermissions: readonly string[] };
}

/** The outcome of {@link checkContractAccess}. */
export type ContractAccess =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** Caller-safe explanation naming what is missing. */
      readonly reason: string;
      /** The contract's required roles when none is held (any one would do); otherwise empty. */
      readonly missingRoles: readonly string[];
      /** Every needed permission the principal lacks, `tools:invoke` included. */
      readonly missingPermissions: readonly string[];
    };

/**
 * Decides whether a principal may invoke a contract, by RBAC alone.
 *
 * @param input - The principal's roles and grants, the role graph and the contract's requirements.
 * @returns `{ allowed: true }`, or a refusal listing the missing roles and permissions.
 *
 * @example
 * const access = checkContractAccess({ principalRoles: ["agent"], principalPermissions: [], graph,
 *   contract: { requiredRoles: ["finance"], requiredPermissions: [] } });
 * // { allowed: false, reason: "requires one of the roles: finance", missingRoles: ["finance"], missingPermissions: [] }
 */
export function checkContractAccess(input: ContractAccessInput): ContractAccess {
  const { graph, contract } = input;
  const granted = [...graph.effectivePermissions(input.principalRoles), ...input.principalPermissions];
  const needed = [INVOKE_PERMISSION, ...contract.requiredPermissions.filter((permission) => permission !== INVOKE_PERMISSION)];
  const missingPermissions = needed.filter((permission) => !hasPermission(granted, permission));
  const rolesSatisfied =
    contract.requiredRoles.length === 0 ||
    contract.requiredRoles.some((role) => graph.holdsRole(input.principalRoles, role));
  const missingRoles = rolesSatisfied ? [] : [...contract.requiredRoles];
  if (missingPermissions.length === 0 && missingRoles.length === 0) return { allowed: true };
  const reasons: string[] = [];
  if (missingRoles.length > 0) reasons.push(`requires one of the roles: ${missingRoles.join(", ")}`);
  if (missingPermissions.length > 0) reasons.push(`missing permissions: ${missingPermissions.join(", ")}`);
  return { allowed: false, reason: reasons.join("; "), missingRoles, missingPermissions };
}
