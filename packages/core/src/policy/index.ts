/**
 * Policies: the engine port, the CEL engine (the default), the variable
 * schema, compilation (once per version) and decisions.
 */
export { benchPolicyDecisions, BENCH_POLICY_INPUT, CEL_BENCH_CONDITIONS, type PolicyBenchCondition, type PolicyBenchOptions, type PolicyBenchResult } from "./bench.ts";
export { CelPolicyEngine, celPolicyEngine } from "./cel-engine.ts";
export {
  DEFAULT_POLICY_CACHE_SIZE,
  actionMatcher,
  compilePolicyScope,
  MAX_CONDITION_LENGTH,
  PolicyCompiler,
  compilePolicy,
  defaultPolicyCompiler,
  parsePolicyTarget,
  type CelCompiledPolicy,
  type PolicyScope,
  type PolicyTarget,
} from "./compile.ts";
export {
  CompiledPolicyCache,
  MATCH,
  NO_MATCH,
  conditionPosition,
  diagnosticsOf,
  policyCompileError,
  type CompiledPolicy,
  type PolicyDiagnostic,
  type PolicyEngine,
  type PolicyOutcome,
} from "./engine.ts";
export { APPROVERS_PARAMETER, PolicySet, parseApprovers, type BrokenPolicy, type Decision, type PolicySetOptions } from "./evaluate.ts";
export { checkConditionSchema, type SchemaIssue } from "./schema-check.ts";
export {
  POLICY_VARIABLES,
  POLICY_VARIABLES_VERSION,
  buildActivation,
  hasMultiFactorEvidence,
  renderPolicyVariablesMarkdown,
  type PolicyActivation,
  type PolicyInput,
  type VariableDoc,
} from "./variables.ts";
export {
  cohortBucket,
  decideWithRollout,
  disagreementRate,
  inCohort,
  rolloutRecords,
  shouldRollBack,
  type RolloutDecision,
  type RolloutObserver,
  type RolloutView,
} from "./rollout.ts";
