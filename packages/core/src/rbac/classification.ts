/**
 * Data classification and clearance.
 *
 * Rules enforced:
 * - Levels are totally ordered: public < internal < confidential < restricted.
 * - A clearance allows every classification at or below it.
 * - An unknown level on either side allows nothing (deny by default).
 */
import type { Classification } from "../records.ts";

/** Every classification level, lowest first. */
export const CLASSIFICATION_LEVELS: readonly Classification[] = Object.freeze(["public", "internal", "confidential", "restricted"]);

/**
 * Tells whether `value` is a classification level.
 *
 * @param value - Candidate.
 * @returns True for the four levels.
 */
export function isClassification(value: unknown): value is Classification {
  return typeof value === "string" && (CLASSIFICATION_LEVELS as readonly string[]).includes(value);
}

/**
 * The position of a level in the order.
 *
 * @param level - A classification or clearance.
 * @returns 0 (public) to 3 (restricted); -1 for an unknown level.
 */
export function classificationRank(level: string): number {
  return (CLASSIFICATION_LEVELS as readonly string[]).indexOf(level);
}

/**
 * Tells whether a principal's clearance reaches a classification.
 *
 * @param clearance - The principal's clearance.
 * @param classification - The contract's or the data's classification.
 * @returns True when the clearance is at or above the classification; false when either is unknown.
 *
 * @example
 * clearanceAllows("confidential", "internal"); // true
 * clearanceAllows("internal", "restricted");   // false
 */
export function clearanceAllows(clearance: string, classification: string): boolean {
  const clearanceRank = classificationRank(clearance);
  const classificationLevel = classificationRank(classification);
  return clearanceRank >= 0 && classificationLevel >= 0 && clearanceRank >= classificationLevel;
}
