/**
 * Compiling policy versions into CEL programs (the CEL engine's compiler; see
 * cel-engine.ts), and the engine-independent checks of a policy's scope.
 *
 * Rules enforced:
 * - A condition is parsed and planned once per policy version; evaluation
 *   never parses. The cache key includes the tenant, so two tenants that happen
 *   to reuse a policy id can never share a program.
 * - A cached program is reused only if the rule it was built from is
 *   identical, so a store that rewrote a version in place cannot be served a
 *   stale condition.
 * - Conditions longer than {@link MAX_CONDITION_LENGTH} characters, unknown
 *   effects, malformed actions and unknown target kinds are refused.
 */
import { celEnv, isCelError, parse, plan, type CelResult } from "@bufbuild/cel";
import { policyCelFunctions } from "./functions.ts";
import type { PolicyEffect, PolicyRecord } from "../records.ts";
import { isWellFormedPermission, permissionMatches } from "../rbac/permissions.ts";
import { CompiledPolicyCache, MATCH, NO_MATCH, policyCompileError, type CompiledPolicy, type PolicyOutcome } from "./engine.ts";
import type { PolicyActivation } from "./variables.ts";

export type { CompiledPolicy, PolicyOutcome } from "./engine.ts";

/** Longest accepted CEL condition, in UTF-16 code units. */
export const MAX_CONDITION_LENGTH = 4096;

/**
 * Comprehensions (`exists`, `all`, `exists_one`, `map`, `filter`) may nest at most this deep: the
 * cost of a condition grows as (list size)^depth, and list sizes come from the caller's arguments.
 * Together with the element budget of the arguments (variables.ts), this is the cost limit.
 */
export const MAX_COMPREHENSION_NESTING = 2;

type ParsedExpr = ReturnType<typeof parse>;
type Expr = ParsedExpr["expr"];

/** How deeply comprehensions nest in an expression (0: none). */
export function comprehensionNesting(expr: Expr | undefined): number {
  if (expr === undefined) return 0;
  const kind = expr.exprKind;
  const deepest = (children: readonly (Expr | undefined)[]): number => children.reduce((max, child) => Math.max(max, comprehensionNesting(child)), 0);
  switch (kind.case) {
    case "selectExpr":
      return comprehensionNesting(kind.value.operand);
    case "callExpr":
      return deepest([kind.value.target, ...kind.value.args]);
    case "listExpr":
      return deepest(kind.value.elements);
    case "structExpr":
      return deepest(kind.value.entries.flatMap((entry) => [entry.keyKind.case === "mapKey" ? entry.keyKind.value : undefined, entry.value]));
    case "comprehensionExpr":
      // The range is evaluated once, outside the loop; the step, condition and result run per element.
      return Math.max(comprehensionNesting(kind.value.iterRange), 1 + deepest([kind.value.loopCondition, kind.value.loopStep, kind.value.result]));
    case "constExpr":
    case "identExpr":
    case undefined:
      return 0;
  }
}

/** How many compiled versions a compiler keeps before evicting the oldest. */
export const DEFAULT_POLICY_CACHE_SIZE = 10_000;

const EFFECTS: readonly PolicyEffect[] = ["ALLOW", "DENY", "AUDIT", "REQUIRE_APPROVAL"];

/** Where a policy applies, parsed from one `appliesTo` entry. */
export type PolicyTarget =
  | { readonly kind: "all" }
  | { readonly kind: "contract"; readonly name: string; readonly version: string | null }
  | { readonly kind: "role"; readonly name: string }
  | { readonly kind: "any-role" }
  | { readonly kind: "none" };

/** A policy version compiled to a CEL program. */
export interface CelCompiledPolicy extends CompiledPolicy {
  readonly engine: "cel";
  /** Evaluates the condition; never throws. */
  evaluate(activation: PolicyActivation): PolicyOutcome;
}

/** The engine-independent part of a compiled policy: where it applies and what it does. */
export interface PolicyScope {
  readonly key: string;
  readonly policyId: string;
  readonly version: number;
  readonly effect: PolicyEffect;
  readonly actions: readonly string[];
  readonly targets: readonly PolicyTarget[];
  coversAction(action: string): boolean;
}

