import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock } from "../ports.ts";
import type { SessionRecord } from "../records.ts";
import type { RequestOrigin, SecurityContext } from "../identity/security-context.ts";
import type { SessionManager } from "../sessions/session-manager.ts";
import type { ServableContract, TenantDirectory, TenantSnapshot } from "../tenancy/tenant-snapshot.ts";
import type { DispatchOutcome, RuntimeConnection, RuntimeDirectory } from "../runtimes/runtime-directory.ts";
import type { Decision, RolloutObserver } from "../policy/index.ts";
import type { CallApprovals } from "../governance/call-approvals.ts";
import type { BreakGlassUseRecorder } from "../governance/break-glass.ts";

/** What the caller asked for, as decoded by a transport. */
export interface ToolCallRequest {
  readonly sessionId: string;
  readonly callId: string;
  readonly name: string;
  /** Empty: the newest servable version. */
  readonly contractVersion: string;
  readonly args: Readonly<Record<string, unknown>>;
  /** 0: the configured default. */
  readonly timeoutMs: number;
  readonly stream: boolean;
}

/** Limits of the governed call, from the `invocation` config section. */
export interface InvocationOptions {
  readonly defaultTimeoutMs: number;
  readonly maxTimeoutMs: number;
  readonly maxInFlightPerSession: number;
  readonly maxInFlightPerTenant: number;
}

/** Everything the steps need; wired once in the host's composition root. */
export interface PipelineDeps {
  readonly clock: Clock;
  readonly audit: AuditRecorder;
  readonly sessions: SessionManager;
  readonly tenants: TenantDirectory;
  readonly runtimes: RuntimeDirectory;
  readonly options: InvocationOptions;
  /** Calls in flight per tenant on this Host. */
  readonly tenantInFlight: Map<string, number>;
  /** Holds calls that a REQUIRE_APPROVAL policy sends to a human. */
  readonly callApprovals: CallApprovals;
  /** Records calls that go on under a break-glass grant; absent: no call ever does. */
  readonly breakGlass?: BreakGlassUseRecorder;
  /** Counts what policy rollouts observe (governance/policy-rollouts.ts); absent: nothing is counted. */
  readonly rollouts?: RolloutObserver;
}

/**
 * One call travelling through the pipeline. Steps read what earlier steps
 * established and add their own result; nothing is shared between calls.
 */
export interface GovernedCall {
  readonly invocationId: string;
  readonly security: SecurityContext;
  readonly origin: RequestOrigin;
  readonly request: ToolCallRequest;
  /** Aborted by the client going away or the session being destroyed with force. */
  readonly abort: AbortController;
  /** Receives streamed chunks that passed validation. */
  readonly onChunk: ((payload: unknown) => void) | null;
  readonly receivedAt: number;
  deadlineMs: number;
  session: SessionRecord | null;
  snapshot: TenantSnapshot | null;
  contract: ServableContract | null;
  decision: Decision | null;
  runtime: RuntimeConnection | null;
  outcome: DispatchOutcome | null;
  /** Undo actions registered by steps (release capacity, untrack), run after the call. */
  readonly cleanups: (() => void)[];
}

/** One named step of the governed call. */
export interface Step {
  readonly name: string;
  run(call: GovernedCall, deps: PipelineDeps): Promise<void>;
}
