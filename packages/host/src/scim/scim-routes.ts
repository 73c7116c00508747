/**
 * The SCIM 2.0 endpoints (RFC 7644) an enterprise identity provider (Okta, Entra ID) provisions
 * users and groups through, under `/scim/v2`. A thin transport: authenticate the bearer token,
 * decode, call one {@link ScimService} method, encode — errors leave as
 * `urn:ietf:params:scim:api:messages:2.0:Error` bodies.
 *
 * Rules enforced:
 * - every request carries `Authorization: Bearer`; none or an invalid one is 401 with
 *   `WWW-Authenticate: Bearer`, a principal without `scim:provision` or of a suspended tenant is
 *   403, a locked-out credential or source 429 (the host's `authenticate`: scim-authenticator.ts);
 * - the tenant comes from the authenticated caller only, never from the request;
 * - bodies are JSON (`application/scim+json` or `application/json`) of at most 1 MiB, parsed with
 *   prototype-poisoning protection; malformed JSON is 400 `invalidSyntax`;
 * - single resources carry `ETag`; `If-Match` makes writes conditional (412), `If-None-Match` on
 *   reads answers 304; creations answer 201 with `Location`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { EnterpriseError, ScimError, scimResourceTypeDocuments, scimSchemaDocuments, scimServiceProviderConfig, toScimError } from "@aesp/core";
import type { RequestOrigin, ScimCaller, ScimListQuery, ScimResourceResponse, ScimService } from "@aesp/core";

/** Where the SCIM endpoints live. */
export const SCIM_PREFIX = "/scim/v2";
/** Largest request body accepted (RFC 7644 leaves it to the service provider). */
export const SCIM_MAX_BODY_BYTES = 1024 * 1024;

const SCIM_MEDIA_TYPE = "application/scim+json; charset=utf-8";
const LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;
const MAX_AUTHORIZATION_LENGTH = 8192;

/** Options of {@link scimRoutes}. */
export interface ScimRoutesOptions {
  /** The SCIM service, or the one of a tenant (asked once per request, after authentication). */
  readonly service: ScimService | ((tenantId: string) => Promise<ScimService>);
  /**
   * Resolves a bearer token to the SCIM client's tenant and principal.
   * Throws EnterpriseError AUTHENTICATION_FAILED / TOKEN_EXPIRED (→ 401), AUTHORIZATION_DENIED or
   * TENANT_SUSPENDED (→ 403, e.g. the principal lacks `scim:provision`), ACCOUNT_LOCKED (→ 429).
   */
  readonly authenticate: (bearer: string, origin: RequestOrigin) => Promise<{ tenantId: string; principalId: string }>;
  /**
   * The public SCIM base URL (`https://aesp.example.com/scim/v2`) for `Location` and
   * `meta.location`, or a function giving it ("" for the default). Default: built from the
   * request's protocol and Host header.
   */
  readonly baseUrl?: string | (() => string);
  /** Receives errors answered with a 5xx status (the SCIM client sees no detail). */
  readonly onError?: (err: unknown, request: FastifyRequest) => void;
}

type IdRequest = FastifyRequest<{ Params: { id: string } }>;

/**
 * Registers the SCIM endpoints under {@link SCIM_PREFIX} in their own encapsulated scope (own body
 * parsers, error and not-found handlers).
 *
 * @example
 * await app.register(scimRoutes, { service: scimService, authenticate: authenticateScimClient });
 */
export async function scimRoutes(app: FastifyInstance, options: ScimRoutesOptions): Promise<void> {
  await app.register(async (scope) => registerScimScope(scope, options), { prefix: SCIM_PREFIX });
}

