/**
 * Policy decisions: the policy stage of authorization, after RBAC has allowed a call.
 *
 * The condition language is a {@link PolicyEngine} (CEL by default, see
 * docs/guides/policy-engines.md); everything below is the same for every engine.
 *
 * Rules enforced (docs/adr/0007-authorization-model.md):
 * - Only ACTIVE, enabled policies take part; of several ACTIVE versions of one
 *   policy, the highest version alone acts.
 * - A policy applies to a call when one of its targets does (`contract:<name>`,
 *   `role:<name>` for a role bound to the principal, or everything when
 *   `appliesTo` is empty) and its rule's `actions` include the call's action
 *   (empty means every action). Only applicable policies are evaluated.
 * - A rule matches when its condition evaluates to `true`. A non-boolean result
 *   or an evaluation error (or an engine that fails as a whole) fails closed: the decision is DENY with the reason
 *   `policy evaluation failed: <id>` (a policy that could not be compiled
 *   fails the same way wherever it applies).
 * - Any matching DENY wins. AUDIT matches only add flags, whatever the effect.
 * - When at least one ALLOW policy applies, at least one must match, or the
 *   decision is DENY (`no applicable ALLOW matched`). When none applies, the
 *   RBAC decision stands: ALLOW.
 * - A matching REQUIRE_APPROVAL turns what would be ALLOW into REQUIRE_APPROVAL:
 *   the call is held for a human approval. It never turns a DENY into anything
 *   else, and it does not count as an ALLOW.
 * - Every applicable policy is evaluated, so the decision, the audit flags and
 *   the errors never depend on evaluation order.
 */
import { EnterpriseError } from "../errors.ts";
import type { PolicyEffect, PolicyRecord } from "../records.ts";
import { isWellFormedPermission } from "../rbac/permissions.ts";
import { celPolicyEngine, CelPolicyEngine } from "./cel-engine.ts";
import { actionMatcher, parsePolicyTarget, type PolicyCompiler } from "./compile.ts";
import type { CompiledPolicy, PolicyEngine, PolicyOutcome } from "./engine.ts";
import type { PolicyInput } from "./variables.ts";

/** The outcome of the policy stage for one call. */
export interface Decision {
  readonly effect: "ALLOW" | "DENY" | "REQUIRE_APPROVAL";
  /** Ids of AUDIT policies whose condition matched. */
  readonly auditFlags: string[];
  /** Ids of every policy evaluated for this call. */
  readonly appliedPolicies: string[];
  /** Caller-safe explanation, e.g. `denied by policy pol_123`. */
  readonly reason: string;
  /** The policy that produced a DENY, when one did. */
  readonly denyingPolicy?: string;
  /** REQUIRE_APPROVAL policies that matched, in policy-id order (empty unless the effect is REQUIRE_APPROVAL). */
  readonly approvalPolicies?: readonly string[];
  /** `<policy id>: <message>` for every policy that failed to evaluate. */
  readonly errors: string[];
}

/** An ACTIVE policy that could not be compiled; it denies wherever it applies. */
export interface BrokenPolicy {
  readonly policyId: string;
  readonly version: number;
  readonly error: string;
}

interface IndexedPolicy {
  /** Position in policy-id order: evaluation and reporting order. */
  readonly ordinal: number;
  readonly policy: CompiledPolicy;
  /** Set for a policy that could not be compiled: its outcome wherever it applies, without the engine. */
  readonly failure: PolicyOutcome | null;
}

/** Options of {@link PolicySet.build}. */
export interface PolicySetOptions {
  /** The condition language; CEL over the process-wide compile cache by default. */
  readonly engine?: PolicyEngine;
  /** The CEL compile cache, when no `engine` is given. */
  readonly compiler?: PolicyCompiler;
}

const NO_POLICIES: readonly IndexedPolicy[] = Object.freeze([]);

/**
 * An immutable snapshot of one tenant's policies, indexed by target.
 *
 * @example
 * const policies = PolicySet.build(activeRecords);
 * const decision = policies.decide(input);
 * if (decision.effect === "DENY") throw new EnterpriseError("POLICY_VIOLATION", { details: { decision_reason: decision.reason } });
 */
