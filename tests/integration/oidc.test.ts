// OpenID Connect against a real oidc-provider on 127.0.0.1: the CLI's login flows (authorization
// code + PKCE over a loopback redirect, device flow) driven headlessly, the Host's OidcVerifier on
// the tokens they yield, key rotation, and hostile tokens minted with the IdP's own keys.
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { decodeProtectedHeader } from "jose";
import { EnterpriseError } from "@aesp/core";
import { AespError } from "@aesp/client";
import { loginWithAuthorizationCode, loginWithDeviceCode } from "../../packages/cli/src/oidc-login.ts";
import { OidcVerifier, parseOidcSettings, unverifiedIssuer } from "../../packages/host/src/identity/oidc/oidc-verifier.ts";
import { cliClientId, hostAudience, idpAccounts, idpLoginAcr, idpLoginAmr, serviceClientId, signWith, startOidcIdp } from "../support/oidc-idp.ts";
import type { OidcIdp } from "../support/oidc-idp.ts";

const providerId = "corp-idp";
const alice = idpAccounts["alice"] ?? assert.fail("alice");
const bob = idpAccounts["bob"] ?? assert.fail("bob");

async function rejectsWith(work: Promise<unknown>, code: string, reason?: string): Promise<EnterpriseError> {
  let caught: unknown;
  await assert.rejects(work, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof EnterpriseError, `expected an EnterpriseError, got ${String(caught)}`);
  assert.equal(caught.code, code, `code (details: ${JSON.stringify(caught.details)})`);
  if (reason !== undefined) assert.equal(caught.details["reason"], reason);
  return caught;
}

