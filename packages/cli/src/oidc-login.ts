/**
 * `aesp login --oidc`: signs a person in at the organisation's OpenID Provider and returns the
 * tokens the Host will verify. Two flows, both with a public client (no secret on the laptop):
 *
 * - authorization code + PKCE (S256) with a loopback redirect (RFC 8252 §7.3): a one-shot HTTP
 *   listener on 127.0.0.1 at a free port receives `/callback`; `state` and `nonce` are checked;
 * - device authorization (RFC 8628) for machines without a browser.
 *
 * All I/O the caller sees goes through injected callbacks, so tests drive both flows headlessly.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as client from "openid-client";
import { AespError } from "@aesp/client";

/** Where and as whom to sign in. */
export interface OidcLoginOptions {
  /** The OpenID Provider's issuer URL, exactly as its discovery document states it. */
  readonly issuer: string;
  /** The CLI's public client id at the provider. */
  readonly clientId: string;
  /** Space-separated scopes; must include `openid`. Default `openid profile email`. */
  readonly scopes?: string;
  /**
   * Permit plain http, and only for a loopback issuer (127.0.0.0/8, ::1, localhost): local test
   * IdPs. Any other http issuer is refused whatever this says.
   */
  readonly allowInsecureLoopback?: boolean;
  /** Give up when the person has not finished signing in after this many seconds. Default 300. */
  readonly timeoutSeconds?: number;
  /** Cancels the login (e.g. Ctrl-C). */
  readonly signal?: AbortSignal;
}

/** The caller's side of the authorization code flow. */
export interface AuthorizationCodeIo {
  /** Writes a line for the person (the CLI sends it to stderr). */
  print(line: string): void;
  /**
   * Opens the authorization URL in a browser. Omitted: the URL is only printed. A failure is
   * reported through {@link print} and the flow keeps waiting, since the person can still paste it.
   */
  openBrowser?(url: string): Promise<void> | void;
}

/** What the device flow asks the person to do. */
export interface DeviceCodePrompt {
  readonly verificationUri: string;
  /** The URI with the code filled in, when the provider offers one. */
  readonly verificationUriComplete?: string;
  readonly userCode: string;
  readonly expiresInSeconds: number;
}

/** The caller's side of the device flow. */
export interface DeviceCodeIo {
  print(line: string): void;
  /** Receives the prompt as data as well (e.g. to render a QR code); optional. */
  showDeviceCode?(prompt: DeviceCodePrompt): void;
}

/** Tokens from a completed login. Pass `nonce` to the Host's ID token verification. */
export interface OidcLoginResult {
  readonly idToken: string;
  readonly accessToken: string;
  readonly refreshToken?: string;
  /** The nonce sent in the authorization request; absent for the device flow, which has none. */
  readonly nonce?: string;
  /** Access token lifetime in seconds, when the provider stated it. */
  readonly expiresInSeconds?: number;
}

const defaultScopes = "openid profile email";
const defaultTimeoutSeconds = 300;
const callbackPath = "/callback";
const discoveryTimeoutSeconds = 10;

/**
 * Authorization code flow with PKCE and a loopback redirect.
 *
 * Rules enforced:
 * - the redirect listener binds 127.0.0.1 only and accepts one callback carrying the expected
 *   `state`; requests with another state are answered 400 and ignored (a local page cannot end
 *   the login by guessing the port);
 * - PKCE S256 always, a fresh `state` and `nonce` per login; the ID token's nonce is checked;
 * - the listener is closed however the login ends.
 *
 * Errors (AespError): INVALID_ARGUMENT (issuer, scopes), IDENTITY_PROVIDER_UNAVAILABLE
 * (discovery, network), AUTHENTICATION_FAILED (the provider refused, details.error), DEADLINE_EXCEEDED
 * (no sign-in within the timeout), CANCELLED.
 */
export async function loginWithAuthorizationCode(options: OidcLoginOptions, io: AuthorizationCodeIo): Promise<OidcLoginResult> {
  const scopes = checkedScopes(options.scopes);
  const config = await discover(options);
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const listener = await listenForCallback(state);
  const deadline = deadlineSignal(options);
  try {
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: listener.redirectUri,
      scope: scopes,
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
    });
    io.print("Sign in with your browser. If it does not open, visit:");
    io.print(`  ${authorizationUrl.href}`);
    if (io.openBrowser !== undefined) {
      const openBrowser = io.openBrowser.bind(io);
      void Promise.resolve()
        .then(() => openBrowser(authorizationUrl.href))
        .catch((err: unknown) => io.print(`Could not open a browser (${err instanceof Error ? err.message : String(err)}); open the URL above.`));
    }
    const callbackUrl = await raceDeadline(listener.callback, deadline.signal, options.timeoutSeconds);
    const tokens = await client
      .authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true })
      .catch((err: unknown) => {
        throw providerFailure(options.issuer, err);
      });
    return { ...loginResult(tokens), nonce };
  } finally {
    deadline.clear();
    await listener.close();
  }
}

