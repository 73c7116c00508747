/**
 * How `aesp login` signs a person in through the tenant's identity providers. Each method ends in
 * the Host's own tokens (a short-lived access token and a rotating refresh token):
 *
 * - OIDC: authorization code + PKCE through a loopback redirect, or the device flow; the ID token
 *   is exchanged with `AuthenticateUser(oauth_token)`, which verifies it (issuer, audience, nonce).
 * - SAML: the browser is sent to the Host's SP-initiated login with a loopback `return_to` and a
 *   PKCE challenge; the Host's assertion consumer redirects back with a one-time code, which only
 *   this process (holding the verifier) can redeem at `POST /saml/token`. Tokens never travel in a URL.
 * - LDAP: the password is read without echo (or from stdin) and sent once to `AuthenticateUser`.
 */
import { createHash, randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { request as httpsRequest } from "node:https";
import { AespError } from "@aesp/client";
import type { AespClient } from "@aesp/client";
import type { AuthenticateUserResponse } from "@aesp/proto/authentication";
import { SignInMethodSchema } from "@aesp/proto/identity_provider";
import type { SignInMethod } from "@aesp/proto/identity_provider";
import type { CliContext } from "../context.ts";
import { loginWithAuthorizationCode, loginWithDeviceCode } from "../oidc-login.ts";

/** The Host tokens a sign-in ends with. */
export interface SignedIn {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresAt: number;
  readonly principalId: string;
  readonly tenantId: string;
}

/** The kinds of sign-in `aesp login` offers. */
export type SignInKind = "oidc" | "saml" | "ldap";

/**
 * Picks the tenant's provider of `kind`: the one named, or the only one of that kind.
 * @throws AespError NOT_FOUND when none matches; INVALID_ARGUMENT when several do and none is named.
 */
export async function chooseProvider(client: AespClient, tenantId: string, kind: SignInKind, providerId: string | undefined): Promise<SignInMethod> {
  if (kind === "ldap" && providerId !== undefined && providerId !== "") {
    // A password sign-in needs nothing from discovery, and the Host's own answer (e.g. a suspended
    // tenant) is more telling than discovery's, which shows nothing for unknown or suspended tenants.
    return create(SignInMethodSchema, { providerId, kind });
  }
  const { methods } = await client.services.identityProviders.listSignInMethods({ tenantId });
  const ofKind = methods.filter((method) => method.kind === kind);
  const named = providerId === undefined || providerId === "" ? ofKind : ofKind.filter((method) => method.providerId === providerId);
  if (named.length === 1) return named[0] as SignInMethod;
  const available = methods.map((method) => `${method.kind} ${method.providerId}${method.displayName === "" ? "" : ` (${method.displayName})`}`);
  if (named.length === 0) {
    throw new AespError({
      code: "NOT_FOUND",
      message: providerId === undefined ? `Tenant ${tenantId} has no ${kind} sign-in.` : `Tenant ${tenantId} has no ${kind} provider named "${providerId}".`,
      // Discovery shows nothing for a tenant that does not exist or is suspended, by design.
      details: { tenant_id: tenantId, kind, ...(providerId === undefined ? {} : { provider: providerId }) },
      remediation:
        available.length === 0
          ? ["Check the tenant id: an unknown or suspended tenant offers no sign-in.", "Or ask a tenant administrator to configure an identity provider (IdentityProviderService/PutIdentityProvider)."]
          : [`This tenant offers: ${available.join("; ")}.`],
    });
  }
  throw new AespError({
    code: "INVALID_ARGUMENT",
    message: `Tenant ${tenantId} has several ${kind} providers; name one.`,
    details: { tenant_id: tenantId, kind },
    remediation: [`Choose one of: ${named.map((method) => method.providerId).join(", ")} (e.g. aesp login --tenant ${tenantId} --${kind} ${named[0]?.providerId ?? ""}).`],
  });
}

/** OIDC sign-in: browser (code + PKCE) or device flow, then the ID token exchanged at the Host. */
export async function signInWithOidc(
  ctx: CliContext,
  client: AespClient,
  method: SignInMethod,
  tenantId: string,
  options: { device: boolean; browser: boolean; timeoutSeconds: number },
): Promise<SignedIn> {
  const login = {
    issuer: method.issuer,
    clientId: method.clientId,
    ...(method.scopes === "" ? {} : { scopes: method.scopes }),
    // Only a test IdP on this machine may use plain http; oidc-login refuses any other.
    allowInsecureLoopback: true,
    timeoutSeconds: options.timeoutSeconds,
  };
  const print = (line: string): void => ctx.note(line);
  const result = options.device
    ? await loginWithDeviceCode(login, { print })
    : await loginWithAuthorizationCode(login, { print, ...(options.browser ? { openBrowser: (url: string) => ctx.io.openBrowser(url) } : {}) });
  const response = await client.services.authentication.authenticateUser({
    tenantId,
    credential: { case: "oauthToken", value: { provider: method.providerId, idToken: result.idToken, accessToken: "" } },
    context: { client: "aesp-cli", flow: options.device ? "device" : "authorization_code" },
  });
  return successDetails(response.responseType);
}

/** LDAP sign-in with a password read without echo. */
export async function signInWithPassword(ctx: CliContext, client: AespClient, method: SignInMethod, tenantId: string, username: string): Promise<SignedIn> {
  const password = await ctx.io.readSecret(`Password for ${username} (${method.displayName === "" ? method.providerId : method.displayName}): `);
  if (password === "") {
    throw new AespError({ code: "INVALID_ARGUMENT", message: "No password was given.", details: { field: "password" }, remediation: ["Type the password at the prompt, or pipe it with --password-stdin."] });
  }
  const response = await client.services.authentication.authenticateUser({
    tenantId,
    credential: { case: "usernamePassword", value: { username, password, provider: method.providerId } },
    context: { client: "aesp-cli" },
  });
  return successDetails(response.responseType);
}

/** SAML sign-in through the browser, finished by redeeming a one-time code with the PKCE verifier. */
export async function signInWithSaml(
  ctx: CliContext,
  method: SignInMethod,
  tenantId: string,
  options: { browser: boolean; timeoutSeconds: number; hostUrl: string },
): Promise<SignedIn> {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const listener = await listenForCode();
  try {
    const base = new URL(options.hostUrl);
    const login = new URL(`/saml/${encodeURIComponent(tenantId)}/${encodeURIComponent(method.providerId)}/login`, base);
    login.searchParams.set("return_to", listener.returnTo);
    login.searchParams.set("code_challenge", challenge);
    login.searchParams.set("code_challenge_method", "S256");
    ctx.note("Sign in with your browser. If it does not open, visit:");
    ctx.note(`  ${login.href}`);
    if (options.browser) {
      ctx.io.openBrowser(login.href).catch((err: unknown) => ctx.note(`Could not open a browser (${err instanceof Error ? err.message : String(err)}); open the URL above.`));
    }
    const code = await withTimeout(listener.code, options.timeoutSeconds);
    const caCertificatePem = await ctx.caCertificatePem();
    const tokens = await postJson(new URL("/saml/token", base), { code, code_verifier: verifier }, caCertificatePem);
    return {
      accessToken: stringField(tokens, "access_token"),
      refreshToken: stringField(tokens, "refresh_token"),
      expiresAt: Number(stringField(tokens, "expires_at")),
      principalId: stringField(tokens, "principal_id"),
      tenantId: stringField(tokens, "tenant_id"),
    };
  } finally {
    await listener.close();
  }
}

function successDetails(response: AuthenticateUserResponse["responseType"]): SignedIn {
  if (response.case !== "successDetails") throw new AespError({ code: "INTERNAL_ERROR", message: "The Host answered the sign-in without tokens." });
  const details = response.value;
  return {
    accessToken: details.accessToken,
    refreshToken: details.refreshToken,
    expiresAt: Number(details.expiresAt),
    principalId: details.securityContext?.principalId ?? "",
    tenantId: details.securityContext?.tenantId ?? "",
  };
}

interface CodeListener {
  readonly returnTo: string;
  readonly code: Promise<string>;
  close(): Promise<void>;
}

/** A one-shot listener on 127.0.0.1 for the Host's redirect carrying `?code=` (or `?error=`). */
async function listenForCode(): Promise<CodeListener> {
  let settle: { resolve(code: string): void; reject(err: Error): void } = { resolve: () => undefined, reject: () => undefined };
  const code = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  let delivered = false;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.method !== "GET" || url.pathname !== "/saml/callback" || delivered) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not found.\n");
      return;
    }
    const value = url.searchParams.get("code");
    const error = url.searchParams.get("error");
    delivered = true;
    res
      .writeHead(value === null ? 400 : 200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
      .end(`<!DOCTYPE html><title>aesp</title><p>${value === null ? "Sign-in failed; see the terminal." : "Signed in. You can close this window and return to the terminal."}</p>\n`);
    if (value === null) {
      settle.reject(new AespError({ code: "AUTHENTICATION_FAILED", message: "The Host refused the SAML sign-in.", details: { reason: (error ?? "no_code").slice(0, 100) }, remediation: ["Run aesp login --saml again; if it persists, ask your tenant administrator."] }));
    } else {
      settle.resolve(value);
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    returnTo: `http://127.0.0.1:${(server.address() as AddressInfo).port}/saml/callback`,
    code,
    close: async () => {
      server.closeAllConnections();
      if (!server.listening) return;
      server.close();
      await once(server, "close");
    },
  };
}

