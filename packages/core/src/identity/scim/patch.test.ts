import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyPatch, parsePatchRequest } from "./patch.ts";
import type { JsonObject, PatchOperation } from "./patch.ts";
import { ScimError } from "./scim-error.ts";
import { ENTERPRISE_USER_SCHEMA, groupResourceType, PATCH_OP_SCHEMA, USER_SCHEMA, userResourceType } from "./schema.ts";

function user(): JsonObject {
  return {
    schemas: [USER_SCHEMA],
    id: "usr_1",
    userName: "ada@example.com",
    name: { formatted: "Ada Lovelace", givenName: "Ada", familyName: "Lovelace" },
    displayName: "Ada Lovelace",
    active: true,
    emails: [{ value: "ada@example.com", type: "work", primary: true }],
    meta: { resourceType: "User", version: 'W/"0"' },
  };
}

function group(members: string[] = ["usr_1", "usr_2"]): JsonObject {
  return { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], id: "grp_1", displayName: "Engineering", members: members.map((value) => ({ value, type: "User" })) };
}

function patchBody(...operations: unknown[]): unknown {
  return { schemas: [PATCH_OP_SCHEMA], Operations: operations };
}

function patchUser(...operations: unknown[]): JsonObject {
  return applyPatch(userResourceType, user(), parsePatchRequest(patchBody(...operations)));
}

function patchGroup(resource: JsonObject, ...operations: unknown[]): JsonObject {
  return applyPatch(groupResourceType, resource, parsePatchRequest(patchBody(...operations)));
}

/** Asserts that `work` throws a ScimError with this status and scimType. */
function assertScimError(work: () => unknown, status: number, scimType: string): void {
  assert.throws(work, (err: unknown) => {
    assert.ok(err instanceof ScimError, `expected a ScimError, got ${String(err)}`);
    assert.equal(err.status, status);
    assert.equal(err.scimType, scimType);
    return true;
  });
}

function memberValues(resource: JsonObject): unknown[] {
  const members = resource["members"];
  return Array.isArray(members) ? members.map((member: unknown) => (member as JsonObject)["value"]) : [];
}

describe("parsePatchRequest", () => {
  it("accepts op names in any case and keeps path and value", () => {
    const operations = parsePatchRequest(patchBody({ op: "Replace", path: "active", value: "False" }, { OP: "ADD", value: { displayName: "x" } }, { op: "remove", path: " title " }));
    assert.deepEqual(operations, [
      { op: "replace", path: "active", value: "False" },
      { op: "add", value: { displayName: "x" } },
      { op: "remove", path: "title" },
    ] satisfies PatchOperation[]);
  });

  it("refuses a body that is not a PatchOp", () => {
    assertScimError(() => parsePatchRequest({ Operations: [{ op: "add", value: {} }] }), 400, "invalidSyntax");
    assertScimError(() => parsePatchRequest([]), 400, "invalidSyntax");
    assertScimError(() => parsePatchRequest(patchBody()), 400, "invalidSyntax");
    assertScimError(() => parsePatchRequest(patchBody({ op: "move", path: "x" })), 400, "invalidSyntax");
    assertScimError(() => parsePatchRequest(patchBody({ op: "add", path: 7, value: 1 })), 400, "invalidPath");
  });

  it("refuses more than 1000 operations", () => {
    const operations = Array.from({ length: 1001 }, () => ({ op: "replace", path: "displayName", value: "x" }));
    assertScimError(() => parsePatchRequest(patchBody(...operations)), 400, "invalidSyntax");
  });
});

describe("applyPatch without a path", () => {
  it("Okta: replace with {active:false} deactivates", () => {
    const patched = patchUser({ op: "replace", value: { active: false } });
    assert.equal(patched["active"], false);
    assert.equal(patched["userName"], "ada@example.com");
  });

  it("Entra: dotted and URN-qualified keys are paths, boolean strings are booleans", () => {
    const patched = patchUser({
      op: "Replace",
      value: { "name.givenName": "Augusta", active: "False", [`${ENTERPRISE_USER_SCHEMA}:department`]: "Analytical Engines" },
    });
    assert.deepEqual(patched["name"], { formatted: "Ada Lovelace", givenName: "Augusta", familyName: "Lovelace" });
    assert.equal(patched["active"], false);
    assert.deepEqual(patched[ENTERPRISE_USER_SCHEMA], { department: "Analytical Engines" });
  });

  it("merges a complex attribute's sub-attributes and keys in any case", () => {
    const patched = patchUser({ op: "add", value: { NAME: { familyname: "King" }, DisplayName: "Ada King" } });
    assert.deepEqual(patched["name"], { formatted: "Ada Lovelace", givenName: "Ada", familyName: "King" });
    assert.equal(patched["displayName"], "Ada King");
  });

  it("skips read-only and unknown keys (Okta sends id in group replaces)", () => {
    const patched = patchGroup(group(), { op: "replace", value: { id: "grp_other", displayName: "Platform", meta: {}, nickName: "x" } });
    assert.equal(patched["id"], "grp_1");
    assert.equal(patched["displayName"], "Platform");
    assert.equal(patched["nickName"], undefined);
  });

  it("remove without a path fails noTarget", () => {
    assertScimError(() => patchUser({ op: "remove" }), 400, "noTarget");
  });

  it("a value that is not an object fails invalidValue", () => {
    assertScimError(() => patchUser({ op: "replace", value: "x" }), 400, "invalidValue");
  });
});

