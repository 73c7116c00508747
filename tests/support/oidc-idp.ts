/**
 * A real OpenID Provider for identity tests: `oidc-provider` v9 on http://127.0.0.1:<free port>,
 * with keys generated in-process, the clients the Host and the CLI use, device flow, client
 * credentials with JWT access tokens, and its development login/consent pages, which
 * {@link OidcIdp.loginHeadless} drives with fetch as a browser would.
 *
 * Key rotation builds a new provider with the new key set and swaps it in behind the same HTTP
 * server, so the issuer URL (and port) never changes, as with a real IdP.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import type { JsonWebKey, KeyObject } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { CompactSign } from "jose";
import type { CompactJWSHeaderParameters } from "jose";

/** A signing key of the test IdP; the private half is exposed for building hostile tokens. */
export interface IdpSigningKey {
  readonly kid: string;
  readonly alg: "ES256" | "RS256";
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** An account the IdP knows; any password signs it in (development interactions). */
export interface IdpAccount {
  readonly sub: string;
  readonly preferred_username: string;
  readonly name: string;
  readonly email: string;
  readonly groups: readonly string[];
  readonly department: string;
}

export const idpAccounts: Readonly<Record<string, IdpAccount>> = {
  alice: { sub: "u-alice-7f3a", preferred_username: "alice", name: "Alice Example", email: "alice@example.test", groups: ["engineers", "aesp-admins"], department: "platform" },
  bob: { sub: "u-bob-19c2", preferred_username: "bob", name: "Bob Example", email: "bob@example.test", groups: ["engineers"], department: "research" },
};

/** The authentication methods and context class every development login is recorded with. */
export const idpLoginAmr: readonly string[] = ["pwd", "mfa"];
export const idpLoginAcr = "urn:aesp:acr:mfa";

export const cliClientId = "aesp-cli";
export const serviceClientId = "aesp-service";
/** The audience of JWT access tokens for the Host, and the resource indicator naming it. */
export const hostAudience = "aesp-host";
export const hostResource = "urn:aesp:host";
export const hostScope = "aesp:invoke";

export interface StartOidcIdpOptions {
  /** Also publish an RSA (RS256) key after the EC one. */
  readonly rsa?: boolean;
  /**
   * Polling interval (seconds) announced in device authorization responses. oidc-provider sends
   * none, so clients wait the RFC 8628 default of 5 s; tests shorten it. Default 1.
   */
  readonly deviceIntervalSeconds?: number;
}

export interface OidcIdp {
  readonly issuer: string;
  readonly port: number;
  readonly serviceClientSecret: string;
  /** The key currently used for signing (ES256). */
  readonly signingKey: IdpSigningKey;
  /** Every key in the published JWKS, signing key first. */
  readonly keys: readonly IdpSigningKey[];
  /**
   * Plays the user's browser: opens `authorizationUrl`, signs in as `login` on the development
   * login page, consents, and returns the URL the IdP redirected to (the client's redirect URI with
   * `code` and `state`). The redirect URI itself is not requested.
   */
  loginHeadless(authorizationUrl: string, options: { login: string }): Promise<string>;
  /** Plays the user on a second device: enters `userCode` on the device page, signs in, consents. */
  approveDeviceHeadless(verificationUri: string, userCode: string, options: { login: string }): Promise<void>;
  /**
   * Publishes a new EC signing key and signs with it from now on. The previous keys stay published
   * unless `retirePrevious` is set. Returns the new key.
   */
  rotateKeys(options?: { retirePrevious?: boolean }): Promise<IdpSigningKey>;
  /** A client-credentials JWT access token for {@link hostAudience}, from the token endpoint. */
  issueClientCredentialsToken(): Promise<string>;
  stop(): Promise<void>;
}

/** The part of oidc-provider's Provider (a Koa app) this harness uses; the package ships no types. */
interface ProviderInstance {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
  use(middleware: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): void;
  readonly Session: { prototype: { loginAccount: (this: unknown, details: Record<string, unknown>) => void } };
}
interface KoaContext {
  readonly path: string;
  readonly method: string;
  status: number;
  body: unknown;
}
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;

let providerConstructor: ProviderConstructor | undefined;

async function loadProvider(): Promise<ProviderConstructor> {
  // oidc-provider ships no type declarations; the specifier is widened so TS does not demand them.
  const specifier: string = "oidc-provider";
  providerConstructor ??= ((await import(specifier)) as { default: ProviderConstructor }).default;
  return providerConstructor;
}

/** Starts a test IdP on 127.0.0.1; call `stop()` in `after`. */
export async function startOidcIdp(options: StartOidcIdpOptions = {}): Promise<OidcIdp> {
  const Provider = await loadProvider();
  let handle: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => {
    res.writeHead(503).end();
  };
  const server = http.createServer((req, res) => handle(req, res));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const serviceClientSecret = randomBytes(24).toString("base64url");
  const cookieKeys = [randomBytes(32).toString("base64url")];
  const deviceInterval = options.deviceIntervalSeconds ?? 1;

  let keys: IdpSigningKey[] = [newSigningKey("ES256")];
  const rsaKey = options.rsa === true ? newSigningKey("RS256") : undefined;

  const mount = (): void => {
    const published = rsaKey === undefined ? keys : [...keys, rsaKey];
    const provider = new Provider(issuer, configuration(published, serviceClientSecret, cookieKeys));
    // The development login page records the typed login name and no authentication methods;
    // record the account's stable id and a password+MFA login instead, as a real IdP would.
    const loginAccount = provider.Session.prototype.loginAccount;
    provider.Session.prototype.loginAccount = function (this: unknown, details: Record<string, unknown>) {
      const login = typeof details["accountId"] === "string" ? details["accountId"] : "";
      loginAccount.call(this, { ...details, accountId: idpAccounts[login]?.sub ?? login, amr: details["amr"] ?? [...idpLoginAmr], acr: details["acr"] ?? idpLoginAcr });
    };
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.method === "POST" && ctx.path === "/device/auth" && ctx.status === 200 && isRecord(ctx.body)) {
        ctx.body = { ...ctx.body, interval: deviceInterval };
      }
    });
    handle = provider.callback();
  };
  mount();

  const idp: OidcIdp = {
    issuer,
    port,
    serviceClientSecret,
    get signingKey() {
      return keys[0] as IdpSigningKey;
    },
    get keys() {
      return rsaKey === undefined ? [...keys] : [...keys, rsaKey];
    },
    async loginHeadless(authorizationUrl, { login }) {
      const outcome = await browse(issuer, authorizationUrl, { login, password: "any-password" });
      if (outcome.kind !== "left-idp") throw new Error(`the IdP did not redirect back to the client; last page: ${summarise(outcome.html)}`);
      return outcome.url;
    },
    async approveDeviceHeadless(verificationUri, userCode, { login }) {
      const outcome = await browse(issuer, verificationUri, { user_code: userCode, login, password: "any-password" });
      if (outcome.kind !== "page" || !outcome.html.includes("Sign-in Success")) {
        throw new Error(`device approval did not succeed: ${outcome.kind === "page" ? summarise(outcome.html) : outcome.url}`);
      }
    },
    async rotateKeys(rotation = {}) {
      const fresh = newSigningKey("ES256");
      keys = rotation.retirePrevious === true ? [fresh] : [fresh, ...keys];
      mount();
      return fresh;
    },
    async issueClientCredentialsToken() {
      const response = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${serviceClientId}:${serviceClientSecret}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({ grant_type: "client_credentials", scope: hostScope, resource: hostResource }),
      });
      const body = (await response.json()) as { access_token?: unknown; error?: unknown; error_description?: unknown };
      if (response.status !== 200 || typeof body.access_token !== "string") {
        throw new Error(`client_credentials failed (${response.status}): ${String(body.error)} ${String(body.error_description)}`);
      }
      return body.access_token;
    },
    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
  return idp;
}