const CONTRACT_TARGET = /^contract:([a-zA-Z_][a-zA-Z0-9_-]{0,63})(?:@([0-9A-Za-z.+-]{1,64}))?$/;
const ROLE_TARGET = /^role:([a-z][a-z0-9_.-]{0,63})$/;

/**
 * Parses one `appliesTo` entry: `contract:<name>`, `contract:<name>@<version>`,
 * `contract:*`, `role:<name>`, `role:*` (any principal holding a role),
 * `tenant:*` or `tenant:<own tenant id>` (everything), `tenant:<other id>` (nothing).
 *
 * @param target - The entry.
 * @param tenantId - The policy's tenant.
 * @returns The target, or null when malformed.
 */
export function parsePolicyTarget(target: string, tenantId: string): PolicyTarget | null {
  if (target === "contract:*" || target === "tenant:*") return { kind: "all" };
  if (target === "role:*") return { kind: "any-role" };
  if (target.startsWith("tenant:")) {
    const id = target.slice("tenant:".length);
    if (id === "") return null;
    return id === tenantId ? { kind: "all" } : { kind: "none" };
  }
  const contract = CONTRACT_TARGET.exec(target);
  if (contract !== null) return { kind: "contract", name: contract[1] as string, version: contract[2] ?? null };
  const role = ROLE_TARGET.exec(target);
  if (role !== null) return { kind: "role", name: role[1] as string };
  return null;
}

/**
 * Compiles policy versions and remembers them, keyed by `tenantId/policyId@version`.
 *
 * @example
 * const compiler = new PolicyCompiler();
 * const policy = compiler.compile(record);    // parses and plans
 * compiler.compile(record) === policy;         // true: served from the cache
 */
export class PolicyCompiler {
  readonly #cache: CompiledPolicyCache<CelCompiledPolicy>;

  /**
   * @param options - `maxEntries`: cache bound; the oldest entry is evicted beyond it.
   */
  constructor(options: { maxEntries?: number } = {}) {
    this.#cache = new CompiledPolicyCache(options.maxEntries ?? DEFAULT_POLICY_CACHE_SIZE);
  }

  /** How many versions are cached. */
  get size(): number {
    return this.#cache.size;
  }

  /** How many times a condition was actually parsed and planned (cache misses). */
  get compilations(): number {
    return this.#cache.compilations;
  }

  /**
   * Returns the compiled form of a policy version, compiling it on first use.
   *
   * @param record - The policy version.
   * @returns The compiled policy (the same object for every call with an identical rule).
   * @throws EnterpriseError `INVALID_ARGUMENT` with details `{ policy_id, error }` (and
   *   `line`, `column` for a syntax error) when the rule cannot be compiled.
   */
  compile(record: PolicyRecord): CelCompiledPolicy {
    return this.#cache.get(record, compileRecord);
  }

}

/** The process-wide compiler behind {@link compilePolicy}. */
export const defaultPolicyCompiler = new PolicyCompiler();

/**
 * Compiles a policy version once (cached by `tenantId/policyId@version`).
 *
 * @param record - The policy version.
 * @param compiler - The cache to use; the process-wide one by default.
 * @returns The compiled policy.
 * @throws EnterpriseError `INVALID_ARGUMENT` with details `{ policy_id, error }` (and
 *   `line`, `column` for a syntax error): condition empty, longer than 4,096
 *   characters or not CEL; unknown effect; malformed action or target.
 */
export function compilePolicy(record: PolicyRecord, compiler: PolicyCompiler = defaultPolicyCompiler): CelCompiledPolicy {
  return compiler.compile(record);
}

// One environment for every policy: the standard CEL library, the strings extension and the
// Host's small function library (functions.ts).
const environment = celEnv({ funcs: [...policyCelFunctions] });

function compileRecord(record: PolicyRecord, key: string): CelCompiledPolicy {
  const { rule, policyId } = record;
  if (typeof rule.condition !== "string" || rule.condition.trim() === "") refuse(policyId, "condition is empty");
  if (rule.condition.length > MAX_CONDITION_LENGTH) refuse(policyId, `condition is longer than ${MAX_CONDITION_LENGTH} characters`);
  const scope = compilePolicyScope(record, key);
  let program: (activation: PolicyActivation) => CelResult;
  let parsed: ParsedExpr;
  try {
    parsed = parse(rule.condition);
    program = plan(environment, parsed);
  } catch (error) {
    const { message, location } = describeParseError(error);
    throw policyCompileError(policyId, message, location);
  }
  const nesting = comprehensionNesting(parsed.expr);
  if (nesting > MAX_COMPREHENSION_NESTING) {
    refuse(policyId, `comprehensions (exists, all, map, filter) nest ${nesting} deep; at most ${MAX_COMPREHENSION_NESTING} are allowed, because the cost grows as the list size to that power`);
  }
  return { ...scope, engine: "cel", evaluate: (activation) => runProgram(program, activation) };
}

