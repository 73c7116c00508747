/**
 * SCIM 2.0 provisioning through the real gateway (HTTPS, same port as the RPCs), linked to SSO
 * sign-in through a real OpenID Provider (oidc-provider): a tenant administrator creates the
 * tenant's SCIM credential, a SCIM client provisions a user and a group the way Okta and Entra ID
 * do, the user signs in through the provider with `provisioning: "scim"` and works with the roles
 * SCIM and the claim mapping gave it, and SCIM deactivation, reactivation and deletion act on the
 * user's very next call. Then the attacks: other tenants, revoked, unprivileged and missing
 * credentials, a suspended tenant, oversized and malformed bodies.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import { Code, createClient } from "@connectrpc/connect";
import { EnterpriseAuthenticationService } from "@aesp/proto/authentication";
import { EnterpriseIdentityService } from "@aesp/proto/identity";
import { IdentityProviderService, ServiceAccountCredentialService } from "@aesp/proto/identity_provider";
import { SessionService } from "@aesp/proto/client";
import { TenantService } from "@aesp/proto/tenant";
import { loginWithAuthorizationCode } from "../../packages/cli/src/oidc-login.ts";
import { assertRefused, openHostStore, readAllAuditRecords, startTestHost } from "../support/harness.ts";
import type { Actor, TestHost } from "../support/harness.ts";
import { cliClientId, hostAudience, idpAccounts, startOidcIdp } from "../support/oidc-idp.ts";
import type { OidcIdp } from "../support/oidc-idp.ts";

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";

type Json = Record<string, unknown>;
interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Json;
}

let t: TestHost;
let idp: OidcIdp;
let acme: Actor;
let globex: Actor;
/** acme's SCIM credential, created by its administrator (service account with role scim-provisioner). */
let acmeScimKey = "";
let globexScimKey = "";
const alice = idpAccounts["alice"] ?? assert.fail("the test IdP has alice");
const bob = idpAccounts["bob"] ?? assert.fail("the test IdP has bob");

/** One SCIM request over HTTPS/1.1, as an IdP's SCIM client sends it, trusting the Host's CA. */
async function scim(method: string, path: string, options: { token?: string | null; body?: unknown; rawBody?: string | Buffer; contentType?: string } = {}): Promise<Reply> {
  const token = options.token === undefined ? acmeScimKey : options.token;
  const headers: Record<string, string> = { accept: "application/scim+json" };
  if (token !== null) headers["authorization"] = `Bearer ${token}`;
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (body !== undefined) {
    headers["content-type"] = options.contentType ?? "application/scim+json";
    headers["content-length"] = String(Buffer.byteLength(body));
  }
  return new Promise<Reply>((resolve, reject) => {
    let answered = false;
    const request = https.request(`${t.host.gatewayUrl}/scim/v2${path}`, { method, headers, ca: t.host.caCertificatePem, agent: false }, (response) => {
      answered = true;
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text === "" ? {} : (JSON.parse(text) as Json) });
      });
    });
    // The server may answer (413) and close before it read all of a body it refuses.
    request.on("error", (err) => {
      if (!answered) reject(err);
    });
    request.end(body);
  });
}

function assertScimError(reply: Reply, status: number, scimType?: string): void {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  assert.deepEqual(reply.body["schemas"], [ERROR]);
  assert.equal(reply.body["status"], String(status));
  assert.equal(reply.body["scimType"], scimType);
}

function patch(...operations: Json[]): Json {
  return { schemas: [PATCH_OP], Operations: operations };
}

/** A full OIDC sign-in (authorization code + PKCE at the IdP, then AuthenticateUser with the ID token). */
async function oidcSignIn(login: string, provider = "corp-sso") {
  const result = await loginWithAuthorizationCode(
    { issuer: idp.issuer, clientId: cliClientId, scopes: "openid profile email groups aesp", allowInsecureLoopback: true, timeoutSeconds: 20 },
    {
      print: () => undefined,
      openBrowser: async (url) => {
        const redirect = await idp.loginHeadless(url, { login });
        await fetch(redirect);
      },
    },
  );
  return createClient(EnterpriseAuthenticationService, t.anonymous).authenticateUser({ tenantId: "acme", credential: { case: "oauthToken", value: { provider, idToken: result.idToken } } });
}

async function signedIn(login: string) {
  const response = await oidcSignIn(login);
  if (response.responseType.case !== "successDetails") return assert.fail("the sign-in succeeds");
  return response.responseType.value;
}

