/**
 * Tool contracts: definitions, ADM schemas, compiled validators and the artifact lifecycle.
 */
export { CompiledContract } from "./compiled-contract.ts";
export {
  CONTRACT_NAME_PATTERN,
  MAX_DESCRIPTION_LENGTH,
  MAX_LABEL_LENGTH,
  MAX_VERSION_LENGTH,
  SEMVER_PATTERN,
  contractId,
  validateContractDefinition,
} from "./definition.ts";
export { MAX_REPORTED_ISSUES, boundIssues, childPointer, issuesToDetails, type ValidationIssue } from "./issues.ts";
export { ARTIFACT_TRANSITIONS, assertTransition, canServe, canTransition, isTerminal } from "./lifecycle.ts";
export { FORBIDDEN_JSON_KEYS, MAX_JSON_DEPTH, findPlainJsonIssues } from "./plain-json.ts";
export {
  JSON_SCHEMA_DIALECT,
  MAX_PATTERN_LENGTH,
  MAX_SCHEMA_DEPTH,
  MAX_SCHEMA_NODES,
  NUMBER_FORMATS,
  PROPERTY_NAME_PATTERN,
  STRING_FORMATS,
  findAdmSchemaIssues,
  toJsonSchema,
  validateAdmSchema,
  type JsonSchema,
} from "./schema.ts";
