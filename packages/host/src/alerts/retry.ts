/** Retries of alert deliveries: exponential backoff with jitter, bounded attempts. */
import { backoffDelay } from "../audit/forwarding/delivery-queue.ts";

/** How hard a connector tries. */
export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
}

/**
 * Runs `attempt` until it resolves or `policy.maxAttempts` attempts failed.
 *
 * @param attempt - One delivery attempt, given its 1-based number.
 * @throws The last attempt's error.
 */
export async function withRetries(policy: RetryPolicy, attempt: (n: number) => Promise<void>): Promise<void> {
  for (let n = 1; ; n++) {
    try {
      await attempt(n);
      return;
    } catch (err) {
      if (n >= policy.maxAttempts) throw err;
      const delay = backoffDelay(n, policy.baseMs, policy.maxMs, Math.random());
      await new Promise<void>((resolve) => setTimeout(resolve, delay).unref());
    }
  }
}