async function withTimeout<T>(work: Promise<T>, seconds: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new AespError({ code: "DEADLINE_EXCEEDED", message: `No sign-in completed within ${seconds} seconds.`, remediation: ["Run aesp login again and finish signing in in the browser before the timeout."] })),
      seconds * 1000,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** POSTs JSON to the Host over HTTPS (trusting its CA) and returns the JSON answer, or throws its EnterpriseError. */
async function postJson(url: URL, body: unknown, caCertificatePem: string | undefined): Promise<Record<string, unknown>> {
  const payload = JSON.stringify(body);
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }, ...(caCertificatePem === undefined ? {} : { ca: caCertificatePem }), timeout: 15_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) =>
      reject(new AespError({ code: "UNAVAILABLE", message: `The Host at ${url.origin} could not be reached.`, details: { reason: err.message }, remediation: ["Check --host and that the Host is running."], cause: err })),
    );
    req.end(payload);
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const object = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  if (status !== 200) {
    const code = typeof object["code"] === "string" ? object["code"] : "AUTHENTICATION_FAILED";
    throw new AespError({
      code,
      message: typeof object["message"] === "string" ? object["message"] : `The Host refused the sign-in (HTTP ${status}).`,
      details: typeof object["details"] === "object" && object["details"] !== null ? (object["details"] as Record<string, string>) : {},
      remediation: ["Run aesp login --saml again; a sign-in code works once and only for about a minute."],
    });
  }
  return object;
}

function stringField(object: Record<string, unknown>, name: string): string {
  const value = object[name];
  if (typeof value !== "string" || value === "") throw new AespError({ code: "INTERNAL_ERROR", message: `The Host's sign-in answer has no ${name}.` });
  return value;
}
