/**
 * The audit record of one policy decision's inputs, so TestPolicy can decide
 * recorded calls again under other policies (replay).
 *
 * The governed call records it once per call that reaches the policy stage
 * (`policy.decided`, metadata key {@link DECISION_INPUT_KEY}), whatever the
 * decision, because a candidate policy may newly apply to a call that no
 * policy governed when it was made.
 *
 * Rules enforced:
 * - What the audit event already carries (principal id, session id, source
 *   address, user agent, correlation id, tenant) is not repeated.
 * - Arguments are recorded only with every value the contract's schema marks
 *   `secret` replaced by `[REDACTED]` (the same redaction as elsewhere in
 *   audit), and only up to {@link MAX_RECORDED_ARGUMENTS} characters of JSON;
 *   larger arguments are left out and the call is marked as such, and replay
 *   skips it rather than decide it on arguments it does not have.
 * - The format is versioned (`v`); a record this code cannot read is skipped.
 */
import { REDACTED, redactArguments, schemaHasSecrets } from "../audit/redact.ts";
import type { PolicyInput } from "../policy/variables.ts";
import type { AdmSchema, AuditEventDraft, Classification, PrincipalType } from "../records.ts";

/** The metadata key of `policy.decided` that holds the recorded input. */
export const DECISION_INPUT_KEY = "decision_input";

/** Longest argument JSON recorded, in characters; larger arguments are left out. */
export const MAX_RECORDED_ARGUMENTS = 8 * 1024;

/** Version 1 of the recorded input (JSON, compact keys are not worth the obscurity). */
interface RecordedInputV1 {
  readonly v: 1;
  readonly action: string;
  readonly principal: {
    readonly type: PrincipalType;
    readonly roles: readonly string[];
    readonly permissions: readonly string[];
    readonly clearance: Classification;
    readonly attributes: Readonly<Record<string, string>>;
    readonly claims: Readonly<Record<string, string>>;
  };
  readonly session_created_at: number;
  readonly contract: {
    readonly name: string;
    readonly version: string;
    readonly classification: Classification;
    readonly compliance_tags: readonly string[];
    readonly risk: "LOW" | "MEDIUM" | "HIGH";
    readonly required_roles: readonly string[];
  };
  readonly time_ms: number;
  /** null when the arguments were too large to record. */
  readonly args: Readonly<Record<string, unknown>> | null;
}

/**
 * The recorded form of a decision's input, for the `policy.decided` metadata.
 *
 * @param input - The input the policy stage decided on.
 * @param parameters - The contract's parameter schema (its `secret` marks are honoured).
 * @returns Compact JSON text.
 */
export function recordDecisionInput(input: PolicyInput, parameters: AdmSchema | null): string {
  const redacted = schemaHasSecrets(parameters) ? (redactArguments(input.args, parameters) as Record<string, unknown>) : input.args;
  const argsText = JSON.stringify(redacted);
  const recorded: RecordedInputV1 = {
    v: 1,
    action: input.action,
    principal: {
      type: input.principal.type,
      roles: input.principal.roles,
      permissions: input.principal.permissions,
      clearance: input.principal.clearance,
      attributes: input.principal.attributes,
      claims: input.principal.claims ?? {},
    },
    session_created_at: input.session.createdAt,
    contract: {
      name: input.contract.name,
      version: input.contract.version,
      classification: input.contract.classification,
      compliance_tags: input.contract.complianceTags,
      risk: input.contract.risk,
      required_roles: input.contract.requiredRoles,
    },
    time_ms: input.request.timeMs,
    args: argsText.length <= MAX_RECORDED_ARGUMENTS ? redacted : null,
  };
  return JSON.stringify(recorded);
}

/** Why a recorded decision cannot be replayed. */
export type UnreplayableReason = "no_input" | "unreadable" | "arguments_not_recorded";

/**
 * Rebuilds the decision input of a recorded `policy.decided` event.
 *
 * @param event - The audit event (its own fields supply the principal id, session, origin).
 * @returns The input, or why it cannot be rebuilt.
 */
export function decisionInputOf(event: AuditEventDraft): { input: PolicyInput } | { unreplayable: UnreplayableReason } {
  const text = event.metadata[DECISION_INPUT_KEY];
  if (text === undefined) return { unreplayable: "no_input" };
  let recorded: RecordedInputV1;
  try {
    recorded = JSON.parse(text) as RecordedInputV1;
  } catch {
    return { unreplayable: "unreadable" };
  }
  if (typeof recorded !== "object" || recorded === null || recorded.v !== 1 || typeof recorded.principal !== "object" || typeof recorded.contract !== "object") {
    return { unreplayable: "unreadable" };
  }
  if (recorded.args === null) return { unreplayable: "arguments_not_recorded" };
  return {
    input: {
      action: recorded.action,
      principal: {
        id: event.principalId,
        type: recorded.principal.type,
        roles: recorded.principal.roles,
        permissions: recorded.principal.permissions,
        clearance: recorded.principal.clearance,
        attributes: recorded.principal.attributes,
        claims: recorded.principal.claims,
      },
      tenant: { id: event.tenantId },
      session: { id: event.sessionId, createdAt: recorded.session_created_at },
      contract: {
        name: recorded.contract.name,
        version: recorded.contract.version,
        classification: recorded.contract.classification,
        complianceTags: recorded.contract.compliance_tags,
        risk: recorded.contract.risk,
        requiredRoles: recorded.contract.required_roles,
      },
      args: recorded.args,
      request: { timeMs: recorded.time_ms, sourceIp: event.sourceIp, userAgent: event.userAgent, correlationId: event.correlationId },
    },
  };
}

/** The marker a redacted argument value carries in a recorded input. */
export const REDACTED_ARGUMENT = REDACTED;