export class PolicySet {
  /** Policies that could not be compiled (they fail closed); for operators to alert on. */
  readonly broken: readonly BrokenPolicy[];
  readonly #engine: PolicyEngine;
  readonly #size: number;
  readonly #global: readonly IndexedPolicy[];
  readonly #anyRole: readonly IndexedPolicy[];
  readonly #byContract: ReadonlyMap<string, readonly IndexedPolicy[]>;
  readonly #byRole: ReadonlyMap<string, readonly IndexedPolicy[]>;
  /** REQUIRE_APPROVAL policy id → the approvers its `approvers` parameter names. */
  readonly #approvers: ReadonlyMap<string, readonly string[]>;

  private constructor(
    engine: PolicyEngine,
    policies: readonly { policy: CompiledPolicy; failure: PolicyOutcome | null }[],
    broken: readonly BrokenPolicy[],
    approvers: ReadonlyMap<string, readonly string[]> = new Map(),
  ) {
    this.broken = Object.freeze([...broken]);
    this.#approvers = approvers;
    this.#engine = engine;
    this.#size = policies.length;
    const global: IndexedPolicy[] = [];
    const anyRole: IndexedPolicy[] = [];
    const byContract = new Map<string, IndexedPolicy[]>();
    const byRole = new Map<string, IndexedPolicy[]>();
    const add = (index: Map<string, IndexedPolicy[]>, key: string, entry: IndexedPolicy): void => {
      const list = index.get(key);
      if (list === undefined) index.set(key, [entry]);
      else list.push(entry);
    };
    policies.forEach(({ policy, failure }, ordinal) => {
      const entry: IndexedPolicy = { ordinal, policy, failure };
      for (const target of policy.targets) {
        switch (target.kind) {
          case "all":
            global.push(entry);
            break;
          case "any-role":
            anyRole.push(entry);
            break;
          case "contract":
            add(byContract, target.version === null ? target.name : `${target.name}@${target.version}`, entry);
            break;
          case "role":
            add(byRole, target.name, entry);
            break;
          case "none":
            break;
        }
      }
    });
    this.#global = global;
    this.#anyRole = anyRole;
    this.#byContract = byContract;
    this.#byRole = byRole;
  }

  /** A set with no policies: every decision is ALLOW. */
  static readonly EMPTY: PolicySet = new PolicySet(celPolicyEngine, [], []);

  /**
   * Builds the snapshot from one tenant's policy records. Records that are not
   * ACTIVE and enabled are ignored; a record that fails to compile is kept as
   * a policy that fails closed and listed in {@link PolicySet.broken}.
   *
   * @param records - The tenant's policy records.
   * @param options - `engine`: the condition language (CEL by default); `compiler`: the CEL
   *   compile cache when no engine is given (the process-wide one by default).
   * @returns The policy set.
   * @throws EnterpriseError `INVALID_ARGUMENT` when the records span several tenants.
   */
  static build(records: readonly PolicyRecord[], options: PolicySetOptions = {}): PolicySet {
    const engine = options.engine ?? (options.compiler === undefined ? celPolicyEngine : new CelPolicyEngine({ compiler: options.compiler }));
    const tenantId = records[0]?.tenantId;
    const latest = new Map<string, PolicyRecord>();
    for (const record of records) {
      if (record.tenantId !== tenantId) {
        throw new EnterpriseError("INVALID_ARGUMENT", { message: "A policy set holds the policies of one tenant only.", details: { field: "policies" } });
      }
      if (record.status !== "ACTIVE" || !record.enabled) continue;
      const current = latest.get(record.policyId);
      if (current === undefined || record.version > current.version) latest.set(record.policyId, record);
    }
    const ordered = [...latest.values()].sort((a, b) => (a.policyId < b.policyId ? -1 : a.policyId > b.policyId ? 1 : 0));
    const compiled: { policy: CompiledPolicy; failure: PolicyOutcome | null }[] = [];
    const broken: BrokenPolicy[] = [];
    const approvers = new Map<string, readonly string[]>();
    for (const record of ordered) {
      if (record.rule.effect === "REQUIRE_APPROVAL") approvers.set(record.policyId, parseApprovers(record.rule.parameters[APPROVERS_PARAMETER] ?? ""));
      try {
        compiled.push({ policy: engine.compile(record), failure: null });
      } catch (error) {
        const message = error instanceof EnterpriseError ? (error.details["error"] ?? error.message) : "policy could not be compiled";
        broken.push({ policyId: record.policyId, version: record.version, error: message });
        compiled.push({ policy: failingPolicy(record, engine.id), failure: Object.freeze({ kind: "error", message: `policy could not be compiled: ${message}` }) });
      }
    }
    return new PolicySet(engine, compiled, broken, approvers);
  }

