import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnterpriseError } from "../errors.ts";
import type { RoleRecord } from "../records.ts";
import { RoleGraph } from "./role-graph.ts";

function role(name: string, permissions: string[], inherits: string[] = [], tenantId = "acme"): RoleRecord {
  return { tenantId, name, description: "", permissions, inherits, builtIn: false, createdAt: 0 };
}

const graph = RoleGraph.build([
  role("viewer", ["contracts:read"]),
  role("analyst", ["reports:run"], ["viewer"]),
  role("finance", ["payments:approve"], ["analyst", "ghost"]),
  role("broken", ["not a permission", "tools"]),
]);

void describe("RoleGraph", () => {
  void it("unions a role's own permissions with every inherited one, transitively", () => {
    assert.deepEqual(graph.effectivePermissions(["finance"]), ["contracts:read", "payments:approve", "reports:run"]);
    assert.deepEqual(graph.effectivePermissions(["viewer"]), ["contracts:read"]);
    assert.deepEqual(graph.effectivePermissions(["viewer", "analyst"]), ["contracts:read", "reports:run"]);
  });

  void it("memoises each role's permissions", () => {
    assert.equal(graph.effectivePermissions(["finance"]), graph.effectivePermissions(["finance"]));
    assert.ok(Object.isFrozen(graph.effectivePermissions(["finance"])));
  });

  void it("grants nothing for unknown roles, unknown parents or malformed permissions", () => {
    assert.deepEqual(graph.effectivePermissions(["ghost"]), []);
    assert.deepEqual(graph.effectivePermissions(["ghost", "viewer"]), ["contracts:read"]);
    assert.deepEqual(graph.effectivePermissions([]), []);
    assert.deepEqual(graph.effectivePermissions(["broken"]), []);
    assert.deepEqual(graph.effectiveRoles(["finance"]), ["analyst", "finance", "viewer"]);
  });

  void it("tells which roles a role amounts to", () => {
    assert.equal(graph.holdsRole(["finance"], "viewer"), true);
    assert.equal(graph.holdsRole(["viewer"], "finance"), false);
    assert.equal(graph.holdsRole(["ghost"], "ghost"), false);
    assert.equal(graph.has("ghost"), false);
    assert.equal(graph.has("finance"), true);
    assert.equal(graph.get("analyst")?.name, "analyst");
    assert.deepEqual(graph.names(), ["analyst", "broken", "finance", "viewer"]);
  });

  void it("rejects an inheritance cycle, naming it", () => {
    assert.throws(
      () => RoleGraph.build([role("a", [], ["b"]), role("b", [], ["c"]), role("c", [], ["a"]), role("d", [], ["a"])]),
      (error: unknown) => error instanceof EnterpriseError && error.code === "INVALID_ARGUMENT" && error.details["cycle"] === "a -> b -> c -> a",
    );
  });

  void it("rejects a role that inherits itself", () => {
    assert.throws(
      () => RoleGraph.build([role("loop", ["tools:invoke"], ["loop"])]),
      (error: unknown) => error instanceof EnterpriseError && error.details["cycle"] === "loop -> loop",
    );
  });

  void it("accepts a diamond (shared ancestors are not cycles)", () => {
    const diamond = RoleGraph.build([
      role("base", ["a:read"]),
      role("left", ["b:read"], ["base"]),
      role("right", ["c:read"], ["base"]),
      role("top", [], ["left", "right"]),
    ]);
    assert.deepEqual(diamond.effectivePermissions(["top"]), ["a:read", "b:read", "c:read"]);
  });

  void it("rejects duplicate names and roles of several tenants", () => {
    assert.throws(() => RoleGraph.build([role("a", []), role("a", [])]), (error: unknown) => error instanceof EnterpriseError && error.details["role"] === "a");
    assert.throws(() => RoleGraph.build([role("a", []), role("b", [], [], "other")]), (error: unknown) => error instanceof EnterpriseError && error.code === "INVALID_ARGUMENT");
  });

  void it("builds an empty graph", () => {
    assert.deepEqual(RoleGraph.build([]).effectivePermissions(["agent"]), []);
  });
});

void describe("RoleGraph group bindings", () => {
  const binding = (group: string, roleName: string, tenantId = "acme") => ({ tenantId, group, role: roleName, createdAt: 0, createdBy: "usr_admin" });
  const bound = RoleGraph.build(
    [role("viewer", ["contracts:read"]), role("analyst", ["reports:run"], ["viewer"]), role("agent", ["tools:invoke"])],
    [binding("Finance", "analyst"), binding("Finance", "agent"), binding("Finance", "agent"), binding("Ops", "agent"), binding("Ghosts", "ghost")],
  );

  void it("gives the roles bound to any of a principal's groups, sorted and unique", () => {
    assert.deepEqual(bound.rolesOfGroups(["Finance"]), ["agent", "analyst"]);
    assert.deepEqual(bound.rolesOfGroups(["Ops", "Finance"]), ["agent", "analyst"]);
    assert.deepEqual(bound.rolesOfGroups(["Ops"]), ["agent"]);
    assert.deepEqual(bound.rolesOfGroups([]), []);
  });

  void it("matches group names exactly (case-sensitive) and ignores bindings to unknown roles", () => {
    assert.deepEqual(bound.rolesOfGroups(["finance", "FINANCE", "Finance "]), []);
    assert.deepEqual(bound.rolesOfGroups(["Ghosts"]), []);
    assert.deepEqual(bound.groupsOf("ghost"), []);
  });

  void it("lists the groups of a role, and group-bound roles inherit like any other", () => {
    assert.deepEqual(bound.groupsOf("agent"), ["Finance", "Ops"]);
    assert.deepEqual(bound.groupsOf("viewer"), []);
    assert.deepEqual(bound.effectivePermissions(bound.rolesOfGroups(["Finance"])), ["contracts:read", "reports:run", "tools:invoke"]);
  });

  void it("refuses bindings of another tenant", () => {
    assert.throws(() => RoleGraph.build([role("agent", [])], [binding("Ops", "agent", "other")]), (error: unknown) => error instanceof EnterpriseError && error.code === "INVALID_ARGUMENT");
    assert.deepEqual(RoleGraph.build([], [binding("Ops", "agent")]).rolesOfGroups(["Ops"]), []);
  });
});
