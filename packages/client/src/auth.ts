/**
 * Bearer-token handling: an API key is exchanged for a short-lived access token on first use and
 * again shortly before that token expires. Concurrent calls share one exchange (single flight), and
 * a unary call refused with TOKEN_EXPIRED is retried once with a fresh token.
 */
import { ConnectError } from "@connectrpc/connect";
import type { Interceptor } from "@connectrpc/connect";
import { EnterpriseErrorSchema } from "@aesp/proto/enterprise";
import { AespError } from "./errors.ts";

/** An access token and the instant (Unix ms) it stops being accepted. */
export interface IssuedToken {
  readonly accessToken: string;
  readonly expiresAtMs: number;
}

/** Where access tokens come from. */
export interface TokenSource {
  /** A token valid for at least the refresh skew, or null when the client has no credential. */
  token(): Promise<string | null>;
  /** Forgets `token` (the Host said it expired) so that the next {@link token} call fetches a fresh one. */
  invalidate(token: string): void;
  /** Whether {@link invalidate} followed by {@link token} can yield a different token. */
  readonly renewable: boolean;
}

/** RPCs that carry their own credential and must never trigger a token exchange. */
export const publicMethods: ReadonlySet<string> = new Set([
  "aesp.v1.HostService/GetHostInfo",
  "aesp.v1.HostService/RedeemBootstrapToken",
  "aesp.v1.EnterpriseAuthenticationService/AuthenticateServiceAccount",
  "aesp.v1.EnterpriseAuthenticationService/AuthenticateUser",
  "aesp.v1.EnterpriseAuthenticationService/RefreshToken",
  "aesp.v1.IdentityProviderService/ListSignInMethods",
  "aesp.v1.RuntimeAdminService/EnrollRuntime",
]);

/**
 * The tenant an API key belongs to: keys have the shape `aesp.<tenant>.<keyId>.<secret>`.
 * @throws AespError INVALID_ARGUMENT when the key does not have that shape.
 */
export function tenantOfApiKey(apiKey: string): string {
  const parts = apiKey.split(".");
  if (parts.length !== 4 || parts[0] !== "aesp" || parts.some((part) => part === "")) {
    throw new AespError({
      code: "INVALID_ARGUMENT",
      message: "The API key is malformed.",
      details: { field: "api_key" },
      remediation: ["API keys look like aesp.<tenant>.<key id>.<secret>; copy the whole key as printed when it was created."],
    });
  }
  return parts[1] as string;
}

/** A fixed token supplied by the caller: never refreshed. */
export function staticTokenSource(accessToken: string | null): TokenSource {
  return { token: async () => accessToken, invalidate: () => undefined, renewable: false };
}

/**
 * A token source that exchanges an API key through `exchange` and renews the token
 * `refreshSkewMs` before it expires (or halfway through its life, whichever comes first).
 */
export function apiKeyTokenSource(options: {
  exchange: () => Promise<IssuedToken>;
  refreshSkewMs: number;
  now?: () => number;
}): TokenSource {
  const now = options.now ?? Date.now;
  let current: { token: string; refreshAtMs: number } | null = null;
  let inFlight: Promise<string> | null = null;

  const fetchToken = async (): Promise<string> => {
    const requestedAt = now();
    const issued = await options.exchange();
    const lifetimeMs = Math.max(0, issued.expiresAtMs - requestedAt);
    // A skew longer than the token's life would re-exchange on every call.
    const skewMs = Math.min(options.refreshSkewMs, lifetimeMs / 2);
    current = { token: issued.accessToken, refreshAtMs: issued.expiresAtMs - skewMs };
    return issued.accessToken;
  };

  return {
    renewable: true,
    async token() {
      if (current !== null && now() < current.refreshAtMs) return current.token;
      inFlight ??= fetchToken().finally(() => {
        inFlight = null;
      });
      return inFlight;
    },
    invalidate(token) {
      if (current?.token === token) current = null;
    },
  };
}

/** True when the Host refused the call because the presented access token expired. */
export function isTokenExpired(err: unknown): boolean {
  if (err instanceof AespError) return err.code === "TOKEN_EXPIRED";
  if (!(err instanceof ConnectError)) return false;
  return err.findDetails(EnterpriseErrorSchema).some((detail) => detail.code === "TOKEN_EXPIRED");
}

/**
 * The interceptor that sets `authorization: Bearer <token>` on every non-public RPC and replays a
 * unary call once when the Host reports TOKEN_EXPIRED. Streaming calls are not replayed: their
 * request body may already be consumed; the proactive refresh covers them.
 */
export function bearerTokenInterceptor(source: TokenSource): Interceptor {
  return (next) => async (req) => {
    if (publicMethods.has(`${req.service.typeName}/${req.method.name}`)) return next(req);
    const token = await source.token();
    if (token === null) return next(req);
    req.header.set("authorization", `Bearer ${token}`);
    try {
      return await next(req);
    } catch (err) {
      if (req.stream || !source.renewable || !isTokenExpired(err)) throw err;
      source.invalidate(token);
      const fresh = await source.token();
      if (fresh === null) throw err;
      req.header.set("authorization", `Bearer ${fresh}`);
      return await next(req);
    }
  };
}
