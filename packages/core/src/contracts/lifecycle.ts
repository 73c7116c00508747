/**
 * The lifecycle of governed artifacts (contracts and policies).
 *
 * ```
 * DRAFT ──▶ PENDING_APPROVAL ──▶ ACTIVE ──▶ DEPRECATED ──▶ RETIRED
 *                  │                │                        ▲
 *                  ▼                └────────────────────────┘
 *              REJECTED
 * ```
 *
 * Rules enforced:
 * - Only an approved request moves PENDING_APPROVAL to ACTIVE (the caller
 *   checks the approval; this table only forbids shortcuts such as DRAFT → ACTIVE).
 * - REJECTED and RETIRED are terminal. A rejected version is never resubmitted:
 *   the author submits a new version, so the version that was refused and the
 *   audit record of its refusal stay bound to each other forever.
 * - ACTIVE and DEPRECATED versions serve calls; DEPRECATED ones serve with a
 *   deprecation warning so callers can move before the version is RETIRED.
 * - No status moves backwards (an ACTIVE version cannot return to DRAFT).
 */
import { EnterpriseError } from "../errors.ts";
import type { ArtifactStatus } from "../records.ts";

/** Every status and the statuses it may move to. */
export const ARTIFACT_TRANSITIONS: Readonly<Record<ArtifactStatus, readonly ArtifactStatus[]>> = Object.freeze({
  DRAFT: ["PENDING_APPROVAL"],
  PENDING_APPROVAL: ["ACTIVE", "REJECTED"],
  ACTIVE: ["DEPRECATED", "RETIRED"],
  DEPRECATED: ["RETIRED"],
  RETIRED: [],
  REJECTED: [],
});

/**
 * Tells whether an artifact may move from `from` to `to`.
 *
 * @param from - Current status.
 * @param to - Requested status.
 * @returns True when the lifecycle allows the move.
 */
export function canTransition(from: ArtifactStatus, to: ArtifactStatus): boolean {
  return ARTIFACT_TRANSITIONS[from]?.includes(to) ?? false;
}

/**
 * Asserts that an artifact may move from `from` to `to`.
 *
 * @param from - Current status.
 * @param to - Requested status.
 * @throws EnterpriseError `INVALID_STATE_TRANSITION` with details `{ from, to }`.
 */
export function assertTransition(from: ArtifactStatus, to: ArtifactStatus): void {
  if (!canTransition(from, to)) {
    throw new EnterpriseError("INVALID_STATE_TRANSITION", { details: { from, to } });
  }
}

/**
 * Tells whether a contract version in `status` serves calls. DEPRECATED still
 * serves, and the caller attaches a deprecation warning. (Policies act only
 * while ACTIVE: a deprecated policy is no longer evaluated.)
 *
 * @param status - The artifact's status.
 * @returns True for ACTIVE and DEPRECATED.
 */
export function canServe(status: ArtifactStatus): boolean {
  return status === "ACTIVE" || status === "DEPRECATED";
}

/**
 * Tells whether no transition leaves `status`.
 *
 * @param status - The artifact's status.
 * @returns True for REJECTED and RETIRED.
 */
export function isTerminal(status: ArtifactStatus): boolean {
  return (ARTIFACT_TRANSITIONS[status]?.length ?? 0) === 0;
}
