import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GroupRecord, PrincipalRecord } from "../../records.ts";
import { compileFilter, findIndexedEquality, parseFilter } from "./filter.ts";
import { parseListQuery, project, sortResources } from "./list-query.ts";
import { fromScimGroup, fromScimUser, readUserFields, toScimGroup, toScimUser } from "./resources.ts";
import { ScimError } from "./scim-error.ts";
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, groupResourceType, userResourceType } from "./schema.ts";

const baseUrl = "https://aesp.example.com/scim/v2";

function principal(overrides: Partial<PrincipalRecord> = {}): PrincipalRecord {
  return {
    tenantId: "acme",
    principalId: "usr_1",
    type: "USER",
    displayName: "Ada Lovelace",
    description: "",
    roles: [],
    permissions: [],
    clearance: "internal",
    status: "ACTIVE",
    attributes: { email: "ada@example.com", given_name: "Ada", family_name: "Lovelace", business_unit: "R&D", cost_center: "CC-7" },
    createdAt: Date.UTC(2026, 0, 1),
    createdBy: "usr_admin",
    expiresAt: null,
    userName: "ada@example.com",
    providerId: "scim",
    externalSubject: "00u1",
    groups: [],
    syncedRoles: [],
    syncedAt: Date.UTC(2026, 0, 2),
    tokensValidAfter: 0,
    revision: 4,
    ...overrides,
  };
}

function assertScimError(work: () => unknown, status: number, scimType: string): void {
  assert.throws(work, (err: unknown) => {
    assert.ok(err instanceof ScimError, `expected a ScimError, got ${String(err)}`);
    assert.equal(err.status, status);
    assert.equal(err.scimType, scimType);
    return true;
  });
}

