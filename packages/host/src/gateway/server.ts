import { createContextValues } from "@connectrpc/connect";
import type { ConnectRouter } from "@connectrpc/connect";
import rateLimit from "@fastify/rate-limit";
import fastify from "fastify";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { ContractService } from "@aesp/proto/contract";
import { HostService } from "@aesp/proto/host";
import { TenantService } from "@aesp/proto/tenant";
import { RuntimeAdminService } from "@aesp/proto/runtime_admin";
import { SessionService, ToolService } from "@aesp/proto/client";
import { EnterpriseAuthenticationService } from "@aesp/proto/authentication";
import { EnterpriseAuthorizationService } from "@aesp/proto/authorization";
import { RoleService } from "@aesp/proto/role";
import { BreakGlassService } from "@aesp/proto/break_glass";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { EnterprisePolicyService } from "@aesp/proto/policy";
import { EnterpriseCostManagementService } from "@aesp/proto/cost";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { EnterpriseIdentityService } from "@aesp/proto/identity";
import { EnterpriseConfigurationService } from "@aesp/proto/configuration";
import { IdentityProviderService, ServiceAccountCredentialService } from "@aesp/proto/identity_provider";
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import formbody from "@fastify/formbody";
import type { AuditRecorder } from "@aesp/core";
import type { HostMetrics } from "../observability/metrics.ts";
import { authenticationInterceptor } from "./authenticate.ts";
import { registerConnectRoutes } from "./connect-plugin.ts";
import { originKey, peerCertificateKey } from "./context.ts";
import type { PeerCertificate } from "./context.ts";
import { certificateThumbprint } from "../identity/identity-adapters.ts";
import { identityRoutes } from "./identity-routes.ts";
import { scimRoutes } from "../scim/scim-routes.ts";
import type { ScimRoutesOptions } from "../scim/scim-routes.ts";
import { identityProviderService } from "./services/identity-provider-service.ts";
import { toEnterpriseErrorMessage } from "./errors.ts";
import { FixedWindowLimiter } from "./rate-limiter.ts";
import { registerService } from "./register.ts";
import type { GatewayDeps } from "./services/deps.ts";
import { hostService } from "./services/host-service.ts";
import { tenantService } from "./services/tenant-service.ts";
import { contractService } from "./services/contract-service.ts";
import { runtimeAdminService } from "./services/runtime-admin-service.ts";
import { sessionService } from "./services/session-service.ts";
import { toolService } from "./services/tool-service.ts";
import { authenticationService } from "./services/authentication-service.ts";
import { identityService, serviceAccountCredentialService } from "./services/identity-service.ts";
import { governanceService } from "./services/governance-service.ts";
import { policyService } from "./services/policy-service.ts";
import { authorizationService, roleService } from "./services/authorization-service.ts";
import { auditService } from "./services/audit-service.ts";
import { breakGlassService } from "./services/break-glass-service.ts";
import { EnterpriseError } from "@aesp/core";
import { toJsonString } from "@bufbuild/protobuf";
import { EnterpriseErrorSchema } from "@aesp/proto/enterprise";

/** RPCs that carry their own credential and need no bearer token. */
export const publicMethods: ReadonlySet<string> = new Set([
  "aesp.v1.HostService/GetHostInfo",
  "aesp.v1.HostService/RedeemBootstrapToken",
  "aesp.v1.EnterpriseAuthenticationService/AuthenticateUser",
  "aesp.v1.EnterpriseAuthenticationService/AuthenticateServiceAccount",
  "aesp.v1.EnterpriseAuthenticationService/ValidateToken",
  "aesp.v1.EnterpriseAuthenticationService/RefreshToken",
  "aesp.v1.IdentityProviderService/ListSignInMethods",
  "aesp.v1.RuntimeAdminService/EnrollRuntime",
]);

/** Gateway settings, from the `gateway` config section. */
export interface GatewayOptions {
  readonly host: string;
  readonly port: number;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly maxRequestBytes: number;
  readonly rateLimitPerIp: number;
  readonly rateLimitPerPrincipal: number;
}

/** A listening gateway. */
export interface Gateway {
  readonly url: string;
  readonly implementedRpcs: readonly string[];
  close(): Promise<void>;
}

const correlationIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's correlation id when well-formed, else the request id the gateway assigned. */
function correlationIdOf(req: FastifyRequest): string {
  const header = req.headers["x-correlation-id"];
  return typeof header === "string" && correlationIdPattern.test(header) ? header : req.id;
}

/**
 * The API gateway: one Fastify server on HTTPS (HTTP/2 and HTTP/1.1) serving every
 * service as Connect, gRPC, gRPC-Web and JSON from the same implementations, plus
 * `/livez`, `/readyz` and `/metrics`. Transports here only decode, call one core
 * use-case and encode.
 */
