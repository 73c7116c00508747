/**
 * The SDK's one error type. Every failure a caller sees, whether the Host refused the request
 * (a ConnectError carrying an `aesp.v1.EnterpriseError` detail) or the Host could not be reached,
 * becomes an {@link AespError} with a stable code, retry advice and remediation steps.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { EnterpriseErrorSchema } from "@aesp/proto/enterprise";
import type { EnterpriseError } from "@aesp/proto/enterprise";

/** Construction fields of an {@link AespError}; everything but `code` and `message` is optional. */
export interface AespErrorInit {
  code: string;
  message: string;
  status?: Code;
  retryAfterMs?: number;
  correlationId?: string;
  details?: Readonly<Record<string, string>>;
  remediation?: readonly string[];
  escalationRequired?: boolean;
  cause?: unknown;
}

/**
 * A failure reported by the Host or by the transport, in the Host's error vocabulary.
 *
 * @example
 * try { await client.invoke(sessionId, "text_stats", { text }) }
 * catch (err) { if (err instanceof AespError && err.code === "SESSION_NOT_FOUND") ... }
 */
export class AespError extends Error {
  /** Stable UPPER_SNAKE code from the Host's error catalogue, e.g. `AUTHORIZATION_DENIED`. */
  readonly code: string;
  /** The Connect/gRPC status code the error travelled with. */
  readonly status: Code;
  /** Suggested delay before retrying; 0 means a retry will not help. */
  readonly retryAfterMs: number;
  /** The request's correlation id, to quote when reporting the problem; empty when unknown. */
  readonly correlationId: string;
  /** Machine-readable specifics, e.g. the missing permission. */
  readonly details: Readonly<Record<string, string>>;
  /** What to do next, in order. */
  readonly remediation: readonly string[];
  /** Whether a human must intervene. */
  readonly escalationRequired: boolean;

  constructor(init: AespErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "AespError";
    this.code = init.code;
    this.status = init.status ?? Code.Unknown;
    this.retryAfterMs = init.retryAfterMs ?? 0;
    this.correlationId = init.correlationId ?? "";
    this.details = init.details ?? {};
    this.remediation = init.remediation ?? [];
    this.escalationRequired = init.escalationRequired ?? false;
  }
}

/**
 * Catalogue codes for ConnectErrors that arrive without an EnterpriseError detail: failures of the
 * transport itself, or a peer that is not an AESP Host. Retry advice mirrors the Host's catalogue.
 */
const fallbackByStatus: Partial<Record<Code, { code: string; retryAfterMs: number; remediation: string }>> = {
  [Code.Unavailable]: { code: "UNAVAILABLE", retryAfterMs: 1000, remediation: "Check that the Host is running and reachable at the configured URL (--host)." },
  [Code.DeadlineExceeded]: { code: "DEADLINE_EXCEEDED", retryAfterMs: 0, remediation: "Retry with a longer timeout." },
  [Code.Canceled]: { code: "CANCELLED", retryAfterMs: 0, remediation: "The call was cancelled by the caller; retry if that was not intended." },
  [Code.Unauthenticated]: { code: "AUTHENTICATION_FAILED", retryAfterMs: 0, remediation: "Log in again (aesp login) or check the API key." },
  [Code.PermissionDenied]: { code: "AUTHORIZATION_DENIED", retryAfterMs: 0, remediation: "Ask a tenant administrator for the required role." },
  [Code.NotFound]: { code: "NOT_FOUND", retryAfterMs: 0, remediation: "Check the identifier." },
  [Code.InvalidArgument]: { code: "INVALID_ARGUMENT", retryAfterMs: 0, remediation: "Check the request against the API reference." },
  [Code.Unimplemented]: { code: "UNIMPLEMENTED", retryAfterMs: 0, remediation: "Check that the client and the Host speak the same API version." },
  [Code.ResourceExhausted]: { code: "RATE_LIMIT_EXCEEDED", retryAfterMs: 1000, remediation: "Slow down and retry later." },
  [Code.Aborted]: { code: "UNAVAILABLE", retryAfterMs: 1000, remediation: "The connection was interrupted; retry." },
};

