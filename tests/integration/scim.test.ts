// SCIM 2.0 provisioning end to end: a scripted identity-provider client (speaking like Okta and
// Entra ID) against a real Fastify server with the SCIM routes, the SCIM service over a real
// SQLite store, and the real audit log. Only the bearer-token check and the deprovisioning effects
// (both ports the host wires) are stand-ins here, and the latter records what it was asked to do.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fastify from "fastify";
import type { FastifyInstance } from "fastify";
import { EnterpriseError, ScimService, provisionTenant } from "@aesp/core";
import type { PrincipalRecord, ScimLifecycle, Store } from "@aesp/core";
import { AuditLog } from "@aesp/core/audit";
import { openStore } from "@aesp/host";
import { auditRecorder } from "../../packages/host/src/audit/recorder.ts";
import { createEd25519Signer, nodeHasher, nodeIdSource, systemClock } from "../../packages/host/src/crypto/node-crypto-ports.ts";
import { HostMetrics } from "../../packages/host/src/observability/metrics.ts";
import { scimRoutes } from "../../packages/host/src/scim/scim-routes.ts";

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/** Bearer tokens the stand-in authenticator knows, as the host's real one would resolve them. */
const callers: Record<string, { tenantId: string; principalId: string }> = {
  "acme-idp-token": { tenantId: "acme", principalId: "sa_acme_okta" },
  "globex-idp-token": { tenantId: "globex", principalId: "sa_globex_entra" },
};
const NO_PERMISSION_TOKEN = "acme-auditor-token";

type Json = Record<string, unknown>;
interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Json;
}

const directory = mkdtempSync(join(tmpdir(), "aesp-scim-"));
let store: Store;
let auditLog: AuditLog;
let app: FastifyInstance;
let baseUrl = "";
const deactivations: { tenantId: string; principalId: string; reason: string }[] = [];
const serverErrors: unknown[] = [];

before(async () => {
  store = await openStore({ kind: "sqlite", path: join(directory, "aesp.db") });
  await provisionTenant(store, { tenantId: "acme", displayName: "Acme", now: systemClock.now() });
  await provisionTenant(store, { tenantId: "globex", displayName: "Globex", now: systemClock.now() });
  const { privateKey } = generateKeyPairSync("ed25519");
  auditLog = new AuditLog(
    {
      store: store.platform.auditLog,
      hasher: nodeHasher,
      signer: createEd25519Signer("audit-test", privateKey),
      clock: systemClock,
      ids: nodeIdSource,
      gatherBatch: () => new Promise<void>((resolve) => setImmediate(resolve)),
    },
    { origin: "scim.test/audit", checkpointEvery: 0 },
  );
  await auditLog.open();
  const lifecycle: ScimLifecycle = {
    async principalDeactivated(tenantId, principalId, reason) {
      deactivations.push({ tenantId, principalId, reason });
    },
  };
  const service = new ScimService({
    store,
    clock: systemClock,
    ids: nodeIdSource,
    audit: auditRecorder(auditLog, new HostMetrics()),
    lifecycle,
    groupRoles: { Engineering: ["agent", "no-such-role"], Auditors: ["auditor"] },
    knownRole: async (tenantId, role) => (await store.forTenant(tenantId).roles.get(role)) !== null,
  });
  app = fastify({ logger: false });
  await app.register(scimRoutes, {
    service,
    authenticate: async (bearer) => {
      const caller = callers[bearer];
      if (caller !== undefined) return caller;
      if (bearer === NO_PERMISSION_TOKEN) throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { reason: "missing_permission", permission: "scim:provision" } });
      throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "invalid_token" } });
    },
    onError: (err) => serverErrors.push(err),
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  assert.ok(typeof address === "object" && address !== null);
  baseUrl = `http://127.0.0.1:${address.port}/scim/v2`;
});

after(async () => {
  await app.close();
  await auditLog.close();
  await store.close();
  rmSync(directory, { recursive: true, force: true });
  assert.deepEqual(serverErrors, [], "no request may end in a 5xx");
});

