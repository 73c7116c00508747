/**
 * Real-time detection over the committed audit stream.
 *
 * Rules it enforces:
 * - Pure and clock-free: windows are measured on the records' own `timestampMs`, so the same stream
 *   always fires the same alerts (replayable in tests and after the fact).
 * - Bounded memory: a threshold rule keeps at most `threshold` timestamps per key and at most
 *   `maxKeys` keys per rule (the least recently seen key is forgotten first); cooldowns are bounded
 *   the same way.
 * - A fired threshold rule starts its key's window afresh, and every rule waits `cooldownMs`
 *   before firing again for the same key, so a flood yields a few alerts, not one per event.
 * - `alert.raised` and `audit.checkpoint_signed` are never looked at: an alert cannot feed the
 *   detector that raised it, and the log's own bookkeeping is not a signal.
 */
import type { AlertSeverity } from "../ports.ts";
import type { AuditRecord } from "../records.ts";

/** The rules the detector knows. */
export type DetectionRuleId = "denials" | "break_glass" | "cross_tenant" | "audit_verification" | "sign_in_failures";

/** Every rule, in documentation order. */
export const detectionRuleIds: readonly DetectionRuleId[] = ["denials", "break_glass", "cross_tenant", "audit_verification", "sign_in_failures"];

/** Thresholds and bounds; every field has a default. */
export interface DetectionOptions {
  /** Denials of one principal (authz.denied, or a POLICY_VIOLATION refusal) within the window that fire `denials`. Default 10. */
  readonly denialThreshold?: number;
  readonly denialWindowMs?: number;
  /** Failed sign-ins for one account or source within the window that fire `sign_in_failures`. Default 5. */
  readonly signInFailureThreshold?: number;
  readonly signInFailureWindowMs?: number;
  /** Quiet time after a rule fired for a key. Default 60 s. */
  readonly cooldownMs?: number;
  /** Most keys tracked per rule. Default 10,000. */
  readonly maxKeys?: number;
  /** Rules switched off. */
  readonly disabled?: readonly DetectionRuleId[];
}

/** A rule that fired: what the Host turns into an alert and an `alert.raised` event. */
export interface Detection {
  readonly rule: DetectionRuleId;
  readonly severity: AlertSeverity;
  readonly tenantId: string;
  readonly principalId: string;
  readonly title: string;
  /** The record that made the rule fire. */
  readonly trigger: Pick<AuditRecord, "eventId" | "eventType" | "seq" | "timestampMs">;
  /** Events counted in the window (threshold rules), else 1. */
  readonly count: number;
  /** The window in ms (threshold rules), else 0. */
  readonly windowMs: number;
}

/** Event types the detector never evaluates. */
export const IGNORED_EVENT_TYPES: ReadonlySet<string> = new Set(["alert.raised", "audit.checkpoint_signed"]);

/** Event types that report a failed verification of the audit log (recorded by verifiers). */
const VERIFICATION_FAILED = /^audit\.(?:[a-z_]*verif[a-z_]*_failed|integrity_failed)$/;

const BREAK_GLASS_PREFIX = "break_glass.";

interface ThresholdSpec {
  readonly rule: DetectionRuleId;
  readonly threshold: number;
  readonly windowMs: number;
}

/** A least-recently-used map with a size bound. */
class BoundedMap<V> {
  readonly #max: number;
  readonly #entries = new Map<string, V>();

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}

/** Sliding-window counter: keeps the newest `threshold` timestamps per key. */
class SlidingWindow {
  readonly spec: ThresholdSpec;
  readonly #keys: BoundedMap<number[]>;

  constructor(spec: ThresholdSpec, maxKeys: number) {
    this.spec = spec;
    this.#keys = new BoundedMap(maxKeys);
  }

  get trackedKeys(): number {
    return this.#keys.size;
  }

  /** Adds one event at `at`; returns the count in the window when it reached the threshold (and resets the key). */
  add(key: string, at: number): number | null {
    const times = this.#keys.get(key) ?? [];
    times.push(at);
    const from = at - this.spec.windowMs;
    while (times.length > 0 && times[0]! <= from) times.shift();
    if (times.length > this.spec.threshold) times.shift();
    if (times.length >= this.spec.threshold) {
      this.#keys.delete(key);
      return times.length;
    }
    this.#keys.set(key, times);
    return null;
  }
}

/**
 * Evaluates the built-in rules on records in log order.
 *
 * @example
 * const detector = new Detector({ denialThreshold: 5, denialWindowMs: 60_000 });
 * for (const record of batch) for (const hit of detector.observe(record)) notify(hit);
 */
export class Detector {
  readonly #denials: SlidingWindow;
  readonly #signIns: SlidingWindow;
  readonly #cooldownMs: number;
  readonly #cooldowns: BoundedMap<number>;
  readonly #disabled: ReadonlySet<DetectionRuleId>;