function configuration(keys: readonly IdpSigningKey[], serviceClientSecret: string, cookieKeys: string[]): Record<string, unknown> {
  return {
    jwks: { keys: keys.map(privateJwk) },
    // With EC keys first, ES256 must be the default: the built-in default RS256 may have no key.
    clientDefaults: { id_token_signed_response_alg: "ES256" },
    clients: [
      {
        client_id: cliClientId,
        application_type: "native",
        token_endpoint_auth_method: "none",
        // RFC 8252 §7.3: for native clients the loopback port is ignored when matching.
        redirect_uris: ["http://127.0.0.1/callback"],
        grant_types: ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
        response_types: ["code"],
      },
      {
        client_id: serviceClientId,
        client_secret: serviceClientSecret,
        token_endpoint_auth_method: "client_secret_basic",
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
      },
    ],
    cookies: { keys: cookieKeys },
    // Put scope claims in the ID token itself: the Host reads identity from it, not from userinfo.
    conformIdTokenClaims: false,
    acrValues: [idpLoginAcr],
    claims: {
      // auth_time, acr and amr ride with every ID token, as most enterprise IdPs send them.
      openid: ["sub", "auth_time", "acr", "amr"],
      profile: ["name", "preferred_username"],
      email: ["email", "email_verified"],
      groups: ["groups"],
      aesp: ["department"],
      acr: null,
      amr: null,
      auth_time: null,
      sid: null,
      iss: null,
    },
    scopes: ["openid", "profile", "email", "groups", "aesp", "offline_access"],
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx: unknown, resourceIndicator: string) => {
          if (resourceIndicator !== hostResource) throw new Error(`unknown resource ${resourceIndicator}`);
          return { scope: hostScope, audience: hostAudience, accessTokenTTL: 600, accessTokenFormat: "jwt", jwt: { sign: { alg: "ES256" } } };
        },
      },
    },
    // The development login page takes a login name; the account id (and `sub`) is the stable id.
    findAccount: (_ctx: unknown, id: string) => {
      const account = idpAccounts[id] ?? Object.values(idpAccounts).find((candidate) => candidate.sub === id);
      if (account === undefined) return undefined;
      return {
        accountId: account.sub,
        claims: () => ({ ...account, groups: [...account.groups], email_verified: true }),
      };
    },
  };
}