async function registerScimScope(scope: FastifyInstance, options: ScimRoutesOptions): Promise<void> {
  const callers = new WeakMap<FastifyRequest, { caller: ScimCaller; service: ScimService }>();
  const configuredBaseUrl = (): string => (typeof options.baseUrl === "function" ? options.baseUrl() : (options.baseUrl ?? ""));

  scope.removeAllContentTypeParsers();
  const parseJson = scope.getDefaultJsonParser("error", "error");
  scope.addContentTypeParser(["application/scim+json", "application/json"], { parseAs: "string", bodyLimit: SCIM_MAX_BODY_BYTES }, (request, body, done) => {
    // A DELETE or GET may carry the content type and no body.
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text === "") {
      done(null, undefined);
      return;
    }
    void parseJson(request, text, done);
  });

  scope.addHook("onRequest", async (request) => {
    const header = request.headers.authorization;
    const match = typeof header === "string" && header.length <= MAX_AUTHORIZATION_LENGTH ? BEARER.exec(header) : null;
    const token = match?.[1];
    if (token === undefined) throw new ScimError(401, "", "A bearer token is required.");
    const userAgent = request.headers["user-agent"];
    const origin: RequestOrigin = { sourceIp: request.ip, userAgent: typeof userAgent === "string" ? userAgent.slice(0, 256) : "", correlationId: request.id };
    const { tenantId, principalId } = await options.authenticate(token, origin);
    const service = typeof options.service === "function" ? await options.service(tenantId) : options.service;
    const baseUrl = configuredBaseUrl() || `${request.protocol}://${request.host}${SCIM_PREFIX}`;
    callers.set(request, { caller: { tenantId, principalId, origin, baseUrl }, service });
  });

  scope.setErrorHandler((err, request, reply) => {
    const error = scimErrorOf(err);
    if (error.status >= 500) options.onError?.(error.cause ?? err, request);
    if (error.status === 401) {
      const invalid = typeof request.headers.authorization === "string";
      void reply.header("www-authenticate", invalid ? 'Bearer realm="aesp-scim", error="invalid_token"' : 'Bearer realm="aesp-scim"');
    }
    return send(reply, error.status, error.toJSON());
  });
  scope.setNotFoundHandler((_request, reply) => send(reply, 404, new ScimError(404, "", "No such SCIM endpoint.").toJSON()));

  const authenticated = (request: FastifyRequest): { caller: ScimCaller; service: ScimService } => {
    const found = callers.get(request);
    if (found === undefined) throw new ScimError(401, "", "A bearer token is required.");
    return found;
  };
  const callerOf = (request: FastifyRequest): ScimCaller => authenticated(request).caller;

  // ------------------------------------------------------------ discovery

  scope.get("/ServiceProviderConfig", async (request, reply) => send(reply, 200, scimServiceProviderConfig(callerOf(request).baseUrl)));
  scope.get("/ResourceTypes", async (request, reply) => send(reply, 200, listOf(scimResourceTypeDocuments(callerOf(request).baseUrl))));
  scope.get("/ResourceTypes/:id", async (request: IdRequest, reply) =>
    sendOne(reply, scimResourceTypeDocuments(callerOf(request).baseUrl).find((document) => document["id"] === request.params.id)),
  );
  scope.get("/Schemas", async (request, reply) => send(reply, 200, listOf(scimSchemaDocuments(callerOf(request).baseUrl))));
  scope.get("/Schemas/:id", async (request: IdRequest, reply) => sendOne(reply, scimSchemaDocuments(callerOf(request).baseUrl).find((document) => document["id"] === request.params.id)));

  // ------------------------------------------------------------ resources

  const resources = [
    { path: "/Users", list: "listUsers", create: "createUser", get: "getUser", replace: "replaceUser", patch: "patchUser", remove: "deleteUser" },
    { path: "/Groups", list: "listGroups", create: "createGroup", get: "getGroup", replace: "replaceGroup", patch: "patchGroup", remove: "deleteGroup" },
  ] as const;

  for (const resource of resources) {
    scope.get(resource.path, async (request, reply) => {
      const { caller, service } = authenticated(request);
      return send(reply, 200, await service[resource.list](caller, listQueryOf(request)));
    });
    scope.post(resource.path, async (request, reply) => {
      const { caller, service } = authenticated(request);
      const created = await service[resource.create](caller, request.body);
      void reply.header("location", created.location);
      return sendResource(reply, 201, created);
    });
    scope.get(`${resource.path}/:id`, async (request: IdRequest, reply) => {
      const { caller, service } = authenticated(request);
      const query = listQueryOf(request);
      const found = await service[resource.get](caller, request.params.id, { attributes: query.attributes, excludedAttributes: query.excludedAttributes });
      const ifNoneMatch = singleHeader(request, "if-none-match");
      if (ifNoneMatch !== undefined && entityTagsMatch(ifNoneMatch, found.etag)) return reply.code(304).header("etag", found.etag).send();
      return sendResource(reply, 200, found);
    });
    scope.put(`${resource.path}/:id`, async (request: IdRequest, reply) => {
      const { caller, service } = authenticated(request);
      return sendResource(reply, 200, await service[resource.replace](caller, request.params.id, request.body, { ifMatch: singleHeader(request, "if-match") }));
    });
    scope.patch(`${resource.path}/:id`, async (request: IdRequest, reply) => {
      const { caller, service } = authenticated(request);
      return sendResource(reply, 200, await service[resource.patch](caller, request.params.id, request.body, { ifMatch: singleHeader(request, "if-match") }));
    });
    scope.delete(`${resource.path}/:id`, async (request: IdRequest, reply) => {
      const { caller, service } = authenticated(request);
      await service[resource.remove](caller, request.params.id, { ifMatch: singleHeader(request, "if-match") });
      return reply.code(204).header("cache-control", "no-store").send();
    });
  }
}