describe("toScimUser", () => {
  it("maps a principal to a User with the enterprise extension, meta and groups", () => {
    const user = toScimUser(principal(), { baseUrl, groups: [{ groupId: "grp_1", displayName: "Engineering" }] });
    assert.deepEqual(user, {
      schemas: [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
      id: "usr_1",
      externalId: "00u1",
      userName: "ada@example.com",
      name: { formatted: "Ada Lovelace", givenName: "Ada", familyName: "Lovelace" },
      displayName: "Ada Lovelace",
      active: true,
      emails: [{ value: "ada@example.com", type: "work", primary: true }],
      groups: [{ value: "grp_1", $ref: `${baseUrl}/Groups/grp_1`, display: "Engineering", type: "direct" }],
      [ENTERPRISE_USER_SCHEMA]: { department: "R&D", costCenter: "CC-7" },
      meta: {
        resourceType: "User",
        created: "2026-01-01T00:00:00.000Z",
        lastModified: "2026-01-02T00:00:00.000Z",
        location: `${baseUrl}/Users/usr_1`,
        version: 'W/"4"',
      },
    });
  });

  it("a disabled principal is inactive; no extension or externalId when there is none", () => {
    const user = toScimUser(principal({ status: "DISABLED", attributes: {}, externalSubject: "" }), { baseUrl });
    assert.equal(user["active"], false);
    assert.deepEqual(user["schemas"], [USER_SCHEMA]);
    assert.equal(user["externalId"], undefined);
    assert.equal(user["emails"], undefined);
    assert.equal(user[ENTERPRISE_USER_SCHEMA], undefined);
  });

  it("round-trips through readUserFields", () => {
    const fields = readUserFields(toScimUser(principal(), { baseUrl }));
    assert.deepEqual(fields, {
      userName: "ada@example.com",
      externalId: "00u1",
      displayName: "Ada Lovelace",
      active: true,
      attributes: { email: "ada@example.com", given_name: "Ada", family_name: "Lovelace", business_unit: "R&D", cost_center: "CC-7" },
    });
  });
});

describe("fromScimUser", () => {
  it("reads an Okta-style user", () => {
    const fields = fromScimUser({
      schemas: [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
      userName: "grace@example.com",
      name: { givenName: "Grace", familyName: "Hopper" },
      emails: [{ value: "grace.home@example.com", type: "home" }, { primary: true, value: "grace@example.com", type: "work" }],
      active: true,
      password: "never-stored",
      [ENTERPRISE_USER_SCHEMA]: { department: "Navy", organization: "USN", costCenter: "42" },
    });
    assert.deepEqual(fields, {
      userName: "grace@example.com",
      externalId: "",
      displayName: "Grace Hopper",
      active: true,
      attributes: { email: "grace@example.com", given_name: "Grace", family_name: "Hopper", business_unit: "Navy", organization: "USN", cost_center: "42" },
    });
  });

  it("prefers displayName, then name.formatted; reads keys in any case; Entra's boolean strings", () => {
    assert.equal(fromScimUser({ schemas: [USER_SCHEMA], USERNAME: "a", displayName: "Shown", name: { formatted: "Formal" } }).displayName, "Shown");
    assert.equal(fromScimUser({ schemas: [USER_SCHEMA], userName: "a", name: { Formatted: "Formal" } }).displayName, "Formal");
    assert.equal(fromScimUser({ schemas: [USER_SCHEMA], userName: "a" }).displayName, "a");
    assert.equal(fromScimUser({ schemas: [USER_SCHEMA], userName: "a", active: "False" }).active, false);
    assert.equal(fromScimUser({ schemas: [USER_SCHEMA], userName: "a" }).active, null, "not given: the service decides");
  });

  it("takes the first email when none is primary", () => {
    assert.equal(fromScimUser({ schemas: [USER_SCHEMA], userName: "a", emails: [{ value: "first@example.com" }, { value: "second@example.com" }] }).attributes["email"], "first@example.com");
  });

  it("refuses bodies that are not users, and invalid values", () => {
    assertScimError(() => fromScimUser({ userName: "a" }), 400, "invalidSyntax");
    assertScimError(() => fromScimUser({ schemas: [GROUP_SCHEMA], userName: "a" }), 400, "invalidSyntax");
    assertScimError(() => fromScimUser("a"), 400, "invalidSyntax");
    assertScimError(() => fromScimUser({ schemas: [USER_SCHEMA] }), 400, "invalidValue");
    assertScimError(() => fromScimUser({ schemas: [USER_SCHEMA], userName: "  " }), 400, "invalidValue");
    assertScimError(() => fromScimUser({ schemas: [USER_SCHEMA], userName: "x".repeat(257) }), 400, "invalidValue");
    assertScimError(() => fromScimUser({ schemas: [USER_SCHEMA], userName: "a\u0000b" }), 400, "invalidValue");
    assertScimError(() => fromScimUser({ schemas: [USER_SCHEMA], userName: 7 }), 400, "invalidValue");
    assertScimError(() => fromScimUser({ schemas: [USER_SCHEMA], userName: "a", active: "yes" }), 400, "invalidValue");
    assertScimError(() => fromScimUser({ schemas: [USER_SCHEMA], userName: "a", emails: "a@b" }), 400, "invalidValue");
    assertScimError(() => fromScimUser({ schemas: [USER_SCHEMA], userName: "a", [ENTERPRISE_USER_SCHEMA]: { department: "x".repeat(513) } }), 400, "invalidValue");
  });
});

describe("groups", () => {
  const record: GroupRecord = { tenantId: "acme", groupId: "grp_1", displayName: "Engineering", externalId: "okta-1", members: ["usr_1"], createdAt: 0, updatedAt: 1000, revision: 2 };

  it("toScimGroup lists members with $ref, or leaves them out", () => {
    assert.deepEqual(toScimGroup(record, { baseUrl }), {
      schemas: [GROUP_SCHEMA],
      id: "grp_1",
      externalId: "okta-1",
      displayName: "Engineering",
      members: [{ value: "usr_1", $ref: `${baseUrl}/Users/usr_1`, type: "User" }],
      meta: { resourceType: "Group", created: "1970-01-01T00:00:00.000Z", lastModified: "1970-01-01T00:00:01.000Z", location: `${baseUrl}/Groups/grp_1`, version: 'W/"2"' },
    });
    assert.equal(toScimGroup(record, { baseUrl, members: false })["members"], undefined);
  });

  it("fromScimGroup reads members once each, and refuses nested groups", () => {
    assert.deepEqual(fromScimGroup({ schemas: [GROUP_SCHEMA], displayName: "Ops", members: [{ value: "usr_1" }, { value: "usr_1", type: "User" }, { value: "usr_2" }] }), {
      displayName: "Ops",
      externalId: "",
      members: ["usr_1", "usr_2"],
    });
    assertScimError(() => fromScimGroup({ schemas: [GROUP_SCHEMA], displayName: "Ops", members: [{ value: "grp_2", type: "Group" }] }), 400, "invalidValue");
    assertScimError(() => fromScimGroup({ schemas: [GROUP_SCHEMA], members: [] }), 400, "invalidValue");
    assertScimError(() => fromScimGroup({ schemas: [GROUP_SCHEMA], displayName: "Ops", members: [{ display: "no value" }] }), 400, "invalidValue");
  });
});

describe("filters", () => {
  const users = [
    toScimUser(principal(), { baseUrl }),
    toScimUser(principal({ principalId: "usr_2", userName: "grace@example.com", displayName: "Grace Hopper", externalSubject: "00u2", status: "DISABLED", attributes: { business_unit: "Navy" } }), { baseUrl }),
  ];
  const ids = (text: string) => users.filter(compileFilter(userResourceType, parseFilter(text))).map((user) => user["id"]);

  it("compares strings case-insensitively, except case-exact attributes", () => {
    assert.deepEqual(ids('userName eq "ADA@example.com"'), ["usr_1"]);
    assert.deepEqual(ids('displayName co "hop"'), ["usr_2"]);
    assert.deepEqual(ids('externalId eq "00U1"'), []);
    assert.deepEqual(ids('externalId eq "00u1"'), ["usr_1"]);
    assert.deepEqual(ids('id eq "USR_1"'), []);
  });

  it("supports and, or, not, pr, booleans, value filters and URN-qualified paths", () => {
    assert.deepEqual(ids('displayName sw "a" or displayName sw "g"'), ["usr_1", "usr_2"]);
    assert.deepEqual(ids('displayName co "a" and active eq false'), ["usr_2"]);
    assert.deepEqual(ids('not (active eq true)'), ["usr_2"]);
    assert.deepEqual(ids("emails pr"), ["usr_1"]);
    assert.deepEqual(ids('emails[type eq "WORK" and value ew "example.com"]'), ["usr_1"]);
    assert.deepEqual(ids(`${ENTERPRISE_USER_SCHEMA}:department eq "navy"`), ["usr_2"]);
    assert.deepEqual(ids(`${USER_SCHEMA}:userName eq "grace@example.com"`), ["usr_2"]);
    assert.deepEqual(ids('meta.lastModified gt "2025-12-31T00:00:00Z"'), ["usr_1", "usr_2"]);
  });

  it("refuses invalid filters with invalidFilter", () => {
    for (const text of ["", "userName eq", 'userName zz "a"', '(userName eq "a"', 'userName eq "a" and', "x".repeat(2049)]) {
      assertScimError(() => parseFilter(text), 400, "invalidFilter");
    }
  });

  it("finds the indexed equality of a filter or of a top-level and", () => {
    assert.deepEqual(findIndexedEquality(parseFilter('userName eq "a"'), ["username"]), { attribute: "username", value: "a" });
    assert.deepEqual(findIndexedEquality(parseFilter('displayName co "x" and externalId eq "e"'), ["id", "username", "externalid"]), { attribute: "externalid", value: "e" });
    assert.deepEqual(findIndexedEquality(parseFilter(`${USER_SCHEMA}:userName eq "a"`), ["username"]), { attribute: "username", value: "a" });
    assert.equal(findIndexedEquality(parseFilter('userName eq "a" or userName eq "b"'), ["username"]), null);
    assert.equal(findIndexedEquality(parseFilter('userName co "a"'), ["username"]), null);
  });
});

describe("list parameters, projection and sorting", () => {
  it("clamps startIndex and count and refuses non-integers", () => {
    const defaults = parseListQuery({});
    assert.equal(defaults.startIndex, 1);
    assert.equal(defaults.count, 100);
    assert.equal(parseListQuery({ startIndex: "0", count: "-5" }).startIndex, 1);
    assert.equal(parseListQuery({ startIndex: "0", count: "-5" }).count, 0);
    assert.equal(parseListQuery({ count: "5000" }).count, 200);
    assertScimError(() => parseListQuery({ count: "ten" }), 400, "invalidValue");
    assertScimError(() => parseListQuery({ startIndex: "1.5" }), 400, "invalidValue");
    assertScimError(() => parseListQuery({ sortOrder: "sideways" }), 400, "invalidValue");
  });

  it("projects attributes and excludedAttributes, always keeping id and schemas", () => {
    const user = toScimUser(principal(), { baseUrl });
    assert.deepEqual(project(userResourceType, user, parseListQuery({ attributes: "userName,name.givenName,emails.value" }).projection), {
      schemas: [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
      id: "usr_1",
      userName: "ada@example.com",
      name: { givenName: "Ada" },
      emails: [{ value: "ada@example.com" }],
    });
    const trimmed = project(userResourceType, user, parseListQuery({ excludedAttributes: "emails,id,meta" }).projection);
    assert.equal(trimmed["emails"], undefined);
    assert.equal(trimmed["meta"], undefined);
    assert.equal(trimmed["id"], "usr_1");
    const group = toScimGroup({ tenantId: "acme", groupId: "grp_1", displayName: "Eng", externalId: "", members: ["usr_1"], createdAt: 0, updatedAt: 0, revision: 0 }, { baseUrl });
    assert.equal(project(groupResourceType, group, parseListQuery({ excludedAttributes: "members" }).projection)["members"], undefined);
  });

  it("sorts case-insensitively, missing values last", () => {
    const a = toScimUser(principal({ principalId: "a", displayName: "bob" }), { baseUrl });
    const b = toScimUser(principal({ principalId: "b", displayName: "Alice" }), { baseUrl });
    const c = toScimUser(principal({ principalId: "c", attributes: {} }), { baseUrl });
    const order = (sortBy: string, descending: boolean) => sortResources(userResourceType, [a, b, c], sortBy, descending).map((user) => user["id"]);
    // c keeps the fixture's "Ada Lovelace".
    assert.deepEqual(order("displayName", false), ["c", "b", "a"]);
    assert.deepEqual(order("displayName", true), ["a", "b", "c"]);
    assert.deepEqual(order("emails", false), ["a", "b", "c"]);
    assertScimError(() => order("nickName", false), 400, "invalidPath");
  });
});