  /**
   * Who may approve a call held by these REQUIRE_APPROVAL policies: the union of their
   * `approvers` parameters (empty: the Host's default approvers apply).
   */
  approversOf(policyIds: readonly string[]): string[] {
    return [...new Set(policyIds.flatMap((id) => this.#approvers.get(id) ?? []))];
  }

  /** The id of the engine that compiled and evaluates this set (`cel`, `cedar`). */
  get engine(): string {
    return this.#engine.id;
  }

  /** The engine itself, to build related sets (traces, simulations) in the same language. */
  get engineImplementation(): PolicyEngine {
    return this.#engine;
  }

  /** How many policies (one version each) the set holds. */
  get size(): number {
    return this.#size;
  }

  /**
   * The policies that apply to a call, in policy-id order.
   *
   * @param input - The decision input (only the contract, roles and action are read).
   * @returns The applicable compiled policies.
   */
  applicable(input: PolicyInput): CompiledPolicy[] {
    return this.#applicable(input).map((entry) => entry.policy);
  }

  /**
   * Decides the policy stage of a call that RBAC has already allowed.
   *
   * @param input - Everything the conditions may read.
   * @returns The decision. A policy's failure never throws: it is a DENY decision.
   */
  decide(input: PolicyInput): Decision {
    const applicable = this.#applicable(input);
    if (applicable.length === 0) {
      return { effect: "ALLOW", auditFlags: [], appliedPolicies: [], reason: "no applicable policy", errors: [] };
    }
    const outcomes = this.#evaluate(applicable, input);
    const appliedPolicies: string[] = [];
    const auditFlags: string[] = [];
    const errors: string[] = [];
    let failedPolicy: string | undefined;
    let denyingPolicy: string | undefined;
    let allowPolicies = 0;
    let allowingPolicy: string | undefined;
    const approvalPolicies: string[] = [];
    for (let index = 0; index < applicable.length; index++) {
      const { policy } = applicable[index] as IndexedPolicy;
      appliedPolicies.push(policy.policyId);
      const outcome = outcomes[index] ?? ENGINE_SKIPPED;
      if (outcome.kind === "error") {
        errors.push(`${policy.policyId}: ${outcome.message}`);
        failedPolicy ??= policy.policyId;
        continue;
      }
      const effect: PolicyEffect = policy.effect;
      if (effect === "ALLOW") allowPolicies += 1;
      if (outcome.kind !== "match") continue;
      if (effect === "DENY") denyingPolicy ??= policy.policyId;
      else if (effect === "AUDIT") auditFlags.push(policy.policyId);
      else if (effect === "REQUIRE_APPROVAL") approvalPolicies.push(policy.policyId);
      else allowingPolicy ??= policy.policyId;
    }
    // A failure is named before an explicit DENY: both deny, but a broken policy needs its owner's attention.
    if (failedPolicy !== undefined) {
      return { effect: "DENY", auditFlags, appliedPolicies, reason: `policy evaluation failed: ${failedPolicy}`, denyingPolicy: failedPolicy, errors };
    }
    if (denyingPolicy !== undefined) {
      return { effect: "DENY", auditFlags, appliedPolicies, reason: `denied by policy ${denyingPolicy}`, denyingPolicy, errors };
    }
    if (allowPolicies > 0 && allowingPolicy === undefined) {
      return { effect: "DENY", auditFlags, appliedPolicies, reason: "no applicable ALLOW matched", errors };
    }
    if (approvalPolicies.length > 0) {
      return { effect: "REQUIRE_APPROVAL", auditFlags, appliedPolicies, reason: `approval required by policy ${approvalPolicies.join(",")}`, errors, approvalPolicies };
    }
    const reason = allowingPolicy === undefined ? "no applicable ALLOW policy; RBAC decision stands" : `allowed by policy ${allowingPolicy}`;
    return { effect: "ALLOW", auditFlags, appliedPolicies, reason, errors };
  }

  /**
   * One outcome per applicable policy, in order: broken policies fail without
   * reaching the engine, the others go to the engine in one batch.
   */
  #evaluate(applicable: readonly IndexedPolicy[], input: PolicyInput): readonly PolicyOutcome[] {
    if (this.broken.length === 0) return this.#engineOutcomes(applicable.map((entry) => entry.policy), input);
    const healthy = applicable.filter((entry) => entry.failure === null);
    const healthyOutcomes = healthy.length === 0 ? [] : this.#engineOutcomes(healthy.map((entry) => entry.policy), input);
    let next = 0;
    return applicable.map((entry) => entry.failure ?? healthyOutcomes[next++] ?? ENGINE_SKIPPED);
  }

  #engineOutcomes(policies: readonly CompiledPolicy[], input: PolicyInput): readonly PolicyOutcome[] {
    try {
      // A short answer leaves the missing outcomes undefined, which decide() reads as failures.
      return this.#engine.evaluateAll(policies, input);
    } catch (error) {
      // The port says evaluateAll never throws; if an engine does, every policy of the call fails closed.
      const failed: PolicyOutcome = Object.freeze({ kind: "error", message: `engine ${this.#engine.id} failed: ${error instanceof Error ? error.message : "unknown error"}` });
      return policies.map(() => failed);
    }
  }

  #applicable(input: PolicyInput): readonly IndexedPolicy[] {
    const contract = input.contract;
    const sources: (readonly IndexedPolicy[])[] = [];
    const push = (list: readonly IndexedPolicy[] | undefined): void => {
      if (list !== undefined && list.length > 0) sources.push(list);
    };
    push(this.#global);
    push(this.#byContract.get(contract.name));
    push(this.#byContract.get(`${contract.name}@${contract.version}`));
    if (input.principal.roles.length > 0) push(this.#anyRole);
    for (const role of input.principal.roles) push(this.#byRole.get(role));
    let candidates: readonly IndexedPolicy[];
    if (sources.length === 0) return NO_POLICIES;
    if (sources.length === 1) {
      candidates = sources[0] as readonly IndexedPolicy[];
    } else {
      // A policy with several targets can be reached twice; keep one entry, in ordinal order.
      const unique = new Map<number, IndexedPolicy>();
      for (const list of sources) for (const entry of list) unique.set(entry.ordinal, entry);
      candidates = [...unique.values()].sort((a, b) => a.ordinal - b.ordinal);
    }
    const action = input.action;
    return candidates.filter((entry) => entry.policy.coversAction(action));
  }
}

/** The rule parameter of a REQUIRE_APPROVAL policy naming its approvers. */
export const APPROVERS_PARAMETER = "approvers";

/** The shape of one approver: a role or a principal of the tenant. */
export const APPROVER_PATTERN = /^(role|principal):[A-Za-z0-9_.@-]{1,128}$/;

/** `role:a, principal:b` → its well-formed entries (validation reports the others). */
export function parseApprovers(text: string): string[] {
  return text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => APPROVER_PATTERN.test(entry));
}

/** An outcome an engine did not return (a short answer): fails closed. */
const ENGINE_SKIPPED: PolicyOutcome = Object.freeze({ kind: "error", message: "the policy engine returned no outcome for this policy" });

/** Stands in for a policy that cannot be compiled, so it denies wherever it would have applied. */
function failingPolicy(record: PolicyRecord, engine: string): CompiledPolicy {
  const targets = record.appliesTo.map((target) => parsePolicyTarget(target, record.tenantId)).filter((target) => target !== null);
  const scopeIsReadable = targets.length === record.appliesTo.length && record.rule.actions.every(isWellFormedPermission);
  return {
    key: `${record.tenantId}/${record.policyId}@${record.version}`,
    policyId: record.policyId,
    version: record.version,
    effect: record.rule.effect,
    // When the scope itself is unreadable, applying everywhere is the closed failure.
    actions: scopeIsReadable ? [...record.rule.actions] : [],
    targets: scopeIsReadable && targets.length > 0 ? targets : [{ kind: "all" }],
    engine,
    coversAction: scopeIsReadable ? actionMatcher(record.rule.actions) : () => true,
  };
}