/** Fastify's own errors (body parsing, limits) in SCIM terms; everything else through the core mapping. */
function scimErrorOf(err: unknown): ScimError {
  if (err instanceof ScimError) return err;
  if (err instanceof EnterpriseError || typeof err !== "object" || err === null) return toScimError(err);
  const code = "code" in err ? String(err.code) : "";
  const statusCode = "statusCode" in err && typeof err.statusCode === "number" ? err.statusCode : 500;
  if (code === "FST_ERR_CTP_BODY_TOO_LARGE") return new ScimError(413, "", `The request body exceeds ${SCIM_MAX_BODY_BYTES} bytes.`, { cause: err });
  if (code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return new ScimError(415, "", "Send application/scim+json or application/json.", { cause: err });
  if (code.startsWith("FST_ERR_CTP") || statusCode === 400) return new ScimError(400, "invalidSyntax", "The request body is not valid JSON.", { cause: err });
  if (statusCode === 429) return new ScimError(429, "", "Too many requests; retry later.", { cause: err });
  if (statusCode > 400 && statusCode < 500) return new ScimError(statusCode, "", "The request was refused.", { cause: err });
  return toScimError(err);
}

function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header("content-type", SCIM_MEDIA_TYPE).header("cache-control", "no-store").send(JSON.stringify(body));
}

function sendResource(reply: FastifyReply, status: number, response: ScimResourceResponse): FastifyReply {
  void reply.header("etag", response.etag);
  return send(reply, status, response.resource);
}

function sendOne(reply: FastifyReply, document: Record<string, unknown> | undefined): FastifyReply {
  if (document === undefined) throw new ScimError(404, "", "Resource not found.");
  return send(reply, 200, document);
}

function listOf(resources: readonly Record<string, unknown>[]): Record<string, unknown> {
  return { schemas: [LIST_RESPONSE_SCHEMA], totalResults: resources.length, startIndex: 1, itemsPerPage: resources.length, Resources: resources };
}

const LIST_PARAMETERS = ["filter", "startIndex", "count", "sortBy", "sortOrder", "attributes", "excludedAttributes"] as const;

/** The SCIM query parameters (names matched case-insensitively); a repeated one is refused. */
function listQueryOf(request: FastifyRequest): ScimListQuery {
  const query = (typeof request.query === "object" && request.query !== null ? request.query : {}) as Record<string, unknown>;
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(query)) {
    const name = LIST_PARAMETERS.find((parameter) => parameter.toLowerCase() === key.toLowerCase());
    if (name === undefined) continue;
    if (typeof value !== "string") throw new ScimError(400, "invalidValue", `The query parameter ${name} is given more than once.`);
    result[name] = value;
  }
  return result;
}

function singleHeader(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === "string" ? value : undefined;
}

function entityTagsMatch(header: string, etag: string): boolean {
  const bare = etag.replace(/^W\//, "");
  return header
    .split(",")
    .map((tag) => tag.trim().replace(/^W\//, ""))
    .some((tag) => tag === "*" || tag === bare);
}
