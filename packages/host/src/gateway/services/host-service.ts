import type { HandlerContext } from "@connectrpc/connect";
import type { RedeemBootstrapTokenRequest } from "@aesp/proto/host";
import { EnterpriseError } from "@aesp/core";
import { callerOf, originOf } from "../context.ts";
import type { GatewayDeps } from "./deps.ts";

/** HostService: public facts (CA, audit keys) and bootstrap redemption. */
export function hostService(deps: GatewayDeps) {
  return {
    async getHostInfo() {
      return {
        version: deps.hostInfo.version,
        apiVersion: "aesp.v1",
        trustDomain: deps.hostInfo.trustDomain,
        caCertificatesPem: [deps.hostInfo.caCertificatePem],
        runtimePlaneUrl: deps.hostInfo.runtimePlaneUrl,
        auditPublicKeys: deps.hostInfo.auditKeys.map((k) => ({
          keyId: k.keyId,
          algorithm: "Ed25519",
          publicKeyBase64: Buffer.from(k.publicKeyRaw).toString("base64"),
          publicKeyPem: k.publicKeyPem,
          verifierKey: k.verifierKey,
          createdAtUnixMs: BigInt(k.createdAt),
          retiredAtUnixMs: BigInt(k.retiredAt ?? 0),
        })),
      };
    },
    async redeemBootstrapToken(req: RedeemBootstrapTokenRequest, ctx: HandlerContext) {
      const { principal, apiKey } = await deps.identity.redeemBootstrap(originOf(ctx), req.bootstrapToken, req.displayName);
      return { principalId: principal.principalId, tenantId: principal.tenantId, apiKey };
    },
    async rotateTokenSigningKey(_req: unknown, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      // Signing keys are the whole platform's: only a platform administrator may rotate them.
      if (caller.tenantId !== deps.platformTenantId || !caller.roles.includes("platform-admin")) {
        throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { required_role: "platform-admin" } });
      }
      const rotated = await deps.signingKeys.rotate();
      await deps.audit.record({
        eventType: "signing_key.rotated",
        tenantId: caller.tenantId,
        principalId: caller.principalId,
        resource: `key:${rotated.keyId}`,
        action: "rotate",
        outcome: "SUCCESS",
        origin: originOf(ctx),
        metadata: { previous_key_id: rotated.previousKeyId },
      });
      return { keyId: rotated.keyId, previousKeyId: rotated.previousKeyId };
    },
  };
}