async function createServiceAccount(admin: Actor, name: string, roles: string[]) {
  const created = await admin.client(EnterpriseIdentityService).createServiceAccount({ name, roles });
  if (created.responseType.case !== "successDetails") return assert.fail("service account created");
  return created.responseType.value;
}

async function rolesOf(accessToken: string): Promise<string[]> {
  return [...(await createClient(EnterpriseAuthenticationService, t.transport(accessToken)).getUserRoles({})).roles].sort();
}

before(async () => {
  idp = await startOidcIdp();
  t = await startTestHost("sqlite");
  acme = await t.tenant("acme");
  globex = await t.tenant("globex");
  await acme.client(IdentityProviderService).putIdentityProvider({
    tenantId: "acme",
    provider: {
      providerId: "corp-sso",
      kind: "oidc",
      displayName: "Corporate SSO",
      enabled: true,
      jitProvisioning: false,
      settings: { issuer: idp.issuer, client_id: cliClientId, audiences: [cliClientId, hostAudience], jwks_cooldown_ms: 0, provisioning: "scim", scim_user_name_claim: "email" },
      // "AESP Agents" is a group only SCIM provisions; "engineers" is asserted in the ID token.
      mapping: { group_roles: { "AESP Agents": ["agent"], engineers: ["auditor"] } },
    },
  });
  acmeScimKey = (await createServiceAccount(acme, "okta-scim", ["scim-provisioner"])).apiKey;
  globexScimKey = (await createServiceAccount(globex, "entra-scim", ["scim-provisioner"])).apiKey;
});

after(async () => {
  await t.stop();
  await idp.stop();
});

