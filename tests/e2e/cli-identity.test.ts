/**
 * The `aesp` CLI's identity commands against a real Host and real identity providers: a person
 * signs in with `aesp login --oidc` (oidc-provider, browser flow driven headlessly) and
 * `aesp login --ldap` (Debian slapd), the profile holds rotating Host tokens that the CLI refreshes
 * by itself, `aesp logout` ends the sign-in at the Host, and a tenant administrator manages
 * principals and service-account keys with `aesp principal …` and `aesp service-account …`.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, createClient } from "@connectrpc/connect";
import { EnterpriseAuthenticationService } from "@aesp/proto/authentication";
import { IdentityProviderService } from "@aesp/proto/identity_provider";
import { TenantService } from "@aesp/proto/tenant";
import type { CliIo, HostModule } from "../../packages/cli/src/context.ts";
import { runCli } from "../../packages/cli/src/main.ts";
import { readProfiles } from "../../packages/cli/src/profiles.ts";
import type { Profile } from "../../packages/cli/src/profiles.ts";
import { assertRefused, startTestHost } from "../support/harness.ts";
import type { Actor, TestHost } from "../support/harness.ts";
import { cliClientId, hostAudience, startOidcIdp } from "../support/oidc-idp.ts";
import { loginWithAuthorizationCode } from "../../packages/cli/src/oidc-login.ts";
import type { OidcIdp } from "../support/oidc-idp.ts";
import { locationOf, postToAcs, startSamlLogin } from "../support/saml-browser.ts";
import { startSamlIdp } from "../support/saml-idp.ts";
import type { SamlIdp } from "../support/saml-idp.ts";
import { ldapProviderSettings, startSlapd } from "../support/slapd.ts";
import type { SlapdHandle } from "../support/slapd.ts";

let t: TestHost;
let tenantAdmin: Actor;
let slapd: SlapdHandle;
let idp: OidcIdp;
let samlIdp: SamlIdp;
let work: string;
/** Stops what `before` started, even when it failed half-way. */
const cleanups: Array<() => Promise<unknown>> = [];
let caPath: string;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface RunOptions {
  /** The secret `readSecret` answers with (the password typed at the prompt). */
  readonly secret?: string;
  /** Plays the browser the CLI opens. */
  readonly browser?: (url: string) => Promise<void>;
  readonly env?: Record<string, string>;
}

async function aesp(args: string[], options: RunOptions = {}): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const prompts: string[] = [];
  const io: CliIo = {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    env: { AESP_HOME: join(work, "home"), ...options.env },
    cwd: work,
    stderrIsTty: false,
    waitForShutdownSignal: () => new Promise(() => undefined),
    loadHost: async (): Promise<HostModule> => import("@aesp/host"),
    readSecret: async (prompt) => {
      prompts.push(prompt);
      if (options.secret === undefined) throw new Error("this run expected no password prompt");
      return options.secret;
    },
    openBrowser: async (url) => {
      if (options.browser === undefined) throw new Error("no browser in this run");
      // The CLI does not await the browser; a failure here must surface as a test failure.
      options.browser(url).catch((err: unknown) => {
        stderr += `browser failed: ${String(err)}\n`;
      });
    },
  };
  const code = await runCli(["--host", t.host.gatewayUrl, "--ca", caPath, ...args], io);
  return { code, stdout, stderr };
}

async function ok(args: string[], options: RunOptions = {}): Promise<string> {
  const result = await aesp(args, options);
  assert.equal(result.code, 0, `aesp ${args.join(" ")} failed:\n${result.stderr}`);
  return result.stdout;
}

async function profile(name = "default"): Promise<Profile> {
  return (await readProfiles(join(work, "home", "profiles.json"))).profiles[name] ?? {};
}

/**
 * Plays the browser of a SAML sign-in: follows the Host's SP-initiated login to the IdP, which
 * answers as alice; posts that to the ACS; follows the 303 to the CLI's loopback listener.
 */
function samlBrowser(): (url: string) => Promise<void> {
  return async (url) => {
    const login = new URL(url);
    const [, , tenantId = "", providerId = ""] = login.pathname.split("/");
    const started = await startSamlLogin(t, tenantId, providerId, Object.fromEntries(login.searchParams));
    assert.equal(started.status, 302, started.body.toString());
    const request = await samlIdp.receiveLoginRequest(locationOf(started));
    const samlResponse = await samlIdp.createResponse({ requestId: request.requestId, nameId: "alice@corp.example", attributes: { uid: "alice", groups: ["engineers"] }, sign: "assertion" });
    const posted = await postToAcs(t, tenantId, providerId, samlResponse, request.relayState);
    assert.equal(posted.status, 303, posted.body.toString());
    await (await fetch(locationOf(posted))).text();
  };
}

