import { createContextKey } from "@connectrpc/connect";
import type { HandlerContext } from "@connectrpc/connect";
import { EnterpriseError } from "@aesp/core";
import type { RequestOrigin, SecurityContext } from "@aesp/core";

/** Origin of the request (address, user agent, correlation id), set for every RPC. */
export const originKey = createContextKey<RequestOrigin>({ sourceIp: "", userAgent: "", correlationId: "" }, { description: "request origin" });

/** The authenticated caller, set by the authentication interceptor on protected RPCs. */
export const securityKey = createContextKey<SecurityContext | null>(null, { description: "security context" });

/** The request's origin. */
export function originOf(ctx: HandlerContext): RequestOrigin {
  return ctx.values.get(originKey);
}

/**
 * The authenticated caller.
 * @throws EnterpriseError AUTHENTICATION_FAILED if the RPC was (wrongly) registered as public.
 */
export function callerOf(ctx: HandlerContext): SecurityContext {
  const security = ctx.values.get(securityKey);
  if (security === null) throw new EnterpriseError("AUTHENTICATION_FAILED");
  return security;
}

/** The client certificate presented in the TLS handshake, if any. */
export interface PeerCertificate {
  /** SHA-256 of its DER, lowercase hex. */
  readonly thumbprint: string;
  /** True when `pem` is this same certificate. */
  matchesPem(pem: string): boolean;
}

/** The client certificate of the request's TLS connection, set by the gateway. */
export const peerCertificateKey = createContextKey<PeerCertificate | null>(null, { description: "TLS client certificate" });

/** The client certificate presented in the TLS handshake, or null. */
export function peerCertificateOf(ctx: HandlerContext): PeerCertificate | null {
  return ctx.values.get(peerCertificateKey);
}