void describe("provisioning, sign-in and deprovisioning", () => {
  let aliceId = "";
  let agentsGroupId = "";
  let aliceTokens: Awaited<ReturnType<typeof signedIn>>;
  const aliceSessions: string[] = [];

  void test("the provider's provisioning setting is validated and stored next to its settings", async () => {
    const providers = acme.client(IdentityProviderService);
    const got = await providers.getIdentityProvider({ tenantId: "acme", providerId: "corp-sso" });
    assert.equal(got.provider?.settings?.["provisioning"], "scim");
    assert.equal(got.provider?.settings?.["scim_user_name_claim"], "email");
    const refusal = await assertRefused(
      providers.putIdentityProvider({ tenantId: "acme", provider: { providerId: "bad", kind: "oidc", enabled: true, settings: { issuer: idp.issuer, client_id: cliClientId, provisioning: "ldap" } } }),
      "INVALID_ARGUMENT",
      Code.InvalidArgument,
    );
    assert.equal(refusal.error?.details["field"], "settings.provisioning");
  });

  void test("a SCIM client provisions a user (Okta style) and finds it with a userName filter", async () => {
    const created = await scim("POST", "/Users", {
      body: {
        schemas: [USER, ENTERPRISE],
        userName: alice.email,
        externalId: "00u-okta-alice",
        name: { givenName: "Alice", familyName: "Example" },
        emails: [{ primary: true, value: alice.email, type: "work" }],
        active: true,
        [ENTERPRISE]: { department: "Platform" },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    aliceId = String(created.body["id"]);
    assert.equal(created.headers["location"], `${t.host.gatewayUrl}/scim/v2/Users/${aliceId}`);
    const listed = await scim("GET", `/Users?filter=${encodeURIComponent(`userName eq "${alice.email.toUpperCase()}"`)}`);
    assert.equal(listed.status, 200);
    assert.equal(listed.body["totalResults"], 1);
    assert.equal((listed.body["Resources"] as Json[])[0]?.["id"], aliceId);
  });

  void test("PATCH in Okta's and Entra's styles", async () => {
    const okta = await scim("PATCH", `/Users/${aliceId}`, { body: patch({ op: "replace", value: { displayName: "Alice E.", name: { givenName: "Alicia", familyName: "Example" } } }) });
    assert.equal(okta.status, 200, JSON.stringify(okta.body));
    assert.equal(okta.body["displayName"], "Alice E.");
    const entra = await scim("PATCH", `/Users/${aliceId}`, {
      body: patch({ op: "Replace", path: "name.givenName", value: "Alice" }, { op: "Add", path: `${ENTERPRISE}:department`, value: "Platform Engineering" }, { op: "Replace", path: "active", value: "True" }),
    });
    assert.equal(entra.status, 200, JSON.stringify(entra.body));
    assert.equal((entra.body["name"] as Json)["givenName"], "Alice");
    assert.deepEqual(entra.body[ENTERPRISE], { department: "Platform Engineering" });
    assert.equal(entra.body["active"], true);
  });

  void test("a group mapped to a role gives its members that role", async () => {
    const group = await scim("POST", "/Groups", { body: { schemas: [GROUP], displayName: "AESP Agents", members: [{ value: aliceId }] } });
    assert.equal(group.status, 201, JSON.stringify(group.body));
    agentsGroupId = String(group.body["id"]);
    const user = await scim("GET", `/Users/${aliceId}`);
    assert.deepEqual((user.body["groups"] as Json[]).map((g) => g["display"]), ["AESP Agents"]);
  });

  void test("the user signs in through the SCIM-provisioned provider and works with roles from SCIM and from the claims", async () => {
    aliceTokens = await signedIn("alice");
    const ctx = aliceTokens.securityContext;
    assert.equal(ctx?.principalId, aliceId, "the sign-in found the SCIM user, it created no principal");
    assert.equal(ctx?.tenantId, "acme");
    // agent from the SCIM group "AESP Agents", auditor from the ID token's "engineers" group.
    assert.deepEqual(await rolesOf(aliceTokens.accessToken), ["agent", "auditor"]);
    const session = await createClient(SessionService, t.transport(aliceTokens.accessToken)).createSession({});
    assert.ok(session.sessionId !== "");
    aliceSessions.push(session.sessionId);
    const me = await createClient(EnterpriseIdentityService, t.transport(aliceTokens.accessToken)).getPrincipalDetails({});
    assert.equal(me.principal?.providerId, "scim");
    const records = await readAllAuditRecords(t);
    assert.ok(records.some((r) => r.eventType === "principal.synced" && r.resource === `principal:${aliceId}` && r.metadata["linked_by"] === "user_name"));
  });

  void test("SCIM membership changes and sign-ins each keep the other's roles", async () => {
    const removed = await scim("PATCH", `/Groups/${agentsGroupId}`, { body: patch({ op: "remove", path: `members[value eq "${aliceId}"]` }) });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.deepEqual(await rolesOf(aliceTokens.accessToken), ["auditor"], "SCIM took back its role and left the sign-in's");
    const added = await scim("PATCH", `/Groups/${agentsGroupId}`, { body: patch({ op: "Add", path: "members", value: [{ value: aliceId }] }) });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.deepEqual(await rolesOf(aliceTokens.accessToken), ["agent", "auditor"]);
    const again = await signedIn("alice");
    assert.deepEqual(await rolesOf(again.accessToken), ["agent", "auditor"], "a new sign-in keeps the SCIM role");
    aliceTokens = again;
    aliceSessions.push((await createClient(SessionService, t.transport(aliceTokens.accessToken)).createSession({})).sessionId);
  });

  void test("a user SCIM never provisioned cannot sign in, and the refusal is audited", async () => {
    const refusal = await assertRefused(oidcSignIn("bob"), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    assert.equal(refusal.error?.details["reason"], "not_provisioned");
    const records = await readAllAuditRecords(t);
    assert.ok(records.some((r) => r.eventType === "authn.failed" && r.tenantId === "acme" && r.metadata["reason"] === "not_provisioned" && r.metadata["method"] === "oidc"));
    const store = await openHostStore(t);
    try {
      const bobs = await store.forTenant("acme").principals.list({ userName: bob.preferred_username, includeInactive: true, limit: 10 });
      assert.deepEqual(bobs, [], "no principal was created");
    } finally {
      await store.close();
    }
  });

  void test("SCIM deactivation: the next call with the unexpired token, the refresh token and a new sign-in are all refused", async () => {
    const deactivated = await scim("PATCH", `/Users/${aliceId}`, { body: patch({ op: "Replace", path: "active", value: "False" }) });
    assert.equal(deactivated.status, 200, JSON.stringify(deactivated.body));
    assert.equal(deactivated.body["active"], false);
    const call = await assertRefused(createClient(EnterpriseIdentityService, t.transport(aliceTokens.accessToken)).getPrincipalDetails({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    assert.equal(call.error?.details["reason"], "principal_inactive");
    const refresh = await assertRefused(createClient(EnterpriseAuthenticationService, t.anonymous).refreshToken({ refreshToken: aliceTokens.refreshToken }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    assert.equal(refresh.error?.details["reason"], "refresh_token_revoked");
    const signIn = await assertRefused(oidcSignIn("alice"), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    assert.equal(signIn.error?.details["reason"], "principal_inactive");
    const store = await openHostStore(t);
    try {
      const principal = await store.forTenant("acme").principals.get(aliceId);
      assert.equal(principal?.status, "DISABLED");
      assert.ok((principal?.tokensValidAfter ?? 0) > 0, "tokensValidAfter was raised");
      for (const sessionId of aliceSessions) {
        assert.notEqual((await store.forTenant("acme").sessions.get(sessionId))?.destroyedAt ?? null, null, `session ${sessionId} ended`);
      }
    } finally {
      await store.close();
    }
    const records = await readAllAuditRecords(t);
    assert.ok(records.some((r) => r.eventType === "principal.deprovisioned" && r.resource === `principal:${aliceId}` && r.metadata["reason"] === "scim_deactivate" && r.metadata["provider_id"] === "scim"));
  });

  void test("SCIM reactivation lets the user sign in again; tokens from before stay dead", async () => {
    const reactivated = await scim("PATCH", `/Users/${aliceId}`, { body: patch({ op: "replace", value: { active: true } }) });
    assert.equal(reactivated.status, 200, JSON.stringify(reactivated.body));
    const old = await assertRefused(createClient(EnterpriseIdentityService, t.transport(aliceTokens.accessToken)).getPrincipalDetails({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    assert.equal(old.error?.details["reason"], "token_revoked");
    // Revocation refuses tokens issued before the next whole second (`iat` has one-second
    // resolution): a sign-in still inside that second would get a token born revoked.
    const store = await openHostStore(t);
    const cutoff = (await store.forTenant("acme").principals.get(aliceId))?.tokensValidAfter ?? 0;
    await store.close();
    while (Date.now() < cutoff) await new Promise((resolve) => setTimeout(resolve, cutoff - Date.now()));
    aliceTokens = await signedIn("alice");
    assert.deepEqual(await rolesOf(aliceTokens.accessToken), ["agent", "auditor"]);
  });

  void test("SCIM deletion: the user is gone for SCIM, its next call and its sign-in are refused", async () => {
    const deleted = await scim("DELETE", `/Users/${aliceId}`);
    assert.equal(deleted.status, 204);
    assertScimError(await scim("GET", `/Users/${aliceId}`), 404);
    const call = await assertRefused(createClient(EnterpriseAuthenticationService, t.transport(aliceTokens.accessToken)).getUserRoles({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    assert.equal(call.error?.details["reason"], "principal_inactive");
    await assertRefused(createClient(EnterpriseAuthenticationService, t.anonymous).refreshToken({ refreshToken: aliceTokens.refreshToken }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    const signIn = await assertRefused(oidcSignIn("alice"), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    assert.equal(signIn.error?.details["reason"], "not_provisioned");
    const store = await openHostStore(t);
    try {
      assert.equal((await store.forTenant("acme").principals.get(aliceId))?.status, "REVOKED", "kept for the audit trail, never reactivated");
    } finally {
      await store.close();
    }
  });

  void test("a user linked by externalId = the provider's subject signs in whatever its userName", async () => {
    const created = await scim("POST", "/Users", { body: { schemas: [USER], userName: "robert@other.example", externalId: bob.sub, active: true } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const bobTokens = await signedIn("bob");
    assert.equal(bobTokens.securityContext?.principalId, created.body["id"]);
    assert.deepEqual(await rolesOf(bobTokens.accessToken), ["auditor"], "only the claim mapping's role: bob is in no SCIM group");
  });
});

void describe("attacks on the SCIM endpoints", () => {
  let acmeUserId = "";

  before(async () => {
    const created = await scim("POST", "/Users", { body: { schemas: [USER], userName: "carol@acme.example", externalId: "00u-carol", active: true } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    acmeUserId = String(created.body["id"]);
  });

  void test("a SCIM key of another tenant can neither read nor change this tenant's users", async () => {
    const other = { token: globexScimKey };
    assertScimError(await scim("GET", `/Users/${acmeUserId}`, other), 404);
    assertScimError(await scim("PATCH", `/Users/${acmeUserId}`, { ...other, body: patch({ op: "replace", value: { active: false } }) }), 404);
    assertScimError(await scim("PUT", `/Users/${acmeUserId}`, { ...other, body: { schemas: [USER], userName: "mallory@globex.example" } }), 404);
    assertScimError(await scim("DELETE", `/Users/${acmeUserId}`, other), 404);
    const listed = await scim("GET", `/Users?filter=${encodeURIComponent('userName eq "carol@acme.example"')}`, other);
    assert.equal(listed.status, 200);
    assert.equal(listed.body["totalResults"], 0);
    const mine = await scim("GET", `/Users/${acmeUserId}`);
    assert.equal(mine.status, 200);
    assert.equal(mine.body["active"], true, "untouched");
    assert.equal(mine.body["userName"], "carol@acme.example");
  });

  void test("a revoked SCIM credential is refused on the very next request", async () => {
    const rotating = await createServiceAccount(acme, "rotating-scim", ["scim-provisioner"]);
    assert.equal((await scim("GET", "/Users?count=1", { token: rotating.apiKey })).status, 200);
    const rotated = await acme.client(ServiceAccountCredentialService).rotateServiceAccountSecret({ serviceAccountId: rotating.serviceAccountId, overlapSeconds: 0 });
    const revokedKey = await scim("GET", "/Users?count=1", { token: rotating.apiKey });
    assertScimError(revokedKey, 401);
    assert.equal(revokedKey.headers["www-authenticate"], 'Bearer realm="aesp-scim", error="invalid_token"');
    assert.equal((await scim("GET", "/Users?count=1", { token: rotated.apiKey })).status, 200, "the new key works");

    const revoked = await createServiceAccount(acme, "revoked-scim", ["scim-provisioner"]);
    assert.equal((await scim("GET", "/Users?count=1", { token: revoked.apiKey })).status, 200);
    await acme.client(EnterpriseIdentityService).revokeServiceAccount({ serviceAccountId: revoked.serviceAccountId, reason: "IdP decommissioned" });
    assertScimError(await scim("GET", "/Users?count=1", { token: revoked.apiKey }), 401);
    const records = await readAllAuditRecords(t);
    const failures = records.filter((r) => r.eventType === "authn.failed" && r.action === "scim" && r.metadata["method"] === "api_key");
    assert.deepEqual(failures.map((r) => r.metadata["reason"]).sort(), ["key_revoked_or_expired", "principal_inactive"]);
  });

  void test("a credential without scim:provision is 403; a Host access token with it is accepted", async () => {
    const agent = await createServiceAccount(acme, "just-an-agent", ["agent"]);
    assertScimError(await scim("GET", "/Users", { token: agent.apiKey }), 403);
    assertScimError(await scim("POST", "/Users", { token: agent.apiKey, body: { schemas: [USER], userName: "eve@acme.example" } }), 403);
    const agentActor = await t.signIn(agent.apiKey);
    assertScimError(await scim("GET", "/Users", { token: agentActor.token }), 403);
    const byToken = await scim("GET", `/Users/${acmeUserId}`, { token: acme.token });
    assert.equal(byToken.status, 200, "the tenant administrator's access token (permission *) may provision");
    const records = await readAllAuditRecords(t);
    assert.ok(records.some((r) => r.eventType === "rpc.rejected" && r.resource === "scim" && r.tenantId === "acme" && r.metadata["error_code"] === "AUTHORIZATION_DENIED"));
  });

  void test("a suspended tenant's SCIM calls are refused, from the next request on", async () => {
    assert.equal((await scim("GET", "/Users?count=1", { token: globexScimKey })).status, 200);
    await t.admin.client(TenantService).suspendTenant({ tenantId: "globex" });
    assertScimError(await scim("GET", "/Users?count=1", { token: globexScimKey }), 403);
    await t.admin.client(TenantService).resumeTenant({ tenantId: "globex" });
    assert.equal((await scim("GET", "/Users?count=1", { token: globexScimKey })).status, 200);
  });

  void test("a missing or garbage bearer is 401, and the failure is audited", async () => {
    const missing = await scim("GET", "/Users", { token: null });
    assertScimError(missing, 401);
    assert.equal(missing.headers["www-authenticate"], 'Bearer realm="aesp-scim"');
    const garbage = await scim("GET", "/Users", { token: "garbage-token" });
    assertScimError(garbage, 401);
    assert.equal(garbage.headers["www-authenticate"], 'Bearer realm="aesp-scim", error="invalid_token"');
    assertScimError(await scim("GET", "/Users", { token: "aesp.acme.key_0000000000.not-the-secret-not-the-secret-xx" }), 401);
    const records = await readAllAuditRecords(t);
    assert.ok(records.some((r) => r.eventType === "authn.failed" && r.action === "scim" && r.metadata["method"] === "bearer_token"));
  });

  void test("an oversized body is 413 and malformed JSON is 400 invalidSyntax", async () => {
    const huge = JSON.stringify({ schemas: [USER], userName: "big@acme.example", displayName: "x".repeat(1024 * 1024 + 16) });
    assertScimError(await scim("POST", "/Users", { rawBody: huge }), 413);
    assertScimError(await scim("POST", "/Users", { rawBody: '{"schemas": [' }), 400, "invalidSyntax");
    assertScimError(await scim("PATCH", `/Users/${acmeUserId}`, { rawBody: "{not json" }), 400, "invalidSyntax");
    assert.equal((await scim("GET", `/Users/${acmeUserId}`)).body["active"], true);
  });
});
