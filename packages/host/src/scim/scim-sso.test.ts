// The SCIM pieces the host wires, over a real SQLite store, the real identity services and the
// real audit log: the SCIM client authenticator (its cache never outlives a revocation), SSO
// sign-in linked to SCIM users, the two role sources kept apart, and deprovisioning.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Authenticator, EnterpriseError, ExternalSignIn, IdentityService, SessionManager, SignInThrottle, TenantDirectory, TokenService, provisionTenant } from "@aesp/core";
import type { ExternalIdentity, IdentityProviderRecord, PrincipalRecord, RequestOrigin, ScimCaller, SecurityContext, Store } from "@aesp/core";
import { AuditLog } from "@aesp/core/audit";
import { auditRecorder } from "../audit/recorder.ts";
import { createEd25519Signer, nodeHasher, nodeIdSource, ScryptSecretHasher, systemClock } from "../crypto/node-crypto-ports.ts";
import { loadOrCreateMasterKey } from "../crypto/master-key.ts";
import { JwtAccessTokens, TokenSigningKeys } from "../identity/jwt-access-tokens.ts";
import { HostMetrics } from "../observability/metrics.ts";
import { openStore } from "../storage/index.ts";
import { ScimAuthenticator } from "./scim-authenticator.ts";
import { HostScimLifecycle, scimServiceResolver } from "./scim-lifecycle.ts";

const directory = mkdtempSync(join(tmpdir(), "aesp-scim-sso-"));
const origin: RequestOrigin = { sourceIp: "192.0.2.10", userAgent: "test", correlationId: "cor_test" };
let store: Store;
let auditLog: AuditLog;
let tenants: TenantDirectory;
let identity: IdentityService;
let signIn: ExternalSignIn;
let scimClients: ScimAuthenticator;
let serviceFor: ReturnType<typeof scimServiceResolver>;
let admin: SecurityContext;

before(async () => {
  store = await openStore({ kind: "sqlite", path: join(directory, "aesp.db") });
  for (const tenantId of ["acme", "globex"]) await provisionTenant(store, { tenantId, displayName: tenantId, now: systemClock.now() });
  const { privateKey } = generateKeyPairSync("ed25519");
  auditLog = new AuditLog(
    { store: store.platform.auditLog, hasher: nodeHasher, signer: createEd25519Signer("audit-test", privateKey), clock: systemClock, ids: nodeIdSource, gatherBatch: () => new Promise<void>((resolve) => setImmediate(resolve)) },
    { origin: "scim-sso.test/audit", checkpointEvery: 0 },
  );
  await auditLog.open();
  const audit = auditRecorder(auditLog, new HostMetrics());
  const clock = systemClock;
  const ids = nodeIdSource;
  tenants = new TenantDirectory({ store, clock, principalTtlMs: 0 });
  const keys = await TokenSigningKeys.open(store.platform.keys, await loadOrCreateMasterKey({ dataDir: directory, env: {} }), clock);
  const accessTokens = new JwtAccessTokens({ issuer: "aesp-test", audience: "aesp-api", keys, clock, ids });
  const authenticator = new Authenticator({ tokens: accessTokens, tenants, store, clock });
  const tokens = new TokenService({ store, clock, ids, hasher: nodeHasher, tokens: accessTokens, audit, options: { accessTokenTtlSeconds: 900, refreshTokenTtlSeconds: 3600 } });
  const throttle = new SignInThrottle({
    store: store.platform.signInThrottle,
    clock,
    audit,
    options: { maxFailuresPerAccount: 5, maxFailuresPerSource: 4, windowMs: 60_000, baseLockMs: 60_000, maxLockMs: 60_000 },
  });
  identity = new IdentityService({
    store,
    clock,
    ids,
    hasher: nodeHasher,
    secrets: new ScryptSecretHasher(),
    tokens,
    throttle,
    audit,
    tenants,
    options: { platformTenantId: "platform", maxSecretOverlapSeconds: 3600 },
  });
  const sessions = new SessionManager({ store, clock, ids, audit, options: { defaultTtlSeconds: 3600, maxTtlSeconds: 3600 } });
  signIn = new ExternalSignIn({ store, clock, ids, audit, tenants, tokens, sessions, throttle });
  scimClients = new ScimAuthenticator({ store, clock, audit, tenants, identity, authenticator, throttle });
  serviceFor = scimServiceResolver({ store, clock, ids, audit, tenants, lifecycle: new HostScimLifecycle({ signIn, tenants }) });
  admin = {
    principalId: "usr_admin",
    tenantId: "acme",
    principalType: "USER",
    displayName: "Admin",
    roles: ["tenant-admin"],
    permissions: ["*"],
    clearance: "restricted",
    attributes: {},
    claims: {},
    tokenId: "",
    tokenExpiresAt: 0,
  };
  const provider: IdentityProviderRecord = {
    tenantId: "acme",
    providerId: "okta",
    kind: "oidc",
    displayName: "Okta",
    enabled: true,
    settings: { issuer: "https://idp.example", client_id: "aesp", provisioning: "scim" },
    mapping: { groupRoles: { "AESP Agents": ["agent"], engineers: ["auditor"], ghosts: ["no-such-role"] } },
    jitProvisioning: true,
    createdAt: 0,
    updatedAt: 0,
    updatedBy: "test",
    revision: 0,
  };
  await store.forTenant("acme").identityProviders.create(provider);
});

