import type { AuditOutcome } from "./records.ts";
import type { RequestOrigin } from "./identity/security-context.ts";

/** What a use-case says about an event; the audit log adds id, time and chain. */
export interface AuditInput {
  readonly eventType: string;
  readonly tenantId: string;
  readonly principalId?: string;
  readonly sessionId?: string;
  readonly resource?: string;
  readonly action?: string;
  readonly outcome: AuditOutcome;
  readonly origin?: RequestOrigin;
  readonly riskScore?: string;
  readonly policyViolations?: readonly string[];
  /** Never secrets: callers redact arguments and credentials before building this. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Port: appends an event and resolves once it is durable. Rejects with
 * AUDIT_UNAVAILABLE when the log cannot record, and the caller must then refuse
 * whatever it was about to acknowledge.
 */
export interface AuditRecorder {
  record(input: AuditInput): Promise<void>;
}
