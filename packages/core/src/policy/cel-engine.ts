/**
 * The CEL policy engine: conditions are CEL expressions (`@bufbuild/cel`,
 * standard library only) over the variables of schema version "1"
 * (variables.ts). It is the default engine of {@link PolicySet}.
 *
 * Rules enforced:
 * - A condition is compiled once per policy version (the {@link PolicyCompiler}
 *   cache); evaluation never parses.
 * - The CEL variables of one call are built once, lazily, and shared by every
 *   policy evaluated for it.
 * - A non-boolean result or an evaluation error is an `error` outcome.
 */
import type { PolicyRecord } from "../records.ts";
import { defaultPolicyCompiler, type CelCompiledPolicy, type PolicyCompiler } from "./compile.ts";
import { diagnosticsOf, type CompiledPolicy, type PolicyDiagnostic, type PolicyEngine, type PolicyOutcome } from "./engine.ts";
import { buildActivation, type PolicyInput } from "./variables.ts";

const FOREIGN: PolicyOutcome = Object.freeze({ kind: "error", message: "policy was not compiled by the cel engine" });

/**
 * The CEL engine.
 *
 * @example
 * const engine = new CelPolicyEngine({ compiler: new PolicyCompiler() });
 * PolicySet.build(records, { engine });
 */
export class CelPolicyEngine implements PolicyEngine {
  readonly id = "cel";
  readonly #compiler: PolicyCompiler;

  /**
   * @param options - `compiler`: the compile cache (the process-wide one by default).
   */
  constructor(options: { compiler?: PolicyCompiler } = {}) {
    this.#compiler = options.compiler ?? defaultPolicyCompiler;
  }

  /** The compile cache this engine uses. */
  get compiler(): PolicyCompiler {
    return this.#compiler;
  }

  /**
   * Compiles a policy version to a CEL program (cached).
   *
   * @param record - The policy version.
   * @returns The compiled policy.
   * @throws EnterpriseError `INVALID_ARGUMENT` (see {@link PolicyCompiler.compile}).
   */
  compile(record: PolicyRecord): CelCompiledPolicy {
    return this.#compiler.compile(record);
  }

  /**
   * Checks a policy version.
   *
   * @param record - The policy version.
   * @returns The problems found; a CEL syntax error carries its line and column.
   */
  validate(record: PolicyRecord): PolicyDiagnostic[] {
    return diagnosticsOf((candidate) => this.#compiler.compile(candidate), record);
  }

  /**
   * Evaluates each policy against one activation built from `input`.
   *
   * @param policies - Policies compiled by a CEL engine.
   * @param input - The decision input.
   * @returns One outcome per policy, in order.
   */
  evaluateAll(policies: readonly CompiledPolicy[], input: PolicyInput): PolicyOutcome[] {
    const outcomes: PolicyOutcome[] = new Array<PolicyOutcome>(policies.length);
    if (policies.length === 0) return outcomes;
    const activation = buildActivation(input);
    for (let index = 0; index < policies.length; index++) {
      const policy = policies[index] as CompiledPolicy;
      outcomes[index] = isCelPolicy(policy) ? policy.evaluate(activation) : FOREIGN;
    }
    return outcomes;
  }
}

function isCelPolicy(policy: CompiledPolicy): policy is CelCompiledPolicy {
  return policy.engine === "cel" && typeof (policy as Partial<CelCompiledPolicy>).evaluate === "function";
}

/** The default engine: CEL over the process-wide compile cache. */
export const celPolicyEngine: CelPolicyEngine = new CelPolicyEngine();