/** Node TLS verification failures: the Host is reachable but its certificate is not trusted. */
const untrustedCertificateCodes = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_SIGNATURE_FAILURE",
]);

/** Node error codes along a `cause` chain, outermost first. */
function causeCodes(err: unknown): string[] {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
    current = current.cause;
  }
  return codes;
}

/**
 * Converts anything thrown by a Connect call (or by the SDK) into an {@link AespError}.
 * EnterpriseError details win; otherwise the Connect code selects a catalogue code, and TLS trust
 * failures get their own advice. Never throws.
 */
export function toAespError(err: unknown): AespError {
  if (err instanceof AespError) return err;
  // An AespError thrown inside an interceptor (e.g. by the API-key exchange) reaches the caller
  // wrapped in a ConnectError by the Connect runtime; the original carries the real detail.
  const wrapped = findAespErrorCause(err);
  if (wrapped !== undefined) return wrapped;
  if (err instanceof ConnectError) return fromConnectError(err);
  if (err instanceof Error && err.name === "AbortError") {
    return new AespError({ code: "CANCELLED", message: "The call was cancelled.", status: Code.Canceled, cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new AespError({ code: "INTERNAL_ERROR", message, status: Code.Internal, cause: err });
}

function findAespErrorCause(err: unknown): AespError | undefined {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current instanceof Error && !seen.has(current)) {
    if (current instanceof AespError) return current;
    seen.add(current);
    current = current.cause;
  }
  return undefined;
}

/**
 * Builds an {@link AespError} from a wire `aesp.v1.EnterpriseError` (an error detail, or the error
 * carried inside a runtime-plane message such as `AnnouncementRejected`).
 */
export function fromEnterpriseError(detail: EnterpriseError, context: { status?: Code; fallbackMessage?: string; correlationId?: string; cause?: unknown } = {}): AespError {
  return new AespError({
    code: detail.code || "INTERNAL_ERROR",
    message: detail.message || context.fallbackMessage || "The Host reported an error.",
    status: context.status ?? Code.Unknown,
    retryAfterMs: Number(detail.retryAfterMs),
    correlationId: detail.correlationId || (context.correlationId ?? ""),
    details: { ...detail.details },
    remediation: [...detail.remediationSteps],
    escalationRequired: detail.escalationRequired,
    ...(context.cause === undefined ? {} : { cause: context.cause }),
  });
}

function fromConnectError(err: ConnectError): AespError {
  const [detail] = err.findDetails(EnterpriseErrorSchema);
  const headerCorrelationId = err.metadata.get("x-correlation-id") ?? "";
  if (detail !== undefined) {
    return fromEnterpriseError(detail, { status: err.code, fallbackMessage: err.rawMessage, correlationId: headerCorrelationId, cause: err });
  }
  const causes = causeCodes(err);
  const untrusted = causes.find((code) => untrustedCertificateCodes.has(code));
  if (untrusted !== undefined) {
    return new AespError({
      code: "UNAVAILABLE",
      message: "The Host's TLS certificate is not trusted.",
      status: err.code,
      correlationId: headerCorrelationId,
      details: { reason: "tls_certificate_untrusted", tls_error: untrusted },
      remediation: [
        "Pass the Host's CA certificate: --ca <data dir>/ca.pem (written by `aesp start`), or store it in your profile.",
        "Check that the URL names the Host (127.0.0.1 or localhost for a local Host).",
      ],
      cause: err,
    });
  }
  const fallback = fallbackByStatus[err.code];
  const headerRetry = Number(err.metadata.get("retry-after-ms") ?? "0");
  return new AespError({
    code: fallback?.code ?? "INTERNAL_ERROR",
    message: err.rawMessage,
    status: err.code,
    retryAfterMs: Number.isFinite(headerRetry) && headerRetry > 0 ? headerRetry : (fallback?.retryAfterMs ?? 0),
    correlationId: headerCorrelationId,
    details: causes.length > 0 ? { reason: causes[causes.length - 1] as string } : {},
    remediation: fallback === undefined ? [] : [fallback.remediation],
    cause: err,
  });
}
