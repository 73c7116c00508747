/**
 * Plain HTTP endpoints of identity that browsers and relying parties call directly:
 * the Host's JWKS, and the SAML 2.0 service provider (SP-initiated login, assertion consumer,
 * metadata). Each only decodes, calls one use-case and encodes.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { EnterpriseError } from "@aesp/core";
import type { RequestOrigin } from "@aesp/core";
import { httpStatusOf, toEnterpriseErrorMessage } from "./errors.ts";
import type { GatewayDeps } from "./services/deps.ts";

const loopbackReturn = /^http:\/\/(127\.0\.0\.1|\[::1\]):\d{1,5}\/[A-Za-z0-9/_-]*$/;

/** Registers `/.well-known/jwks.json` and `/saml/:tenant/:provider/{login,acs,metadata}`. */
export async function identityRoutes(app: FastifyInstance, deps: GatewayDeps): Promise<void> {
  app.get("/.well-known/jwks.json", async (_req, reply) => reply.header("cache-control", "public, max-age=300").send(await deps.signingKeys.jwks()));

  app.get<{ Params: { tenant: string; provider: string }; Querystring: { return_to?: string } }>("/saml/:tenant/:provider/login", async (req, reply) => {
    return answer(reply, async () => {
      const provider = await deps.identityProviders.resolveEnabled(req.params.tenant, req.params.provider, "saml");
      // RelayState carries the CLI's loopback address back through the IdP (RFC 8252-style).
      const returnTo = req.query.return_to ?? "";
      if (returnTo !== "" && !loopbackReturn.test(returnTo)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "return_to", expected: "an http://127.0.0.1:<port>/ loopback URL" } });
      const relayState = returnTo === "" ? "" : returnTo.slice("http://".length);
      return reply.redirect(await deps.adapters.saml(provider).loginUrl(relayState), 302);
    });
  });

  app.post<{ Params: { tenant: string; provider: string }; Body: { SAMLResponse?: string; RelayState?: string } }>("/saml/:tenant/:provider/acs", async (req, reply) => {
    return answer(reply, async () => {
      const body = req.body;
      if (typeof body !== "object" || typeof body.SAMLResponse !== "string") throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "SAMLResponse" } });
      const provider = await deps.identityProviders.resolveEnabled(req.params.tenant, req.params.provider, "saml");
      const origin: RequestOrigin = { sourceIp: req.ip, userAgent: String(req.headers["user-agent"] ?? "").slice(0, 256), correlationId: req.id };
      const issued = await deps.externalSignIn.samlSignIn(origin, provider, deps.adapters.saml(provider), body.SAMLResponse, deps.replayGuard);
      const tokens = { access_token: issued.accessToken, refresh_token: issued.refreshToken, expires_at: String(issued.expiresAt), token_type: "Bearer", principal_id: issued.principal.principalId, tenant_id: issued.principal.tenantId };
      const relay = typeof body.RelayState === "string" ? `http://${body.RelayState}` : "";
      if (relay !== "http://" && relay !== "" && loopbackReturn.test(relay)) {
        // Only ever to the signing-in user's own machine: the CLI listens on loopback for this.
        return reply.header("cache-control", "no-store").redirect(`${relay}?${new URLSearchParams(tokens).toString()}`, 303);
      }
      return reply.header("cache-control", "no-store").send(tokens);
    });
  });

  app.get<{ Params: { tenant: string; provider: string } }>("/saml/:tenant/:provider/metadata", async (req, reply) => {
    return answer(reply, async () => {
      const provider = await deps.identityProviders.resolveEnabled(req.params.tenant, req.params.provider, "saml");
      return reply.type("application/samlmetadata+xml").send(deps.adapters.saml(provider).metadata());
    });
  });
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
