/**
 * TLS of the runtime plane: the server options and the per-connection identity check.
 *
 * Rules enforced here (invariant 8):
 * - TLS 1.3 only, HTTP/2 only (ALPN `h2`), client certificate required and verified against the
 *   configured CA(s) during the handshake: a peer without one never reaches a handler.
 * - After the handshake, {@link checkPeerCertificate} admits a peer only if OpenSSL authorised it,
 *   its serial is not revoked, it is valid now (checked again here because TLS session resumption
 *   skips chain verification), it is a leaf for client authentication, and its SAN names exactly one
 *   runtime SPIFFE ID (in the Host's trust domain when one is given).
 * Every refusal is `CERTIFICATE_INVALID` with a machine-readable `details.reason`.
 */
import { X509Certificate, createHash } from "node:crypto";
import type { SecureServerOptions } from "node:http2";
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from "node:tls";
import { EnterpriseError } from "@aesp/core";
import { normalizeSerial } from "./serial.ts";
import { spiffeIdFromSubjectAltName } from "./spiffe.ts";

const CLIENT_AUTH_EKU = "1.3.6.1.5.5.7.3.2";

/** Inputs of {@link runtimePlaneTlsOptions}. */
export interface RuntimePlaneTlsInputs {
  /** Trust anchor(s) for runtime client certificates: the Host CA, optionally an enterprise CA. */
  ca: string | readonly string[];
  /** The runtime plane's server certificate (PEM, chain allowed). */
  serverCert: string;
  /** Its private key (PEM). */
  serverKey: string;
}

/**
 * Options for `http2.createSecureServer` on the runtime plane: TLS 1.3 only, mutual TLS, h2 only.
 *
 * @param inputs - trust anchors, server certificate and key
 * @returns server options; spread extra HTTP/2 settings over them, never TLS ones
 */
export function runtimePlaneTlsOptions(inputs: RuntimePlaneTlsInputs): SecureServerOptions {
  return {
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
    requestCert: true,
    rejectUnauthorized: true,
    ca: typeof inputs.ca === "string" ? inputs.ca : [...inputs.ca],
    cert: inputs.serverCert,
    key: inputs.serverKey,
    allowHTTP1: false,
    ALPNProtocols: ["h2"],
  };
}

/** The identity of an admitted runtime connection. */
export interface PeerRuntimeIdentity {
  spiffeId: string;
  trustDomain: string;
  tenantId: string;
  runtimeId: string;
  /** Canonical lower-case hex. */
  serial: string;
  /** SHA-256 of the certificate DER, lower-case hex. */
  fingerprintSha256: string;
  /** Epoch milliseconds. */
  notBefore: number;
  /** Epoch milliseconds. */
  notAfter: number;
  /** Issuer distinguished name, one `KEY=value` per line as Node prints it. */
  issuer: string;
}

/** The parts of a TLS socket the check reads (an `http2` request's `socket` qualifies). */
export type PeerSocket = Pick<TLSSocket, "authorized" | "getPeerCertificate">;

/** Options of {@link checkPeerCertificate}. */
export interface PeerCheckOptions {
  /** When set, the SPIFFE ID must be in this trust domain. */
  trustDomain?: string;
  /** Current time in epoch ms; default `Date.now()`. */
  now?: number;
}

/**
 * Admits or refuses the peer of a runtime-plane connection; call it for every stream.
 *
 * @param socket - the TLS socket (`req.socket`, `stream.session.socket`)
 * @param isRevoked - looks up a canonical lower-case hex serial in the revocation list
 * @param options - required trust domain and current time
 * @returns the peer's runtime identity
 * @throws EnterpriseError `CERTIFICATE_INVALID` with `details.reason` one of `no_certificate`,
 *   `not_authorized`, `revoked`, `not_yet_valid`, `expired`, `not_client_certificate`,
 *   `spiffe_id_missing_or_ambiguous`, `wrong_trust_domain`
 */
export function checkPeerCertificate(
  socket: PeerSocket,
  isRevoked: (serial: string) => boolean,
  options: PeerCheckOptions = {},
): PeerRuntimeIdentity {
  const peer: PeerCertificate | DetailedPeerCertificate | undefined = socket.getPeerCertificate();
  if (peer === undefined || peer === null || Object.keys(peer).length === 0 || peer.raw === undefined) {
    throw refused("no_certificate");
  }
  if (!socket.authorized) throw refused("not_authorized");

  const serial = normalizeSerial(peer.serialNumber);
  if (serial === "" || isRevoked(serial)) throw refused("revoked", { serial });

  const certificate = new X509Certificate(peer.raw);
  const now = options.now ?? Date.now();
  const notBefore = certificate.validFromDate.getTime();
  const notAfter = certificate.validToDate.getTime();
  if (now < notBefore) throw refused("not_yet_valid", { serial });
  if (now > notAfter) throw refused("expired", { serial });
  if (certificate.ca || !(certificate.keyUsage ?? []).includes(CLIENT_AUTH_EKU)) {
    throw refused("not_client_certificate", { serial });
  }

  const identity = spiffeIdFromSubjectAltName(peer.subjectaltname);
  if (identity === null) throw refused("spiffe_id_missing_or_ambiguous", { serial });
  if (options.trustDomain !== undefined && identity.trustDomain !== options.trustDomain) {
    throw refused("wrong_trust_domain", { serial });
  }

  return {
    spiffeId: identity.spiffeId,
    trustDomain: identity.trustDomain,
    tenantId: identity.tenantId,
    runtimeId: identity.runtimeId,
    serial,
    fingerprintSha256: createHash("sha256").update(peer.raw).digest("hex"),
    notBefore,
    notAfter,
    issuer: certificate.issuer,
  };
}

function refused(reason: string, extra: Record<string, string> = {}): EnterpriseError {
  return new EnterpriseError("CERTIFICATE_INVALID", { details: { reason, ...extra } });
}
