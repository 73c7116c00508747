/**
 * A fixed-window counter per key, in memory. Used for the per-principal limit,
 * which can only be applied after authentication; per-IP limits are applied
 * earlier by @fastify/rate-limit. (Shared counters across Hosts: Redis, later.)
 */
export class FixedWindowLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #counts = new Map<string, { windowStart: number; count: number }>();

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Counts a hit; returns 0 when allowed, else the milliseconds until the window resets. */
  hit(key: string, now: number): number {
    let entry = this.#counts.get(key);
    if (entry === undefined || now - entry.windowStart >= this.#windowMs) {
      if (this.#counts.size > 100_000) this.#counts.clear();
      entry = { windowStart: now, count: 0 };
      this.#counts.set(key, entry);
    }
    entry.count++;
    return entry.count > this.#limit ? entry.windowStart + this.#windowMs - now : 0;
  }
}
