/**
 * SCIM protocol errors (RFC 7644 §3.12). The SCIM endpoints speak their own error dialect, so the
 * SCIM service throws {@link ScimError} and the host renders it as an
 * `urn:ietf:params:scim:api:messages:2.0:Error` body; {@link toScimError} maps the Host's
 * catalogue errors onto it at that one boundary.
 */
import { EnterpriseError } from "../../errors.ts";

/** The `scimType` values of RFC 7644 Table 9, plus "" where the status says it all. */
export type ScimType =
  | "invalidFilter"
  | "tooMany"
  | "uniqueness"
  | "mutability"
  | "invalidSyntax"
  | "invalidPath"
  | "noTarget"
  | "invalidValue"
  | "invalidVers"
  | "sensitive"
  | "";

/** A refusal in SCIM terms: HTTP status, `scimType` and a caller-safe `detail`. */
export class ScimError extends Error {
  readonly status: number;
  readonly scimType: ScimType;
  /** Shown to the SCIM client; never internal detail, secrets or other tenants' data. */
  readonly detail: string;

  constructor(status: number, scimType: ScimType, detail: string, options: { cause?: unknown } = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ScimError";
    this.status = status;
    this.scimType = scimType;
    this.detail = detail;
  }

  /** The error body RFC 7644 §3.12 prescribes (`status` is a string there). */
  toJSON(): Record<string, unknown> {
    return {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"],
      status: String(this.status),
      ...(this.scimType === "" ? {} : { scimType: this.scimType }),
      detail: this.detail,
    };
  }
}

/**
 * Any thrown value as a {@link ScimError}. Catalogue errors map by code; anything else becomes a
 * 500 whose detail says nothing about the cause (the cause is kept for logs).
 */
export function toScimError(err: unknown): ScimError {
  if (err instanceof ScimError) return err;
  if (!(err instanceof EnterpriseError)) return new ScimError(500, "", "An internal error occurred.", { cause: err });
  if (err.code === "PAYLOAD_TOO_LARGE") return new ScimError(413, "", "The request body is too large.", { cause: err });
  switch (err.status) {
    case "already_exists":
    case "aborted":
      return new ScimError(409, "uniqueness", "A resource with this identity already exists or changed concurrently; re-read it and retry.", { cause: err });
    case "not_found":
      return new ScimError(404, "", "Resource not found.", { cause: err });
    case "invalid_argument":
    case "failed_precondition":
      return new ScimError(400, "invalidValue", err.message, { cause: err });
    case "unauthenticated":
      return new ScimError(401, "", "Authentication failed.", { cause: err });
    case "permission_denied":
      return new ScimError(403, "", "The caller may not provision this tenant.", { cause: err });
    case "resource_exhausted":
      return new ScimError(429, "", "Too many requests; retry later.", { cause: err });
    case "unavailable":
    case "deadline_exceeded":
      return new ScimError(503, "", "The service is temporarily unavailable; retry later.", { cause: err });
    case "unimplemented":
      return new ScimError(501, "", "Not implemented.", { cause: err });
    case "cancelled":
    case "internal":
      return new ScimError(500, "", "An internal error occurred.", { cause: err });
  }
}
