/**
 * The policy-engine port: what a condition language must provide so that a
 * {@link PolicySet} can decide with it.
 *
 * Split of responsibilities (docs/guides/policy-engines.md):
 * - The engine owns the condition language: it checks and compiles a record's
 *   `rule.condition` and evaluates conditions over a {@link PolicyInput}.
 * - {@link PolicySet} owns everything else, identically for every engine:
 *   which versions act, the applies-to index, the action filter, and the
 *   combination of outcomes (failures fail closed, DENY wins, AUDIT flags,
 *   ALLOW gating). An engine never sees a policy that does not apply.
 *
 * Rules every engine must keep:
 * - `compile` refuses a bad record with `INVALID_ARGUMENT` and details
 *   `{ policy_id, error }`, plus `line` and `column` (1-based, within the
 *   condition) when the error has a position; effect, actions and targets are
 *   checked with {@link compilePolicyScope} so every engine refuses the same
 *   scopes.
 * - `evaluateAll` never throws and returns one outcome per policy, in order.
 *   An evaluation error is an `error` outcome for that policy only, so the
 *   set fails closed exactly as it does for CEL.
 */
import { EnterpriseError } from "../errors.ts";
import type { PolicyEffect, PolicyRecord } from "../records.ts";
import type { PolicyTarget } from "./compile.ts";
import type { PolicyInput } from "./variables.ts";

/** The result of evaluating one policy's condition. */
export type PolicyOutcome =
  | { readonly kind: "match" }
  | { readonly kind: "no-match" }
  | { readonly kind: "error"; readonly message: string };

/** A policy version ready to evaluate, whatever the engine that compiled it. */
export interface CompiledPolicy {
  /** `tenantId/policyId@version`: the cache key. */
  readonly key: string;
  readonly policyId: string;
  readonly version: number;
  readonly effect: PolicyEffect;
  /** Actions the rule is restricted to (`resource:action`, wildcards allowed); empty means every action. */
  readonly actions: readonly string[];
  /** Parsed `appliesTo`; `[{ kind: "all" }]` when it was empty. */
  readonly targets: readonly PolicyTarget[];
  /** The id of the engine that compiled it (`cel`, `cedar`). */
  readonly engine: string;
  /** Tells whether the rule covers `action` (always true when `actions` is empty). */
  coversAction(action: string): boolean;
}

/** One problem found in a policy record, for ValidatePolicy and the console. */
export interface PolicyDiagnostic {
  readonly message: string;
  /** 1-based line within the condition, when the problem has a position. */
  readonly line?: number;
  /** 1-based column within the condition's line, when the problem has a position. */
  readonly column?: number;
}

/**
 * A condition language. One instance is shared by every policy set that uses
 * it (it may hold caches); the Host selects one per tenant.
 *
 * @example
 * const policies = PolicySet.build(records, { engine: celPolicyEngine });
 * policies.decide(input); // calls engine.evaluateAll(applicablePolicies, input) once
 */
export interface PolicyEngine {
  /** Stable identifier: `cel`, `cedar`. */
  readonly id: string;
  /**
   * Compiles one policy version (condition, effect, actions, targets).
   *
   * @param record - The policy version.
   * @returns The compiled policy; engines may return a cached object for an identical rule.
   * @throws EnterpriseError `INVALID_ARGUMENT` with details `{ policy_id, error }` and, for a
   *   condition error with a position, `line` and `column` (1-based, within the condition).
   */
  compile(record: PolicyRecord): CompiledPolicy;
  /**
   * Checks a policy version without raising.
   *
   * @param record - The policy version.
   * @returns Every problem found (empty when the record compiles).
   */
  validate(record: PolicyRecord): PolicyDiagnostic[];
  /**
   * Evaluates the conditions of every policy that applies to one call, in one
   * go (an engine such as Cedar answers them with one authorization request).
   *
   * @param policies - Policies compiled by this engine, all applicable to the call.
   * @param input - The decision input.
   * @returns One outcome per policy, in the same order. Never throws: a policy
   *   that cannot be evaluated (or that another engine compiled) is an `error` outcome.
   */
  evaluateAll(policies: readonly CompiledPolicy[], input: PolicyInput): PolicyOutcome[];
}

