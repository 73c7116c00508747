/**
 * The roles every tenant starts with.
 *
 * They are ordinary role records marked `builtIn: true` (administrators may
 * bind them but not redefine them); docs/adr/0007-authorization-model.md
 * explains each one. Separation of duties is built in: `contract-author` may
 * request a change and `approver` may adjudicate one, and governance refuses
 * self-approval even to a principal holding both.
 */
import type { RoleRecord } from "../records.ts";

/** Name, purpose and permissions of each built-in role. */
export const BUILT_IN_ROLE_DEFINITIONS: readonly { readonly name: string; readonly description: string; readonly permissions: readonly string[] }[] = [
  {
    name: "tenant-admin",
    description: "Administers the tenant: every permission within it.",
    permissions: ["*"],
  },
  {
    name: "contract-author",
    description: "Writes tool contracts and submits them for approval.",
    permissions: ["contracts:submit", "contracts:read", "governance:request"],
  },
  {
    name: "approver",
    description: "Adjudicates approval requests for contracts and policies.",
    permissions: ["governance:adjudicate", "governance:read", "contracts:read", "policies:read"],
  },
  {
    name: "agent",
    description: "An AI agent: opens sessions, lists and invokes tools.",
    permissions: ["sessions:create", "tools:invoke", "tools:list"],
  },
  {
    name: "runtime-operator",
    description: "Enrolls, inspects and revokes tool runtimes.",
    permissions: ["runtimes:enroll", "runtimes:read", "runtimes:revoke"],
  },
  {
    name: "auditor",
    description: "Reads and verifies the tenant's audit log.",
    permissions: ["audit:read", "audit:verify"],
  },
  {
    name: "break-glass-operator",
    description: "May activate a time-limited emergency override (break-glass) of policy refusals for their own calls; every use is audited, alerted and reviewed.",
    permissions: ["break_glass:activate"],
  },
  {
    name: "platform-auditor",
    description: "Reads and verifies every tenant's audit log; effective only in the platform tenant (elsewhere it is an auditor).",
    permissions: ["audit:read", "audit:verify", "audit:read_all"],
  },
  {
    name: "scim-provisioner",
    description: "An identity provider's SCIM client: provisions and deprovisions users and groups.",
    permissions: ["scim:provision"],
  },
];

/**
 * The built-in role records of a new tenant.
 *
 * @param tenantId - The tenant being provisioned.
 * @param now - Creation time, epoch milliseconds.
 * @returns Fresh records (`builtIn: true`, no inheritance), one per built-in role.
 */
export function builtInRoles(tenantId: string, now: number): RoleRecord[] {
  return BUILT_IN_ROLE_DEFINITIONS.map((role) => ({
    tenantId,
    name: role.name,
    description: role.description,
    permissions: [...role.permissions],
    inherits: [],
    builtIn: true,
    createdAt: now,
  }));
}
