import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { builtInRoles } from "./built-in-roles.ts";
import { hasPermission, isValidRoleName, isWellFormedPermission } from "./permissions.ts";
import { RoleGraph } from "./role-graph.ts";

void describe("builtInRoles", () => {
  const roles = builtInRoles("acme", 1_700_000_000_000);
  const graph = RoleGraph.build(roles);
  const grants = (name: string): readonly string[] => graph.effectivePermissions([name]);

  void it("creates the documented roles for the tenant, marked built in", () => {
    assert.deepEqual(roles.map((role) => role.name), ["tenant-admin", "contract-author", "approver", "agent", "runtime-operator", "auditor", "break-glass-operator", "platform-auditor", "scim-provisioner"]);
    for (const role of roles) {
      assert.equal(role.tenantId, "acme");
      assert.equal(role.builtIn, true);
      assert.equal(role.createdAt, 1_700_000_000_000);
      assert.deepEqual(role.inherits, []);
      assert.ok(isValidRoleName(role.name));
      assert.ok(role.permissions.every(isWellFormedPermission));
      assert.ok(role.description.length > 0);
    }
  });

  void it("grants each role exactly its documented permissions", () => {
    assert.deepEqual(grants("tenant-admin"), ["*"]);
    assert.deepEqual(grants("contract-author"), ["contracts:read", "contracts:submit", "governance:request"]);
    assert.deepEqual(grants("approver"), ["contracts:read", "governance:adjudicate", "governance:read", "policies:read"]);
    assert.deepEqual(grants("agent"), ["sessions:create", "tools:invoke", "tools:list"]);
    assert.deepEqual(grants("runtime-operator"), ["runtimes:enroll", "runtimes:read", "runtimes:revoke"]);
    assert.deepEqual(grants("auditor"), ["audit:read", "audit:verify"]);
    assert.deepEqual(grants("break-glass-operator"), ["break_glass:activate"]);
  });

  void it("separates duties: authors cannot adjudicate, approvers cannot submit, only agents invoke", () => {
    assert.equal(hasPermission(grants("contract-author"), "governance:adjudicate"), false);
    assert.equal(hasPermission(grants("approver"), "contracts:submit"), false);
    assert.deepEqual(
      roles.filter((role) => hasPermission(grants(role.name), "tools:invoke")).map((role) => role.name),
      ["tenant-admin", "agent"],
    );
  });

  void it("gives the emergency override to tenant-admin and break-glass-operator only, never to agents", () => {
    assert.deepEqual(
      roles.filter((role) => hasPermission(grants(role.name), "break_glass:activate")).map((role) => role.name),
      ["tenant-admin", "break-glass-operator"],
    );
  });

  void it("returns fresh records each time", () => {
    const first = builtInRoles("acme", 0);
    first[0]?.permissions.push("tools:invoke");
    assert.deepEqual(builtInRoles("acme", 0)[0]?.permissions, ["*"]);
  });
});