/**
 * Checks and parses the engine-independent part of a policy version: effect,
 * actions and `appliesTo`. Every engine calls it, so a scope is refused (or
 * accepted) identically whatever the condition language.
 *
 * @param record - The policy version.
 * @param key - The compiled policy's key (`tenantId/policyId@version` by default).
 * @returns The scope, frozen.
 * @throws EnterpriseError `INVALID_ARGUMENT` with details `{ policy_id, error }`: unknown
 *   effect, malformed action, malformed target.
 */
export function compilePolicyScope(record: PolicyRecord, key = `${record.tenantId}/${record.policyId}@${record.version}`): PolicyScope {
  const { rule, policyId } = record;
  if (!EFFECTS.includes(rule.effect)) refuse(policyId, `effect must be one of ${EFFECTS.join(", ")}`);
  const badAction = rule.actions.find((action) => !isWellFormedPermission(action));
  if (badAction !== undefined) refuse(policyId, `action "${badAction.slice(0, 64)}" is not of the form resource:action`);
  const targets: PolicyTarget[] = [];
  for (const entry of record.appliesTo) {
    const target = parsePolicyTarget(entry, record.tenantId);
    if (target === null) refuse(policyId, `applies_to entry "${entry.slice(0, 64)}" is not contract:<name>, role:<name> or tenant:<id>`);
    else targets.push(target);
  }
  return {
    key,
    policyId,
    version: record.version,
    effect: rule.effect,
    actions: Object.freeze([...rule.actions]),
    targets: Object.freeze(targets.length === 0 ? [{ kind: "all" } as const] : targets),
    coversAction: actionMatcher(rule.actions),
  };
}

/** Callers use a handful of fixed actions, so each answer is remembered (boundedly) per policy. */
const MAX_REMEMBERED_ACTIONS = 64;

/**
 * Builds the action filter of a rule: empty `actions` cover everything, otherwise
 * an action is covered when one entry matches it as a permission would.
 *
 * @param actions - The rule's actions.
 * @returns A predicate over actions.
 */
export function actionMatcher(actions: readonly string[]): (action: string) => boolean {
  if (actions.length === 0) return () => true;
  const remembered = new Map<string, boolean>();
  return (action) => {
    let covered = remembered.get(action);
    if (covered === undefined) {
      covered = actions.some((allowed) => permissionMatches(allowed, action));
      if (remembered.size < MAX_REMEMBERED_ACTIONS) remembered.set(action, covered);
    }
    return covered;
  };
}

function refuse(policyId: string, error: string): never {
  throw policyCompileError(policyId, error);
}

function runProgram(program: (activation: PolicyActivation) => CelResult, activation: PolicyActivation): PolicyOutcome {
  try {
    const result = program(activation);
    if (isCelError(result)) return { kind: "error", message: result.message };
    if (typeof result !== "boolean") return { kind: "error", message: "condition did not evaluate to a bool" };
    return result ? MATCH : NO_MATCH;
  } catch (error) {
    return { kind: "error", message: error instanceof Error ? error.message : "evaluation failed" };
  }
}

function describeParseError(error: unknown): { message: string; location: { line: number; column: number } | null } {
  if (!(error instanceof Error)) return { message: "condition is not valid CEL", location: null };
  const detail = error as Error & { rawMessage?: unknown; location?: { start?: { line?: unknown; column?: unknown } } };
  const message = typeof detail.rawMessage === "string" ? detail.rawMessage : error.message;
  const line = detail.location?.start?.line;
  const column = detail.location?.start?.column;
  return {
    message: `syntax error: ${message}`.slice(0, 512),
    location: typeof line === "number" && typeof column === "number" ? { line, column } : null,
  };
}
