/**
 * dispatch
 * - the call goes to the chosen runtime with its deadline; the Host enforces the deadline
 *   itself (DEADLINE_EXCEEDED) and tells the runtime to cancel;
 * - client cancellation and DestroySession(force) abort the call (CANCELLED);
 * - a runtime that disconnects fails the call with UNAVAILABLE and retry advice: no call hangs;
 * - streamed chunks are validated against the contract's return type one by one; an invalid
 *   chunk ends the call (RESULT_VALIDATION_FAILED) and never reaches the caller;
 * - transport failures feed the runtime's circuit breaker.
 */
import { EnterpriseError, isErrorCode } from "../../errors.ts";
import type { Step } from "../governed-call.ts";
import { required } from "./required.ts";

export const dispatch: Step = {
  name: "dispatch",
  async run(call, deps) {
    const runtime = required(call.runtime, "runtime");
    const contract = required(call.contract, "contract");
    const definition = contract.record.definition;
    // A holder rather than a `let`: the callback assigns it, which flow analysis cannot see.
    const failure: { error: EnterpriseError | null } = { error: null };
    const onChunk =
      call.onChunk === null
        ? undefined
        : (payload: unknown) => {
            if (failure.error !== null) return;
            const issues = contract.compiled.validateResult(payload);
            if (issues.length > 0) {
              failure.error = resultRejected(contract.record.contractId, issues);
              call.abort.abort(failure.error);
              return;
            }
            call.onChunk?.(payload);
          };
    try {
      call.outcome = await runtime.dispatch(
        {
          invocationId: call.invocationId,
          correlationId: call.origin.correlationId,
          callId: call.request.callId,
          contractName: definition.name,
          contractVersion: definition.contractVersion,
          args: call.request.args,
          deadlineMs: call.deadlineMs,
          stream: call.request.stream,
          sessionId: call.request.sessionId,
          security: call.security,
        },
        { signal: call.abort.signal, ...(onChunk === undefined ? {} : { onChunk }) },
      );
      deps.runtimes.report(runtime.connectionId, true);
    } catch (err) {
      if (failure.error !== null) throw failure.error;
      if (isErrorCode(err, "UNAVAILABLE", "DEADLINE_EXCEEDED")) deps.runtimes.report(runtime.connectionId, false);
      throw err;
    }
    if (failure.error !== null) throw failure.error;
  },
};

/** The error a caller sees when a runtime's output violates the contract. */
export function resultRejected(contractId: string, issues: readonly { path: string; message: string }[]): EnterpriseError {
  return new EnterpriseError("RESULT_VALIDATION_FAILED", {
    details: { contract: contractId, first_issue: `${issues[0]?.path || "/"}: ${issues[0]?.message ?? "invalid"}`, issue_count: String(issues.length) },
  });
}
