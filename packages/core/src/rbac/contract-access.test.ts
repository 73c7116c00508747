import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RoleRecord } from "../records.ts";
import { builtInRoles } from "./built-in-roles.ts";
import { checkContractAccess, type ContractAccess } from "./contract-access.ts";
import { RoleGraph } from "./role-graph.ts";

function role(name: string, permissions: string[], inherits: string[] = []): RoleRecord {
  return { tenantId: "acme", name, description: "", permissions, inherits, builtIn: false, createdAt: 0 };
}

const graph = RoleGraph.build([
  ...builtInRoles("acme", 0),
  role("finance", ["payments:read"]),
  role("finance-lead", ["payments:approve"], ["finance"]),
  role("treasury", ["payments:*"], ["agent"]),
]);

function check(principalRoles: string[], requiredRoles: string[] = [], requiredPermissions: string[] = [], principalPermissions: string[] = []): ContractAccess {
  return checkContractAccess({ principalRoles, principalPermissions, graph, contract: { requiredRoles, requiredPermissions } });
}

void describe("checkContractAccess", () => {
  void it("denies by default: no roles, no grants, nothing allowed", () => {
    assert.deepEqual(check([]), { allowed: false, reason: "missing permissions: tools:invoke", missingRoles: [], missingPermissions: ["tools:invoke"] });
    assert.deepEqual(check(["auditor"]).allowed, false);
  });

  void it("allows a principal holding tools:invoke when the contract requires nothing else", () => {
    assert.deepEqual(check(["agent"]), { allowed: true });
    assert.deepEqual(check([], [], [], ["tools:invoke"]), { allowed: true });
    assert.deepEqual(check(["tenant-admin"]), { allowed: true });
  });

  void it("requires at least one of the contract's roles", () => {
    assert.deepEqual(check(["agent"], ["finance", "treasury"]), {
      allowed: false,
      reason: "requires one of the roles: finance, treasury",
      missingRoles: ["finance", "treasury"],
      missingPermissions: [],
    });
    assert.deepEqual(check(["agent", "finance"], ["finance", "treasury"]), { allowed: true });
    assert.deepEqual(check(["treasury"], ["finance", "treasury"]), { allowed: true });
  });

  void it("counts a role that inherits the required one", () => {
    assert.deepEqual(check(["agent", "finance-lead"], ["finance"]), { allowed: true });
    assert.equal(check(["agent", "finance"], ["finance-lead"]).allowed, false);
  });

  void it("never counts a role the tenant does not define, even by name", () => {
    const access = check(["agent", "payroll"], ["payroll"]);
    assert.equal(access.allowed, false);
  });

  void it("requires all of the contract's permissions, from roles or direct grants", () => {
    assert.deepEqual(check(["agent", "finance"], [], ["payments:read", "payments:approve"]), {
      allowed: false,
      reason: "missing permissions: payments:approve",
      missingRoles: [],
      missingPermissions: ["payments:approve"],
    });
    assert.deepEqual(check(["agent", "finance-lead"], [], ["payments:read", "payments:approve"]), { allowed: true });
    assert.deepEqual(check(["agent", "finance"], [], ["payments:read", "payments:approve"], ["payments:approve"]), { allowed: true });
    assert.deepEqual(check(["treasury"], [], ["payments:read", "payments:approve"]), { allowed: true });
  });

  void it("lists everything missing at once", () => {
    assert.deepEqual(check(["auditor"], ["finance"], ["payments:read"]), {
      allowed: false,
      reason: "requires one of the roles: finance; missing permissions: tools:invoke, payments:read",
      missingRoles: ["finance"],
      missingPermissions: ["tools:invoke", "payments:read"],
    });
  });
});