/** One SCIM request as an IdP sends it. */
async function scim(
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown; rawBody?: string; contentType?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const token = options.token === undefined ? "acme-idp-token" : options.token;
  const headers: Record<string, string> = { accept: "application/scim+json", ...options.headers };
  if (token !== null) headers["authorization"] = `Bearer ${token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined || options.body !== undefined) {
    headers["content-type"] = options.contentType ?? "application/scim+json";
    body = options.rawBody ?? JSON.stringify(options.body);
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? {} : (JSON.parse(text) as Json) };
}

function assertScimError(reply: Reply, status: number, scimType?: string): void {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  assert.deepEqual(reply.body["schemas"], [ERROR]);
  assert.equal(reply.body["status"], String(status));
  assert.equal(reply.body["scimType"], scimType);
  assert.match(reply.headers.get("content-type") ?? "", /^application\/scim\+json/);
}

function oktaUser(userName: string, externalId: string, extra: Json = {}): Json {
  const [given = "", family = ""] = userName.split("@")[0]?.split(".") ?? [];
  return {
    schemas: [USER, ENTERPRISE],
    userName,
    externalId,
    name: { givenName: given, familyName: family },
    emails: [{ primary: true, value: userName, type: "work" }],
    displayName: `${given} ${family}`,
    locale: "en-US",
    active: true,
    password: "never-stored-1!",
    [ENTERPRISE]: { department: "Engineering", costCenter: "CC-100" },
    ...extra,
  };
}

async function createUser(userName: string, externalId: string, extra: Json = {}, token = "acme-idp-token"): Promise<string> {
  const reply = await scim("POST", "/Users", { body: oktaUser(userName, externalId, extra), token });
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  return String(reply.body["id"]);
}

async function principal(tenantId: string, principalId: string): Promise<PrincipalRecord> {
  const record = await store.forTenant(tenantId).principals.get(principalId);
  assert.ok(record !== null, `principal ${principalId} exists`);
  return record;
}

async function auditTypes(tenantId: string, resource: string): Promise<string[]> {
  const records = await store.forTenant(tenantId).audit.query({ limit: 1000 });
  return records.filter((record) => record.resource === resource).map((record) => record.eventType);
}

function resourceIds(reply: Reply): unknown[] {
  const resources = reply.body["Resources"];
  assert.ok(Array.isArray(resources), JSON.stringify(reply.body));
  return resources.map((resource: Json) => resource["id"]);
}

function patch(...operations: Json[]): Json {
  return { schemas: [PATCH_OP], Operations: operations };
}

describe("authentication and discovery", () => {
  it("refuses a request without a bearer token with 401 and WWW-Authenticate", async () => {
    const reply = await scim("GET", "/Users", { token: null });
    assertScimError(reply, 401);
    assert.equal(reply.headers.get("www-authenticate"), 'Bearer realm="aesp-scim"');
  });

  it("refuses an invalid token with 401 invalid_token, and a caller without scim:provision with 403", async () => {
    const invalid = await scim("GET", "/Users", { token: "forged" });
    assertScimError(invalid, 401);
    assert.equal(invalid.headers.get("www-authenticate"), 'Bearer realm="aesp-scim", error="invalid_token"');
    assertScimError(await scim("GET", "/Users", { token: NO_PERMISSION_TOKEN }), 403);
    assertScimError(await scim("POST", "/Users", { token: NO_PERMISSION_TOKEN, body: oktaUser("x.y@acme.example", "x") }), 403);
    const basic = await scim("GET", "/Users", { token: null, headers: { authorization: "Basic dXNlcjpwYXNz" } });
    assertScimError(basic, 401);
  });

  it("serves ServiceProviderConfig, ResourceTypes and Schemas as application/scim+json", async () => {
    const config = await scim("GET", "/ServiceProviderConfig");
    assert.equal(config.status, 200);
    assert.match(config.headers.get("content-type") ?? "", /^application\/scim\+json/);
    assert.deepEqual(config.body["patch"], { supported: true });
    assert.deepEqual(config.body["filter"], { supported: true, maxResults: 200 });
    assert.deepEqual(config.body["etag"], { supported: true });
    const types = await scim("GET", "/ResourceTypes");
    assert.deepEqual(resourceIds(types), ["User", "Group"]);
    assert.equal((await scim("GET", "/ResourceTypes/Group")).body["endpoint"], "/Groups");
    const schemas = await scim("GET", "/Schemas");
    assert.deepEqual(resourceIds(schemas), [USER, ENTERPRISE, GROUP]);
    const user = await scim("GET", `/Schemas/${USER}`);
    const attributes = user.body["attributes"] as Json[];
    assert.equal(attributes.find((attribute) => attribute["name"] === "userName")?.["uniqueness"], "server");
    assertScimError(await scim("GET", "/Schemas/urn:nope"), 404);
    assertScimError(await scim("GET", "/Nothing"), 404);
  });
});

describe("users", () => {
  let adaId = "";

  it("creates a user (Okta style) and maps it onto a SCIM principal", async () => {
    const reply = await scim("POST", "/Users", { body: oktaUser("ada.lovelace@acme.example", "00u-ada") });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    adaId = String(reply.body["id"]);
    assert.equal(reply.headers.get("location"), `${baseUrl}/Users/${adaId}`);
    assert.equal(reply.headers.get("etag"), 'W/"0"');
    assert.equal(reply.body["userName"], "ada.lovelace@acme.example");
    assert.equal(reply.body["externalId"], "00u-ada");
    assert.equal(reply.body["active"], true);
    assert.equal(reply.body["password"], undefined, "passwords are never stored or returned");
    assert.deepEqual(reply.body[ENTERPRISE], { department: "Engineering", costCenter: "CC-100" });
    assert.deepEqual((reply.body["meta"] as Json)["location"], `${baseUrl}/Users/${adaId}`);

    const stored = await principal("acme", adaId);
    assert.equal(stored.type, "USER");
    assert.equal(stored.providerId, "scim");
    assert.equal(stored.externalSubject, "00u-ada");
    assert.equal(stored.userName, "ada.lovelace@acme.example");
    assert.equal(stored.displayName, "ada lovelace");
    assert.equal(stored.status, "ACTIVE");
    assert.equal(stored.createdBy, "sa_acme_okta");
    assert.deepEqual(stored.attributes, { email: "ada.lovelace@acme.example", given_name: "ada", family_name: "lovelace", business_unit: "Engineering", cost_center: "CC-100" });
    assert.deepEqual(stored.roles, [], "SCIM grants roles only through group mappings");
    assert.deepEqual(await auditTypes("acme", `principal:${adaId}`), ["scim_user.created"]);
  });

  it("refuses a duplicate userName (case-insensitively) and a duplicate externalId with 409 uniqueness", async () => {
    assertScimError(await scim("POST", "/Users", { body: oktaUser("ADA.Lovelace@acme.example", "00u-other") }), 409, "uniqueness");
    assertScimError(await scim("POST", "/Users", { body: oktaUser("someone.else@acme.example", "00u-ada") }), 409, "uniqueness");
  });

  it("gets a user with its ETag, and answers 304 to a matching If-None-Match", async () => {
    const reply = await scim("GET", `/Users/${adaId}`);
    assert.equal(reply.status, 200);
    assert.equal(reply.body["id"], adaId);
    assert.equal(reply.headers.get("etag"), 'W/"0"');
    const unchanged = await scim("GET", `/Users/${adaId}`, { headers: { "if-none-match": 'W/"0"' } });
    assert.equal(unchanged.status, 304);
    const projected = await scim("GET", `/Users/${adaId}?attributes=userName`);
    assert.deepEqual(Object.keys(projected.body).sort(), ["id", "schemas", "userName"]);
    assertScimError(await scim("GET", "/Users/usr_does_not_exist"), 404);
  });

  it("lists with filters: userName eq, externalId eq, displayName co, and/or", async () => {
    await createUser("grace.hopper@acme.example", "00u-grace");
    await createUser("alan.turing@acme.example", "00u-alan");
    await createUser("edsger.dijkstra@acme.example", "00u-edsger", { active: false });
    await createUser("barbara.liskov@acme.example", "00u-barbara");

    const byUserName = await scim("GET", `/Users?filter=${encodeURIComponent('userName eq "GRACE.HOPPER@acme.example"')}`);
    assert.equal(byUserName.status, 200);
    assert.deepEqual(byUserName.body["schemas"], [LIST]);
    assert.equal(byUserName.body["totalResults"], 1);
    assert.equal((byUserName.body["Resources"] as Json[])[0]?.["userName"], "grace.hopper@acme.example");

    const byExternalId = await scim("GET", `/Users?filter=${encodeURIComponent('externalId eq "00u-alan"')}`);
    assert.deepEqual((byExternalId.body["Resources"] as Json[]).map((user) => user["userName"]), ["alan.turing@acme.example"]);
    const wrongCase = await scim("GET", `/Users?filter=${encodeURIComponent('externalId eq "00U-ALAN"')}`);
    assert.equal(wrongCase.body["totalResults"], 0, "externalId is case-exact");

    const contains = await scim("GET", `/Users?filter=${encodeURIComponent('displayName co "R"')}&sortBy=userName`);
    assert.deepEqual((contains.body["Resources"] as Json[]).map((user) => user["userName"]), [
      "alan.turing@acme.example",
      "barbara.liskov@acme.example",
      "edsger.dijkstra@acme.example",
      "grace.hopper@acme.example",
    ]);

    const and = await scim("GET", `/Users?filter=${encodeURIComponent('displayName co "r" and active eq false')}`);
    assert.deepEqual((and.body["Resources"] as Json[]).map((user) => user["userName"]), ["edsger.dijkstra@acme.example"]);

    const or = await scim("GET", `/Users?filter=${encodeURIComponent('userName eq "ada.lovelace@acme.example" or externalId eq "00u-barbara"')}&sortBy=userName&sortOrder=descending`);
    assert.deepEqual((or.body["Resources"] as Json[]).map((user) => user["userName"]), ["barbara.liskov@acme.example", "ada.lovelace@acme.example"]);

    const indexedAndMore = await scim("GET", `/Users?filter=${encodeURIComponent('userName eq "grace.hopper@acme.example" and active eq false')}`);
    assert.equal(indexedAndMore.body["totalResults"], 0);
  });

  it("pages with startIndex and count, reporting totalResults", async () => {
    const first = await scim("GET", "/Users?startIndex=1&count=2");
    assert.equal(first.body["totalResults"], 5);
    assert.equal(first.body["startIndex"], 1);
    assert.equal(first.body["itemsPerPage"], 2);
    const second = await scim("GET", "/Users?startIndex=3&count=2");
    const third = await scim("GET", "/Users?startIndex=5&count=2");
    assert.equal(third.body["itemsPerPage"], 1);
    const all = [...resourceIds(first), ...resourceIds(second), ...resourceIds(third)];
    assert.equal(new Set(all).size, 5, "pages neither overlap nor skip");
    const beyond = await scim("GET", "/Users?startIndex=50&count=10");
    assert.equal(beyond.body["totalResults"], 5);
    assert.deepEqual(beyond.body["Resources"], []);
    const countOnly = await scim("GET", "/Users?count=0");
    assert.equal(countOnly.body["totalResults"], 5);
    assert.deepEqual(countOnly.body["Resources"], []);
    const filteredPage = await scim("GET", `/Users?filter=${encodeURIComponent('displayName co "r"')}&startIndex=2&count=2&sortBy=userName`);
    assert.equal(filteredPage.body["totalResults"], 4);
    assert.deepEqual((filteredPage.body["Resources"] as Json[]).map((user) => user["userName"]), ["barbara.liskov@acme.example", "edsger.dijkstra@acme.example"]);
  });

  it("replaces a user with PUT, and refuses a stale If-Match with 412", async () => {
    const replaced = await scim("PUT", `/Users/${adaId}`, {
      body: { schemas: [USER], userName: "ada.lovelace@acme.example", externalId: "00u-ada", displayName: "Ada, Countess of Lovelace", active: true },
      headers: { "if-match": 'W/"0"' },
    });
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
    assert.equal(replaced.body["displayName"], "Ada, Countess of Lovelace");
    assert.equal(replaced.body[ENTERPRISE], undefined, "PUT unassigns what it omits");
    assert.equal(replaced.headers.get("etag"), 'W/"1"');
    const stored = await principal("acme", adaId);
    assert.deepEqual(stored.attributes, {});
    assertScimError(await scim("PUT", `/Users/${adaId}`, { body: { schemas: [USER], userName: "ada.lovelace@acme.example" }, headers: { "if-match": 'W/"0"' } }), 412);
    assertScimError(await scim("PUT", `/Users/${adaId}`, { body: { schemas: [USER], userName: "grace.hopper@acme.example" } }), 409, "uniqueness");
  });

  it("Okta: PATCH replace {active:false} disables the principal and revokes its sessions at once", async () => {
    deactivations.length = 0;
    const reply = await scim("PATCH", `/Users/${adaId}`, { body: patch({ op: "replace", value: { active: false } }) });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body["active"], false);
    assert.equal((await principal("acme", adaId)).status, "DISABLED");
    assert.deepEqual(deactivations, [{ tenantId: "acme", principalId: adaId, reason: "scim_deactivate" }]);
    assert.equal((await auditTypes("acme", `principal:${adaId}`)).at(-1), "scim_user.deactivated");
    const listed = await scim("GET", `/Users?filter=${encodeURIComponent('userName eq "ada.lovelace@acme.example"')}`);
    assert.equal((listed.body["Resources"] as Json[])[0]?.["active"], false, "a disabled user is still listed");

    const put = await scim("PUT", `/Users/${adaId}`, { body: { schemas: [USER], userName: "ada.lovelace@acme.example", externalId: "00u-ada", displayName: "Ada, Countess of Lovelace" } });
    assert.equal(put.status, 200);
    assert.equal(put.body["active"], false, "a PUT without active does not re-enable the account");
    assert.equal(deactivations.length, 2, "every write that leaves the user disabled re-asserts the revocation");
  });

  it("Entra: PATCH with paths, op names in any case and boolean strings", async () => {
    deactivations.length = 0;
    const reply = await scim("PATCH", `/Users/${adaId}`, {
      body: patch(
        { op: "Replace", path: "active", value: "True" },
        { op: "Add", path: 'emails[type eq "work"].value', value: "ada@lovelace.example" },
        { op: "Replace", path: "name.givenName", value: "Augusta Ada" },
        { op: "Add", path: `${ENTERPRISE}:department`, value: "Analytical Engines" },
        { op: "Replace", path: 'addresses[type eq "work"].formatted', value: "London" },
      ),
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body["active"], true);
    assert.deepEqual(reply.body["emails"], [{ value: "ada@lovelace.example", type: "work", primary: true }]);
    const stored = await principal("acme", adaId);
    assert.equal(stored.status, "ACTIVE");
    assert.deepEqual(stored.attributes, { email: "ada@lovelace.example", given_name: "Augusta Ada", business_unit: "Analytical Engines" });
    assert.deepEqual(deactivations, [], "reactivation revokes nothing");
    assert.equal((await auditTypes("acme", `principal:${adaId}`)).at(-1), "scim_user.updated");

    assertScimError(await scim("PATCH", `/Users/${adaId}`, { body: patch({ op: "remove" }) }), 400, "noTarget");
    assertScimError(await scim("PATCH", `/Users/${adaId}`, { body: patch({ op: "replace", path: "id", value: "usr_x" }) }), 400, "mutability");
    assertScimError(await scim("PATCH", `/Users/${adaId}`, { body: patch({ op: "replace", path: "active", value: "maybe" }) }), 400, "invalidValue");
    assertScimError(await scim("PATCH", `/Users/${adaId}`, { body: { Operations: [{ op: "add", value: {} }] } }), 400, "invalidSyntax");
  });
});

describe("groups", () => {
  const ids: Record<string, string> = {};
  let engineeringId = "";

  before(async () => {
    for (const user of (await scim("GET", "/Users?count=200")).body["Resources"] as Json[]) ids[String(user["userName"]).split(".")[0] ?? ""] = String(user["id"]);
  });

  it("creates a group with members, which gain its name and its mapped roles (only roles the tenant has)", async () => {
    const reply = await scim("POST", "/Groups", {
      body: { schemas: [GROUP], displayName: "Engineering", externalId: "okta-grp-eng", members: [{ value: ids["ada"], display: "Ada" }, { value: ids["grace"] }] },
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    engineeringId = String(reply.body["id"]);
    assert.equal(reply.headers.get("location"), `${baseUrl}/Groups/${engineeringId}`);
    assert.deepEqual((reply.body["members"] as Json[]).map((member) => member["value"]), [ids["ada"], ids["grace"]]);
    for (const name of ["ada", "grace"]) {
      const member = await principal("acme", ids[name] ?? "");
      assert.deepEqual(member.groups, ["Engineering"]);
      assert.deepEqual(member.syncedRoles, ["agent"], "no-such-role does not exist in the tenant and is never granted");
    }
    assert.deepEqual((await principal("acme", ids["alan"] ?? "")).groups, []);
    assert.deepEqual(await auditTypes("acme", `group:${engineeringId}`), ["scim_group.created"]);
    const ada = await scim("GET", `/Users/${ids["ada"]}`);
    assert.deepEqual(ada.body["groups"], [{ value: engineeringId, $ref: `${baseUrl}/Groups/${engineeringId}`, display: "Engineering", type: "direct" }]);
    const listed = await scim("GET", `/Users?attributes=userName,groups&filter=${encodeURIComponent('userName eq "grace.hopper@acme.example"')}`);
    assert.deepEqual((listed.body["Resources"] as Json[])[0]?.["groups"], [{ value: engineeringId, $ref: `${baseUrl}/Groups/${engineeringId}`, display: "Engineering", type: "direct" }]);
    assertScimError(await scim("POST", "/Groups", { body: { schemas: [GROUP], displayName: "Engineering" } }), 409, "uniqueness");
    assertScimError(await scim("POST", "/Groups", { body: { schemas: [GROUP], displayName: "Ghosts", members: [{ value: "usr_nobody" }] } }), 400, "invalidValue");
  });

  it("PATCH adds and removes members (Okta and Entra styles) and keeps members' groups and roles in step", async () => {
    const added = await scim("PATCH", `/Groups/${engineeringId}`, { body: patch({ op: "add", path: "members", value: [{ value: ids["alan"], display: "Alan" }] }) });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.deepEqual((await principal("acme", ids["alan"] ?? "")).syncedRoles, ["agent"]);

    const removed = await scim("PATCH", `/Groups/${engineeringId}`, { body: patch({ op: "remove", path: `members[value eq "${ids["grace"]}"]` }) });
    assert.equal(removed.status, 200);
    assert.deepEqual((removed.body["members"] as Json[]).map((member) => member["value"]), [ids["ada"], ids["alan"]]);
    const grace = await principal("acme", ids["grace"] ?? "");
    assert.deepEqual(grace.groups, []);
    assert.deepEqual(grace.syncedRoles, []);

    const entra = await scim("PATCH", `/Groups/${engineeringId}`, { body: patch({ op: "Remove", path: "members", value: [{ value: ids["alan"] }] }, { op: "Add", path: "members", value: [{ value: ids["barbara"] }] }) });
    assert.equal(entra.status, 200);
    assert.deepEqual((await principal("acme", ids["alan"] ?? "")).syncedRoles, []);
    assert.deepEqual((await principal("acme", ids["barbara"] ?? "")).groups, ["Engineering"]);

    const again = await scim("PATCH", `/Groups/${engineeringId}`, { body: patch({ op: "remove", path: `members[value eq "${ids["grace"]}"]` }) });
    assert.equal(again.status, 200, "removing a member twice is idempotent");
    assert.deepEqual(await auditTypes("acme", `group:${engineeringId}`), ["scim_group.created", "scim_group.updated", "scim_group.updated", "scim_group.updated"]);
  });

  it("a member in two groups holds both names and the union of their roles; renaming a group renames it on members", async () => {
    const auditors = await scim("POST", "/Groups", { body: { schemas: [GROUP], displayName: "Auditors", members: [{ value: ids["ada"] }] } });
    assert.equal(auditors.status, 201);
    let ada = await principal("acme", ids["ada"] ?? "");
    assert.deepEqual(ada.groups, ["Auditors", "Engineering"]);
    assert.deepEqual(ada.syncedRoles, ["agent", "auditor"]);

    const renamed = await scim("PATCH", `/Groups/${String(auditors.body["id"])}`, { body: patch({ op: "replace", value: { id: String(auditors.body["id"]), displayName: "Compliance" } }) });
    assert.equal(renamed.status, 200);
    ada = await principal("acme", ids["ada"] ?? "");
    assert.deepEqual(ada.groups, ["Compliance", "Engineering"]);
    assert.deepEqual(ada.syncedRoles, ["agent"], "the mapping is by name: Compliance grants nothing");
  });

  it("answers Entra's membership probe and lists groups with filters", async () => {
    const probe = (member: string) =>
      scim("GET", `/Groups?filter=${encodeURIComponent(`id eq "${engineeringId}" and members[value eq "${member}"]`)}&excludedAttributes=members`);
    const yes = await probe(ids["ada"] ?? "");
    assert.equal(yes.body["totalResults"], 1);
    assert.equal((yes.body["Resources"] as Json[])[0]?.["members"], undefined);
    assert.equal((await probe(ids["grace"] ?? "")).body["totalResults"], 0);
    const byName = await scim("GET", `/Groups?filter=${encodeURIComponent('displayName eq "Engineering"')}`);
    assert.deepEqual(resourceIds(byName), [engineeringId]);
    const otherCase = await scim("GET", `/Groups?filter=${encodeURIComponent('displayName eq "ENGINEERING"')}`);
    assert.deepEqual(resourceIds(otherCase), [engineeringId], "display names compare case-insensitively");
    const all = await scim("GET", "/Groups?sortBy=displayName");
    assert.deepEqual((all.body["Resources"] as Json[]).map((group) => group["displayName"]), ["Compliance", "Engineering"]);
  });

  it("PUT replaces members; a PATCH with more than 1000 member changes is refused", async () => {
    const replaced = await scim("PUT", `/Groups/${engineeringId}`, { body: { schemas: [GROUP], displayName: "Engineering", members: [{ value: ids["grace"] }] } });
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
    assert.deepEqual((await principal("acme", ids["barbara"] ?? "")).groups, []);
    assert.deepEqual((await principal("acme", ids["grace"] ?? "")).syncedRoles, ["agent"]);
    const tooMany = Array.from({ length: 1001 }, (_unused, index) => ({ value: `usr_${index}` }));
    assertScimError(await scim("PATCH", `/Groups/${engineeringId}`, { body: patch({ op: "add", path: "members", value: tooMany }) }), 400, "invalidValue");
  });

  it("deletes a group: members lose its name and roles, and it is gone", async () => {
    const reply = await scim("DELETE", `/Groups/${engineeringId}`);
    assert.equal(reply.status, 204);
    const grace = await principal("acme", ids["grace"] ?? "");
    assert.deepEqual(grace.groups, []);
    assert.deepEqual(grace.syncedRoles, []);
    assertScimError(await scim("GET", `/Groups/${engineeringId}`), 404);
    assertScimError(await scim("DELETE", `/Groups/${engineeringId}`), 404);
    assert.deepEqual((await auditTypes("acme", `group:${engineeringId}`)).at(-1), "scim_group.deleted");
  });

  it("deleting a user removes it from its groups, revokes the principal and its tokens, and hides it", async () => {
    const compliance = await scim("GET", `/Groups?filter=${encodeURIComponent('displayName eq "Compliance"')}`);
    const complianceId = String(resourceIds(compliance)[0]);
    deactivations.length = 0;
    const adaId = ids["ada"] ?? "";
    const reply = await scim("DELETE", `/Users/${adaId}`);
    assert.equal(reply.status, 204);
    assert.deepEqual(deactivations, [{ tenantId: "acme", principalId: adaId, reason: "scim_delete" }]);
    const stored = await principal("acme", adaId);
    assert.equal(stored.status, "REVOKED", "principals are never removed: the audit log refers to them");
    assert.deepEqual(stored.groups, []);
    assert.equal((await scim("GET", `/Groups/${complianceId}`)).body["members"], undefined);
    assertScimError(await scim("GET", `/Users/${adaId}`), 404);
    assertScimError(await scim("PATCH", `/Users/${adaId}`, { body: patch({ op: "replace", value: { active: true } }) }), 404);
    assertScimError(await scim("DELETE", `/Users/${adaId}`), 404);
    assert.equal((await scim("GET", `/Users?filter=${encodeURIComponent('userName eq "ada.lovelace@acme.example"')}`)).body["totalResults"], 0);
    assert.equal((await scim("GET", "/Users")).body["totalResults"], 4);
    assert.equal((await auditTypes("acme", `principal:${adaId}`)).at(-1), "scim_user.deleted");
    assertScimError(await scim("POST", "/Groups", { body: { schemas: [GROUP], displayName: "Former", members: [{ value: adaId }] } }), 400, "invalidValue");

    const again = await createUser("ada.lovelace@acme.example", "00u-ada");
    assert.notEqual(again, adaId, "the IdP may provision the same account again; it becomes a new principal");
  });
});

describe("tenant isolation", () => {
  let acmeUser = "";
  let acmeGroup = "";

  before(async () => {
    acmeUser = await createUser("margaret.hamilton@acme.example", "00u-margaret");
    const group = await scim("POST", "/Groups", { body: { schemas: [GROUP], displayName: "Apollo", members: [{ value: acmeUser }] } });
    acmeGroup = String(group.body["id"]);
    await createUser("katherine.johnson@globex.example", "entra-kj", {}, "globex-idp-token");
  });

  it("another tenant's caller gets 404 for this tenant's ids, whatever the method", async () => {
    const globex = { token: "globex-idp-token" };
    assertScimError(await scim("GET", `/Users/${acmeUser}`, globex), 404);
    assertScimError(await scim("PUT", `/Users/${acmeUser}`, { ...globex, body: { schemas: [USER], userName: "stolen@globex.example" } }), 404);
    assertScimError(await scim("PATCH", `/Users/${acmeUser}`, { ...globex, body: patch({ op: "replace", value: { active: false } }) }), 404);
    assertScimError(await scim("DELETE", `/Users/${acmeUser}`, globex), 404);
    assertScimError(await scim("GET", `/Groups/${acmeGroup}`, globex), 404);
    assertScimError(await scim("PATCH", `/Groups/${acmeGroup}`, { ...globex, body: patch({ op: "add", path: "members", value: [{ value: acmeUser }] }) }), 404);
    assertScimError(await scim("DELETE", `/Groups/${acmeGroup}`, globex), 404);
    assertScimError(await scim("POST", "/Groups", { ...globex, body: { schemas: [GROUP], displayName: "Heist", members: [{ value: acmeUser }] } }), 400, "invalidValue");
    const untouched = await principal("acme", acmeUser);
    assert.equal(untouched.status, "ACTIVE");
    assert.deepEqual(untouched.groups, ["Apollo"]);
  });

  it("another tenant's caller never sees this tenant's resources in lists", async () => {
    const globex = { token: "globex-idp-token" };
    const users = await scim("GET", "/Users?count=200", globex);
    assert.deepEqual((users.body["Resources"] as Json[]).map((user) => user["userName"]), ["katherine.johnson@globex.example"]);
    assert.equal(users.body["totalResults"], 1);
    for (const filter of [`id eq "${acmeUser}"`, 'userName eq "margaret.hamilton@acme.example"', 'externalId eq "00u-margaret"', 'userName co "acme"']) {
      const reply = await scim("GET", `/Users?filter=${encodeURIComponent(filter)}`, globex);
      assert.equal(reply.body["totalResults"], 0, filter);
    }
    const groups = await scim("GET", "/Groups", globex);
    assert.equal(groups.body["totalResults"], 0);
    assert.equal((await scim("GET", `/Groups?filter=${encodeURIComponent(`id eq "${acmeGroup}"`)}`, globex)).body["totalResults"], 0);
  });

  it("the same userName and externalId may exist in two tenants", async () => {
    const reply = await scim("POST", "/Users", { token: "globex-idp-token", body: oktaUser("margaret.hamilton@acme.example", "00u-margaret") });
    assert.equal(reply.status, 201);
  });

  it("principals SCIM did not provision are invisible to SCIM", async () => {
    const now = systemClock.now();
    await store.forTenant("acme").principals.create({
      tenantId: "acme",
      principalId: "usr_local_admin",
      type: "USER",
      displayName: "Local admin",
      description: "",
      roles: ["tenant-admin"],
      permissions: [],
      clearance: "restricted",
      status: "ACTIVE",
      attributes: {},
      createdAt: now,
      createdBy: "bootstrap",
      expiresAt: null,
      userName: "admin",
      providerId: "",
      externalSubject: "",
      groups: [],
      syncedRoles: [],
      syncedAt: 0,
      tokensValidAfter: 0,
      revision: 0,
    });
    assertScimError(await scim("GET", "/Users/usr_local_admin"), 404);
    assertScimError(await scim("DELETE", "/Users/usr_local_admin"), 404);
    assert.equal((await scim("GET", `/Users?filter=${encodeURIComponent('userName eq "admin"')}`)).body["totalResults"], 0);
    assert.equal((await scim("GET", `/Users?filter=${encodeURIComponent('id eq "usr_local_admin"')}`)).body["totalResults"], 0);
    assertScimError(await scim("POST", "/Groups", { body: { schemas: [GROUP], displayName: "Admins", members: [{ value: "usr_local_admin" }] } }), 400, "invalidValue");
    assert.equal((await principal("acme", "usr_local_admin")).status, "ACTIVE");
  });
});

describe("malformed requests", () => {
  it("malformed JSON is 400 invalidSyntax", async () => {
    assertScimError(await scim("POST", "/Users", { rawBody: '{"schemas": [' }), 400, "invalidSyntax");
    assertScimError(await scim("POST", "/Users", { rawBody: '{"schemas": ["x"]}', contentType: "application/json" }), 400, "invalidSyntax");
  });

  it("accepts application/json as well as application/scim+json", async () => {
    const reply = await scim("POST", "/Users", { body: oktaUser("john.backus@acme.example", "00u-john"), contentType: "application/json; charset=utf-8" });
    assert.equal(reply.status, 201);
  });

  it("refuses prototype-poisoning keys, other media types and bodies over 1 MiB", async () => {
    assertScimError(await scim("POST", "/Users", { rawBody: `{"schemas":["${USER}"],"userName":"p","__proto__":{"admin":true}}` }), 400, "invalidSyntax");
    assertScimError(await scim("POST", "/Users", { rawBody: "userName=x", contentType: "application/x-www-form-urlencoded" }), 415);
    assertScimError(await scim("POST", "/Users", { body: oktaUser("big.body@acme.example", "00u-big", { displayName: "x".repeat(1024 * 1024) }) }), 413);
  });

  it("a bad filter is 400 invalidFilter; bad paging values are 400 invalidValue", async () => {
    assertScimError(await scim("GET", `/Users?filter=${encodeURIComponent('userName eq')}`), 400, "invalidFilter");
    assertScimError(await scim("GET", `/Users?filter=${encodeURIComponent('userName zz "a"')}`), 400, "invalidFilter");
    assertScimError(await scim("GET", `/Groups?filter=${encodeURIComponent('(displayName eq "a"')}`), 400, "invalidFilter");
    assertScimError(await scim("GET", "/Users?count=lots"), 400, "invalidValue");
    assertScimError(await scim("GET", "/Users?count=1&count=2"), 400, "invalidValue");
    assertScimError(await scim("GET", "/Users?sortBy=nickName"), 400, "invalidPath");
  });

  it("a body that is not a User or Group is 400", async () => {
    assertScimError(await scim("POST", "/Users", { body: { userName: "no.schemas@acme.example" } }), 400, "invalidSyntax");
    assertScimError(await scim("POST", "/Users", { body: { schemas: [USER] } }), 400, "invalidValue");
    assertScimError(await scim("POST", "/Groups", { body: { schemas: [GROUP], displayName: "Nested", members: [{ value: "grp_1", type: "Group" }] } }), 400, "invalidValue");
    assertScimError(await scim("POST", "/Users", { body: [] }), 400, "invalidSyntax");
  });
});
