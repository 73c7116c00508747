/**
 * Enterprise identity through the API gateway, against real providers: a Debian slapd (LDAP over
 * StartTLS) and oidc-provider (OIDC). Covers sign-in, the one principal model, rotating refresh
 * tokens with reuse detection, revocation on the next call, role changes on the next call,
 * deprovisioning by directory sync, lockout, external bearer tokens, JWKS and key rotation.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Code, createClient } from "@connectrpc/connect";
import { EnterpriseAuthenticationService } from "@aesp/proto/authentication";
import { EnterpriseAuthorizationService } from "@aesp/proto/authorization";
import { EnterpriseIdentityService } from "@aesp/proto/identity";
import { HostService } from "@aesp/proto/host";
import { IdentityProviderService } from "@aesp/proto/identity_provider";
import { SessionService } from "@aesp/proto/client";
import { loginWithAuthorizationCode } from "../../packages/cli/src/oidc-login.ts";
import { assertRefused, readAllAuditRecords, startTestHost } from "../support/harness.ts";
import type { Actor, TestHost } from "../support/harness.ts";
import { ldapProviderSettings, startSlapd } from "../support/slapd.ts";
import type { SlapdHandle } from "../support/slapd.ts";
import { cliClientId, hostAudience, startOidcIdp } from "../support/oidc-idp.ts";
import type { OidcIdp } from "../support/oidc-idp.ts";

let t: TestHost;
let tenantAdmin: Actor;
let slapd: SlapdHandle;
let idp: OidcIdp;

async function signInLdap(username: string, password: string) {
  const auth = createClient(EnterpriseAuthenticationService, t.anonymous);
  const response = await auth.authenticateUser({ tenantId: "acme", credential: { case: "usernamePassword", value: { username, password, provider: "corp-ldap" } } });
  assert.equal(response.responseType.case, "successDetails");
  if (response.responseType.case !== "successDetails") throw new Error("unreachable");
  return response.responseType.value;
}

before(async () => {
  [slapd, idp] = await Promise.all([startSlapd(), startOidcIdp()]);
  t = await startTestHost("sqlite", { "identity.lockout_account_failures": 3, "identity.lockout_base_seconds": 60 });
  tenantAdmin = await t.tenant("acme");
  const providers = tenantAdmin.client(IdentityProviderService);
  await providers.putIdentityProvider({
    tenantId: "acme",
    provider: {
      providerId: "corp-ldap",
      kind: "ldap",
      displayName: "Corporate directory",
      enabled: true,
      jitProvisioning: true,
      settings: ldapProviderSettings(slapd, { nested_groups: "recursive", active_filter: "(!(employeeType=disabled))" }),
      mapping: { group_roles: { "aesp-admins": ["approver"], staff: ["agent"] }, default_clearance: "internal" },
    },
  });
  await providers.putIdentityProvider({
    tenantId: "acme",
    provider: {
      providerId: "corp-oidc",
      kind: "oidc",
      displayName: "Corporate SSO",
      enabled: true,
      jitProvisioning: true,
      settings: { issuer: idp.issuer, client_id: cliClientId, audiences: [cliClientId, hostAudience], jwks_cooldown_ms: 0 },
      mapping: { group_roles: { engineers: ["agent"] }, attributes: { department: "department" } },
    },
  });
});

after(async () => {
  await t.stop();
  await Promise.all([slapd.stop(), idp.stop()]);
});

void describe("identity providers", () => {
  void test("settings are validated before storage and secrets never come back", async () => {
    const providers = tenantAdmin.client(IdentityProviderService);
    const got = await providers.getIdentityProvider({ tenantId: "acme", providerId: "corp-ldap" });
    assert.equal(got.provider?.settings?.["bind_password"], "********");
    const listed = await providers.listIdentityProviders({ tenantId: "acme" });
    assert.ok(!JSON.stringify(listed, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)).includes(slapd.servicePassword));
    const refusal = await assertRefused(
      providers.putIdentityProvider({ tenantId: "acme", provider: { providerId: "bad", kind: "oidc", enabled: true, settings: { issuer: idp.issuer, client_id: "x", algorithms: ["HS256"] } } }),
      "INVALID_ARGUMENT",
      Code.InvalidArgument,
    );
    assert.match(refusal.error?.details["field"] ?? "", /^settings\./);
    await assertRefused(
      providers.putIdentityProvider({ tenantId: "acme", provider: { providerId: "bad2", kind: "ldap", enabled: true, settings: {}, mapping: { default_roles: ["no-such-role"] } } }),
      "INVALID_ARGUMENT",
      Code.InvalidArgument,
    );
    const methods = await createClient(IdentityProviderService, t.anonymous).listSignInMethods({ tenantId: "acme" });
    assert.deepEqual(methods.methods.map((m) => m.providerId).sort(), ["corp-ldap", "corp-oidc"]);
    assert.equal(methods.methods.find((m) => m.kind === "oidc")?.issuer, idp.issuer);
    assert.deepEqual((await createClient(IdentityProviderService, t.anonymous).listSignInMethods({ tenantId: "no-such-tenant" })).methods, []);
  });

  void test("another tenant cannot read or change acme's providers", async () => {
    const other = await t.tenant("globex");
    await assertRefused(other.client(IdentityProviderService).getIdentityProvider({ tenantId: "acme", providerId: "corp-ldap" }), "NOT_FOUND", Code.NotFound);
    await assertRefused(other.client(IdentityProviderService).deleteIdentityProvider({ tenantId: "acme", providerId: "corp-ldap" }), "NOT_FOUND", Code.NotFound);
    await assertRefused(other.client(IdentityProviderService).getIdentityProvider({ providerId: "corp-ldap" }), "NOT_FOUND", Code.NotFound);
    const auth = createClient(EnterpriseAuthenticationService, t.anonymous);
    await assertRefused(
      auth.authenticateUser({ tenantId: "globex", credential: { case: "usernamePassword", value: { username: "alice", password: slapd.users.alice.password, provider: "corp-ldap" } } }),
      "AUTHENTICATION_FAILED",
      Code.Unauthenticated,
    );
  });
});

void describe("LDAP sign-in through the gateway", () => {
  void test("nested groups map to roles and the principal is a USER of the provider's tenant", async () => {
    const signedIn = await signInLdap("alice", slapd.users.alice.password);
    const ctx = signedIn.securityContext;
    assert.equal(ctx?.tenantId, "acme");
    assert.ok(ctx?.roles.includes("approver") && ctx.roles.includes("agent"), `roles: ${ctx?.roles.join(",")}`);
    assert.ok(signedIn.refreshToken.startsWith("aesprt.acme."));
    const me = await createClient(EnterpriseIdentityService, t.transport(signedIn.accessToken)).getPrincipalDetails({});
    assert.equal(me.principal?.principalType, 1);
    assert.equal(me.principal?.providerId, "corp-ldap");
    assert.deepEqual(me.principal?.groups, ["aesp-admins", "engineers", "staff"]);
    const again = await signInLdap("alice", slapd.users.alice.password);
    assert.equal(again.securityContext?.principalId, ctx?.principalId, "the same directory account is the same principal");
  });

  void test("wrong passwords lock the account with retry advice, and every failure is audited without the secret", async () => {
    const auth = createClient(EnterpriseAuthenticationService, t.anonymous);
    const attempt = (password: string) => auth.authenticateUser({ tenantId: "acme", credential: { case: "usernamePassword", value: { username: "bob", password, provider: "corp-ldap" } } });
    for (let i = 0; i < 3; i++) await assertRefused(attempt(`wrong-password-${i}`), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    const locked = await assertRefused(attempt(slapd.users.bob.password), "ACCOUNT_LOCKED", Code.ResourceExhausted);
    assert.ok(Number(locked.error?.retryAfterMs ?? 0) > 0);
    const records = await readAllAuditRecords(t);
    assert.ok(records.some((r) => r.eventType === "authn.locked"));
    const failures = records.filter((r) => r.eventType === "authn.failed" && r.metadata["method"] === "ldap");
    assert.ok(failures.length >= 3);
    assert.ok(!JSON.stringify(records).includes("wrong-password-"), "no secret reaches the audit log");
  });

  void test("an injected username finds nobody", async () => {
    const auth = createClient(EnterpriseAuthenticationService, t.anonymous);
    const refusal = await assertRefused(
      auth.authenticateUser({ tenantId: "acme", credential: { case: "usernamePassword", value: { username: "*)(uid=*", password: slapd.users.alice.password, provider: "corp-ldap" } } }),
      "AUTHENTICATION_FAILED",
      Code.Unauthenticated,
    );
    assert.equal(refusal.error?.details["reason"], "unknown_user");
  });

  void test("a directory account disabled after sign-in loses access at the next sync, sessions and tokens included", async () => {
    const signedIn = await signInLdap("dave", slapd.users.dave.password);
    const daveTransport = t.transport(signedIn.accessToken);
    await createClient(SessionService, daveTransport).createSession({}).catch(() => undefined);
    await createClient(EnterpriseIdentityService, daveTransport).getPrincipalDetails({});
    await slapd.disableUser("dave");
    const sync = await tenantAdmin.client(IdentityProviderService).syncIdentityProvider({ tenantId: "acme", providerId: "corp-ldap" });
    assert.ok(sync.deprovisioned >= 1, JSON.stringify(sync));
    await assertRefused(createClient(EnterpriseIdentityService, daveTransport).getPrincipalDetails({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    await assertRefused(createClient(EnterpriseAuthenticationService, t.anonymous).refreshToken({ refreshToken: signedIn.refreshToken }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    const refusal = await assertRefused(
      createClient(EnterpriseAuthenticationService, t.anonymous).authenticateUser({ tenantId: "acme", credential: { case: "usernamePassword", value: { username: "dave", password: slapd.users.dave.password, provider: "corp-ldap" } } }),
      "AUTHENTICATION_FAILED",
      Code.Unauthenticated,
    );
    assert.equal(refusal.error?.details["reason"], "account_disabled");
  });
});

void describe("Host tokens", () => {
  void test("refresh tokens rotate; a reused one revokes its whole family", async () => {
    const first = await signInLdap("alice", slapd.users.alice.password);
    const auth = createClient(EnterpriseAuthenticationService, t.anonymous);
    const second = await auth.refreshToken({ refreshToken: first.refreshToken });
    assert.notEqual(second.refreshToken, first.refreshToken);
    const reuse = await assertRefused(auth.refreshToken({ refreshToken: first.refreshToken }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    assert.equal(reuse.error?.details["reason"], "refresh_token_reused");
    // The thief's reuse also ends the legitimate holder's newer token.
    await assertRefused(auth.refreshToken({ refreshToken: second.refreshToken }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    assert.ok((await readAllAuditRecords(t)).some((r) => r.eventType === "token.reuse_detected"));
  });

  void test("RevokeToken takes effect on the next call", async () => {
    const signedIn = await signInLdap("alice", slapd.users.alice.password);
    const transport = t.transport(signedIn.accessToken);
    await createClient(EnterpriseIdentityService, transport).getPrincipalDetails({});
    const revoked = await createClient(EnterpriseAuthenticationService, transport).revokeToken({ token: signedIn.accessToken, reason: "lost laptop" });
    assert.equal(revoked.revoked, true);
    const refusal = await assertRefused(createClient(EnterpriseIdentityService, transport).getPrincipalDetails({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    assert.equal(refusal.error?.details["reason"], "token_revoked");
    const validation = await createClient(EnterpriseAuthenticationService, t.anonymous).validateToken({ accessToken: signedIn.accessToken });
    assert.deepEqual([validation.valid, validation.reason], [false, "REVOKED"]);
  });

  void test("UpdatePrincipalRoles is effective on the principal's next call, and cannot escalate", async () => {
    const signedIn = await signInLdap("bob-free", slapd.users.alice.password).catch(() => null);
    assert.equal(signedIn, null, "unknown users cannot sign in");
    const worker = await t.actor("roles-target", ["agent"], tenantAdmin);
    const before = await worker.client(EnterpriseAuthenticationService).getUserPermissions({});
    assert.ok(!before.permissions.includes("audit:read"));
    await tenantAdmin.client(EnterpriseIdentityService).updatePrincipalRoles({ principalId: worker.principalId, rolesToAdd: ["auditor"], justification: "quarterly review" });
    const afterChange = await worker.client(EnterpriseAuthenticationService).getUserPermissions({});
    assert.ok(afterChange.permissions.includes("audit:read"));
    await assertRefused(worker.client(EnterpriseIdentityService).updatePrincipalRoles({ principalId: worker.principalId, rolesToAdd: ["tenant-admin"] }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
  });

  void test("UpdatePrincipalRoles cannot take away a role beyond the caller's own grants either", async () => {
    await createClient(EnterpriseAuthorizationService, t.transport(tenantAdmin.token)).createRole({ role: { name: "role-steward", permissions: ["roles:assign", "principals:read"] } });
    const steward = await t.actor("role-steward", ["role-steward"], tenantAdmin);
    const colleague = await t.actor("colleague-admin", ["tenant-admin", "auditor"], tenantAdmin);
    const refusal = await assertRefused(
      steward.client(EnterpriseIdentityService).updatePrincipalRoles({ principalId: colleague.principalId, rolesToRemove: ["tenant-admin"], justification: "hostile" }),
      "AUTHORIZATION_DENIED",
      Code.PermissionDenied,
    );
    assert.equal(refusal.error?.details["reason"], "role_beyond_creator");
    const still = await colleague.client(EnterpriseAuthenticationService).getUserRoles({});
    assert.ok(still.roles.includes("tenant-admin"), "the role is still held");
  });

  void test("the JWKS is published and survives a signing-key rotation", async () => {
    const jwksUrl = `${t.host.gatewayUrl}/.well-known/jwks.json`;
    const fetchJwks = async () => {
      const { request } = await import("node:https");
      return new Promise<{ keys: { kid: string; alg: string }[] }>((resolve, reject) => {
        request(jwksUrl, { ca: t.host.caCertificatePem }, (res) => {
          let body = "";
          res.on("data", (chunk: Buffer) => (body += chunk.toString()));
          res.on("end", () => resolve(JSON.parse(body) as { keys: { kid: string; alg: string }[] }));
        }).on("error", reject).end();
      });
    };
    const beforeRotation = await fetchJwks();
    assert.ok(beforeRotation.keys.every((k) => k.alg === "EdDSA"));
    const oldToken = (await signInLdap("alice", slapd.users.alice.password)).accessToken;
    const platformAdmin = t.admin;
    const rotated = await platformAdmin.client(HostService).rotateTokenSigningKey({});
    assert.notEqual(rotated.keyId, rotated.previousKeyId);
    const afterRotation = await fetchJwks();
    assert.deepEqual(afterRotation.keys.map((k) => k.kid).sort(), [rotated.keyId, rotated.previousKeyId].sort());
    await createClient(EnterpriseIdentityService, t.transport(oldToken)).getPrincipalDetails({});
    const fresh = await signInLdap("alice", slapd.users.alice.password);
    const header = JSON.parse(Buffer.from(fresh.accessToken.split(".")[0] ?? "", "base64url").toString()) as { kid: string };
    assert.equal(header.kid, rotated.keyId);
    await assertRefused(tenantAdmin.client(HostService).rotateTokenSigningKey({}), "AUTHORIZATION_DENIED", Code.PermissionDenied);
  });
});

void describe("OIDC through the gateway", () => {
  void test("authorization code + PKCE from the CLI module, then AuthenticateUser with the ID token", async () => {
    const result = await loginWithAuthorizationCode(
      { issuer: idp.issuer, clientId: cliClientId, scopes: "openid profile email groups aesp", allowInsecureLoopback: true, timeoutSeconds: 20 },
      {
        print: () => undefined,
        openBrowser: async (url) => {
          const redirect = await idp.loginHeadless(url, { login: "alice" });
          await fetch(redirect);
        },
      },
    );
    const auth = createClient(EnterpriseAuthenticationService, t.anonymous);
    const response = await auth.authenticateUser({ tenantId: "acme", credential: { case: "oauthToken", value: { provider: "corp-oidc", idToken: result.idToken } } });
    assert.equal(response.responseType.case, "successDetails");
    if (response.responseType.case !== "successDetails") return;
    const ctx = response.responseType.value.securityContext;
    assert.equal(ctx?.tenantId, "acme");
    assert.ok(ctx?.roles.includes("agent"));
    const replay = await assertRefused(
      auth.authenticateUser({ tenantId: "acme", credential: { case: "oauthToken", value: { provider: "corp-oidc", idToken: result.idToken } } }),
      "AUTHENTICATION_FAILED",
      Code.Unauthenticated,
    );
    assert.equal(replay.error?.details["reason"], "id_token_replayed");
    // The same ID token names a provider of acme only: another tenant cannot accept it.
    await assertRefused(
      auth.authenticateUser({ tenantId: "globex", credential: { case: "oauthToken", value: { provider: "corp-oidc", idToken: result.idToken } } }),
      "AUTHENTICATION_FAILED",
      Code.Unauthenticated,
    );
  });

  void test("a JWT access token of the configured issuer is accepted as a bearer token; a forged one is not", async () => {
    const token = await idp.issueClientCredentialsToken();
    const me = await createClient(EnterpriseAuthenticationService, t.transport(token)).getUserRoles({});
    assert.ok(me.principalId.startsWith("usr_"));
    const [header, payload] = token.split(".");
    const forged = `${header}.${payload}.${Buffer.from("not-a-signature").toString("base64url")}`;
    await assertRefused(createClient(EnterpriseAuthenticationService, t.transport(forged)).getUserRoles({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);
  });
});