/** A shared `match` outcome (outcomes are immutable). */
export const MATCH: PolicyOutcome = Object.freeze({ kind: "match" });
/** A shared `no-match` outcome. */
export const NO_MATCH: PolicyOutcome = Object.freeze({ kind: "no-match" });

/**
 * The `INVALID_ARGUMENT` every engine raises for a record it cannot compile.
 *
 * @param policyId - The policy.
 * @param error - What is wrong, for the author (no argument values: there are none at compile time).
 * @param position - Where in the condition, 1-based, when known.
 * @returns The error to throw.
 */
export function policyCompileError(policyId: string, error: string, position: { line: number; column: number } | null = null): EnterpriseError {
  return new EnterpriseError("INVALID_ARGUMENT", {
    message: "The policy cannot be compiled.",
    details: { policy_id: policyId, error, ...(position === null ? {} : { line: String(position.line), column: String(position.column) }) },
  });
}

/**
 * Implements {@link PolicyEngine.validate} on top of `compile`.
 *
 * @param compile - The engine's compile function.
 * @param record - The policy version.
 * @returns The diagnostics of the compile refusal, or none.
 * @throws Whatever `compile` throws that is not `INVALID_ARGUMENT` (a bug, not a bad policy).
 */
export function diagnosticsOf(compile: (record: PolicyRecord) => unknown, record: PolicyRecord): PolicyDiagnostic[] {
  try {
    compile(record);
    return [];
  } catch (error) {
    if (!(error instanceof EnterpriseError) || error.code !== "INVALID_ARGUMENT") throw error;
    const line = Number(error.details["line"]);
    const column = Number(error.details["column"]);
    const message = error.details["error"] ?? error.message;
    return [Number.isInteger(line) && Number.isInteger(column) && line > 0 && column > 0 ? { message, line, column } : { message }];
  }
}

/**
 * Converts an offset in a condition into a 1-based line and column.
 *
 * @param condition - The condition text.
 * @param index - UTF-16 offset into it (clamped to the text).
 * @returns The position.
 */
export function conditionPosition(condition: string, index: number): { line: number; column: number } {
  const at = Math.max(0, Math.min(condition.length, index));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < at; i++) {
    if (condition.charCodeAt(i) === 10) {
      line += 1;
      lineStart = i + 1;
    }
  }
  return { line, column: at - lineStart + 1 };
}

/**
 * A bounded cache of compiled policy versions, keyed by `tenantId/policyId@version` and checked
 * against the rule's content, so an edited record under the same key is compiled again. The
 * least recently compiled entry is evicted beyond `maxEntries`. Shared by every engine.
 */
export class CompiledPolicyCache<T extends CompiledPolicy> {
  readonly #entries = new Map<string, { readonly fingerprint: string; readonly compiled: T }>();
  readonly #maxEntries: number;
  #compilations = 0;

  constructor(maxEntries: number) {
    this.#maxEntries = Math.max(1, maxEntries);
  }

  /** How many versions are cached. */
  get size(): number {
    return this.#entries.size;
  }

  /** How many times `build` actually ran (cache misses). */
  get compilations(): number {
    return this.#compilations;
  }

  /** The compiled form of `record`: cached, or built by `build(record, key)` and remembered. */
  get(record: PolicyRecord, build: (record: PolicyRecord, key: string) => T): T {
    const key = `${record.tenantId}/${record.policyId}@${record.version}`;
    const fingerprint = JSON.stringify([record.rule.condition, record.rule.effect, record.rule.actions, record.appliesTo]);
    const cached = this.#entries.get(key);
    if (cached !== undefined && cached.fingerprint === fingerprint) return cached.compiled;
    const compiled = build(record, key);
    this.#compilations += 1;
    this.#entries.delete(key);
    this.#entries.set(key, { fingerprint, compiled });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    return compiled;
  }
}

