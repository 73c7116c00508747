import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnterpriseError } from "../errors.ts";
import type { SecurityContext } from "../identity/security-context.ts";
import type { RoleRecord } from "../records.ts";
import { builtInRoles } from "./built-in-roles.ts";
import { assertGroupName, assertMayGrantRole, assertWithinCallerGrants, defineRole, expandedRoles, explainPermission, parseSubject } from "./role-admin.ts";
import type { RoleDefinitionInput } from "./role-admin.ts";
import { RoleGraph } from "./role-graph.ts";

function role(name: string, permissions: string[], inherits: string[] = []): RoleRecord {
  return { tenantId: "acme", name, description: "", permissions, inherits, builtIn: false, createdAt: 0 };
}

const existing: RoleRecord[] = [...builtInRoles("acme", 0), role("finance", ["payments:read"]), role("finance-lead", ["payments:approve"], ["finance"])];

function define(input: Partial<RoleDefinitionInput> & { name: string }, roles: readonly RoleRecord[] = existing) {
  return defineRole(roles, [], { description: "", permissions: [], inherits: [], ...input }, { tenantId: "acme", now: 42 });
}

function caller(permissions: string[], roles: string[] = []): SecurityContext {
  return {
    principalId: "usr_caller",
    tenantId: "acme",
    principalType: "USER",
    displayName: "Caller",
    roles,
    permissions,
    clearance: "internal",
    attributes: {},
    claims: {},
    tokenId: "",
    tokenExpiresAt: 0,
  };
}

