import { EnterpriseError } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock, SignInThrottleStore } from "../ports.ts";
import type { RequestOrigin } from "./security-context.ts";

/** Lockout thresholds, from the `identity` config section. */
export interface ThrottleOptions {
  /** Failures of one account within the window before it locks. */
  readonly maxFailuresPerAccount: number;
  /** Failures from one source address within the window before it locks. */
  readonly maxFailuresPerSource: number;
  /** The counting window; a quiet window resets the count. */
  readonly windowMs: number;
  /** First lock duration; each further failure while over the threshold doubles it. */
  readonly baseLockMs: number;
  readonly maxLockMs: number;
}

/** The keys one sign-in attempt is counted under. */
export interface ThrottleSubject {
  readonly tenantId: string;
  readonly method: string;
  /** The account as typed (username, key id, client id); "" when the attempt named none. */
  readonly account: string;
  readonly sourceIp: string;
}

/**
 * Per-account and per-source backoff and lockout for sign-ins, shared by every Host through
 * storage.
 *
 * Rules enforced:
 * - a locked account or source is refused with ACCOUNT_LOCKED before the credential is checked,
 *   so guessing gains nothing while locked, and the refusal says when to retry;
 * - the lock grows exponentially with continued failures, up to `maxLockMs`;
 * - a success clears the account's count (not the source's: one right password from an address
 *   that tried thousands of accounts should not reset that address);
 * - every lock is audited as a security event.
 */
export class SignInThrottle {
  readonly #store: SignInThrottleStore;
  readonly #clock: Clock;
  readonly #audit: AuditRecorder;
  readonly #options: ThrottleOptions;

  constructor(deps: { store: SignInThrottleStore; clock: Clock; audit: AuditRecorder; options: ThrottleOptions }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
    this.#options = deps.options;
  }

  /**
   * Refuses when the account or the source is locked.
   * @throws EnterpriseError ACCOUNT_LOCKED with `retryAfterMs` set to the remaining lock time.
   */
  async assertNotLocked(subject: ThrottleSubject): Promise<void> {
    const now = this.#clock.now();
    for (const key of this.#keys(subject)) {
      const record = await this.#store.get(key);
      if (record !== null && record.lockedUntil > now) {
        throw new EnterpriseError("ACCOUNT_LOCKED", { tenantId: subject.tenantId, retryAfterMs: record.lockedUntil - now, details: { locked: key.startsWith("src:") ? "source" : "account" } });
      }
    }
  }

  /** Counts a failed attempt; locks (and audits the lock) past a threshold. */
  async failed(subject: ThrottleSubject, origin: RequestOrigin): Promise<void> {
    const now = this.#clock.now();
    for (const key of this.#keys(subject)) {
      const threshold = key.startsWith("src:") ? this.#options.maxFailuresPerSource : this.#options.maxFailuresPerAccount;
      // One atomic update per key: failures arriving at several Hosts at once are all counted.
      const counters = await this.#store.recordFailure(key, now, this.#options.windowMs);
      const failures = counters.failures;
      if (failures >= threshold) {
        const lockMs = Math.min(this.#options.maxLockMs, this.#options.baseLockMs * 2 ** Math.min(failures - threshold, 20));
        const lockedUntil = now + lockMs;
        await this.#store.extendLock(key, lockedUntil);
        await this.#audit.record({
          eventType: "authn.locked",
          tenantId: subject.tenantId,
          resource: key.startsWith("src:") ? `source:${subject.sourceIp}` : `account:${subject.account.slice(0, 128)}`,
          action: "authenticate",
          outcome: "DENIED",
          origin,
          metadata: { method: subject.method, failures: String(failures), locked_until: String(lockedUntil) },
        });
      }
    }
  }

  /** Forgets counters that can no longer lock anyone; run periodically. Returns how many. */
  async purgeExpired(): Promise<number> {
    return this.#store.purgeExpired(this.#clock.now(), this.#options.windowMs);
  }

  /** Clears the account's failure count after a successful sign-in. */
  async succeeded(subject: ThrottleSubject): Promise<void> {
    if (subject.account !== "") await this.#store.delete(this.#accountKey(subject));
  }

  #keys(subject: ThrottleSubject): string[] {
    const keys: string[] = [];
    if (subject.account !== "") keys.push(this.#accountKey(subject));
    if (subject.sourceIp !== "") keys.push(`src:${subject.sourceIp}`);
    return keys;
  }

  #accountKey(subject: ThrottleSubject): string {
    return `acct:${subject.tenantId}:${subject.method}:${subject.account.toLowerCase().slice(0, 256)}`;
  }
}