function newSigningKey(alg: "ES256" | "RS256"): IdpSigningKey {
  const pair = alg === "ES256" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { kid: `${alg.toLowerCase()}-${randomBytes(6).toString("hex")}`, alg, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

function privateJwk(key: IdpSigningKey): JsonWebKey {
  return { ...key.privateKey.export({ format: "jwk" }), kid: key.kid, alg: key.alg, use: "sig" };
}

/**
 * Signs an arbitrary JWS, for attack tests: any header (`alg`, `kid`, `typ`), any payload. `key`
 * is a private key, raw HMAC bytes (`HS*`), or `null` with `alg: "none"` for an unsecured token.
 */
export async function signWith(key: KeyObject | Uint8Array | null, header: CompactJWSHeaderParameters, payload: Record<string, unknown>): Promise<string> {
  const body = new TextEncoder().encode(JSON.stringify(payload));
  if (key === null) {
    if (header.alg !== "none") throw new Error("only alg none may be unsigned");
    return `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(body).toString("base64url")}.`;
  }
  return new CompactSign(body).setProtectedHeader(header).sign(key);
}

// ---------------------------------------------------------------- a minimal headless browser

type BrowseOutcome = { kind: "left-idp"; url: string } | { kind: "page"; html: string };

/**
 * Follows redirects and submits the first form of each page, filling inputs by name from `fill`,
 * keeping cookies per path, until the IdP redirects to another origin or shows a page without a
 * form. Buttons outside forms (such as the device page's "abort") are never pressed.
 */
async function browse(issuer: string, startUrl: string, fill: Readonly<Record<string, string>>): Promise<BrowseOutcome> {
  const origin = new URL(issuer).origin;
  const jar = new CookieJar();
  let url = new URL(startUrl);
  let init: { method: "GET" | "POST"; body?: URLSearchParams } = { method: "GET" };
  for (let step = 0; step < 25; step++) {
    const headers: Record<string, string> = { accept: "text/html" };
    const cookie = jar.header(url);
    if (cookie !== "") headers["cookie"] = cookie;
    if (init.body !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
    const response = await fetch(url, { method: init.method, headers, body: init.body ?? null, redirect: "manual" });
    jar.store(url, response.headers.getSetCookie());
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location !== null) {
      await response.body?.cancel();
      url = new URL(location, url);
      if (url.origin !== origin) return { kind: "left-idp", url: url.href };
      init = { method: "GET" };
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) throw new Error(`the IdP answered ${response.status} at ${url.pathname}: ${summarise(html)}`);
    const form = firstForm(html);
    if (form === undefined) return { kind: "page", html };
    const body = new URLSearchParams();
    for (const [name, value] of form.inputs) body.append(name, fill[name] ?? value);
    url = new URL(form.action, url);
    init = form.method === "post" ? { method: "POST", body } : { method: "GET" };
    if (init.method === "GET") url.search = body.toString();
  }
  throw new Error("too many steps at the IdP");
}

interface HtmlForm {
  readonly action: string;
  readonly method: "get" | "post";
  readonly inputs: readonly (readonly [string, string])[];
}

function firstForm(html: string): HtmlForm | undefined {
  const match = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (match === null) return undefined;
  const attributes = match[1] ?? "";
  const inputs: [string, string][] = [];
  for (const input of (match[2] ?? "").matchAll(/<input\b([^>]*)>/gi)) {
    const name = attribute(input[1] ?? "", "name");
    if (name !== undefined) inputs.push([name, attribute(input[1] ?? "", "value") ?? ""]);
  }
  return { action: attribute(attributes, "action") ?? "", method: attribute(attributes, "method")?.toLowerCase() === "post" ? "post" : "get", inputs };
}

function attribute(attributes: string, name: string): string | undefined {
  const value = new RegExp(`\\b${name}="([^"]*)"`, "i").exec(attributes)?.[1];
  return value === undefined ? undefined : decodeEntities(value);
}

function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39|#x27|#x2F);/g, (entity) => ({ "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&#x27;": "'", "&#x2F;": "/" })[entity] ?? entity);
}

function summarise(html: string): string {
  return html.replace(/<style[\s\S]*?<\/style>/gi, "").replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim().slice(0, 300);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Cookies by name and path, sent only to paths under their own, dropped when expired. */
class CookieJar {
  readonly #cookies = new Map<string, { name: string; value: string; path: string }>();

  store(url: URL, setCookies: readonly string[]): void {
    for (const line of setCookies) {
      const [pair = "", ...attributes] = line.split(";").map((part) => part.trim());
      const separator = pair.indexOf("=");
      if (separator <= 0) continue;
      const name = pair.slice(0, separator);
      const value = pair.slice(separator + 1);
      let path = url.pathname.replace(/\/[^/]*$/, "") || "/";
      let expired = value === "";
      for (const attribute of attributes) {
        const [key = "", attributeValue = ""] = attribute.split("=");
        if (key.toLowerCase() === "path") path = attributeValue;
        if (key.toLowerCase() === "max-age" && Number(attributeValue) <= 0) expired = true;
        if (key.toLowerCase() === "expires" && Date.parse(attribute.slice(attribute.indexOf("=") + 1)) <= Date.now()) expired = true;
      }
      const key = `${name};${path}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path });
    }
  }

  header(url: URL): string {
    return [...this.#cookies.values()]
      .filter((cookie) => url.pathname === cookie.path || url.pathname.startsWith(cookie.path.endsWith("/") ? cookie.path : `${cookie.path}/`))
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join("; ");
  }
}
