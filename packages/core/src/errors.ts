/**
 * The one error catalogue of the AESP Host.
 *
 * Every refusal the Host can give is listed here with a stable code, the
 * transport status it maps to, whether a retry can help, and what the caller
 * should do next. Transports never invent codes: they map these. The reference
 * page `docs/reference/errors.md` is generated from this table.
 *
 * Codes follow the AESP vocabulary (UPPER_SNAKE, e.g. `AUTHORIZATION_DENIED`)
 * rather than `ERR_*`, because they travel on the wire in `EnterpriseError.code`
 * and AESP clients already know them (see docs/adr/0004-error-model.md).
 */

/** Transport-neutral status; the gateway maps it to a gRPC/Connect code and an HTTP status. */
export type ErrorStatus =
  | "invalid_argument"
  | "unauthenticated"
  | "permission_denied"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "aborted"
  | "resource_exhausted"
  | "deadline_exceeded"
  | "cancelled"
  | "unavailable"
  | "unimplemented"
  | "internal";

interface CatalogueEntry {
  readonly status: ErrorStatus;
  /** Safe, generic text shown to callers. Specifics go in `details`. */
  readonly message: string;
  /** Retry after this many milliseconds; 0 means a retry will not help. */
  readonly retryAfterMs: number;
  readonly remediation: readonly string[];
  /** A refusal with security meaning: audited as a security event. */
  readonly security?: boolean;
}