  /**
   * @param options - Thresholds, windows and bounds.
   * @throws RangeError when a threshold, window or bound is not a positive integer (a programming
   *   error: the Host validates configuration before it gets here).
   */
  constructor(options: DetectionOptions = {}) {
    const maxKeys = positive(options.maxKeys ?? 10_000, "maxKeys");
    this.#denials = new SlidingWindow(
      { rule: "denials", threshold: positive(options.denialThreshold ?? 10, "denialThreshold"), windowMs: positive(options.denialWindowMs ?? 60_000, "denialWindowMs") },
      maxKeys,
    );
    this.#signIns = new SlidingWindow(
      {
        rule: "sign_in_failures",
        threshold: positive(options.signInFailureThreshold ?? 5, "signInFailureThreshold"),
        windowMs: positive(options.signInFailureWindowMs ?? 300_000, "signInFailureWindowMs"),
      },
      maxKeys,
    );
    this.#cooldownMs = Math.max(0, Math.trunc(options.cooldownMs ?? 60_000));
    this.#cooldowns = new BoundedMap(maxKeys);
    this.#disabled = new Set(options.disabled ?? []);
  }

  /** Keys held by the threshold rules (for tests of the memory bound). */
  get trackedKeys(): number {
    return this.#denials.trackedKeys + this.#signIns.trackedKeys;
  }

  /**
   * Evaluates one committed record.
   *
   * @param record - The next record of the stream.
   * @returns The rules it made fire (usually none).
   */
  observe(record: AuditRecord): Detection[] {
    if (IGNORED_EVENT_TYPES.has(record.eventType)) return [];
    const hits: Detection[] = [];
    const type = record.eventType;
    if (type.startsWith(BREAK_GLASS_PREFIX)) {
      this.#once(hits, record, "break_glass", "CRITICAL", `Break-glass ${type.slice(BREAK_GLASS_PREFIX.length).replace(/_/g, " ")} by ${who(record)}`, `${record.tenantId}|${record.principalId}|${type}`);
    }
    if (type === "security.cross_tenant_attempt") {
      this.#once(hits, record, "cross_tenant", "HIGH", `Cross-tenant access attempt by ${who(record)}`, `${record.tenantId}|${record.principalId}`);
    }
    if (VERIFICATION_FAILED.test(type)) {
      this.#once(hits, record, "audit_verification", "CRITICAL", "Audit log verification failed", "audit");
    }
    if (isDenial(record)) {
      this.#threshold(hits, record, this.#denials, "HIGH", `${who(record)} was denied repeatedly`, `${record.tenantId}|${record.principalId}`);
    }
    if (type === "authn.failed") {
      const subject = record.principalId || record.resource || record.sourceIp;
      this.#threshold(hits, record, this.#signIns, "HIGH", `Repeated failed sign-ins for ${subject === "" ? "an unknown account" : subject}`, `${record.tenantId}|${subject}`);
    }
    if (type === "authn.locked" || type === "token.reuse_detected") {
      this.#once(hits, record, "sign_in_failures", "HIGH", type === "authn.locked" ? `Sign-in locked for ${record.resource || who(record)}` : `Refresh token reuse for ${who(record)}`, `${record.tenantId}|${type}|${record.resource}|${record.principalId}`);
    }
    return hits;
  }

  #once(hits: Detection[], record: AuditRecord, rule: DetectionRuleId, severity: AlertSeverity, title: string, key: string): void {
    if (this.#disabled.has(rule) || this.#cooling(rule, key, record.timestampMs)) return;
    hits.push(detection(rule, severity, record, title, 1, 0));
  }

  #threshold(hits: Detection[], record: AuditRecord, window: SlidingWindow, severity: AlertSeverity, title: string, key: string): void {
    const rule = window.spec.rule;
    if (this.#disabled.has(rule)) return;
    const count = window.add(key, record.timestampMs);
    if (count === null || this.#cooling(rule, key, record.timestampMs)) return;
    hits.push(detection(rule, severity, record, `${title} (${String(count)} in ${formatWindow(window.spec.windowMs)})`, count, window.spec.windowMs));
  }

  /** True while the rule is quiet for this key; otherwise starts its quiet time. */
  #cooling(rule: DetectionRuleId, key: string, at: number): boolean {
    const id = `${rule}|${key}`;
    const until = this.#cooldowns.get(id);
    if (until !== undefined && at < until) return true;
    if (this.#cooldownMs > 0) this.#cooldowns.set(id, at + this.#cooldownMs);
    return false;
  }
}

function isDenial(record: AuditRecord): boolean {
  if (record.eventType === "authz.denied") return true;
  // What-if questions (authz.evaluated) carry the code a call would fail with; nothing was refused.
  return record.outcome === "DENIED" && record.eventType !== "authz.evaluated" && record.metadata["error_code"] === "POLICY_VIOLATION";
}

function detection(rule: DetectionRuleId, severity: AlertSeverity, record: AuditRecord, title: string, count: number, windowMs: number): Detection {
  return {
    rule,
    severity,
    tenantId: record.tenantId,
    principalId: record.principalId,
    title,
    trigger: { eventId: record.eventId, eventType: record.eventType, seq: record.seq, timestampMs: record.timestampMs },
    count,
    windowMs,
  };
}

function who(record: AuditRecord): string {
  if (record.principalId === "") return "an unknown principal";
  return record.tenantId === "" ? record.principalId : `${record.principalId} (tenant ${record.tenantId})`;
}

function formatWindow(ms: number): string {
  return ms % 60_000 === 0 ? `${String(ms / 60_000)} min` : `${String(Math.round(ms / 1000))} s`;
}

function positive(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`detection option ${field} must be a positive integer`);
  return value;
}