/** An `assert.throws` validator for an EnterpriseError with `code` and these details. */
function refused(code: string, details: Record<string, string> = {}) {
  return (error: unknown): true => {
    assert.ok(error instanceof EnterpriseError, `expected EnterpriseError ${code}, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const [key, value] of Object.entries(details)) assert.equal(error.details[key], value, key);
    return true;
  };
}

void describe("defineRole", () => {
  void it("returns the record to store and a graph where it inherits transitively (three levels)", () => {
    const { record, graph } = define({ name: "treasurer", description: "Moves money", permissions: ["payments:send", "payments:send"], inherits: ["finance-lead"] });
    assert.deepEqual(record, { tenantId: "acme", name: "treasurer", description: "Moves money", permissions: ["payments:send"], inherits: ["finance-lead"], builtIn: false, createdAt: 42 });
    assert.deepEqual(graph.effectivePermissions(["treasurer"]), ["payments:approve", "payments:read", "payments:send"]);
    assert.deepEqual(graph.effectiveRoles(["treasurer"]), ["finance", "finance-lead", "treasurer"]);
  });

  void it("accepts wildcard segments and the lone *", () => {
    assert.deepEqual(define({ name: "payments-admin", permissions: ["payments:*", "*:read", "*"] }).record.permissions, ["*", "*:read", "payments:*"]);
  });

  void it("refuses malformed permissions, naming the first", () => {
    for (const permission of ["payments", "Payments:read", "pay*:read", "payments:re*", "a:b:c", ""]) {
      assert.throws(() => define({ name: "bad", permissions: ["ok:read", permission] }), refused("INVALID_ARGUMENT", { field: "role.permissions", permission }), permission);
    }
  });

  void it("refuses malformed and reserved names and the built-in flag", () => {
    for (const name of ["", "Finance", "1st", "has space", "a".repeat(65)]) assert.throws(() => define({ name, permissions: ["a:b"] }), refused("INVALID_ARGUMENT", { field: "role.name" }), name);
    assert.throws(() => define({ name: "platform-admin", permissions: ["*"] }), refused("INVALID_ARGUMENT", { field: "role.name", role: "platform-admin" }));
    assert.throws(() => define({ name: "custom", permissions: ["a:b"], builtIn: true }), refused("INVALID_ARGUMENT", { field: "role.built_in" }));
    assert.throws(() => define({ name: "long", description: "x".repeat(1001) }), refused("INVALID_ARGUMENT", { field: "role.description" }));
  });

  void it("never redefines a role: built-in ones say so", () => {
    assert.throws(() => define({ name: "agent", permissions: ["*"] }), refused("ALREADY_EXISTS", { role: "agent", reason: "built_in" }));
    assert.throws(() => define({ name: "finance", permissions: ["payments:read"] }), (error: unknown) => refused("ALREADY_EXISTS", { role: "finance" })(error) && !("reason" in (error as EnterpriseError).details));
  });

  void it("refuses an unknown parent", () => {
    assert.throws(() => define({ name: "auditor-plus", inherits: ["auditor", "ghost"] }), refused("INVALID_ARGUMENT", { field: "role.inherits", unknown_role: "ghost" }));
  });

  void it("refuses inheritance cycles, naming them", () => {
    assert.throws(() => define({ name: "loop", permissions: ["a:b"], inherits: ["loop"] }), refused("INVALID_ARGUMENT", { field: "inherits", cycle: "loop -> loop" }));
    // A stored role that names a parent not yet defined closes a cycle when that parent is created.
    const dangling = [...existing, role("alpha", ["a:read"], ["omega"]), role("beta", ["b:read"], ["alpha"])];
    assert.throws(() => define({ name: "omega", permissions: ["o:read"], inherits: ["beta"] }, dangling), refused("INVALID_ARGUMENT", { cycle: "alpha -> omega -> beta -> alpha" }));
  });
});

void describe("no escalation", () => {
  const graph = RoleGraph.build(existing);

  void it("lets a caller grant only what it holds, wildcards honoured", () => {
    assertWithinCallerGrants(caller(["payments:*"]), ["payments:read", "payments:approve"], "finance-lead");
    assertWithinCallerGrants(caller(["*"]), ["anything:at-all", "*"], "any");
    assert.throws(() => assertWithinCallerGrants(caller(["payments:read"]), ["payments:read", "payments:approve"], "finance-lead"), refused("AUTHORIZATION_DENIED", { reason: "role_beyond_creator", permission: "payments:approve" }));
    // A narrow grant never covers a broad permission.
    assert.throws(() => assertWithinCallerGrants(caller(["payments:read", "payments:approve"]), ["payments:*"], "payments-admin"), refused("AUTHORIZATION_DENIED", { permission: "payments:*" }));
  });

  void it("checks a role's inherited permissions too", () => {
    assertMayGrantRole(caller(["payments:read", "payments:approve"]), graph, "finance-lead");
    assert.throws(() => assertMayGrantRole(caller(["payments:approve"]), graph, "finance-lead"), refused("AUTHORIZATION_DENIED", { role: "finance-lead", permission: "payments:read" }));
    assert.throws(() => assertMayGrantRole(caller(["roles:assign"]), graph, "tenant-admin"), refused("AUTHORIZATION_DENIED", { permission: "*" }));
  });

  void it("refuses roles the tenant does not define", () => {
    assert.throws(() => assertMayGrantRole(caller(["*"]), graph, "ghost"), refused("INVALID_ARGUMENT", { unknown_role: "ghost" }));
    assert.throws(() => assertMayGrantRole(caller(["*"]), graph, "platform-admin"), refused("INVALID_ARGUMENT", { unknown_role: "platform-admin" }));
  });
});

void describe("explainPermission", () => {
  const graph = RoleGraph.build([...existing, role("payments-admin", ["payments:*"])], [{ tenantId: "acme", group: "Treasury", role: "payments-admin", createdAt: 0, createdBy: "usr_admin" }]);

  void it("names the role that declares the permission, even when held through inheritance", () => {
    assert.deepEqual(explainPermission(graph, ["finance-lead"], [], "payments:read"), { granted: true, grantedBy: ["finance"], reason: "granted by role finance" });
  });

  void it("honours wildcards and lists every granting role and a direct grant", () => {
    assert.deepEqual(explainPermission(graph, ["finance", "payments-admin"], ["payments:read"], "payments:read"), {
      granted: true,
      grantedBy: ["finance", "payments-admin", "direct"],
      reason: "granted by roles finance, payments-admin; granted directly",
    });
    assert.deepEqual(explainPermission(graph, graph.rolesOfGroups(["Treasury"]), [], "payments:refund").grantedBy, ["payments-admin"]);
    assert.deepEqual(explainPermission(graph, ["tenant-admin"], [], "anything:goes").grantedBy, ["tenant-admin"]);
    assert.deepEqual(explainPermission(graph, [], ["tools:*"], "tools:invoke"), { granted: true, grantedBy: ["direct"], reason: "granted directly" });
  });

  void it("denies by default: no roles, unknown roles, a narrow grant for a broad permission", () => {
    const denied = { granted: false, grantedBy: [], reason: "no role or direct grant covers payments:approve (deny by default)" };
    assert.deepEqual(explainPermission(graph, [], [], "payments:approve"), denied);
    assert.deepEqual(explainPermission(graph, ["ghost"], [], "payments:approve"), denied);
    assert.deepEqual(explainPermission(graph, ["finance"], [], "payments:approve"), denied);
    assert.equal(explainPermission(graph, ["finance"], [], "payments:*").granted, false);
  });

  void it("expands roles with inheritance, keeping bound names the graph does not define", () => {
    assert.deepEqual(expandedRoles(graph, ["finance-lead", "platform-admin"]), ["finance", "finance-lead", "platform-admin"]);
  });
});

void describe("subjects", () => {
  void it("reads the caller, another principal or a group", () => {
    assert.deepEqual(parseSubject("", "usr_me"), { kind: "principal", principalId: "usr_me", self: true });
    assert.deepEqual(parseSubject("usr_me", "usr_me"), { kind: "principal", principalId: "usr_me", self: true });
    assert.deepEqual(parseSubject("usr_you", "usr_me"), { kind: "principal", principalId: "usr_you", self: false });
    assert.deepEqual(parseSubject("group:CN=Finance,OU=Groups", "usr_me"), { kind: "group", group: "CN=Finance,OU=Groups" });
  });

  void it("refuses empty, oversized or control-character group names", () => {
    for (const group of ["", "x".repeat(513), "a\nb", "a\u0000b"]) assert.throws(() => assertGroupName(group), refused("INVALID_ARGUMENT", { field: "group" }));
    assert.throws(() => parseSubject("group:", "usr_me"), refused("INVALID_ARGUMENT"));
    assertGroupName("x".repeat(512));
  });
});