describe("applyPatch with a path", () => {
  it("Entra: replace active with the string False", () => {
    assert.equal(patchUser({ op: "Replace", path: "active", value: "False" })["active"], false);
    assert.equal(patchUser({ op: "replace", path: "ACTIVE", value: "true" })["active"], true);
  });

  it("refuses a non-boolean active", () => {
    assertScimError(() => patchUser({ op: "replace", path: "active", value: "no" }), 400, "invalidValue");
  });

  it("replaces and removes a sub-attribute", () => {
    assert.deepEqual(patchUser({ op: "replace", path: "name.givenName", value: "Augusta" })["name"], { formatted: "Ada Lovelace", givenName: "Augusta", familyName: "Lovelace" });
    assert.deepEqual(patchUser({ op: "remove", path: "name.familyName" })["name"], { formatted: "Ada Lovelace", givenName: "Ada" });
  });

  it("addresses extension attributes by URN, and the extension as a whole", () => {
    const one = patchUser({ op: "add", path: `${ENTERPRISE_USER_SCHEMA}:costCenter`, value: "CC-7" });
    assert.deepEqual(one[ENTERPRISE_USER_SCHEMA], { costCenter: "CC-7" });
    const whole = patchUser({ op: "add", path: ENTERPRISE_USER_SCHEMA, value: { department: "R&D", organization: "Acme" } });
    assert.deepEqual(whole[ENTERPRISE_USER_SCHEMA], { department: "R&D", organization: "Acme" });
    const removed = applyPatch(userResourceType, whole, parsePatchRequest(patchBody({ op: "remove", path: `${ENTERPRISE_USER_SCHEMA}:department` })));
    assert.deepEqual(removed[ENTERPRISE_USER_SCHEMA], { organization: "Acme" });
  });

  it("a core-URN-qualified path names the core attribute", () => {
    assert.equal(patchUser({ op: "replace", path: `${USER_SCHEMA}:displayName`, value: "Countess" })["displayName"], "Countess");
  });

  it("a null value unassigns", () => {
    assert.equal(patchUser({ op: "replace", path: "displayName", value: null })["displayName"], undefined);
  });

  it("an explicit path to a read-only attribute fails mutability", () => {
    assertScimError(() => patchUser({ op: "replace", path: "id", value: "usr_2" }), 400, "mutability");
    assertScimError(() => patchUser({ op: "add", path: "groups", value: [{ value: "grp_1" }] }), 400, "mutability");
  });

  it("ignores attributes the Host does not store", () => {
    assert.deepEqual(patchUser({ op: "replace", path: "title", value: "Countess" }), user());
    assert.deepEqual(patchUser({ op: "add", path: 'addresses[type eq "work"].formatted', value: "London" }), user());
  });

  it("refuses malformed paths and filters", () => {
    assertScimError(() => patchUser({ op: "replace", path: "name..givenName", value: "x" }), 400, "invalidPath");
    assertScimError(() => patchUser({ op: "replace", path: 'emails[type eq "work"', value: "x" }), 400, "invalidPath");
    assertScimError(() => patchUser({ op: "replace", path: 'emails[type zz "work"].value', value: "x" }), 400, "invalidFilter");
    assertScimError(() => patchUser({ op: "replace", path: 'displayName[value eq "x"]', value: "x" }), 400, "invalidPath");
    assertScimError(() => patchUser({ op: "replace", path: "emails.value", value: "x" }), 400, "invalidPath");
  });
});