async function cliRejectsWith(work: Promise<unknown>, code: string): Promise<AespError> {
  let caught: unknown;
  await assert.rejects(work, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof AespError, `expected an AespError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** A small HTTP server answering every request with `respond`; for broken-provider cases. */
async function fakeProvider(respond: (req: http.IncomingMessage, res: http.ServerResponse, origin: string) => void): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => respond(req, res, origin));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

describe("OpenID Connect with a real oidc-provider", () => {
  let idp: OidcIdp;

  before(async () => {
    idp = await startOidcIdp({ rsa: true });
  });
  after(async () => {
    await idp.stop();
  });

  /** The Host's verifier for the test IdP: ID tokens for the CLI's client, access tokens for the Host. */
  function verifier(overrides: Record<string, unknown> = {}): OidcVerifier {
    return new OidcVerifier(parseOidcSettings(providerId, { issuer: idp.issuer, client_id: cliClientId, audiences: [hostAudience], jwks_cooldown_ms: 0, ...overrides }));
  }

  /** An ID-token-shaped payload for alice, valid now; override any claim. */
  function idClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const now = nowSeconds();
    return { iss: idp.issuer, aud: cliClientId, sub: alice.sub, preferred_username: alice.preferred_username, iat: now, exp: now + 300, ...overrides };
  }

  async function mint(overrides: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
    const key = idp.signingKey;
    return signWith(key.privateKey, { alg: "ES256", kid: key.kid, ...header }, idClaims(overrides));
  }

  describe("aesp login --oidc: authorization code + PKCE over a loopback redirect", () => {
    it("signs in through the IdP's pages and yields an ID token the Host verifies with the nonce", async () => {
      const printed: string[] = [];
      let authorizationUrl = "";
      const result = await loginWithAuthorizationCode(
        { issuer: idp.issuer, clientId: cliClientId, scopes: "openid profile email groups aesp", allowInsecureLoopback: true, timeoutSeconds: 20 },
        {
          print: (line) => printed.push(line),
          openBrowser: async (url) => {
            authorizationUrl = url;
            const redirect = await idp.loginHeadless(url, { login: "alice" });
            const callback = await fetch(redirect);
            assert.equal(callback.status, 200, await callback.text());
          },
        },
      );
      const params = new URL(authorizationUrl).searchParams;
      assert.equal(params.get("code_challenge_method"), "S256");
      assert.match(params.get("redirect_uri") ?? "", /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
      assert.equal(params.get("nonce"), result.nonce);
      assert.ok(printed.some((line) => line.includes(authorizationUrl)), "the URL is printed for the person");
      assert.ok(result.accessToken.length > 0);

      const identity = await verifier().verifyIdToken(result.idToken, { nonce: result.nonce ?? assert.fail("nonce") });
      assert.equal(identity.providerId, providerId);
      assert.equal(identity.subject, alice.sub);
      assert.equal(identity.username, "alice");
      assert.equal(identity.displayName, alice.name);
      assert.equal(identity.email, alice.email);
      assert.deepEqual(identity.groups, ["engineers", "aesp-admins"]);
      assert.deepEqual(identity.amr, idpLoginAmr);
      assert.equal(identity.acr, idpLoginAcr);
      assert.ok(Math.abs(identity.authTime - Date.now()) < 60_000, `auth_time ${identity.authTime}`);
      assert.equal(identity.claims["department"], "platform");
      assert.equal(identity.claims["email_verified"], "true");
      assert.deepEqual(identity.claims["groups"], ["engineers", "aesp-admins"]);
      assert.ok(!Object.values(identity.claims).flat().includes(result.idToken), "the raw token is never a claim");

      await rejectsWith(verifier().verifyIdToken(result.idToken, { nonce: "another-login" }), "AUTHENTICATION_FAILED", "nonce_mismatch");
      // The ID token was issued to the CLI, not to the Host's API: it is no bearer access token.
      await rejectsWith(verifier().verifyAccessToken(result.idToken), "AUTHENTICATION_FAILED", "wrong_audience");
      // Without a resource indicator the IdP's access token is opaque: not a JWT at all.
      await rejectsWith(verifier().verifyAccessToken(result.accessToken), "AUTHENTICATION_FAILED", "malformed");
    });

    it("ignores a callback with a forged state and completes with the real one", async () => {
      const result = await loginWithAuthorizationCode(
        { issuer: idp.issuer, clientId: cliClientId, allowInsecureLoopback: true, timeoutSeconds: 20 },
        {
          print: () => undefined,
          openBrowser: async (url) => {
            const redirectUri = new URL(url).searchParams.get("redirect_uri") ?? assert.fail("redirect_uri");
            const forged = await fetch(`${redirectUri}?code=stolen&state=forged`);
            assert.equal(forged.status, 400);
            await forged.body?.cancel();
            const callback = await fetch(await idp.loginHeadless(url, { login: "bob" }));
            assert.equal(callback.status, 200);
          },
        },
      );
      const identity = await verifier().verifyIdToken(result.idToken, { nonce: result.nonce ?? "" });
      assert.equal(identity.subject, bob.sub);
    });

    it("times out with DEADLINE_EXCEEDED when nobody signs in", async () => {
      const printed: string[] = [];
      const started = Date.now();
      const err = await cliRejectsWith(loginWithAuthorizationCode({ issuer: idp.issuer, clientId: cliClientId, allowInsecureLoopback: true, timeoutSeconds: 1 }, { print: (line) => printed.push(line) }), "DEADLINE_EXCEEDED");
      assert.match(err.message, /within 1 seconds/);
      assert.ok(Date.now() - started < 5000);
      assert.ok(printed.some((line) => line.includes("/auth?")), "the URL was printed although no browser was opened");
    });

    it("refuses plain http issuers unless loopback and explicitly allowed", async () => {
      const withoutOptIn = await cliRejectsWith(loginWithAuthorizationCode({ issuer: idp.issuer, clientId: cliClientId }, { print: () => undefined }), "INVALID_ARGUMENT");
      assert.equal(withoutOptIn.details["field"], "issuer");
      await cliRejectsWith(
        loginWithDeviceCode({ issuer: "http://idp.example.test", clientId: cliClientId, allowInsecureLoopback: true }, { print: () => undefined }),
        "INVALID_ARGUMENT",
      );
      await cliRejectsWith(loginWithAuthorizationCode({ issuer: idp.issuer, clientId: cliClientId, allowInsecureLoopback: true, scopes: "profile" }, { print: () => undefined }), "INVALID_ARGUMENT");
    });

    it("reports an unreachable IdP as IDENTITY_PROVIDER_UNAVAILABLE", async () => {
      const gone = await startOidcIdp();
      await gone.stop();
      await cliRejectsWith(loginWithAuthorizationCode({ issuer: gone.issuer, clientId: cliClientId, allowInsecureLoopback: true }, { print: () => undefined }), "IDENTITY_PROVIDER_UNAVAILABLE");
    });
  });

  describe("aesp login --oidc --device", () => {
    it("shows the code, is approved on the IdP's device pages, and yields a verifiable ID token", async () => {
      const printed: string[] = [];
      let approval: Promise<void> | undefined;
      const result = await loginWithDeviceCode(
        { issuer: idp.issuer, clientId: cliClientId, allowInsecureLoopback: true, timeoutSeconds: 20 },
        {
          print: (line) => printed.push(line),
          showDeviceCode: (prompt) => {
            assert.ok(printed.some((line) => line.includes(prompt.verificationUri) && line.includes(prompt.userCode)), "printed before it is shown");
            approval = idp.approveDeviceHeadless(prompt.verificationUri, prompt.userCode, { login: "bob" });
          },
        },
      );
      await approval;
      assert.equal(result.nonce, undefined);
      const identity = await verifier().verifyIdToken(result.idToken);
      assert.equal(identity.subject, bob.sub);
      assert.equal(identity.username, "bob");
      assert.deepEqual(identity.amr, idpLoginAmr);
    });
  });

  describe("client credentials: JWT access tokens for the Host", () => {
    it("verifies the IdP's at+jwt access token against the configured audiences", async () => {
      const token = await idp.issueClientCredentialsToken();
      const identity = await verifier().verifyAccessToken(token);
      assert.equal(identity.subject, serviceClientId);
      assert.equal(identity.username, serviceClientId, "no preferred_username: the subject stands in");
      assert.equal(identity.claims["client_id"], serviceClientId);
      assert.equal(identity.claims["scope"], "aesp:invoke");
      assert.deepEqual(identity.groups, []);
      assert.equal(identity.authTime, 0);
      await rejectsWith(verifier({ audiences: ["another-api"] }).verifyAccessToken(token), "AUTHENTICATION_FAILED", "wrong_audience");
    });

    it("never takes an access token (typ at+jwt) for an ID token, even when the audience matches", async () => {
      const token = await idp.issueClientCredentialsToken();
      await rejectsWith(verifier({ client_id: hostAudience }).verifyIdToken(token), "AUTHENTICATION_FAILED", "malformed");
    });
  });

  describe("JWKS rotation", () => {
    it("verifies tokens from a new key after the IdP rotates, and keeps honouring published old keys", async () => {
      const fast = verifier();
      const patient = verifier({ jwks_cooldown_ms: 60_000 });
      const before = await idp.issueClientCredentialsToken();
      await fast.verifyAccessToken(before);
      await patient.verifyAccessToken(before);

      const fresh = await idp.rotateKeys();
      const after = await idp.issueClientCredentialsToken();
      assert.equal(decodeProtectedHeader(after).kid, fresh.kid);
      assert.equal((await fast.verifyAccessToken(after)).subject, serviceClientId);
      assert.equal((await fast.verifyAccessToken(before)).subject, serviceClientId, "the previous key is still published");
      // Within the cooldown an unknown kid does not trigger a refetch (no JWKS hammering by forged kids).
      await rejectsWith(patient.verifyAccessToken(after), "AUTHENTICATION_FAILED", "unknown_key");
    });

    it("refuses tokens of a retired key once the refreshed JWKS no longer lists it", async () => {
      const fast = verifier();
      const old = await mint();
      await fast.verifyIdToken(old);
      await idp.rotateKeys({ retirePrevious: true });
      // The cached set still lists the old key until it is refreshed (cache age, or a new kid).
      assert.equal((await fast.verifyIdToken(old)).subject, alice.sub);
      assert.equal((await fast.verifyIdToken(await mint())).subject, alice.sub);
      await rejectsWith(fast.verifyIdToken(old), "AUTHENTICATION_FAILED", "unknown_key");
      await rejectsWith(verifier().verifyIdToken(old), "AUTHENTICATION_FAILED", "unknown_key");
    });
  });

  describe("hostile and broken tokens", () => {
    it("accepts a well-formed minted token (so the refusals below are about the one change)", async () => {
      const identity = await verifier().verifyIdToken(await mint({ nonce: "n-1" }), { nonce: "n-1" });
      assert.equal(identity.subject, alice.sub);
    });

    it("expired beyond the clock tolerance → TOKEN_EXPIRED; within it → accepted", async () => {
      const now = nowSeconds();
      await rejectsWith(verifier().verifyIdToken(await mint({ iat: now - 600, exp: now - 120 })), "TOKEN_EXPIRED");
      assert.equal((await verifier().verifyIdToken(await mint({ iat: now - 600, exp: now - 10 }))).subject, alice.sub);
      await rejectsWith(verifier({ clock_tolerance_seconds: 0 }).verifyIdToken(await mint({ iat: now - 600, exp: now - 10 })), "TOKEN_EXPIRED");
    });

    it("older than max_token_age_seconds → TOKEN_EXPIRED even before exp", async () => {
      const now = nowSeconds();
      await rejectsWith(verifier({ max_token_age_seconds: 3600 }).verifyIdToken(await mint({ iat: now - 7200, exp: now + 600 })), "TOKEN_EXPIRED");
    });

    it("wrong audience, several audiences without azp, wrong issuer", async () => {
      await rejectsWith(verifier().verifyIdToken(await mint({ aud: "someone-else" })), "AUTHENTICATION_FAILED", "wrong_audience");
      await rejectsWith(verifier().verifyIdToken(await mint({ aud: [cliClientId, "someone-else"] })), "AUTHENTICATION_FAILED", "wrong_audience");
      await rejectsWith(verifier().verifyIdToken(await mint({ aud: [cliClientId, "someone-else"], azp: "someone-else" })), "AUTHENTICATION_FAILED", "wrong_audience");
      assert.equal((await verifier().verifyIdToken(await mint({ aud: [cliClientId, "someone-else"], azp: cliClientId }))).subject, alice.sub);
      await rejectsWith(verifier().verifyIdToken(await mint({ iss: "http://127.0.0.1:1" })), "AUTHENTICATION_FAILED", "wrong_issuer");
      await rejectsWith(verifier().verifyIdToken(await mint({ iss: `${idp.issuer}/` })), "AUTHENTICATION_FAILED", "wrong_issuer");
    });

    it("nbf or iat in the future → not_yet_valid", async () => {
      const now = nowSeconds();
      await rejectsWith(verifier().verifyIdToken(await mint({ nbf: now + 600, exp: now + 1200 })), "AUTHENTICATION_FAILED", "not_yet_valid");
      await rejectsWith(verifier().verifyIdToken(await mint({ iat: now + 600, exp: now + 1200 })), "AUTHENTICATION_FAILED", "not_yet_valid");
    });

    it("alg none → algorithm_not_allowed", async () => {
      const unsigned = await signWith(null, { alg: "none" }, idClaims());
      await rejectsWith(verifier().verifyIdToken(unsigned), "AUTHENTICATION_FAILED", "algorithm_not_allowed");
      await rejectsWith(verifier().verifyAccessToken(unsigned), "AUTHENTICATION_FAILED", "algorithm_not_allowed");
    });

    it("HS256 signed with the IdP's public key bytes (key confusion) → algorithm_not_allowed", async () => {
      const key = idp.signingKey;
      const publicPem = new TextEncoder().encode(key.publicKey.export({ type: "spki", format: "pem" }).toString());
      const confused = await signWith(publicPem, { alg: "HS256", kid: key.kid }, idClaims());
      await rejectsWith(verifier().verifyIdToken(confused), "AUTHENTICATION_FAILED", "algorithm_not_allowed");
      const jwkBytes = new TextEncoder().encode(JSON.stringify(key.publicKey.export({ format: "jwk" })));
      await rejectsWith(verifier().verifyIdToken(await signWith(jwkBytes, { alg: "HS256", kid: key.kid }, idClaims())), "AUTHENTICATION_FAILED", "algorithm_not_allowed");
    });

    it("a foreign key under a kid the JWKS lists → invalid_signature; an unlisted kid → unknown_key", async () => {
      const attacker = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
      await rejectsWith(verifier().verifyIdToken(await signWith(attacker, { alg: "ES256", kid: idp.signingKey.kid }, idClaims())), "AUTHENTICATION_FAILED", "invalid_signature");
      await rejectsWith(verifier().verifyIdToken(await signWith(attacker, { alg: "ES256", kid: "attacker-key" }, idClaims())), "AUTHENTICATION_FAILED", "unknown_key");
    });

    it("an algorithm outside the allow-list is refused even with the IdP's own key", async () => {
      const rsa = idp.keys.find((key) => key.alg === "RS256") ?? assert.fail("rsa key");
      const token = await signWith(rsa.privateKey, { alg: "RS256", kid: rsa.kid }, idClaims());
      assert.equal((await verifier().verifyIdToken(token)).subject, alice.sub, "RS256 is in the default allow-list");
      await rejectsWith(verifier({ algorithms: ["ES256"] }).verifyIdToken(token), "AUTHENTICATION_FAILED", "algorithm_not_allowed");
    });

    it("missing sub, a non-JWT, and oversized tokens → malformed", async () => {
      await rejectsWith(verifier().verifyIdToken(await mint({ sub: undefined })), "AUTHENTICATION_FAILED", "malformed");
      await rejectsWith(verifier().verifyIdToken("not.a.jwt"), "AUTHENTICATION_FAILED", "malformed");
      await rejectsWith(verifier().verifyIdToken(""), "AUTHENTICATION_FAILED", "malformed");
      await rejectsWith(verifier().verifyIdToken(await mint({ padding: "x".repeat(17 * 1024) })), "AUTHENTICATION_FAILED", "malformed");
    });

    it("keeps only string claims: numbers and booleans flattened, objects dropped", async () => {
      const identity = await verifier().verifyIdToken(
        await mint({ level: 3, admin: false, address: { country: "FR" }, mixed: ["a", 1, true, { b: 2 }, null], groups: ["ops", 7], auth_time: 1_700_000_000 }),
      );
      assert.equal(identity.claims["level"], "3");
      assert.equal(identity.claims["admin"], "false");
      assert.equal(identity.claims["address"], undefined);
      assert.deepEqual(identity.claims["mixed"], ["a", "1", "true"]);
      assert.deepEqual(identity.groups, ["ops"]);
      assert.equal(identity.authTime, 1_700_000_000_000);
      assert.equal(identity.acr, "");
      assert.deepEqual(identity.amr, []);
    });
  });

  describe("provider availability", () => {
    it("IdP down → IDENTITY_PROVIDER_UNAVAILABLE, and discovery is retried rather than cached as failed", async () => {
      const gone = await startOidcIdp();
      const token = await signWith(gone.signingKey.privateKey, { alg: "ES256", kid: gone.signingKey.kid }, { ...idClaims(), iss: gone.issuer });
      await gone.stop();
      const down = new OidcVerifier(parseOidcSettings(providerId, { issuer: gone.issuer, client_id: cliClientId }));
      const err = await rejectsWith(down.verifyIdToken(token), "IDENTITY_PROVIDER_UNAVAILABLE", "discovery_unreachable");
      assert.equal(err.details["provider"], providerId);
      assert.ok(err.retryAfterMs > 0);
      await rejectsWith(down.verifyIdToken(token), "IDENTITY_PROVIDER_UNAVAILABLE", "discovery_unreachable");
      const explicitJwks = new OidcVerifier(parseOidcSettings(providerId, { issuer: gone.issuer, client_id: cliClientId, jwks_uri: `${gone.issuer}/jwks` }));
      await rejectsWith(explicitJwks.verifyIdToken(token), "IDENTITY_PROVIDER_UNAVAILABLE", "jwks_unreachable");
    });

    it("keeps verifying with the cached JWKS while the IdP is down; a new kid then reports the outage", async () => {
      const flaky = await startOidcIdp();
      const claims = { ...idClaims(), iss: flaky.issuer };
      const cached = new OidcVerifier(parseOidcSettings(providerId, { issuer: flaky.issuer, client_id: cliClientId, jwks_cooldown_ms: 0 }));
      const token = await signWith(flaky.signingKey.privateKey, { alg: "ES256", kid: flaky.signingKey.kid }, claims);
      await cached.verifyIdToken(token);
      await flaky.stop();
      assert.equal((await cached.verifyIdToken(token)).subject, alice.sub);
      const unknownKid = await signWith(flaky.signingKey.privateKey, { alg: "ES256", kid: "rotated-while-down" }, claims);
      await rejectsWith(cached.verifyIdToken(unknownKid), "IDENTITY_PROVIDER_UNAVAILABLE", "jwks_unreachable");
    });

    it("a bad discovery document, a bad JWKS, or a JWKS that never answers → IDENTITY_PROVIDER_UNAVAILABLE", async () => {
      const token = await mint();
      const impostor = await fakeProvider((req, res, origin) => {
        res.writeHead(200, { "content-type": "application/json" });
        if (req.url === "/.well-known/openid-configuration") res.end(JSON.stringify({ issuer: "https://someone-else.example", jwks_uri: `${origin}/jwks` }));
        else res.end(JSON.stringify({ keys: "not-a-list" }));
      });
      const silent = await fakeProvider(() => undefined);
      try {
        await rejectsWith(
          new OidcVerifier(parseOidcSettings(providerId, { issuer: impostor.origin, client_id: cliClientId })).verifyIdToken(token),
          "IDENTITY_PROVIDER_UNAVAILABLE",
          "discovery_issuer_mismatch",
        );
        await rejectsWith(
          new OidcVerifier(parseOidcSettings(providerId, { issuer: idp.issuer, client_id: cliClientId, jwks_uri: `${impostor.origin}/jwks` })).verifyIdToken(token),
          "IDENTITY_PROVIDER_UNAVAILABLE",
          "jwks_invalid",
        );
        const started = Date.now();
        await rejectsWith(
          new OidcVerifier(parseOidcSettings(providerId, { issuer: idp.issuer, client_id: cliClientId, jwks_uri: `${silent.origin}/jwks`, http_timeout_ms: 200 })).verifyIdToken(token),
          "IDENTITY_PROVIDER_UNAVAILABLE",
          "jwks_timeout",
        );
        assert.ok(Date.now() - started < 3000, "the request timeout applies");
      } finally {
        await impostor.close();
        await silent.close();
      }
    });
  });

  describe("settings and issuer selection", () => {
    const base = { issuer: "https://login.example.com/tenant-1", client_id: "aesp-host-client" };

    function rejectsSetting(raw: Record<string, unknown>, field: string): void {
      assert.throws(
        () => parseOidcSettings(providerId, raw),
        (err: unknown) => err instanceof EnterpriseError && err.code === "INVALID_ARGUMENT" && err.details["field"] === field,
        `expected INVALID_ARGUMENT on ${field}`,
      );
    }

    it("fills defaults", () => {
      const settings = parseOidcSettings(providerId, base);
      assert.deepEqual(settings.audiences, ["aesp-host-client"]);
      assert.deepEqual(settings.algorithms, ["RS256", "ES256", "EdDSA", "PS256"]);
      assert.equal(settings.clockToleranceSeconds, 30);
      assert.equal(settings.jwksCooldownMs, 30_000);
      assert.equal(settings.httpTimeoutMs, 5000);
      assert.equal(settings.subjectClaim, "sub");
      assert.equal(settings.usernameClaim, "preferred_username");
      assert.equal(settings.scopes, "openid profile email");
      assert.equal(settings.cliClientId, "aesp-host-client");
      assert.equal(settings.usePkce, true);
      assert.equal(settings.deviceAuthorization, false);
      assert.equal(settings.jwksUri, undefined);
    });

    it("refuses none and HS* algorithms, and http issuers that are not loopback", () => {
      rejectsSetting({ ...base, algorithms: ["HS256"] }, "algorithms");
      rejectsSetting({ ...base, algorithms: ["ES256", "none"] }, "algorithms");
      rejectsSetting({ ...base, algorithms: ["NONE"] }, "algorithms");
      rejectsSetting({ ...base, algorithms: ["RS1"] }, "algorithms");
      rejectsSetting({ ...base, algorithms: [] }, "algorithms");
      rejectsSetting({ ...base, issuer: "http://login.example.com" }, "issuer");
      rejectsSetting({ ...base, issuer: "http://10.0.0.5:8080" }, "issuer");
      rejectsSetting({ ...base, issuer: "https://login.example.com/?tenant=1" }, "issuer");
      rejectsSetting({ ...base, issuer: "ftp://login.example.com" }, "issuer");
      rejectsSetting({ ...base, jwks_uri: "http://keys.example.com/jwks" }, "jwks_uri");
      assert.equal(parseOidcSettings(providerId, { ...base, issuer: "http://127.0.0.1:8080" }).issuer, "http://127.0.0.1:8080");
      assert.equal(parseOidcSettings(providerId, { ...base, issuer: "http://[::1]:8080" }).issuer, "http://[::1]:8080");
    });

    it("refuses missing and out-of-range fields", () => {
      rejectsSetting({ issuer: base.issuer }, "client_id");
      rejectsSetting({ client_id: "x" }, "issuer");
      rejectsSetting({ ...base, clock_tolerance_seconds: 301 }, "clock_tolerance_seconds");
      rejectsSetting({ ...base, clock_tolerance_seconds: -1 }, "clock_tolerance_seconds");
      rejectsSetting({ ...base, http_timeout_ms: "fast" }, "http_timeout_ms");
      rejectsSetting({ ...base, audiences: "aesp" }, "audiences");
      rejectsSetting({ ...base, scopes: "profile email" }, "scopes");
      rejectsSetting({ ...base, use_pkce: false }, "use_pkce");
      rejectsSetting({ ...base, device_authorization: "yes" }, "device_authorization");
      assert.equal(parseOidcSettings(providerId, { ...base, jwks_cooldown_ms: "250" }).jwksCooldownMs, 250);
    });

    it("picks a verifier by the unverified issuer, compared exactly", async () => {
      const token = await mint();
      assert.equal(unverifiedIssuer(token), idp.issuer);
      assert.equal(unverifiedIssuer("garbage"), null);
      assert.equal(unverifiedIssuer(await signWith(idp.signingKey.privateKey, { alg: "ES256" }, { sub: "x" })), null);
      assert.equal(verifier().claimsIssuer(idp.issuer), true);
      assert.equal(verifier().claimsIssuer(`${idp.issuer}/`), false);
      assert.equal(verifier().claimsIssuer(idp.issuer.toUpperCase()), false);
    });
  });
});
