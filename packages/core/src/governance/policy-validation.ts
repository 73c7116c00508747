/**
 * Validation of a policy definition before anything is stored or simulated
 * (ValidatePolicy, CreatePolicy, UpdatePolicy, TestPolicy candidates).
 *
 * Rules enforced:
 * - Every problem is reported, not only the first: field checks (name,
 *   effect, actions, targets, reserved parameters) run independently of the
 *   condition, and the condition is compiled by the tenant's engine with a
 *   neutral scope so a bad effect never hides a syntax error.
 * - CEL conditions are also checked against the variable schema
 *   ({@link checkConditionSchema}): unknown fields and type errors are ERRORs
 *   with their position. Other engines check their own language.
 * - Targets naming a contract or role the tenant does not have, a target of
 *   another tenant and a disabled policy are WARNINGs: legal, but the policy
 *   would not act where its author probably expects.
 * - Positions are 1-based within the condition; 0 when not applicable.
 */
import { checkConditionSchema } from "../policy/schema-check.ts";
import { MAX_CONDITION_LENGTH, parsePolicyTarget } from "../policy/compile.ts";
import type { PolicyEngine } from "../policy/engine.ts";
import { APPROVER_PATTERN, APPROVERS_PARAMETER } from "../policy/evaluate.ts";
import { isWellFormedPermission } from "../rbac/permissions.ts";
import type { PolicyEffect, PolicyRecord } from "../records.ts";

/** What an author writes for a policy version (the Host sets id, version, status and times). */
export interface PolicyDraftInput {
  readonly name: string;
  readonly description: string;
  readonly rule: {
    readonly condition: string;
    /** ALLOW | DENY | AUDIT (checked here, so a wrong value is reported like any other problem). */
    readonly effect: string;
    readonly actions: readonly string[];
    readonly parameters: Readonly<Record<string, string>>;
  };
  readonly appliesTo: readonly string[];
  readonly enabled: boolean;
}

/** One problem found in a policy definition (mirrors `aesp.v1.PolicyValidationIssue`). */
export interface PolicyValidationIssue {
  readonly severity: "ERROR" | "WARNING";
  /** The offending field in wire terms, e.g. `rule.condition`, `applies_to[1]`. */
  readonly field: string;
  readonly message: string;
  /** 1-based line within the condition; 0 when not applicable. */
  readonly line: number;
  /** 1-based column within the line; 0 when not applicable. */
  readonly column: number;
}

/** What the tenant has, for the warnings about targets that name nothing. */
export interface ValidationContext {
  /** Names of the tenant's contracts (any status). */
  readonly contracts: ReadonlySet<string>;
  /** Names of the tenant's roles. */
  readonly roles: ReadonlySet<string>;
}

/** Rule parameters under this prefix belong to the Host. */
export const RESERVED_PARAMETER_PREFIX = "aesp.";

/** The shape of a policy id chosen by its author. */
export const POLICY_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const EFFECTS: readonly PolicyEffect[] = ["ALLOW", "DENY", "AUDIT", "REQUIRE_APPROVAL"];
const MAX_NAME_LENGTH = 128;
const MAX_DESCRIPTION_LENGTH = 2000;
/** The key every validation compiles under, so drafts share one slot of the engine's cache per tenant. */
const VALIDATION_POLICY_ID = "validation";

/**
 * Validates a policy definition.
 *
 * @param engine - The tenant's policy engine.
 * @param tenantId - The tenant the policy would belong to.
 * @param draft - The definition.
 * @param options - `policyId` to check an author-chosen id; `context` for the target warnings;
 *   `fieldPrefix` to name fields inside a larger request (e.g. `candidate_policies[0].`).
 * @returns Every issue, errors first, then in field order.
 */
