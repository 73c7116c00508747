import { AespError, toAespError } from "@aesp/client";

/**
 * Renders a failure for the terminal: `error CODE: message`, the correlation id to quote, and the
 * remediation steps as "what to do next". The stack (and causes) only with `debug` (AESP_DEBUG=1).
 */
export function renderError(err: unknown, options: { debug: boolean }): string {
  const error = normalise(err);
  const lines = [`error ${error.code}: ${error.message}`];
  const details = Object.entries(error.details);
  if (details.length > 0) lines.push(...details.map(([key, value]) => `  ${key}: ${value}`));
  if (error.correlationId !== "") lines.push(`correlation id: ${error.correlationId}`);
  if (error.retryAfterMs > 0) lines.push(`retry after: ${formatDelay(error.retryAfterMs)}`);
  if (error.remediation.length > 0) {
    lines.push("what to do next:");
    lines.push(...error.remediation.map((step) => `  - ${step}`));
  }
  if (options.debug) lines.push("", ...stackChain(err));
  return lines.join("\n") + "\n";
}

/** Renders a failure as one JSON object for `--json` callers. */
export function renderErrorJson(err: unknown): string {
  const error = normalise(err);
  return (
    JSON.stringify({
      error: {
        code: error.code,
        message: error.message,
        details: error.details,
        correlation_id: error.correlationId,
        retry_after_ms: error.retryAfterMs,
        remediation_steps: error.remediation,
      },
    }) + "\n"
  );
}

/**
 * Errors raised in-process by the Host module (`aesp start`, `aesp audit verify`) are the Host's
 * own EnterpriseError, which the client does not know; they have the same fields, so they are read
 * structurally rather than reported as INTERNAL_ERROR.
 */
function normalise(err: unknown): AespError {
  if (err instanceof AespError) return err;
  if (err instanceof Error) {
    const candidate = err as Error & { code?: unknown; remediation?: unknown; details?: unknown; correlationId?: unknown; retryAfterMs?: unknown };
    if (typeof candidate.code === "string" && /^[A-Z][A-Z0-9_]+$/.test(candidate.code) && Array.isArray(candidate.remediation)) {
      return new AespError({
        code: candidate.code,
        message: err.message,
        remediation: candidate.remediation.filter((step): step is string => typeof step === "string"),
        details: typeof candidate.details === "object" && candidate.details !== null ? (candidate.details as Record<string, string>) : {},
        correlationId: typeof candidate.correlationId === "string" ? candidate.correlationId : "",
        retryAfterMs: typeof candidate.retryAfterMs === "number" ? candidate.retryAfterMs : 0,
        cause: err,
      });
    }
    if (candidate.code === "EADDRINUSE") {
      return new AespError({
        code: "UNAVAILABLE",
        message: err.message,
        remediation: ["Another process (maybe another Host) listens on that port: stop it, or choose other ports with --gateway-port and --runtime-port."],
        cause: err,
      });
    }
  }
  return toAespError(err);
}

function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}

function stackChain(err: unknown): string[] {
  const lines: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current);
    lines.push(current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : JSON.stringify(current) ?? typeof current);
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined && current !== null) lines.push("caused by:");
  }
  return lines;
}

/** An error in how the CLI was invoked (bad flag value, unreadable file), in the Host's vocabulary. */
export function usageError(message: string, remediation: string[] = [], details: Record<string, string> = {}): AespError {
  return new AespError({ code: "INVALID_ARGUMENT", message, remediation, details });
}