/**
 * Device authorization flow (RFC 8628): prints where to go and which code to enter, then polls
 * at the interval the provider asks for (backing off on `slow_down`).
 *
 * Errors (AespError): as {@link loginWithAuthorizationCode}; DEADLINE_EXCEEDED also when the
 * device code expires.
 */
export async function loginWithDeviceCode(options: OidcLoginOptions, io: DeviceCodeIo): Promise<OidcLoginResult> {
  const scopes = checkedScopes(options.scopes);
  const config = await discover(options);
  if (config.serverMetadata().device_authorization_endpoint === undefined) {
    throw new AespError({
      code: "INVALID_ARGUMENT",
      message: "The identity provider does not offer the device flow.",
      details: { issuer: options.issuer },
      remediation: ["Sign in with the browser flow instead (omit --device)."],
    });
  }
  const deadline = deadlineSignal(options);
  try {
    const authorization = await client.initiateDeviceAuthorization(config, { scope: scopes }).catch((err: unknown) => {
      throw providerFailure(options.issuer, err);
    });
    const prompt: DeviceCodePrompt = {
      verificationUri: authorization.verification_uri,
      ...(authorization.verification_uri_complete === undefined ? {} : { verificationUriComplete: authorization.verification_uri_complete }),
      userCode: authorization.user_code,
      expiresInSeconds: authorization.expires_in,
    };
    io.print(`To sign in, open ${prompt.verificationUri} and enter the code ${prompt.userCode}`);
    if (prompt.verificationUriComplete !== undefined) io.print(`  (or open ${prompt.verificationUriComplete})`);
    io.showDeviceCode?.(prompt);
    const tokens = await client.pollDeviceAuthorizationGrant(config, authorization, undefined, { signal: deadline.signal }).catch((err: unknown) => {
      if (deadline.signal.aborted || (err instanceof client.ResponseBodyError && err.error === "expired_token")) throw deadlineFailure(options, err);
      throw providerFailure(options.issuer, err);
    });
    return loginResult(tokens);
  } finally {
    deadline.clear();
  }
}

// ---------------------------------------------------------------- discovery and issuer rules

/** True for hosts that never leave this machine: 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(host);
}

async function discover(options: OidcLoginOptions): Promise<client.Configuration> {
  let issuer: URL;
  try {
    issuer = new URL(options.issuer);
  } catch {
    throw invalidIssuer(options.issuer, "The issuer is not a URL.");
  }
  let insecure = false;
  if (issuer.protocol === "http:") {
    if (!isLoopbackHost(issuer.hostname)) throw invalidIssuer(options.issuer, "The issuer must use https.");
    if (options.allowInsecureLoopback !== true) throw invalidIssuer(options.issuer, "The issuer uses plain http; allow it for a local test IdP explicitly.");
    insecure = true;
  } else if (issuer.protocol !== "https:") {
    throw invalidIssuer(options.issuer, "The issuer must use https.");
  }
  try {
    return await client.discovery(issuer, options.clientId, undefined, client.None(), {
      timeout: discoveryTimeoutSeconds,
      ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
    });
  } catch (err) {
    throw new AespError({
      code: "IDENTITY_PROVIDER_UNAVAILABLE",
      message: "The identity provider's discovery document could not be loaded.",
      details: { issuer: options.issuer, reason: failureReason(err) },
      remediation: ["Check the issuer URL and that the provider is reachable from this machine.", "Retry later."],
      cause: err,
    });
  }
}

function invalidIssuer(issuer: string, message: string): AespError {
  return new AespError({
    code: "INVALID_ARGUMENT",
    message,
    details: { field: "issuer", issuer },
    remediation: ["Use the provider's https issuer URL; plain http is only for a test IdP on 127.0.0.1 with allowInsecureLoopback."],
  });
}

function checkedScopes(scopes: string | undefined): string {
  const value = (scopes ?? defaultScopes).trim().split(/\s+/).join(" ");
  if (!value.split(" ").includes("openid")) {
    throw new AespError({ code: "INVALID_ARGUMENT", message: "The scopes must include openid.", details: { field: "scopes" }, remediation: [`Use "${defaultScopes}".`] });
  }
  return value;
}

// ---------------------------------------------------------------- the loopback redirect

interface CallbackListener {
  readonly redirectUri: string;
  /** Resolves with the full callback URL once a request with the expected state arrives. */
  readonly callback: Promise<URL>;
  close(): Promise<void>;
}

