import type { HandlerContext } from "@connectrpc/connect";
import type { RedeemBootstrapTokenRequest } from "@aesp/proto/host";
import { originOf } from "../context.ts";
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
  };
}
