/**
 * Plain HTTP endpoints of identity that browsers and relying parties call directly:
 * the Host's JWKS, and the SAML 2.0 service provider (SP-initiated login, assertion consumer,
 * metadata, and the code exchange that hands a CLI its tokens). Each only decodes, calls one
 * use-case and encodes.
 *
 * Rules enforced (see saml-login-codes.ts for the one-time values):
 * - no token ever appears in a URL: the ACS redirects the browser to the CLI's loopback address
 *   with a one-time code, and the CLI exchanges that code and its PKCE verifier at `/saml/token`;
 * - the ACS redirects only to a loopback address recorded at `/login`, never to one the request
 *   carries; a refused sign-in goes there too, as `?error=<reason>`, so the CLI stops waiting;
 * - a browser sign-in no CLI waits for (no RelayState: SP-initiated without `return_to`, or
 *   IdP-initiated) is verified and audited, and the tokens it produced are revoked at once: the
 *   browser gets a page saying so, and no credential is left that nobody holds.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { EnterpriseError } from "@aesp/core";
import type { IssuedTokens, RequestOrigin } from "@aesp/core";
import { httpStatusOf, toEnterpriseErrorMessage } from "./errors.ts";
import { SamlLoginCodes, parseLoginStart } from "./saml-login-codes.ts";
import type { GatewayDeps } from "./services/deps.ts";

interface LoginQuery {
  return_to?: string;
  code_challenge?: string;
  code_challenge_method?: string;
}

/** Registers `/.well-known/jwks.json`, `/saml/:tenant/:provider/{login,acs,metadata}` and `/saml/token`. */
export async function identityRoutes(app: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const codes = new SamlLoginCodes({ store: deps.store.platform.oneTimeValues, clock: deps.clock, tokens: deps.tokens, audit: deps.audit });

  app.get("/.well-known/jwks.json", async (_req, reply) => reply.header("cache-control", "public, max-age=300").send(await deps.signingKeys.jwks()));

  app.get<{ Params: { tenant: string; provider: string }; Querystring: LoginQuery }>("/saml/:tenant/:provider/login", async (req, reply) => {
    return answer(reply, async () => {
      const provider = await deps.identityProviders.resolveEnabled(req.params.tenant, req.params.provider, "saml");
      const start = parseLoginStart(req.query);
      const relayState = start === null ? "" : await codes.begin({ ...start, tenantId: provider.tenantId, providerId: provider.providerId });
      return reply.header("cache-control", "no-store").redirect(await deps.adapters.saml(provider).loginUrl(relayState), 302);
    });
  });

  app.post<{ Params: { tenant: string; provider: string }; Body: { SAMLResponse?: unknown; RelayState?: unknown } }>("/saml/:tenant/:provider/acs", async (req, reply) => {
    return answer(reply, async () => {
      const body: { SAMLResponse?: unknown; RelayState?: unknown } | undefined = req.body;
      if (typeof body !== "object" || body === null || typeof body.SAMLResponse !== "string") throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "SAMLResponse" } });
      if (body.RelayState !== undefined && typeof body.RelayState !== "string") throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "RelayState" } });
      const provider = await deps.identityProviders.resolveEnabled(req.params.tenant, req.params.provider, "saml");
      const origin = originOf(req);
      const relayState = body.RelayState ?? "";
      const login = relayState === "" ? null : await codes.resume(origin, relayState, provider.tenantId, provider.providerId);
      let issued: IssuedTokens;
      try {
        issued = await deps.externalSignIn.samlSignIn(origin, provider, deps.adapters.saml(provider), body.SAMLResponse, deps.replayGuard);
      } catch (err) {
        if (login === null) throw err;
        // The CLI waits on its loopback address: tell it now (a reason, never a secret) instead of letting it time out.
        return reply.headers(browserPageHeaders).redirect(`${login.returnTo}?${new URLSearchParams({ error: refusalReason(err) }).toString()}`, 303);
      }
      if (login === null) {
        await codes.revokeUndelivered(origin, issued, "saml_browser_sign_in_without_cli");
        return reply
          .code(200)
          .headers(browserPageHeaders)
          .type("text/html; charset=utf-8")
          .send(signedInPage(issued.principal.displayName, issued.principal.tenantId));
      }
      const code = await codes.issue(login, issued);
      return reply.headers(browserPageHeaders).redirect(`${login.returnTo}?${new URLSearchParams({ code }).toString()}`, 303);
    });
  });

  app.post<{ Body: { code?: unknown; code_verifier?: unknown } }>("/saml/token", async (req, reply) => {
    return answer(reply, async () => {
      const body: { code?: unknown; code_verifier?: unknown } | undefined = req.body;
      if (typeof body !== "object" || body === null) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "code" } });
      const tokens = await codes.redeem(originOf(req), body.code, body.code_verifier);
      return reply
        .header("cache-control", "no-store")
        .header("pragma", "no-cache")
        .send({
          access_token: tokens.accessToken,
          refresh_token: tokens.refreshToken,
          expires_at: String(tokens.expiresAt),
          token_type: "Bearer",
          principal_id: tokens.principalId,
          tenant_id: tokens.tenantId,
        });
    });
  });

  app.get<{ Params: { tenant: string; provider: string } }>("/saml/:tenant/:provider/metadata", async (req, reply) => {
    return answer(reply, async () => {
      const provider = await deps.identityProviders.resolveEnabled(req.params.tenant, req.params.provider, "saml");
      return reply.type("application/samlmetadata+xml").send(deps.adapters.saml(provider).metadata());
    });
  });
}

/** What a browser is told about a page or redirect that must not be cached, framed or leak its URL. */
const browserPageHeaders = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
};

function originOf(req: FastifyRequest): RequestOrigin {
  return { sourceIp: req.ip, userAgent: String(req.headers["user-agent"] ?? "").slice(0, 256), correlationId: req.id };
}

/** What the CLI is told about a refused sign-in: the refusal's reason, else its code. */
function refusalReason(err: unknown): string {
  if (!(err instanceof EnterpriseError)) return "internal_error";
  const reason = err.details["reason"] ?? "";
  return (/^[a-z0-9_]{1,64}$/.test(reason) ? reason : err.code.toLowerCase()).slice(0, 64);
}

function signedInPage(displayName: string, tenantId: string): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>AESP sign-in</title></head><body>` +
    `<h1>Signed in</h1><p>${escapeHtml(displayName)} signed in to tenant ${escapeHtml(tenantId)}.</p>` +
    `<p>No token was given to this browser: tokens are only delivered to the command-line client. ` +
    `Run <code>aesp login</code> to sign in there. You can close this window.</p></body></html>`
  );
}

function escapeHtml(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

async function answer(reply: FastifyReply, work: () => Promise<FastifyReply>): Promise<FastifyReply> {
  try {
    return await work();
  } catch (err) {
    const error = err instanceof EnterpriseError ? err : new EnterpriseError("INTERNAL_ERROR", { cause: err });
    const message = toEnterpriseErrorMessage(error);
    return reply.code(httpStatusOf(error)).header("cache-control", "no-store").send({ code: message.code, message: message.message, details: message.details });
  }
}
