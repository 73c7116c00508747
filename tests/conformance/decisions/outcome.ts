/**
 * What a run observed for one case, and how it is compared with what the case expects. Each
 * runner reports what it can see: the core sees the whole decision; the gateway sees the
 * refusal's EnterpriseError and the audit log, but not the reason of an allowed call.
 */
import type { Expectation } from "./schema.ts";

export interface Observed {
  readonly decision: "ALLOW" | "DENY";
  /** The EnterpriseError code of a refusal; null when allowed. */
  readonly error: string | null;
  /** The decision's reason; null when the runner cannot see it. */
  readonly reason: string | null;
  /** Policies evaluated; null when the runner cannot see them. */
  readonly appliedPolicies: readonly string[] | null;
  /** Matched AUDIT policies, as recorded in the audit log. */
  readonly auditFlags: readonly string[];
}

/**
 * Lists every difference between an expectation and an observation.
 *
 * @param expected - The case's expectation for the engine.
 * @param observed - What the run saw.
 * @returns Human-readable mismatches; empty when the run conforms.
 */
export function mismatches(expected: Expectation, observed: Observed): string[] {
  const found: string[] = [];
  if (observed.decision !== expected.decision) found.push(`decision: expected ${expected.decision}, got ${observed.decision}`);
  if (observed.error !== expected.error) found.push(`error: expected ${expected.error ?? "none"}, got ${observed.error ?? "none"}`);
  if (observed.reason !== null) {
    for (const part of expected.reason) {
      if (!observed.reason.includes(part)) found.push(`reason: expected it to contain ${JSON.stringify(part)}, got ${JSON.stringify(observed.reason)}`);
    }
  }
  if (expected.appliedPolicies !== null && observed.appliedPolicies !== null && !sameSet(expected.appliedPolicies, observed.appliedPolicies)) {
    found.push(`applied policies: expected [${[...expected.appliedPolicies].sort().join(", ")}], got [${[...observed.appliedPolicies].sort().join(", ")}]`);
  }
  if (!sameSet(expected.auditFlags, observed.auditFlags)) {
    found.push(`audit flags: expected [${[...expected.auditFlags].sort().join(", ")}], got [${[...observed.auditFlags].sort().join(", ")}]`);
  }
  return found;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((item) => right.has(item)) && a.length === left.size && b.length === right.size;
}

/** Renders an observation for a failure message. */
export function describeObserved(observed: Observed): string {
  return JSON.stringify(observed);
}