describe("applyPatch on multi-valued attributes", () => {
  it("replace through a value filter with a sub-attribute changes the matching element", () => {
    const patched = patchUser({ op: "replace", path: 'emails[type eq "work"].value', value: "ada@lovelace.example" });
    assert.deepEqual(patched["emails"], [{ value: "ada@lovelace.example", type: "work", primary: true }]);
  });

  it("filters compare case-insensitively unless the attribute is case-exact", () => {
    const patched = patchUser({ op: "replace", path: 'emails[TYPE eq "WORK"].value', value: "x@example.com" });
    assert.deepEqual(patched["emails"], [{ value: "x@example.com", type: "work", primary: true }]);
    assertScimError(() => patchGroup(group(), { op: "replace", path: 'members[value eq "USR_1"]', value: { value: "usr_3" } }), 400, "noTarget");
  });

  it("Entra: add through an equality filter creates the element it describes", () => {
    const noEmail = { ...user() };
    delete noEmail["emails"];
    const patched = applyPatch(userResourceType, noEmail, parsePatchRequest(patchBody({ op: "Add", path: 'emails[type eq "work"].value', value: "ada@example.org" })));
    assert.deepEqual(patched["emails"], [{ type: "work", value: "ada@example.org" }]);
    const replaced = applyPatch(userResourceType, noEmail, parsePatchRequest(patchBody({ op: "Replace", path: 'emails[type eq "home"].value', value: "home@example.org" })));
    assert.deepEqual(replaced["emails"], [{ type: "home", value: "home@example.org" }]);
  });

  it("a filter that cannot describe an element and matches nothing fails noTarget", () => {
    assertScimError(() => patchUser({ op: "replace", path: 'emails[value co "nobody"].type', value: "home" }), 400, "noTarget");
    assertScimError(() => patchGroup(group(), { op: "replace", path: 'members[value eq "usr_9"]', value: { value: "usr_3" } }), 400, "noTarget");
  });

  it("add appends members and skips duplicates", () => {
    const patched = patchGroup(group(), { op: "add", path: "members", value: [{ value: "usr_2" }, { value: "usr_3", display: "Grace" }] });
    assert.deepEqual(memberValues(patched), ["usr_1", "usr_2", "usr_3"]);
  });

  it("add accepts a single value instead of an array", () => {
    assert.deepEqual(memberValues(patchGroup(group(), { op: "add", path: "members", value: { value: "usr_3" } })), ["usr_1", "usr_2", "usr_3"]);
  });

  it("Okta: remove with a members[value eq] filter", () => {
    assert.deepEqual(memberValues(patchGroup(group(), { op: "remove", path: 'members[value eq "usr_1"]' })), ["usr_2"]);
  });

  it("removing an absent member is a no-op, so retries are idempotent", () => {
    assert.deepEqual(memberValues(patchGroup(group(), { op: "remove", path: 'members[value eq "usr_9"]' })), ["usr_1", "usr_2"]);
  });

  it("Entra: remove of members with a value list", () => {
    const patched = patchGroup(group(["usr_1", "usr_2", "usr_3"]), { op: "Remove", path: "members", value: [{ value: "usr_1" }, { value: "usr_3" }] });
    assert.deepEqual(memberValues(patched), ["usr_2"]);
  });

  it("remove of members without a value removes them all", () => {
    assert.equal(patchGroup(group(), { op: "remove", path: "members" })["members"], undefined);
  });

  it("replace of members without a filter replaces the whole list", () => {
    assert.deepEqual(memberValues(patchGroup(group(), { op: "replace", path: "members", value: [{ value: "usr_7" }] })), ["usr_7"]);
  });

  it("filters combine with and/or", () => {
    const patched = patchGroup(group(["usr_1", "usr_2", "usr_3"]), { op: "remove", path: 'members[value eq "usr_1" or value eq "usr_3"]' });
    assert.deepEqual(memberValues(patched), ["usr_2"]);
  });

  it("a quoted ] inside a filter does not end it", () => {
    const patched = patchUser({ op: "replace", path: 'emails[value eq "odd]@example.com"].type', value: "home" });
    assert.deepEqual(patched["emails"], [{ value: "ada@example.com", type: "work", primary: true }, { value: "odd]@example.com", type: "home" }]);
  });

  it("keeps only one primary value", () => {
    const patched = patchUser({ op: "add", path: "emails", value: [{ value: "new@example.com", type: "home", primary: true }] });
    assert.deepEqual(patched["emails"], [
      { value: "ada@example.com", type: "work", primary: false },
      { value: "new@example.com", type: "home", primary: true },
    ]);
  });

  it("applies operations in order and leaves the input untouched", () => {
    const original = group();
    const patched = patchGroup(original, { op: "add", path: "members", value: [{ value: "usr_3" }] }, { op: "remove", path: 'members[value eq "usr_1"]' }, { op: "replace", path: "displayName", value: "Platform" });
    assert.deepEqual(memberValues(patched), ["usr_2", "usr_3"]);
    assert.equal(patched["displayName"], "Platform");
    assert.deepEqual(original, group());
  });

  it("refuses members that are not objects, and over-long strings", () => {
    assertScimError(() => patchGroup(group(), { op: "add", path: "members", value: ["usr_3"] }), 400, "invalidValue");
    assertScimError(() => patchUser({ op: "replace", path: "displayName", value: "x".repeat(2049) }), 400, "invalidValue");
    assertScimError(() => patchUser({ op: "replace", path: "displayName", value: 7 }), 400, "invalidValue");
  });
});
