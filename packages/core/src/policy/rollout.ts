/**
 * Staged rollouts of a policy version: the pure part (who is in the cohort, which version acts,
 * when a rollout rolls back). The stateful part, with storage and governance, is
 * governance/policy-rollouts.ts.
 *
 * Rules enforced (docs/adr/0007-authorization-model.md, "Staged rollouts"):
 * - SHADOW: the tenant's policies act as they are; the candidate (in place of the baseline) is
 *   decided too, for the cohort, and never changes an outcome;
 * - CANARY: the candidate acts for the cohort, the baseline for everyone else; both are decided
 *   on every call;
 * - the cohort is a stable hash of the principal id (salted with the rollout id, so one principal
 *   sees one behaviour for the whole rollout) below the percentage, or a chosen principal
 *   (`<id>` or `role:<name>`); a shadow with neither covers everyone;
 * - a call counts only when the rolled-out policy applied under either version; a disagreement is
 *   a different effect (ALLOW vs DENY);
 * - a rollout rolls back once evaluated ≥ min samples and disagreements / evaluated > threshold;
 * - past its end time a rollout is inert (the baseline alone acts) until the Host ends it.
 */
import type { PolicyRecord, PolicyRolloutRecord } from "../records.ts";
import type { Decision, PolicySet } from "./evaluate.ts";
import type { PolicyInput } from "./variables.ts";

/** A RUNNING rollout as the hot path holds it, in the tenant snapshot. */
export interface RolloutView {
  readonly record: PolicyRolloutRecord;
  /** The tenant's policies with the candidate version in place of the baseline. */
  readonly candidate: PolicySet;
}

/** What the policy stage decided for one call under a rollout. */
export interface RolloutDecision {
  /** The decision that acts. */
  readonly decision: Decision;
  /** Which version of the rolled-out policy produced it. */
  readonly acting: "baseline" | "candidate";
  /** The decision of the version that did not act; null when only one was decided. */
  readonly other: Decision | null;
  /** The call counts towards the rollout's sample (the policy applied under either version). */
  readonly counted: boolean;
  readonly disagreed: boolean;
  /** The rollout's end time has passed: only the baseline was decided. */
  readonly expired: boolean;
}

/** Receives the rollout's observations from the hot path; must return at once and never throw. */
export interface RolloutObserver {
  /** One counted call. */
  observe(tenantId: string, rolloutId: string, disagreed: boolean): void;
  /** The rollout's end time has passed: end it (once). */
  expire(tenantId: string, rolloutId: string): void;
}

/** Buckets of the cohort hash: percentages are whole numbers. */
const BUCKETS = 100;

/**
 * The principal's bucket in 0..99 for one rollout: FNV-1a (32-bit) of `rolloutId \0 principalId`.
 * Not a secret: it only spreads principals evenly and stably.
 */
export function cohortBucket(rolloutId: string, principalId: string): number {
  let hash = 0x811c9dc5;
  const text = `${rolloutId}\u0000${principalId}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // FNV's low bits are weak for short inputs; fold the high half in before taking the bucket.
  hash ^= hash >>> 16;
  return (hash >>> 0) % BUCKETS;
}

/** Whether the principal is in the rollout's cohort (a shadow with no choice covers everyone). */
export function inCohort(record: Pick<PolicyRolloutRecord, "rolloutId" | "mode" | "percent" | "principals">, principalId: string, roles: readonly string[]): boolean {
  if (record.mode === "SHADOW" && record.percent === 0 && record.principals.length === 0) return true;
  for (const chosen of record.principals) {
    if (chosen.startsWith("role:") ? roles.includes(chosen.slice(5)) : chosen === principalId) return true;
  }
  return record.percent > 0 && cohortBucket(record.rolloutId, principalId) < record.percent;
}

/** Whether stored totals call for an automatic rollback. */
export function shouldRollBack(totals: Pick<PolicyRolloutRecord, "evaluated" | "disagreements" | "minSamples" | "threshold">): boolean {
  if (totals.evaluated <= 0 || totals.evaluated < totals.minSamples) return false;
  return totals.disagreements / totals.evaluated > totals.threshold;
}

/** The observed disagreement rate (0 before any evaluation). */
export function disagreementRate(totals: Pick<PolicyRolloutRecord, "evaluated" | "disagreements">): number {
  return totals.evaluated === 0 ? 0 : totals.disagreements / totals.evaluated;
}

/**
 * The records of both sides of a RUNNING rollout, from the tenant's ACTIVE records: `baseline`
 * acts for everyone outside a canary's cohort (a canary's ACTIVE candidate left out), `candidate`
 * has the candidate version in place of every other version of its policy.
 */
export function rolloutRecords(active: readonly PolicyRecord[], rollout: PolicyRolloutRecord, candidate: PolicyRecord | null): { baseline: PolicyRecord[]; candidate: PolicyRecord[] } {
  const isCandidate = (record: PolicyRecord): boolean => record.policyId === rollout.policyId && record.version === rollout.candidateVersion;
  const baseline = active.filter((record) => !isCandidate(record));
  const others = active.filter((record) => record.policyId !== rollout.policyId);
  // A shadowed DRAFT is decided as if it were in force; a disabled candidate removes the policy.
  return { baseline, candidate: candidate === null ? others : [...others, { ...candidate, status: "ACTIVE" }] };
}

/**
 * Decides a call under a RUNNING rollout.
 *
 * @param baseline - the tenant's policies as they act outside the rollout.
 * @param rollout - the rollout and the candidate's policy set.
 * @param input - the decision input.
 * @param now - epoch ms, for the end time.
 */
export function decideWithRollout(baseline: PolicySet, rollout: RolloutView, input: PolicyInput, now: number): RolloutDecision {
  const record = rollout.record;
  if (record.endsAt > 0 && now >= record.endsAt) {
    return { decision: baseline.decide(input), acting: "baseline", other: null, counted: false, disagreed: false, expired: true };
  }
  const chosen = inCohort(record, input.principal.id, input.principal.roles);
  if (record.mode === "SHADOW" && !chosen) {
    return { decision: baseline.decide(input), acting: "baseline", other: null, counted: false, disagreed: false, expired: false };
  }
  const base = baseline.decide(input);
  const next = rollout.candidate.decide(input);
  const counted = base.appliedPolicies.includes(record.policyId) || next.appliedPolicies.includes(record.policyId);
  const disagreed = counted && base.effect !== next.effect;
  const candidateActs = record.mode === "CANARY" && chosen;
  return {
    decision: candidateActs ? next : base,
    acting: candidateActs ? "candidate" : "baseline",
    other: candidateActs ? base : next,
    counted,
    disagreed,
    expired: false,
  };
}