export async function startGateway(deps: GatewayDeps, options: GatewayOptions, extra: {
  logger: Logger;
  metrics: HostMetrics;
  audit: AuditRecorder;
  ready: () => Promise<void>;
  /** SCIM 2.0 provisioning under `/scim/v2` (same listener), when given. */
  scim?: ScimRoutesOptions;
}): Promise<Gateway> {
  const app: FastifyInstance = fastify({
    http2: true,
    // Client certificates are requested but not required: a service account may authenticate with
    // one it registered (pinned by thumbprint; TLS proves possession of its key).
    https: { allowHTTP1: true, cert: options.certificatePem, key: options.privateKeyPem, minVersion: "TLSv1.2", requestCert: true, rejectUnauthorized: false },
    bodyLimit: options.maxRequestBytes,
    logger: false,
    // Request ids double as correlation ids when the client sends none.
    genReqId: () => deps.ids.newId("cor"),
  }) as unknown as FastifyInstance;

  await app.register(rateLimit, {
    global: true,
    max: options.rateLimitPerIp,
    timeWindow: 60_000,
    keyGenerator: (req) => req.ip,
    errorResponseBuilder: (_req, context) => {
      const error = new EnterpriseError("RATE_LIMIT_EXCEEDED", { retryAfterMs: context.ttl });
      // The Connect protocol's error body, so every Connect/JSON client reads it natively.
      return {
        statusCode: 429,
        code: "resource_exhausted",
        message: error.message,
        details: [{ type: "aesp.v1.EnterpriseError", value: "", debug: JSON.parse(toJsonString(EnterpriseErrorSchema, toEnterpriseErrorMessage(error))) as unknown }],
      };
    },
  });

  const limiter = new FixedWindowLimiter(options.rateLimitPerPrincipal, 10_000);
  const implemented: string[] = [];
  const routes = (router: ConnectRouter) => {
    const register = (service: Parameters<typeof registerService>[1], impl: object) =>
      implemented.push(
        ...registerService(router, service, impl as Parameters<typeof registerService>[2], (err, rpc) => extra.logger.error({ err, rpc }, "RPC failed with an internal or availability error")),
      );
    register(HostService, hostService(deps));
    register(TenantService, tenantService(deps));
    register(ContractService, contractService(deps));
    register(RuntimeAdminService, runtimeAdminService(deps));
    register(SessionService, sessionService(deps));
    register(ToolService, toolService(deps));
    register(EnterpriseAuthenticationService, authenticationService(deps));
    register(EnterpriseAuthorizationService, authorizationService(deps));
    register(RoleService, roleService(deps));
    register(EnterpriseAuditService, auditService(deps));
    register(EnterprisePolicyService, policyService(deps));
    register(EnterpriseCostManagementService, {});
    register(EnterpriseGovernanceService, governanceService(deps));
    register(EnterpriseIdentityService, identityService(deps));
    register(EnterpriseConfigurationService, {});
    register(IdentityProviderService, identityProviderService(deps));
    register(ServiceAccountCredentialService, serviceAccountCredentialService(deps));
    register(BreakGlassService, breakGlassService(deps));
  };

  const contextValues = (req: FastifyRequest) => {
    const userAgent = req.headers["user-agent"];
    return createContextValues()
      .set(originKey, {
        sourceIp: req.ip,
        userAgent: typeof userAgent === "string" ? userAgent.slice(0, 256) : "",
        correlationId: correlationIdOf(req),
      })
      .set(peerCertificateKey, peerCertificate(req));
  };
  await app.register(async (scope) =>
    registerConnectRoutes(scope as unknown as FastifyInstance, {
      routes,
      grpc: true,
      grpcWeb: true,
      connect: true,
      readMaxBytes: options.maxRequestBytes,
      // fatal: invalid UTF-8 is refused instead of being silently replaced. (Connect's serializer
      // honours `textDecoder` although its option type does not list it.)
      jsonOptions: { useProtoFieldName: true, ignoreUnknownFields: false, ...({ textDecoder: new TextDecoder("utf-8", { fatal: true }) } as object) },
      interceptors: [
        extra.metrics.rpcInterceptor(),
        authenticationInterceptor({ authenticator: deps.authenticator, audit: extra.audit, clock: deps.clock, limiter, publicMethods }),
      ],
      contextValues,
      correlationIdOf,
      onError: (err, rpc) => extra.logger.error({ err, rpc }, "RPC transport failure"),
    }),
  );

  await app.register(formbody, { bodyLimit: 512 * 1024 });
  await app.register(async (scope) => identityRoutes(scope as unknown as FastifyInstance, deps));
  if (extra.scim !== undefined) await app.register(scimRoutes, extra.scim);

  app.get("/livez", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    try {
      await extra.ready();
      return { status: "ready" };
    } catch {
      return reply.code(503).send({ status: "not ready" });
    }
  });
  app.get("/metrics", async (_req, reply) => reply.type(extra.metrics.contentType).send(await extra.metrics.render()));

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const hostForUrl = options.host === "0.0.0.0" || options.host === "::" ? "127.0.0.1" : options.host;
  extra.logger.info({ port, rpcs: implemented.length }, "API gateway listening");
  return {
    url: `https://${hostForUrl.includes(":") ? `[${hostForUrl}]` : hostForUrl}:${port}`,
    implementedRpcs: implemented,
    close: () => app.close(),
  };
}

/**
 * The client certificate of the request's TLS connection (HTTP/1.1 or HTTP/2), or null. Only a
 * TLS 1.3 handshake counts: TLS 1.2 sends the certificate in clear and its client authentication
 * is open to renegotiation attacks, so there it is no credential (as on the runtime plane).
 */
function peerCertificate(req: FastifyRequest): PeerCertificate | null {
  const socket = req.raw.socket as TLSSocket | undefined;
  if (typeof socket?.getProtocol !== "function" || socket.getProtocol() !== "TLSv1.3") return null;
  const raw = typeof socket?.getPeerCertificate === "function" ? socket.getPeerCertificate(false).raw : undefined;
  if (raw === undefined || raw.length === 0) return null;
  const thumbprint = certificateThumbprint(raw);
  return {
    thumbprint,
    matchesPem(pem: string): boolean {
      try {
        return certificateThumbprint(new X509Certificate(pem).raw) === thumbprint;
      } catch {
        return false;
      }
    },
  };
}