after(async () => {
  await auditLog.close();
  await store.close();
  rmSync(directory, { recursive: true, force: true });
});

async function serviceAccount(tenantId: string, name: string, roles: string[]): Promise<{ principal: PrincipalRecord; apiKey: string }> {
  return identity.createServiceAccount({ ...admin, tenantId }, origin, { name, description: "", roles, permissions: [], expiresAt: 0, clearance: "" });
}

async function auditCount(predicate: (record: { eventType: string; metadata: Readonly<Record<string, string>> }) => boolean): Promise<number> {
  return (await store.platform.auditLog.readRange(0, 100_000)).filter(predicate).length;
}

async function refusal(work: Promise<unknown>): Promise<EnterpriseError> {
  try {
    await work;
  } catch (err) {
    if (err instanceof EnterpriseError) return err;
    throw err;
  }
  return assert.fail("expected a refusal");
}

describe("ScimAuthenticator", () => {
  it("hashes an API key's secret once, yet sees a revoked key on the very next request", async () => {
    const { principal, apiKey } = await serviceAccount("acme", "okta-scim", ["scim-provisioner"]);
    const exchanges = () => auditCount((r) => r.eventType === "authn.succeeded" && r.metadata["method"] === "api_key");
    const before = await exchanges();
    for (let i = 0; i < 3; i++) assert.deepEqual(await scimClients.authenticate(apiKey, origin), { tenantId: "acme", principalId: principal.principalId });
    assert.equal((await exchanges()) - before, 1, "the secret was checked once, then cached");
    await identity.rotateServiceAccountSecret(admin, origin, principal.principalId, 0);
    const refused = await refusal(scimClients.authenticate(apiKey, origin));
    assert.equal(refused.code, "AUTHENTICATION_FAILED");
    assert.equal(refused.details["reason"], "key_revoked_or_expired");
  });

  it("reads the tenant's status from storage on each request, not from the snapshot", async () => {
    const { apiKey } = await serviceAccount("globex", "entra-scim", ["scim-provisioner"]);
    await scimClients.authenticate(apiKey, origin);
    // Another Host suspended the tenant: this Host's snapshot still says ACTIVE.
    await store.platform.tenants.setStatus("globex", "SUSPENDED");
    assert.equal((await tenants.snapshot("globex"))?.tenant.status, "ACTIVE");
    assert.equal((await refusal(scimClients.authenticate(apiKey, origin))).code, "TENANT_SUSPENDED");
    await store.platform.tenants.setStatus("globex", "ACTIVE");
    await scimClients.authenticate(apiKey, origin);
  });

  it("refuses a disabled service account on the next request and a caller without scim:provision", async () => {
    const { principal, apiKey } = await serviceAccount("acme", "to-revoke", ["scim-provisioner"]);
    await scimClients.authenticate(apiKey, origin);
    await identity.revokeServiceAccount(admin, origin, principal.principalId, "test");
    assert.equal((await refusal(scimClients.authenticate(apiKey, origin))).code, "AUTHENTICATION_FAILED");
    const agent = await serviceAccount("acme", "an-agent", ["agent"]);
    const denied = await refusal(scimClients.authenticate(agent.apiKey, origin));
    assert.equal(denied.code, "AUTHORIZATION_DENIED");
    assert.equal(await auditCount((r) => r.eventType === "rpc.rejected" && r.metadata["error_code"] === "AUTHORIZATION_DENIED"), 1);
  });

  it("counts garbage bearers toward the source lockout and audits them", async () => {
    const source: RequestOrigin = { ...origin, sourceIp: "192.0.2.99" };
    for (let i = 0; i < 4; i++) assert.equal((await refusal(scimClients.authenticate(`garbage-${i}`, source))).code, "AUTHENTICATION_FAILED");
    assert.equal((await refusal(scimClients.authenticate("garbage-again", source))).code, "ACCOUNT_LOCKED");
    assert.ok((await auditCount((r) => r.eventType === "authn.failed" && r.metadata["method"] === "bearer_token")) >= 4);
  });
});