export const errorCatalogue = {
  INVALID_ARGUMENT: {
    status: "invalid_argument",
    message: "The request is malformed or a field is invalid.",
    retryAfterMs: 0,
    remediation: ["Check the request against the API reference and correct the named field."],
  },
  PAYLOAD_TOO_LARGE: {
    status: "resource_exhausted",
    message: "The request body exceeds the configured size limit.",
    retryAfterMs: 0,
    remediation: ["Send a smaller request, or ask an administrator about gateway.max_request_bytes."],
  },
  AUTHENTICATION_FAILED: {
    status: "unauthenticated",
    message: "Authentication failed.",
    retryAfterMs: 0,
    remediation: ["Obtain a fresh access token (aesp login, or exchange your API key) and retry."],
    security: true,
  },
  TOKEN_EXPIRED: {
    status: "unauthenticated",
    message: "The access token has expired.",
    retryAfterMs: 0,
    remediation: ["Refresh or re-exchange the access token and retry."],
  },
  ACCOUNT_LOCKED: {
    status: "resource_exhausted",
    message: "Too many failed sign-ins; the account or source address is temporarily locked.",
    retryAfterMs: 60_000,
    remediation: ["Wait until retry_after_ms has passed, then sign in with the correct credentials; an administrator can see the failures in the audit log."],
    security: true,
  },
  IDENTITY_PROVIDER_UNAVAILABLE: {
    status: "unavailable",
    message: "The identity provider could not be reached or answered unexpectedly.",
    retryAfterMs: 2000,
    remediation: ["Retry later; an administrator should check the provider named in details (address, TLS trust, service account)."],
  },
  AUTHORIZATION_DENIED: {
    status: "permission_denied",
    message: "The principal is not authorized for this action.",
    retryAfterMs: 0,
    remediation: ["Ask a tenant administrator for the role or permission named in details."],
    security: true,
  },
  SECURITY_CLEARANCE_INSUFFICIENT: {
    status: "permission_denied",
    message: "The principal's clearance is below the contract's classification.",
    retryAfterMs: 0,
    remediation: ["Ask a tenant administrator to review your clearance."],
    security: true,
  },
  POLICY_VIOLATION: {
    status: "permission_denied",
    message: "A policy denied this call.",
    retryAfterMs: 0,
    remediation: ["See details.applied_policies; ask the policy owner if you believe this is wrong."],
    security: true,
  },
  POLICY_EVALUATION_FAILED: {
    status: "permission_denied",
    message: "A policy could not be evaluated; the call was refused (fail closed).",
    retryAfterMs: 0,
    remediation: ["Report the correlation id to the policy owner."],
    security: true,
  },
  SELF_APPROVAL_FORBIDDEN: {
    status: "permission_denied",
    message: "A requester cannot adjudicate their own approval request.",
    retryAfterMs: 0,
    remediation: ["Ask a different principal holding an approver role to adjudicate."],
    security: true,
  },
  TENANT_SUSPENDED: {
    status: "permission_denied",
    message: "The tenant is suspended.",
    retryAfterMs: 0,
    remediation: ["Contact the platform administrator."],
  },
  NOT_FOUND: {
    status: "not_found",
    message: "The requested resource does not exist.",
    retryAfterMs: 0,
    remediation: ["Check the identifier; resources of other tenants are never visible."],
  },
  SESSION_NOT_FOUND: {
    status: "not_found",
    message: "The session does not exist or has ended.",
    retryAfterMs: 0,
    remediation: ["Create a new session with CreateSession."],
  },
  CONTRACT_NOT_FOUND: {
    status: "not_found",
    message: "No ACTIVE contract with this name exists.",
    retryAfterMs: 0,
    remediation: ["List contracts (aesp contract list) and check the contract's status."],
  },
  ALREADY_EXISTS: {
    status: "already_exists",
    message: "A resource with this identity already exists.",
    retryAfterMs: 0,
    remediation: ["Use a different name or version."],
  },
  INVALID_STATE_TRANSITION: {
    status: "failed_precondition",
    message: "The resource is not in a state that allows this operation.",
    retryAfterMs: 0,
    remediation: ["Check the resource's current status; see the lifecycle in the contracts guide."],
  },
  CONFLICT: {
    status: "aborted",
    message: "The resource changed concurrently.",
    retryAfterMs: 100,
    remediation: ["Re-read the resource and retry."],
  },
  PARAMETER_VALIDATION_FAILED: {
    status: "invalid_argument",
    message: "The arguments do not match the contract's parameter schema.",
    retryAfterMs: 0,
    remediation: ["Fix the arguments listed in details.validation_errors."],
  },
  RESULT_VALIDATION_FAILED: {
    status: "internal",
    message: "The runtime returned a result that violates the contract; it was withheld.",
    retryAfterMs: 0,
    remediation: ["Report the correlation id to the tool owner."],
    security: true,
  },
  TOOL_EXECUTION_FAILED: {
    status: "failed_precondition",
    message: "The runtime reported an error while executing the tool.",
    retryAfterMs: 0,
    remediation: ["See details for the runtime's error type and message."],
  },
  RATE_LIMIT_EXCEEDED: {
    status: "resource_exhausted",
    message: "Too many requests.",
    retryAfterMs: 1000,
    remediation: ["Slow down and retry after retry_after_ms."],
  },
  QUOTA_EXCEEDED: {
    status: "resource_exhausted",
    message: "A quota or in-flight limit was reached.",
    retryAfterMs: 1000,
    remediation: ["Retry later or ask for a higher quota."],
  },
  UNAVAILABLE: {
    status: "unavailable",
    message: "No healthy runtime is available for this contract, or the runtime went away.",
    retryAfterMs: 1000,
    remediation: ["Retry after retry_after_ms; if it persists, check that a runtime is connected (aesp runtime list)."],
  },
  AUDIT_UNAVAILABLE: {
    status: "unavailable",
    message: "The audit log cannot record; the request was refused rather than run unrecorded.",
    retryAfterMs: 2000,
    remediation: ["Retry later; operators should check the audit store."],
  },
  APPROVAL_REQUIRED: {
    status: "failed_precondition",
    message: "A policy requires a human approval for this call, and none was given in time.",
    retryAfterMs: 30_000,
    remediation: [
      "Ask an approver named in details.required_approvers to approve details.approval_request_id (aesp approval approve <id>).",
      "Then retry the same call with the same arguments: the approval is used once, within details.use_within_seconds of the decision.",
    ],
  },
  APPROVAL_REJECTED: {
    status: "permission_denied",
    message: "An approver rejected this call.",
    retryAfterMs: 0,
    remediation: ["See details.comments; a new identical call opens a new approval request."],
    security: true,
  },
  DEADLINE_EXCEEDED: {
    status: "deadline_exceeded",
    message: "The call did not complete before its deadline.",
    retryAfterMs: 0,
    remediation: ["Retry with a longer deadline if the tool is slow."],
  },
  CANCELLED: {
    status: "cancelled",
    message: "The call was cancelled.",
    retryAfterMs: 0,
    remediation: [],
  },
  CERTIFICATE_INVALID: {
    status: "unauthenticated",
    message: "The client certificate is invalid, revoked or does not match the announcement.",
    retryAfterMs: 0,
    remediation: ["Enroll the runtime again (aesp runtime enroll) and use the issued certificate."],
    security: true,
  },
  RUNTIME_REJECTED: {
    status: "permission_denied",
    message: "The runtime announcement was rejected.",
    retryAfterMs: 0,
    remediation: ["See details.reasons; a runtime may only announce ACTIVE contracts of its own tenant that it was enrolled for."],
    security: true,
  },
  LEGAL_HOLD_ACTIVE: {
    status: "failed_precondition",
    message: "A legal hold covers this data; it cannot be erased or removed while the hold is active.",
    retryAfterMs: 0,
    remediation: ["List the tenant's legal holds (aesp audit hold list); erase only after counsel releases the hold that names this subject."],
  },
  UNIMPLEMENTED: {
    status: "unimplemented",
    message: "This RPC is not implemented by this Host version.",
    retryAfterMs: 0,
    remediation: ["See docs/reference/api.md for the RPCs this version implements."],
  },
  INTERNAL_ERROR: {
    status: "internal",
    message: "An internal error occurred.",
    retryAfterMs: 1000,
    remediation: ["Retry; if it persists, report the correlation id to the operator."],
  },
} as const satisfies Record<string, CatalogueEntry>;