export function validatePolicyDraft(
  engine: PolicyEngine,
  tenantId: string,
  draft: PolicyDraftInput,
  options: { policyId?: string; context?: ValidationContext; fieldPrefix?: string } = {},
): PolicyValidationIssue[] {
  const prefix = options.fieldPrefix ?? "";
  const issues: PolicyValidationIssue[] = [];
  const add = (severity: PolicyValidationIssue["severity"], field: string, message: string, line = 0, column = 0): void => {
    issues.push({ severity, field: `${prefix}${field}`, message, line, column });
  };
  if (options.policyId !== undefined && options.policyId !== "" && !POLICY_ID_PATTERN.test(options.policyId)) {
    add("ERROR", "policy_id", "policy_id must be 1 to 64 characters: lower-case letters, digits, - and _, starting with a letter or digit");
  }
  if (draft.name.trim() === "") add("ERROR", "name", "name is required");
  else if (draft.name.length > MAX_NAME_LENGTH) add("ERROR", "name", `name is longer than ${MAX_NAME_LENGTH} characters`);
  if (draft.description.length > MAX_DESCRIPTION_LENGTH) add("ERROR", "description", `description is longer than ${MAX_DESCRIPTION_LENGTH} characters`);
  const effect = draft.rule.effect.toUpperCase();
  if (!(EFFECTS as readonly string[]).includes(effect)) add("ERROR", "rule.effect", `effect must be one of ${EFFECTS.join(", ")}${draft.rule.effect === "" ? "" : `, not "${draft.rule.effect.slice(0, 32)}"`}`);
  draft.rule.actions.forEach((action, index) => {
    if (!isWellFormedPermission(action)) add("ERROR", `rule.actions[${index}]`, `"${action.slice(0, 64)}" is not an action of the form resource:action (lower case, * for a whole segment), e.g. tools:invoke`);
  });
  const approvers = draft.rule.parameters[APPROVERS_PARAMETER];
  if (effect === "REQUIRE_APPROVAL") {
    if (approvers === undefined || approvers.trim() === "") {
      add("WARNING", `rule.parameters[${APPROVERS_PARAMETER}]`, "no approvers named: the Host's default approvers (role:approver) decide held calls");
    } else {
      for (const entry of approvers.split(",").map((part) => part.trim())) {
        if (!APPROVER_PATTERN.test(entry)) add("ERROR", `rule.parameters[${APPROVERS_PARAMETER}]`, `"${entry.slice(0, 64)}" is not an approver: use role:<name> or principal:<id>, comma-separated`);
      }
    }
  } else if (approvers !== undefined) {
    add("WARNING", `rule.parameters[${APPROVERS_PARAMETER}]`, "approvers only matter for REQUIRE_APPROVAL policies");
  }
  for (const key of Object.keys(draft.rule.parameters)) {
    if (key.startsWith(RESERVED_PARAMETER_PREFIX)) add("ERROR", `rule.parameters[${key.slice(0, 64)}]`, `parameters starting with "${RESERVED_PARAMETER_PREFIX}" are reserved for the Host`);
  }
  draft.appliesTo.forEach((entry, index) => {
    const target = parsePolicyTarget(entry, tenantId);
    const field = `applies_to[${index}]`;
    if (target === null) {
      add("ERROR", field, `"${entry.slice(0, 64)}" is not a target: use contract:<name>, contract:<name>@<version>, contract:*, role:<name>, role:* or tenant:*`);
      return;
    }
    if (target.kind === "none") add("WARNING", field, `"${entry.slice(0, 64)}" names another tenant: the policy never applies there`);
    else if (target.kind === "contract" && options.context !== undefined && !options.context.contracts.has(target.name)) {
      add("WARNING", field, `this tenant has no contract "${target.name}" (yet): the target matches no call until one is submitted`);
    } else if (target.kind === "role" && options.context !== undefined && !options.context.roles.has(target.name)) {
      add("WARNING", field, `this tenant has no role "${target.name}": the target matches no caller until the role exists`);
    }
  });
  const condition = draft.rule.condition;
  if (condition.trim() === "") {
    add("ERROR", "rule.condition", "condition is required (a boolean expression; true means the rule applies)");
  } else if (condition.length > MAX_CONDITION_LENGTH) {
    add("ERROR", "rule.condition", `condition is longer than ${MAX_CONDITION_LENGTH} characters`);
  } else {
    const diagnostics = engine.validate(neutralRecord(tenantId, condition));
    for (const diagnostic of diagnostics) add("ERROR", "rule.condition", diagnostic.message, diagnostic.line ?? 0, diagnostic.column ?? 0);
    if (diagnostics.length === 0 && engine.id === "cel") {
      for (const issue of checkConditionSchema(condition)) add(issue.severity, "rule.condition", issue.message, issue.line, issue.column);
    }
  }
  if (!draft.enabled) add("WARNING", "enabled", "the policy is disabled: it will not act, even once approved");
  return issues.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === "ERROR" ? -1 : 1));
}

/** True when any issue is an ERROR. */
export function hasErrors(issues: readonly PolicyValidationIssue[]): boolean {
  return issues.some((issue) => issue.severity === "ERROR");
}

/** Narrows a validated draft's effect. */
export function effectOf(draft: PolicyDraftInput): PolicyEffect {
  const effect = draft.rule.effect.toUpperCase();
  return (EFFECTS as readonly string[]).includes(effect) ? (effect as PolicyEffect) : "DENY";
}

/** The condition alone, with a scope every engine accepts, so only the condition is judged. */
function neutralRecord(tenantId: string, condition: string): PolicyRecord {
  return {
    tenantId,
    policyId: VALIDATION_POLICY_ID,
    name: VALIDATION_POLICY_ID,
    description: "",
    version: 0,
    rule: { condition, effect: "ALLOW", actions: [], parameters: {} },
    appliesTo: [],
    enabled: true,
    status: "DRAFT",
    createdBy: "",
    createdAt: 0,
    updatedAt: 0,
    revision: 0,
  };
}
