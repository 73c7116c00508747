import type { HandlerContext } from "@connectrpc/connect";
import type { CreateJoinTokenRequest, EnrollRuntimeRequest, ListRuntimesRequest, RenewCertificateRequest, RevokeCertificateRequest } from "@aesp/proto/runtime_admin";
import { EnterpriseError } from "@aesp/core";
import type { CertificateRecord } from "@aesp/core";
import { callerOf, originOf } from "../context.ts";
import type { GatewayDeps } from "./deps.ts";

/** The wire form of an issued runtime certificate (EnrollRuntime and RenewCertificate). */
function certificateResponse(cert: CertificateRecord & { caCertificatePem: string }) {
  return {
    certificatePem: cert.certificatePem,
    caCertificatesPem: [cert.caCertificatePem],
    spiffeId: cert.spiffeId,
    serialNumber: cert.serial,
    notAfterUnixMs: BigInt(cert.notAfter),
  };
}

/** RuntimeAdminService: join tokens, enrolment, listing and revocation. */
export function runtimeAdminService(deps: GatewayDeps) {
  return {
    async createJoinToken(req: CreateJoinTokenRequest, ctx: HandlerContext) {
      const { joinToken, record } = await deps.enrollment.createJoinToken(callerOf(ctx), originOf(ctx), {
        runtimeId: req.runtimeId,
        allowedContracts: req.allowedContracts,
        ttlSeconds: req.ttlSeconds,
      });
      return { joinToken, tokenId: record.tokenId, expiresAtUnixMs: BigInt(record.expiresAt) };
    },
    async enrollRuntime(req: EnrollRuntimeRequest, ctx: HandlerContext) {
      if (req.publicKeyPem.length > 16_384) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "public_key_pem" } });
      const cert = await deps.enrollment.enroll(originOf(ctx), { joinToken: req.joinToken, runtimeId: req.runtimeId, publicKeyPem: req.publicKeyPem });
      return certificateResponse(cert);
    },
    async renewCertificate(req: RenewCertificateRequest, ctx: HandlerContext) {
      if (req.publicKeyPem.length > 16_384) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "public_key_pem" } });
      const cert = await deps.enrollment.renew(callerOf(ctx), originOf(ctx), { runtimeId: req.runtimeId, publicKeyPem: req.publicKeyPem });
      return certificateResponse(cert);
    },
    async listRuntimes(req: ListRuntimesRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      const registrations = (await deps.enrollment.listRegistrations(caller)).filter((r) => req.runtimeId === "" || r.runtimeId === req.runtimeId);
      const live = deps.describeConnections(caller.tenantId);
      const stores = deps.store.forTenant(caller.tenantId);
      const runtimes = [];
      for (const registration of registrations) {
        const connections = live.filter((c) => c.runtimeId === registration.runtimeId);
        const first = connections[0];
        const certificates = await stores.certificates.listForRuntime(registration.runtimeId);
        runtimes.push({
          runtimeId: registration.runtimeId,
          tenantId: registration.tenantId,
          allowedContracts: registration.allowedContracts,
          createdBy: registration.createdBy,
          createdAtUnixMs: BigInt(registration.createdAt),
          connected: connections.length > 0,
          healthy: connections.some((c) => c.healthy),
          inFlight: connections.reduce((sum, c) => sum + c.inFlight, 0),
          acceptedContracts: [...new Set(connections.flatMap((c) => c.acceptedContracts))],
          connectedSinceUnixMs: BigInt(first?.connectedSince ?? 0),
          lastHeartbeatUnixMs: BigInt(first?.lastHeartbeat ?? 0),
          language: first?.language ?? "",
          version: first?.version ?? "",
          certificates: certificates.map((c) => ({
            serialNumber: c.serial,
            spiffeId: c.spiffeId,
            notBeforeUnixMs: BigInt(c.notBefore),
            notAfterUnixMs: BigInt(c.notAfter),
            revokedAtUnixMs: BigInt(c.revokedAt ?? 0),
            revocationReason: c.revocationReason ?? "",
          })),
        });
      }
      return { runtimes, nextCursor: "" };
    },
    async revokeCertificate(req: RevokeCertificateRequest, ctx: HandlerContext) {
      await deps.enrollment.revoke(callerOf(ctx), originOf(ctx), req.serialNumber, req.reason);
      return { revoked: true, revokedAtUnixMs: BigInt(deps.clock.now()) };
    },
  };
}