describe("SSO sign-in linked to SCIM users", () => {
  const caller: ScimCaller = { tenantId: "acme", principalId: "sa_scim", origin, baseUrl: "https://aesp.example/scim/v2" };
  const oidc = (subject: string, username: string, groups: string[] = []): ExternalIdentity => ({
    providerId: "okta",
    subject,
    username,
    displayName: "",
    email: `${username}@mail.example`,
    groups,
    claims: { upn: `${username}@corp.example` },
    amr: ["pwd"],
    acr: "",
    authTime: 0,
  });
  let provider: IdentityProviderRecord;
  let userId = "";
  let groupId = "";

  before(async () => {
    provider = (await store.forTenant("acme").identityProviders.get("okta")) ?? assert.fail("provider stored");
    const service = await serviceFor("acme");
    userId = String((await service.createUser(caller, { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "Ada", emails: [{ value: "ada@scim.example" }] })).resource["id"]);
    groupId = String((await service.createGroup(caller, { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "AESP Agents", members: [{ value: userId }] })).resource["id"]);
  });

  it("finds the SCIM user by userName, creates nobody, and unions group roles with claim roles", async () => {
    const principal = await signIn.syncPrincipal(origin, provider, oidc("okta-sub-ada", "ada", ["engineers"]));
    assert.equal(principal.principalId, userId);
    assert.equal(principal.providerId, "scim", "still owned by SCIM");
    assert.deepEqual(principal.syncedRoles, ["agent", "auditor"]);
    assert.equal(principal.attributes["sso_roles"], "auditor");
    assert.equal(principal.attributes["email"], "ada@scim.example", "SCIM's email, not the token's");
    assert.equal(await store.forTenant("acme").principals.count({ type: "USER", providerId: "okta", includeInactive: true, limit: 1 }), 0);
  });

  it("a SCIM membership change recomputes SCIM's share and keeps the sign-in's", async () => {
    const service = await serviceFor("acme");
    await service.patchGroup(caller, groupId, { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "remove", path: `members[value eq "${userId}"]` }] });
    assert.deepEqual((await store.forTenant("acme").principals.get(userId))?.syncedRoles, ["auditor"]);
    await service.patchGroup(caller, groupId, { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "add", path: "members", value: [{ value: userId }] }] });
    assert.deepEqual((await store.forTenant("acme").principals.get(userId))?.syncedRoles, ["agent", "auditor"]);
    const noClaims = await signIn.syncPrincipal(origin, provider, oidc("okta-sub-ada", "ada", []));
    assert.deepEqual(noClaims.syncedRoles, ["agent"], "the sign-in replaced its own share only");
    assert.equal(noClaims.attributes["sso_roles"], undefined);
  });

  it("honours scim_user_name_claim, matches externalId = subject, and never matches a placeholder subject", async () => {
    const byClaim = { ...provider, settings: { ...provider.settings, scim_user_name_claim: "upn" } };
    const service = await serviceFor("acme");
    const grace = String((await service.createUser(caller, { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "grace@corp.example" })).resource["id"]);
    assert.equal((await signIn.syncPrincipal(origin, byClaim, oidc("sub-x", "grace"))).principalId, grace);
    assert.equal((await refusal(signIn.syncPrincipal(origin, provider, oidc("sub-x", "grace")))).details["reason"], "not_provisioned");
    // grace has no externalId: her stored subject is her own id, which no sign-in may claim.
    assert.equal((await refusal(signIn.syncPrincipal(origin, provider, oidc(grace, "nobody")))).details["reason"], "not_provisioned");
    const linus = String((await service.createUser(caller, { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "linus", externalId: "okta-sub-linus" })).resource["id"]);
    assert.equal((await signIn.syncPrincipal(origin, provider, oidc("okta-sub-linus", "someone-else"))).principalId, linus);
  });

  it("deactivation deprovisions at once and refuses sign-in; deletion stays REVOKED", async () => {
    const service = await serviceFor("acme");
    const issued = await signIn.signIn(origin, provider, oidc("okta-sub-ada", "ada", ["engineers"]), "oidc");
    await service.patchUser(caller, userId, { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "replace", value: { active: false } }] });
    const disabled = (await store.forTenant("acme").principals.get(userId)) ?? assert.fail("exists");
    assert.equal(disabled.status, "DISABLED");
    assert.ok(disabled.tokensValidAfter > issued.expiresAt - 900_000, "tokens issued before are refused");
    const [, tokenId = ""] = /^aesprt\.acme\.([^.]+)\./.exec(issued.refreshToken) ?? [];
    assert.notEqual((await store.forTenant("acme").refreshTokens.get(tokenId))?.revokedAt ?? null, null, "the refresh family is revoked");
    assert.equal((await refusal(signIn.syncPrincipal(origin, provider, oidc("okta-sub-ada", "ada")))).details["reason"], "principal_inactive");
    await service.deleteUser(caller, userId);
    assert.equal((await store.forTenant("acme").principals.get(userId))?.status, "REVOKED", "not brought back to DISABLED by deprovisioning");
    assert.equal((await refusal(signIn.syncPrincipal(origin, provider, oidc("okta-sub-ada", "ada")))).details["reason"], "not_provisioned");
  });
});
