import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hasPermission, isValidRoleName, isWellFormedPermission, permissionMatches } from "./permissions.ts";

void describe("permissionMatches", () => {
  void it("matches equal permissions exactly and case-sensitively", () => {
    assert.equal(permissionMatches("tools:invoke", "tools:invoke"), true);
    assert.equal(permissionMatches("tools:invoke", "tools:list"), false);
    assert.equal(permissionMatches("tools:invoke", "audit:invoke"), false);
    assert.equal(permissionMatches("Tools:invoke", "tools:invoke"), false);
  });

  void it("lets a granted * cover a whole segment", () => {
    assert.equal(permissionMatches("tools:*", "tools:invoke"), true);
    assert.equal(permissionMatches("tools:*", "audit:read"), false);
    assert.equal(permissionMatches("*:read", "audit:read"), true);
    assert.equal(permissionMatches("*:read", "audit:verify"), false);
    assert.equal(permissionMatches("*:*", "audit:verify"), true);
    assert.equal(permissionMatches("*", "audit:verify"), true);
    assert.equal(permissionMatches("*", "*"), true);
  });

  void it("never lets a narrow grant satisfy a broad requirement", () => {
    assert.equal(permissionMatches("tools:invoke", "tools:*"), false);
    assert.equal(permissionMatches("tools:*", "*"), false);
    assert.equal(permissionMatches("tools:*", "tools:*"), true);
  });

  void it("treats malformed permissions as granting and requiring nothing", () => {
    for (const malformed of ["", "tools", "tools:", ":invoke", "tools:invoke:x", "to*:invoke", "tools:in*", "**", " tools:invoke"]) {
      assert.equal(isWellFormedPermission(malformed), false, malformed);
      assert.equal(permissionMatches(malformed, "tools:invoke"), false, malformed);
      assert.equal(permissionMatches("*", malformed), false, malformed);
    }
  });
});

void describe("hasPermission", () => {
  void it("is true when any grant covers the requirement", () => {
    assert.equal(hasPermission(["audit:read", "tools:*"], "tools:invoke"), true);
    assert.equal(hasPermission(["audit:read"], "tools:invoke"), false);
    assert.equal(hasPermission([], "tools:invoke"), false);
  });
});

void describe("isValidRoleName", () => {
  void it("accepts lower-case names of up to 64 characters", () => {
    for (const name of ["agent", "tenant-admin", "data_analyst", "team.finance", "a".repeat(64)]) assert.equal(isValidRoleName(name), true, name);
    for (const name of ["", "Agent", "1agent", "has space", "a".repeat(65)]) assert.equal(isValidRoleName(name), false, name);
  });
});
