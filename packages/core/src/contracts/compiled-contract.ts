/**
 * A contract version compiled for the hot path.
 *
 * Rules enforced:
 * - The Host's schema is the only authority: arguments are checked against the
 *   contract's `parameters`, results against its `returnType`, never against
 *   anything a runtime announced.
 * - Values must be plain JSON first (see {@link findPlainJsonIssues}); only
 *   then does the JSON Schema run, so a hostile payload cannot reach ajv.
 * - Each check reports at most {@link MAX_REPORTED_ISSUES} issues.
 * - Compilation happens once per contract version; validation never compiles.
 */
import Ajv2020 from "ajv/dist/2020.js";
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { EnterpriseError } from "../errors.ts";
import type { ToolContractDefinition } from "../records.ts";
import { contractId, validateContractDefinition } from "./definition.ts";
import { boundIssues, childPointer, issuesToDetails, MAX_REPORTED_ISSUES, type ValidationIssue } from "./issues.ts";
import { findPlainJsonIssues } from "./plain-json.ts";
import { toJsonSchema, type JsonSchema } from "./schema.ts";

/**
 * A validated, immutable contract version with its argument and result
 * validators compiled.
 *
 * @example
 * const compiled = CompiledContract.compile(definition);   // once, when the snapshot is built
 * const issues = compiled.validateArguments(call.args);    // per call
 * if (issues.length > 0) throw new EnterpriseError("PARAMETER_VALIDATION_FAILED", { details: issuesToDetails(issues) });
 */
export class CompiledContract {
  /** `name@version`. */
  readonly contractId: string;
  /** A frozen copy of the definition this was compiled from. */
  readonly definition: Readonly<ToolContractDefinition>;
  /** The JSON Schema the arguments are validated against. */
  readonly parametersSchema: JsonSchema;
  /** The JSON Schema results are validated against; null when any JSON result is accepted. */
  readonly resultSchema: JsonSchema | null;
  readonly #argumentsValidator: ValidateFunction;
  readonly #resultValidator: ValidateFunction | null;

  private constructor(definition: Readonly<ToolContractDefinition>) {
    this.definition = definition;
    this.contractId = contractId(definition.name, definition.contractVersion);
    this.parametersSchema = toJsonSchema(definition.parameters);
    this.resultSchema = definition.returnType === null ? null : toJsonSchema(definition.returnType);
    // One ajv instance per contract version: compiled code is collected with the contract, and
    // without meta-schema validation (the ADM checks already ran) an instance costs under a millisecond.
    const ajv = new Ajv2020.default({ allErrors: true, strict: true, meta: false, validateSchema: false });
    addFormats.default(ajv);
    this.#argumentsValidator = compileSchema(ajv, this.parametersSchema, this.contractId, "parameters");
    this.#resultValidator = this.resultSchema === null ? null : compileSchema(ajv, this.resultSchema, this.contractId, "return_type");
  }

  /**
   * Checks a contract definition and compiles its validators.
   *
   * @param definition - The definition as submitted or stored.
   * @returns The compiled contract.
   * @throws EnterpriseError `INVALID_ARGUMENT` when the definition is malformed
   *   (details name the first issue and list up to 20 in `validation_errors`).
   */
  static compile(definition: ToolContractDefinition): CompiledContract {
    const issues = validateContractDefinition(definition);
    if (issues.length > 0) {
      throw new EnterpriseError("INVALID_ARGUMENT", {
        message: "The contract definition is invalid.",
        details: issuesToDetails(boundIssues(issues)),
      });
    }
    return new CompiledContract(deepFreeze(structuredClone(definition)));
  }

  /**
   * Validates a call's arguments: plain JSON, then the parameters schema.
   *
   * @param args - The decoded `args` of the call.
   * @returns Issues (JSON Pointers into `args`), at most 20; empty when valid.
   */
  validateArguments(args: unknown): ValidationIssue[] {
    return runValidator(this.#argumentsValidator, args);
  }

  /**
   * Validates a runtime's result content: plain JSON, then the return type
   * (any JSON when the contract has no return type).
   *
   * @param content - The decoded result content.
   * @returns Issues (JSON Pointers into `content`), at most 20; empty when valid.
   */
  validateResult(content: unknown): ValidationIssue[] {
    return runValidator(this.#resultValidator, content);
  }
}

function compileSchema(ajv: InstanceType<typeof Ajv2020.default>, schema: JsonSchema, id: string, field: string): ValidateFunction {
  try {
    return ajv.compile(schema);
  } catch (error) {
    // The ADM checks should make this unreachable; if ajv still refuses, the contract is refused too.
    throw new EnterpriseError("INVALID_ARGUMENT", {
      message: "The contract schema could not be compiled.",
      details: { contract_id: id, field },
      cause: error,
    });
  }
}

function runValidator(validator: ValidateFunction | null, value: unknown): ValidationIssue[] {
  const plainIssues = findPlainJsonIssues(value);
  if (plainIssues.length > 0) return boundIssues(plainIssues);
  if (validator === null || validator(value)) return [];
  const errors = validator.errors ?? [];
  const issues: ValidationIssue[] = [];
  for (const error of errors) {
    issues.push(toIssue(error));
    if (issues.length > MAX_REPORTED_ISSUES) break;
  }
  return boundIssues(issues);
}

function toIssue(error: ErrorObject): ValidationIssue {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return { path: childPointer(error.instancePath, String(params["missingProperty"])), message: "is required" };
    case "additionalProperties":
      return { path: childPointer(error.instancePath, String(params["additionalProperty"])), message: "is not declared by the contract schema" };
    case "enum": {
      const allowed = Array.isArray(params["allowedValues"]) ? params["allowedValues"].map((value) => JSON.stringify(value)).join(", ") : "";
      return { path: error.instancePath, message: `must be one of ${allowed}` };
    }
    default:
      return { path: error.instancePath, message: error.message ?? `fails ${error.keyword}` };
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
