import { AespError, toAespError } from "@aesp/client";

/**
 * Renders a failure for the terminal: `error CODE: message`, the correlation id to quote, and the
 * remediation steps as "what to do next". The stack (and causes) only with `debug` (AESP_DEBUG=1).
 */
export function renderError(err: unknown, options: { debug: boolean }): string {
  const error = toAespError(err);
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
  const error = toAespError(err);
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

function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}

function stackChain(err: unknown): string[] {
  const lines: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current);
    lines.push(current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : String(current));
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined && current !== null) lines.push("caused by:");
  }
  return lines;
}

/** An error in how the CLI was invoked (bad flag value, unreadable file), in the Host's vocabulary. */
export function usageError(message: string, remediation: string[] = [], details: Record<string, string> = {}): AespError {
  return new AespError({ code: "INVALID_ARGUMENT", message, remediation, details });
}
