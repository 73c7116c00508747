import { X509Certificate } from "node:crypto";
import { AespError } from "@aesp/client";

/** The SPIFFE identity a runtime certificate carries. */
export interface RuntimeCertificateIdentity {
  /** `spiffe://<trust domain>/tenant/<tenant>/runtime/<runtime>`. */
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly tenantId: string;
  readonly runtimeId: string;
}

const runtimeSpiffePattern = /^spiffe:\/\/([^/]+)\/tenant\/([^/]+)\/runtime\/([^/]+)$/;

/**
 * Reads the runtime identity from the URI SAN of a PEM certificate.
 * @throws AespError CERTIFICATE_INVALID when the PEM does not parse or carries no runtime SPIFFE id.
 */
export function readCertificateIdentity(certificatePem: string): RuntimeCertificateIdentity {
  let subjectAltName: string | undefined;
  try {
    subjectAltName = new X509Certificate(certificatePem).subjectAltName;
  } catch (err) {
    throw invalid("The runtime certificate could not be parsed.", err);
  }
  // Node renders SANs as `DNS:a, URI:spiffe://…`; URIs with commas are quoted, SPIFFE ids never have any.
  for (const entry of (subjectAltName ?? "").split(/,\s*/)) {
    if (!entry.startsWith("URI:")) continue;
    const uri = entry.slice("URI:".length);
    const match = runtimeSpiffePattern.exec(uri);
    if (match !== null) {
      return { spiffeId: uri, trustDomain: match[1] as string, tenantId: match[2] as string, runtimeId: match[3] as string };
    }
  }
  throw invalid("The runtime certificate carries no SPIFFE id of the form spiffe://<trust domain>/tenant/<tenant>/runtime/<runtime>.");
}

/**
 * Checks that the certificate names the runtime and tenant the runtime announces, so a
 * misconfiguration is reported locally instead of as a refusal by the Host.
 * @throws AespError CERTIFICATE_INVALID on a mismatch.
 */
export function assertIdentityMatches(identity: RuntimeCertificateIdentity, expected: { tenantId: string; runtimeId: string }): void {
  if (identity.tenantId !== expected.tenantId || identity.runtimeId !== expected.runtimeId) {
    throw new AespError({
      code: "CERTIFICATE_INVALID",
      message: `The certificate belongs to runtime "${identity.runtimeId}" of tenant "${identity.tenantId}", not runtime "${expected.runtimeId}" of tenant "${expected.tenantId}".`,
      details: { spiffe_id: identity.spiffeId },
      remediation: ["Use the certificate issued for this runtime (aesp runtime enroll writes it with its runtime.json)."],
    });
  }
}

function invalid(message: string, cause?: unknown): AespError {
  return new AespError({
    code: "CERTIFICATE_INVALID",
    message,
    remediation: ["Enroll the runtime again (aesp runtime enroll) and use the runtime.crt it writes."],
    ...(cause === undefined ? {} : { cause }),
  });
}
