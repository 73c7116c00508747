/**
 * CEL policies: the variable schema, compilation (once per version) and decisions.
 */
export { benchPolicyDecisions, type PolicyBenchResult } from "./bench.ts";
export {
  DEFAULT_POLICY_CACHE_SIZE,
  actionMatcher,
  MAX_CONDITION_LENGTH,
  PolicyCompiler,
  compilePolicy,
  defaultPolicyCompiler,
  parsePolicyTarget,
  type CompiledPolicy,
  type PolicyOutcome,
  type PolicyTarget,
} from "./compile.ts";
export { PolicySet, type BrokenPolicy, type Decision } from "./evaluate.ts";
export {
  POLICY_VARIABLES,
  POLICY_VARIABLES_VERSION,
  buildActivation,
  renderPolicyVariablesMarkdown,
  type PolicyActivation,
  type PolicyInput,
  type VariableDoc,
} from "./variables.ts";
