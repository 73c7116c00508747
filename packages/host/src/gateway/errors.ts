import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { create } from "@bufbuild/protobuf";
import { EnterpriseErrorSchema } from "@aesp/proto/enterprise";
import { EnterpriseError, toEnterpriseError } from "@aesp/core";
import type { ErrorStatus } from "@aesp/core";

/** The only table from core statuses to Connect/gRPC codes. */
const codeByStatus: Record<ErrorStatus, Code> = {
  invalid_argument: Code.InvalidArgument,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  resource_exhausted: Code.ResourceExhausted,
  deadline_exceeded: Code.DeadlineExceeded,
  cancelled: Code.Canceled,
  unavailable: Code.Unavailable,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
};

/** The HTTP status of an EnterpriseError on plain HTTP routes, as the Connect protocol maps its code. */
export function httpStatusOf(error: EnterpriseError): number {
  return codeToHttpStatus(codeByStatus[error.status]);
}

/** The wire form of an EnterpriseError: the message carried in error details. */
export function toEnterpriseErrorMessage(error: EnterpriseError) {
  return create(EnterpriseErrorSchema, {
    code: error.code,
    message: error.message,
    details: { ...error.details },
    tenantId: error.tenantId,
    principalId: error.principalId,
    correlationId: error.correlationId,
    retryAfterMs: BigInt(error.retryAfterMs),
    securityImplications: error.security ? ["security_event_recorded"] : [],
    complianceImpact: [],
    remediationSteps: [...error.remediation],
    escalationRequired: error.code === "INTERNAL_ERROR" || error.code === "AUDIT_UNAVAILABLE",
  });
}

/**
 * Maps anything thrown by a handler to a ConnectError that carries an
 * `aesp.v1.EnterpriseError` detail. Internal errors expose only the catalogue text:
 * stacks, SQL and paths stay in the logs.
 */
export function toConnectError(thrown: unknown, correlationId: string): ConnectError {
  if (thrown instanceof ConnectError && thrown.findDetails(EnterpriseErrorSchema).length > 0) return thrown;
  const error = thrown instanceof ConnectError ? fromConnectError(thrown, correlationId) : toEnterpriseError(thrown, correlationId);
  if (error.correlationId === "") error.correlationId = correlationId;
  const metadata = new Headers({ "x-correlation-id": error.correlationId });
  if (error.retryAfterMs > 0) metadata.set("retry-after-ms", String(error.retryAfterMs));
  return new ConnectError(error.message, codeByStatus[error.status], metadata, [{ desc: EnterpriseErrorSchema, value: toEnterpriseErrorMessage(error) }]);
}

/** Errors raised by the Connect framework itself (bad content type, size limits, decode failures). */
function fromConnectError(error: ConnectError, correlationId: string): EnterpriseError {
  switch (error.code) {
    case Code.ResourceExhausted:
      return new EnterpriseError("PAYLOAD_TOO_LARGE", { correlationId, cause: error });
    case Code.InvalidArgument:
      return new EnterpriseError("INVALID_ARGUMENT", { message: "The request could not be decoded.", correlationId, cause: error });
    case Code.Internal:
      // Connect reports an undecodable protobuf request as Internal ("parse binary: …"): the
      // caller's fault, so INVALID_ARGUMENT. Any other framework Internal stays internal.
      return /^\[internal\] parse /.test(error.message) || error.rawMessage.startsWith("parse ")
        ? new EnterpriseError("INVALID_ARGUMENT", { message: "The request could not be decoded.", correlationId, cause: error })
        : new EnterpriseError("INTERNAL_ERROR", { correlationId, cause: error });
    case Code.Unimplemented:
      // Connect answers an unsupported content type with Unimplemented.
      return new EnterpriseError("UNIMPLEMENTED", { message: "This method, protocol or content type is not supported.", correlationId, cause: error });
    case Code.Unauthenticated:
      return new EnterpriseError("AUTHENTICATION_FAILED", { correlationId, cause: error });
    case Code.Canceled:
      return new EnterpriseError("CANCELLED", { correlationId, cause: error });
    case Code.DeadlineExceeded:
      return new EnterpriseError("DEADLINE_EXCEEDED", { correlationId, cause: error });
    case Code.Unavailable:
      return new EnterpriseError("UNAVAILABLE", { correlationId, cause: error });
    case Code.PermissionDenied:
      return new EnterpriseError("AUTHORIZATION_DENIED", { correlationId, cause: error });
    case Code.NotFound:
      return new EnterpriseError("NOT_FOUND", { correlationId, cause: error });
    case Code.AlreadyExists:
      return new EnterpriseError("ALREADY_EXISTS", { correlationId, cause: error });
    case Code.FailedPrecondition:
    case Code.OutOfRange:
      return new EnterpriseError("INVALID_ARGUMENT", { correlationId, cause: error });
    case Code.Aborted:
      return new EnterpriseError("CONFLICT", { correlationId, cause: error });
    case Code.DataLoss:
    case Code.Unknown:
      return new EnterpriseError("INTERNAL_ERROR", { correlationId, cause: error });
  }
}
