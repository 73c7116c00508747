import type { AespError } from "./errors.ts";
import { toAespError } from "./errors.ts";

/** Options of {@link withRetry}. */
export interface RetryOptions {
  /** Total attempts including the first; default 3. */
  attempts?: number;
  /** Upper bound for a single wait, whatever the Host advises; default 30 s. */
  maxDelayMs?: number;
  /** Stops waiting and rethrows the last error when aborted. */
  signal?: AbortSignal;
  /** Called before each wait, e.g. to log it. */
  onRetry?: (error: AespError, attempt: number, delayMs: number) => void;
}

/**
 * Runs `operation`, retrying only failures whose `retryAfterMs` is positive (the Host's advice that
 * a retry can help), after waiting that long.
 *
 * @param operation The call to run; it is invoked again for each attempt.
 * @throws AespError the last failure, or the first one that must not be retried.
 */
export async function withRetry<T>(operation: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 3);
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (thrown) {
      const error = toAespError(thrown);
      if (attempt >= attempts || error.retryAfterMs <= 0 || isAborted(options.signal)) throw error;
      const delayMs = Math.min(error.retryAfterMs, maxDelayMs);
      options.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs, options.signal);
      if (isAborted(options.signal)) throw error;
    }
  }
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