/** Plays the person at the IdP: signs in as `login`, then follows the redirect to the CLI's loopback listener. */
function oidcBrowser(login: string): (url: string) => Promise<void> {
  return async (url) => {
    const redirect = await idp.loginHeadless(url, { login });
    const response = await fetch(redirect);
    await response.text();
  };
}

before(async () => {
  idp = await startOidcIdp();
  cleanups.push(() => idp.stop());
  slapd = await startSlapd();
  cleanups.push(() => slapd.stop());
  t = await startTestHost("sqlite");
  cleanups.push(() => t.stop());
  samlIdp = await startSamlIdp({ spEntityId: "urn:aesp:cli:acme", acsUrl: `${t.host.gatewayUrl}/saml/acme/corp-saml/acs` });
  work = await mkdtemp(join(tmpdir(), "aesp-cli-identity-"));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  caPath = join(work, "ca.pem");
  await writeFile(caPath, t.host.caCertificatePem);
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
      settings: ldapProviderSettings(slapd, { nested_groups: "recursive" }),
      mapping: { group_roles: { "aesp-admins": ["approver"], staff: ["agent"] } },
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
      settings: { issuer: idp.issuer, client_id: cliClientId, audiences: [cliClientId, hostAudience], jwks_cooldown_ms: 0, scopes: "openid profile email groups" },
      mapping: { group_roles: { engineers: ["agent"] } },
    },
  });
  await providers.putIdentityProvider({
    tenantId: "acme",
    provider: {
      providerId: "corp-saml",
      kind: "saml",
      displayName: "Corporate SAML",
      enabled: true,
      jitProvisioning: true,
      settings: { idp_entity_id: samlIdp.entityId, idp_sso_url: samlIdp.ssoUrl, idp_certificates: [samlIdp.key.certificatePem], sp_entity_id: "urn:aesp:cli:acme", username_attribute: "uid" },
      mapping: { group_roles: { engineers: ["agent"] } },
    },
  });
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