/** Every stable error code the Host can return. */
export type ErrorCode = keyof typeof errorCatalogue;

/** Construction options for {@link EnterpriseError}. */
export interface EnterpriseErrorOptions {
  /** Overrides the catalogue's generic message; must never carry internal detail. */
  message?: string;
  /** Caller-safe specifics (field names, required roles). Never secrets, SQL, paths or other tenants. */
  details?: Record<string, string>;
  correlationId?: string;
  tenantId?: string;
  principalId?: string;
  retryAfterMs?: number;
  /** Kept for logs only; never serialised to callers. */
  cause?: unknown;
}

/**
 * The single error type of the Host: a catalogue code plus safe, structured context.
 *
 * @example
 * throw new EnterpriseError("CONTRACT_NOT_FOUND", { details: { contract: "get_weather" } });
 */
export class EnterpriseError extends Error {
  readonly code: ErrorCode;
  readonly status: ErrorStatus;
  readonly details: Readonly<Record<string, string>>;
  readonly retryAfterMs: number;
  readonly remediation: readonly string[];
  readonly security: boolean;
  correlationId: string;
  tenantId: string;
  principalId: string;

  constructor(code: ErrorCode, options: EnterpriseErrorOptions = {}) {
    const entry: CatalogueEntry = errorCatalogue[code];
    super(options.message ?? entry.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "EnterpriseError";
    this.code = code;
    this.status = entry.status;
    this.details = options.details ?? {};
    this.retryAfterMs = options.retryAfterMs ?? entry.retryAfterMs;
    this.remediation = entry.remediation;
    this.security = entry.security ?? false;
    this.correlationId = options.correlationId ?? "";
    this.tenantId = options.tenantId ?? "";
    this.principalId = options.principalId ?? "";
  }
}

/** Narrows an unknown thrown value; anything that is not an EnterpriseError becomes INTERNAL_ERROR. */
export function toEnterpriseError(err: unknown, correlationId = ""): EnterpriseError {
  if (err instanceof EnterpriseError) {
    if (correlationId !== "" && err.correlationId === "") err.correlationId = correlationId;
    return err;
  }
  return new EnterpriseError("INTERNAL_ERROR", { correlationId, cause: err });
}

/** True when `err` is an EnterpriseError with one of `codes`. */
export function isErrorCode(err: unknown, ...codes: ErrorCode[]): err is EnterpriseError {
  return err instanceof EnterpriseError && codes.includes(err.code);
}

/** Markdown reference of the error catalogue, for docs/reference/errors.md. */
export function renderErrorReference(): string {
  const lines = [
    "# Error reference",
    "",
    "<!-- Generated from packages/core/src/errors.ts by `npm run generate`. Do not edit. -->",
    "",
    "Every failed RPC carries an `aesp.v1.EnterpriseError` in its error details with one of these codes,",
    "a correlation id, `retry_after_ms` (0: retrying will not help) and remediation steps.",
    "Codes marked *security* are also recorded as security events in the audit log.",
    "",
    "| Code | gRPC / Connect status | Retry after (ms) | Meaning | What to do |",
    "|---|---|---|---|---|",
  ];
  for (const [code, entry] of Object.entries(errorCatalogue) as [ErrorCode, CatalogueEntry][]) {
    const security = entry.security === true ? " *security*" : "";
    lines.push(`| \`${code}\` | ${entry.status.toUpperCase()} | ${entry.retryAfterMs} | ${entry.message}${security} | ${entry.remediation.join(" ")} |`);
  }
  return lines.join("\n") + "\n";
}