async function listenForCallback(expectedState: string): Promise<CallbackListener> {
  let deliver: (url: URL) => void = () => undefined;
  const callback = new Promise<URL>((resolve) => {
    deliver = resolve;
  });
  let delivered = false;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", redirectUri);
    if (req.method !== "GET" || url.pathname !== callbackPath) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not found.\n");
      return;
    }
    if (delivered || url.searchParams.get("state") !== expectedState) {
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8" }).end("This sign-in link is not the one aesp is waiting for.\n");
      return;
    }
    delivered = true;
    const failed = url.searchParams.has("error");
    res
      .writeHead(failed ? 400 : 200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
      .end(`<!DOCTYPE html><title>aesp</title><p>${failed ? "Sign-in failed; see the terminal." : "Signed in. You can close this window and return to the terminal."}</p>\n`);
    deliver(url);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}${callbackPath}`;
  return {
    redirectUri,
    callback,
    close: async () => {
      server.closeAllConnections();
      if (!server.listening) return;
      server.close();
      await once(server, "close");
    },
  };
}

// ---------------------------------------------------------------- deadlines and failures

function deadlineSignal(options: OidcLoginOptions): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("timeout")), (options.timeoutSeconds ?? defaultTimeoutSeconds) * 1000);
  const onCancel = (): void => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onCancel, { once: true });
  if (options.signal?.aborted === true) onCancel();
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onCancel);
    },
  };
}

async function raceDeadline<T>(work: Promise<T>, signal: AbortSignal, timeoutSeconds: number | undefined): Promise<T> {
  if (signal.aborted) throw abortFailure(signal, timeoutSeconds);
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortFailure(signal, timeoutSeconds));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function abortFailure(signal: AbortSignal, timeoutSeconds: number | undefined): AespError {
  const timedOut = signal.reason instanceof Error && signal.reason.message === "timeout";
  if (!timedOut) return new AespError({ code: "CANCELLED", message: "The login was cancelled." });
  return new AespError({
    code: "DEADLINE_EXCEEDED",
    message: `No sign-in completed within ${timeoutSeconds ?? defaultTimeoutSeconds} seconds.`,
    remediation: ["Run aesp login --oidc again and finish signing in in the browser before the timeout."],
  });
}

function deadlineFailure(options: OidcLoginOptions, cause: unknown): AespError {
  if (options.signal?.aborted === true) return new AespError({ code: "CANCELLED", message: "The login was cancelled.", cause });
  return new AespError({
    code: "DEADLINE_EXCEEDED",
    message: "The device code expired before sign-in completed.",
    remediation: ["Run aesp login --oidc --device again and enter the new code promptly."],
    cause,
  });
}

function providerFailure(issuer: string, err: unknown): AespError {
  if (err instanceof AespError) return err;
  if (err instanceof client.AuthorizationResponseError || err instanceof client.ResponseBodyError) {
    return new AespError({
      code: "AUTHENTICATION_FAILED",
      message: "The identity provider refused the sign-in.",
      details: { issuer, error: err.error, ...(err.error_description === undefined ? {} : { error_description: err.error_description.slice(0, 200) }) },
      remediation: ["Check that you may use this application at the provider, then run aesp login --oidc again."],
      cause: err,
    });
  }
  if (err instanceof client.ClientError) {
    return new AespError({
      code: "AUTHENTICATION_FAILED",
      message: "The identity provider's response failed validation.",
      details: { issuer, reason: err.code ?? "invalid_response" },
      remediation: ["Run aesp login --oidc again; if it persists, report it to the provider's administrator."],
      cause: err,
    });
  }
  return new AespError({
    code: "IDENTITY_PROVIDER_UNAVAILABLE",
    message: "The identity provider could not be reached.",
    details: { issuer, reason: failureReason(err) },
    remediation: ["Retry later; check the network path to the provider."],
    cause: err,
  });
}

function failureReason(err: unknown): string {
  if (err instanceof client.ClientError && err.code !== undefined) return err.code;
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) return "timeout";
  return "unreachable";
}

function loginResult(tokens: client.TokenEndpointResponse): Omit<OidcLoginResult, "nonce"> {
  if (tokens.id_token === undefined) {
    throw new AespError({ code: "AUTHENTICATION_FAILED", message: "The identity provider returned no ID token.", details: { reason: "no_id_token" }, remediation: ["Request the openid scope."] });
  }
  return {
    idToken: tokens.id_token,
    accessToken: tokens.access_token,
    ...(tokens.refresh_token === undefined ? {} : { refreshToken: tokens.refresh_token }),
    ...(tokens.expires_in === undefined ? {} : { expiresInSeconds: tokens.expires_in }),
  };
}