void describe("aesp login as a person", () => {
  void test("--oidc signs in through the browser; the profile holds Host tokens (0600) and whoami names the user", async () => {
    const output = await ok(["--profile", "alice-sso", "login", "--tenant", "acme", "--oidc"], { browser: oidcBrowser("alice") });
    assert.match(output, /Signed in as usr_\S+ \(tenant acme\) through Corporate SSO/);
    const stored = await profile("alice-sso");
    assert.equal(stored.sign_in, "oidc:corp-oidc");
    assert.ok(stored.refresh_token?.startsWith("aesprt.acme."));
    assert.equal(stored.api_key, undefined);
    assert.equal((await stat(join(work, "home", "profiles.json"))).mode & 0o777, 0o600);
    const whoami = JSON.parse(await ok(["--profile", "alice-sso", "--json", "whoami"])) as { security_context: { tenant_id: string; principal_id: string; roles: string[] } };
    assert.equal(whoami.security_context.tenant_id, "acme");
    assert.equal(whoami.security_context.principal_id, stored.principal);
    assert.ok(whoami.security_context.roles.includes("agent"));
  });

  void test("--ldap reads the password without echo and signs in; a wrong password is refused and nothing is stored", async () => {
    const refused = await aesp(["--profile", "bob-ldap", "login", "--tenant", "acme", "--ldap", "--username", "bob"], { secret: "not-bobs-password" });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /error AUTHENTICATION_FAILED/);
    assert.doesNotMatch(refused.stderr + refused.stdout, /not-bobs-password/);
    assert.equal((await profile("bob-ldap")).refresh_token, undefined);

    const output = await ok(["--profile", "bob-ldap", "login", "--tenant", "acme", "--ldap", "corp-ldap", "--username", "bob"], { secret: slapd.users.bob.password });
    assert.match(output, /Signed in as usr_\S+ \(tenant acme\) through corp-ldap/);
    assert.doesNotMatch(output, new RegExp(slapd.users.bob.password));
    assert.equal((await profile("bob-ldap")).sign_in, "ldap:corp-ldap");
  });

  void test("a provider that does not exist, or a missing --tenant, gets advice naming what is available", async () => {
    const missing = await aesp(["login", "--tenant", "acme", "--saml", "okta"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /error NOT_FOUND: Tenant acme has no saml provider named "okta"/);
    assert.match(missing.stderr, /ldap corp-ldap \(Corporate directory\); oidc corp-oidc \(Corporate SSO\); saml corp-saml \(Corporate SAML\)/);
    const none = await aesp(["login", "--tenant", "globex-none", "--oidc"]);
    assert.match(none.stderr, /error NOT_FOUND: Tenant globex-none has no oidc sign-in/);
    const named = await aesp(["login", "--tenant", "acme", "--oidc", "okta"]);
    assert.match(named.stderr, /has no oidc provider named "okta"/);
    const noTenant = await aesp(["login", "--oidc"]);
    assert.equal(noTenant.code, 1);
    assert.match(noTenant.stderr, /--oidc needs --tenant/);
  });

  void test("--saml signs in through the browser and the Host's one-time code; no token ever travels in a URL", async () => {
    const output = await ok(["--profile", "alice-saml", "login", "--tenant", "acme", "--saml"], { browser: samlBrowser() });
    assert.match(output, /Signed in as usr_\S+ \(tenant acme\) through Corporate SAML/);
    const stored = await profile("alice-saml");
    assert.equal(stored.sign_in, "saml:corp-saml");
    assert.ok(stored.refresh_token?.startsWith("aesprt.acme."));
    const whoami = JSON.parse(await ok(["--profile", "alice-saml", "--json", "whoami"])) as { security_context: { roles: string[] } };
    assert.ok(whoami.security_context.roles.includes("agent"), whoami.security_context.roles.join(","));
  });

  void test("an expired access token is refreshed by the CLI itself; the old refresh token is dead afterwards", async () => {
    await ok(["--profile", "alice-refresh", "login", "--tenant", "acme", "--oidc"], { browser: oidcBrowser("alice") });
    const before = await profile("alice-refresh");
    // Pretend the access token has expired: the next command must refresh and store the rotated token.
    const file = await readProfiles(join(work, "home", "profiles.json"));
    file.profiles["alice-refresh"] = { ...before, access_token_expires_at: "0" };
    await writeFile(join(work, "home", "profiles.json"), JSON.stringify(file), { mode: 0o600 });
    await ok(["--profile", "alice-refresh", "whoami"]);
    const after = await profile("alice-refresh");
    assert.notEqual(after.refresh_token, before.refresh_token);
    assert.notEqual(after.access_token, before.access_token);
    assert.ok(Number(after.access_token_expires_at) > Date.now());
    // The rotated-out refresh token is refused (and presenting it revokes the family, by design).
    await assertRefused(createClient(EnterpriseAuthenticationService, t.anonymous).refreshToken({ refreshToken: before.refresh_token ?? "" }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    const ended = await aesp(["--profile", "alice-refresh", "whoami"]);
    assert.equal(ended.code, 1, "reuse detection revoked the whole sign-in, including the current access token");
    assert.match(ended.stderr, /error AUTHENTICATION_FAILED: The Host does not accept the credentials of profile "alice-refresh" \(REVOKED\)/);
  });

  void test("logout revokes the sign-in at the Host: the stored tokens stop working at once", async () => {
    await ok(["--profile", "bob-logout", "login", "--tenant", "acme", "--ldap", "--username", "bob"], { secret: slapd.users.bob.password });
    const signedIn = await profile("bob-logout");
    const output = await ok(["--profile", "bob-logout", "logout"]);
    assert.match(output, /revoked at the Host/);
    const cleared = await profile("bob-logout");
    assert.equal(cleared.refresh_token, undefined);
    assert.equal(cleared.access_token, undefined);
    await assertRefused(createClient(EnterpriseAuthenticationService, t.anonymous).refreshToken({ refreshToken: signedIn.refresh_token ?? "" }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
    // The access token issued by that sign-in ends with it, on its next use.
    const validated = await createClient(EnterpriseAuthenticationService, t.anonymous).validateToken({ accessToken: signedIn.access_token ?? "" });
    assert.deepEqual({ valid: validated.valid, reason: validated.reason }, { valid: false, reason: "REVOKED" });
    const whoami = await aesp(["--profile", "bob-logout", "whoami"]);
    assert.equal(whoami.code, 1);
    assert.match(whoami.stderr, /No credentials for profile "bob-logout"/);
  });
});

void describe("aesp principal and service-account as a tenant administrator", () => {
  const admin = (): Record<string, string> => ({ AESP_API_KEY: tenantAdmin.apiKey });

  void test("principal list filters by provider and type; show gives roles from the directory and effective permissions", async () => {
    await ok(["--profile", "alice-ldap", "login", "--tenant", "acme", "--ldap", "--username", "alice"], { secret: slapd.users.alice.password });
    const listed = JSON.parse(await ok(["--json", "principal", "list", "--type", "user", "--provider", "corp-ldap"], { env: admin() })) as { items: Array<{ principal_id: string; user_name: string }> };
    const alice = listed.items.find((item) => item.user_name === "alice");
    assert.ok(alice !== undefined, JSON.stringify(listed));
    assert.ok(listed.items.every((item) => item.user_name !== "" && item.user_name !== undefined));
    const shown = await ok(["principal", "show", alice.principal_id], { env: admin() });
    assert.match(shown, /provider:\s+corp-ldap/);
    assert.match(shown, /roles from provider:\s+.*approver/);
    assert.match(shown, /groups:\s+aesp-admins, engineers, staff/);
  });

  void test("principal set-roles changes direct roles, effective on the user's next call; a user cannot grant roles", async () => {
    const alice = (await profile("alice-ldap")).principal ?? "";
    const set = await ok(["principal", "set-roles", alice, "--role", "contract-author", "--justification", "joins the tooling team"], { env: admin() });
    assert.match(set, /Roles of usr_\S+: contract-author\. Effective on its next call\./);
    const whoami = JSON.parse(await ok(["--profile", "alice-ldap", "--json", "whoami"])) as { security_context: { roles: string[] } };
    assert.ok(whoami.security_context.roles.includes("contract-author"), whoami.security_context.roles.join(","));
    const same = await ok(["principal", "set-roles", alice, "--role", "contract-author"], { env: admin() });
    assert.match(same, /already has exactly these roles/);
    const bob = (await profile("bob-ldap")).principal ?? "";
    const refused = await aesp(["--profile", "bob-ldap", "principal", "set-roles", bob, "--add", "tenant-admin"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /error AUTHORIZATION_DENIED/);
    const usage = await aesp(["principal", "set-roles", alice, "--role", "a", "--add", "b"], { env: admin() });
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /Give either --role/);
    const trail = await ok(["principal", "audit", alice, "--limit", "20"], { env: admin() });
    assert.match(trail, /principal\.roles_updated|authn\.succeeded/);
  });

  void test("service-account rotate issues a new key; with --overlap 0 the old key stops at once", async () => {
    const created = JSON.parse(await ok(["--json", "service-account", "create", "--name", "ci-bot", "--role", "agent"], { env: admin() })) as { service_account_id: string; api_key: string };
    await ok(["whoami"], { env: { AESP_API_KEY: created.api_key } });
    const rotated = JSON.parse(await ok(["--json", "service-account", "rotate", created.service_account_id, "--overlap", "0"], { env: admin() })) as { api_key: string };
    assert.notEqual(rotated.api_key, created.api_key);
    await ok(["whoami"], { env: { AESP_API_KEY: rotated.api_key } });
    const old = await aesp(["whoami"], { env: { AESP_API_KEY: created.api_key } });
    assert.equal(old.code, 1);
    assert.match(old.stderr, /error AUTHENTICATION_FAILED/);
    const text = await ok(["service-account", "rotate", created.service_account_id, "--overlap", "600"], { env: admin() });
    assert.match(text, /The older keys stop working at \d{4}-/);
    const listed = await ok(["service-account", "list"], { env: admin() });
    assert.match(listed, /ci-bot/);
    await ok(["service-account", "revoke", created.service_account_id, "--reason", "test over"], { env: admin() });
    const revoked = await aesp(["whoami"], { env: { AESP_API_KEY: rotated.api_key } });
    assert.equal(revoked.code, 1);
  });

  void test("another tenant's administrator cannot see or change acme's principals from the CLI", async () => {
    const globex = await t.tenant("globex-cli");
    const alice = (await profile("alice-ldap")).principal ?? "";
    const shown = await aesp(["principal", "show", alice], { env: { AESP_API_KEY: globex.apiKey } });
    assert.equal(shown.code, 1);
    assert.match(shown.stderr, /error NOT_FOUND/);
    const set = await aesp(["principal", "set-roles", alice, "--add", "agent"], { env: { AESP_API_KEY: globex.apiKey } });
    assert.match(set.stderr, /error NOT_FOUND/);
    const listed = JSON.parse(await ok(["--json", "principal", "list", "--all"], { env: { AESP_API_KEY: globex.apiKey } })) as { items: Array<{ tenant_id: string }> };
    assert.ok(listed.items.every((item) => item.tenant_id === "globex-cli"));
  });
});

void describe("sign-in refusals across tenants", () => {
  void test("sign-in to a suspended tenant is refused with TENANT_SUSPENDED, and its live tokens stop at once", async () => {
    const frozen = await t.tenant("frozen");
    await frozen.client(IdentityProviderService).putIdentityProvider({
      tenantId: "frozen",
      provider: {
        providerId: "frozen-ldap",
        kind: "ldap",
        enabled: true,
        jitProvisioning: true,
        settings: ldapProviderSettings(slapd),
      },
    });
    await ok(["--profile", "frozen-bob", "login", "--tenant", "frozen", "--ldap", "--username", "bob"], { secret: slapd.users.bob.password });
    await t.admin.client(TenantService).suspendTenant({ tenantId: "frozen", reason: "unpaid" });
    const hidden = await aesp(["--profile", "frozen-bob2", "login", "--tenant", "frozen", "--ldap", "--username", "bob"], { secret: slapd.users.bob.password });
    assert.match(hidden.stderr, /error NOT_FOUND: Tenant frozen has no ldap sign-in[\s\S]*unknown or suspended tenant offers no sign-in/);
    const refused = await aesp(["--profile", "frozen-bob2", "login", "--tenant", "frozen", "--ldap", "frozen-ldap", "--username", "bob"], { secret: slapd.users.bob.password });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /error TENANT_SUSPENDED/);
    const live = await aesp(["--profile", "frozen-bob", "whoami"]);
    assert.equal(live.code, 1);
    assert.match(live.stderr, /\(TENANT_SUSPENDED\)/);
    await t.admin.client(TenantService).resumeTenant({ tenantId: "frozen" });
    await ok(["--profile", "frozen-bob", "whoami"]);
  });

  void test("an ID token from another tenant's issuer is refused, whichever provider it is presented to", async () => {
    const otherIdp = await startOidcIdp();
    cleanups.push(() => otherIdp.stop());
    const globex = await t.tenant("globex-sso");
    await globex.client(IdentityProviderService).putIdentityProvider({
      tenantId: "globex-sso",
      provider: { providerId: "globex-oidc", kind: "oidc", enabled: true, jitProvisioning: true, settings: { issuer: otherIdp.issuer, client_id: cliClientId, jwks_cooldown_ms: 0 } },
    });
    // alice signs in at acme's IdP; the ID token is genuine, but for acme's issuer.
    const acmeLogin = await loginWithAuthorizationCode(
      { issuer: idp.issuer, clientId: cliClientId, allowInsecureLoopback: true, timeoutSeconds: 20 },
      { print: () => undefined, openBrowser: oidcBrowser("alice") },
    );
    const auth = createClient(EnterpriseAuthenticationService, t.anonymous);
    await assertRefused(
      auth.authenticateUser({ tenantId: "globex-sso", credential: { case: "oauthToken", value: { provider: "globex-oidc", idToken: acmeLogin.idToken } } }),
      "AUTHENTICATION_FAILED",
      Code.Unauthenticated,
    );
    // Naming acme's provider while asking for globex's tenant finds no such provider there.
    await assertRefused(
      auth.authenticateUser({ tenantId: "globex-sso", credential: { case: "oauthToken", value: { provider: "corp-oidc", idToken: acmeLogin.idToken } } }),
      "AUTHENTICATION_FAILED",
      Code.Unauthenticated,
    );
    // The same token is still good where it belongs (the refusals did not consume it).
    const accepted = await auth.authenticateUser({ tenantId: "acme", credential: { case: "oauthToken", value: { provider: "corp-oidc", idToken: acmeLogin.idToken } } });
    assert.equal(accepted.responseType.case === "successDetails" ? accepted.responseType.value.securityContext?.tenantId : "", "acme");
  });
});

