/**
 * The governed tool call: the whole product as one table of steps.
 *
 *   (gateway) authenticate → resolve session (tenant fixed) → load ACTIVE contract
 *   → RBAC and clearance → validate arguments → policies decide → enforce the decision
 *   → reserve capacity → durable start record → pick an authorized healthy runtime → dispatch (deadline,
 *   cancellation, breaker) → validate result → durable outcome record → reply
 *
 * Authentication happens once at the gateway's edge for every RPC (see
 * host/src/gateway/authenticate.ts) and hands the pipeline a SecurityContext.
 * Every refusal maps to one error code and one audit event, and the caller's
 * reply waits until that event is durable. RBAC comes before argument validation so that a
 * caller without access learns nothing about a contract's schema from validation errors.
 */
import { EnterpriseError, toEnterpriseError } from "../errors.ts";
import type { RequestOrigin, SecurityContext } from "../identity/security-context.ts";
import type { DispatchOutcome } from "../runtimes/runtime-directory.ts";
import type { GovernedCall, PipelineDeps, Step, ToolCallRequest } from "./governed-call.ts";
import { resolveSession } from "./steps/resolve-session.ts";
import { loadContract } from "./steps/load-contract.ts";
import { validateArguments } from "./steps/validate-arguments.ts";
import { checkAccess } from "./steps/check-access.ts";
import { evaluatePolicies } from "./steps/evaluate-policies.ts";
import { enforceDecision } from "./steps/enforce-decision.ts";
import { reserveCapacity } from "./steps/reserve-capacity.ts";
import { recordStart } from "./steps/record-start.ts";
import { pickRuntime } from "./steps/pick-runtime.ts";
import { dispatch } from "./steps/dispatch.ts";
import { validateResult } from "./steps/validate-result.ts";

export const governedCallSteps = [
  resolveSession,
  loadContract,
  checkAccess,
  validateArguments,
  evaluatePolicies,
  enforceDecision,
  reserveCapacity,
  recordStart,
  pickRuntime,
  dispatch,
  validateResult,
] as const satisfies readonly Step[];

/** A finished call: what the runtime answered, after every check passed. */
export interface ToolCallOutcome {
  readonly invocationId: string;
  readonly contractId: string;
  readonly outcome: DispatchOutcome;
}

/** Refusals decided before anything ran: audited as `authz.denied`. */
const beforeStart = new Set(governedCallSteps.slice(0, governedCallSteps.indexOf(recordStart)).map((s) => s.name));

/**
 * Runs one governed tool call.
 *
 * @param input.signal aborts the call (client disconnect); the runtime is told to cancel.
 * @param input.onChunk receives validated chunks of a streaming call, in order.
 * @throws EnterpriseError with the code of the step that refused, or AUDIT_UNAVAILABLE when
 *   the outcome could not be recorded (the caller then never sees the result).
 */
export async function invokeTool(
  deps: PipelineDeps,
  input: {
    invocationId: string;
    security: SecurityContext;
    origin: RequestOrigin;
    request: ToolCallRequest;
    signal?: AbortSignal;
    onChunk?: (payload: unknown) => void;
  },
): Promise<ToolCallOutcome> {
  const now = deps.clock.now();
  const timeout = input.request.timeoutMs === 0 ? deps.options.defaultTimeoutMs : input.request.timeoutMs;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > deps.options.maxTimeoutMs) {
    throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "timeout_ms", max: String(deps.options.maxTimeoutMs) } });
  }
  const call: GovernedCall = {
    invocationId: input.invocationId,
    security: input.security,
    origin: input.origin,
    request: input.request,
    abort: new AbortController(),
    onChunk: input.onChunk ?? null,
    receivedAt: now,
    deadlineMs: now + timeout,
    session: null,
    snapshot: null,
    contract: null,
    decision: null,
    runtime: null,
    outcome: null,
    cleanups: [],
  };
  const forwardAbort = () => {
    const reason: unknown = input.signal?.reason;
    call.abort.abort(reason instanceof EnterpriseError ? reason : new EnterpriseError("CANCELLED", { cause: reason }));
  };
  if (input.signal?.aborted === true) forwardAbort();
  input.signal?.addEventListener("abort", forwardAbort, { once: true });
  let current: Step = governedCallSteps[0];
  try {
    for (const step of governedCallSteps) {
      current = step;
      if (call.abort.signal.aborted) throw toEnterpriseError(call.abort.signal.reason);
      await step.run(call, deps);
    }
    const outcome = call.outcome as DispatchOutcome;
    await recordOutcome(call, deps, outcome.kind === "success" ? "SUCCESS" : "FAILURE", {
      status: outcome.kind === "success" ? "SUCCESS" : "ERROR",
      ...(outcome.kind === "error" ? { error_type: outcome.errorType } : {}),
    });
    return { invocationId: call.invocationId, contractId: call.contract?.record.contractId ?? "", outcome };
  } catch (thrown) {
    const error = toEnterpriseError(thrown, input.origin.correlationId);
    error.tenantId = input.security.tenantId;
    error.principalId = input.security.principalId;
    if (error.code === "AUDIT_UNAVAILABLE") throw error;
    try {
      if (beforeStart.has(current.name)) await recordDenial(call, deps, error, current.name);
      else await recordOutcome(call, deps, error.code === "CANCELLED" ? "FAILURE" : "ERROR", { error_code: error.code, step: current.name });
    } catch (auditError) {
      throw toEnterpriseError(auditError, input.origin.correlationId);
    }
    throw error;
  } finally {
    input.signal?.removeEventListener("abort", forwardAbort);
    for (const cleanup of call.cleanups.reverse()) cleanup();
  }
}

async function recordDenial(call: GovernedCall, deps: PipelineDeps, error: EnterpriseError, step: string): Promise<void> {
  const validation = error.code === "PARAMETER_VALIDATION_FAILED";
  await deps.audit.record({
    eventType: validation ? "tool_call.arguments_rejected" : "authz.denied",
    tenantId: call.security.tenantId,
    principalId: call.security.principalId,
    sessionId: call.session?.sessionId ?? "",
    resource: `contract:${call.contract?.record.contractId ?? call.request.name}`,
    action: "tools:invoke",
    outcome: "DENIED",
    origin: call.origin,
    policyViolations: error.code === "POLICY_VIOLATION" ? (call.decision?.appliedPolicies ?? []) : [],
    metadata: {
      invocation_id: call.invocationId,
      error_code: error.code,
      step,
      ...(call.decision === null ? {} : { decision_reason: call.decision.reason }),
    },
  });
}

async function recordOutcome(call: GovernedCall, deps: PipelineDeps, outcome: "SUCCESS" | "FAILURE" | "ERROR", extra: Record<string, string>): Promise<void> {
  await deps.audit.record({
    eventType: outcome === "SUCCESS" ? "tool_call.completed" : "tool_call.failed",
    tenantId: call.security.tenantId,
    principalId: call.security.principalId,
    sessionId: call.request.sessionId,
    resource: `contract:${call.contract?.record.contractId ?? call.request.name}`,
    action: "tools:invoke",
    outcome,
    origin: call.origin,
    metadata: {
      invocation_id: call.invocationId,
      runtime_id: call.runtime?.runtimeId ?? "",
      duration_ms: String(deps.clock.now() - call.receivedAt),
      ...extra,
    },
  });
}
