/**
 * A tool's own, expected failure: it reaches the caller as an ADM ErrorObject
 * (`ToolResult{status: ERROR, error: {type, message}}`) exactly as given. Any other error a handler
 * throws is reported as `INTERNAL_ERROR` with a generic message, so that stack traces and internal
 * detail never leave the runtime.
 *
 * @example
 * throw new ToolError("RESOURCE_NOT_FOUND", `No city named ${args.city}.`);
 */
export class ToolError extends Error {
  /** UPPER_SNAKE_CASE error type, e.g. `RESOURCE_NOT_FOUND`. */
  readonly type: string;

  /**
   * @param type UPPER_SNAKE_CASE error type.
   * @param message Human-readable text for the caller; must not contain internal detail or secrets.
   * @throws TypeError when `type` is not UPPER_SNAKE_CASE.
   */
  constructor(type: string, message: string, options?: { cause?: unknown }) {
    if (!/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/.test(type)) throw new TypeError(`ToolError type must be UPPER_SNAKE_CASE, got ${JSON.stringify(type)}`);
    super(message, options);
    this.name = "ToolError";
    this.type = type;
  }
}

/** Why a call's signal was aborted; available to handlers as `ctx.signal.reason`. */
export type AbortCause = "cancelled" | "deadline" | "drain" | "disconnected";

/** The `reason` of an aborted call signal. */
export class CallAbortedError extends Error {
  readonly kind: AbortCause;

  constructor(kind: AbortCause) {
    super(abortMessages[kind]);
    this.name = "AbortError";
    this.kind = kind;
  }
}

const abortMessages: Record<AbortCause, string> = {
  cancelled: "The Host cancelled the call.",
  deadline: "The call's deadline passed.",
  drain: "The runtime is shutting down and the grace period ended.",
  disconnected: "The connection to the Host was lost.",
};
