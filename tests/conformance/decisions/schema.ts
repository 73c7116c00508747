/**
 * The schema of the authorization conformance cases (tests/conformance/cases/*.yaml, documented in
 * tests/conformance/cases/README.md) and their loader.
 *
 * Loading is strict: every file is checked against a JSON Schema (ajv, draft 2020-12, unknown keys
 * refused) and then against the rules a schema cannot say (unique ids, an error code exactly when
 * denied, an engine every policy is written for, `core_only` whenever the gateway cannot reproduce
 * the case's inputs). Any problem in any file throws one error listing them all, so a malformed
 * case fails the whole run instead of silently testing nothing.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { BUILT_IN_ROLE_DEFINITIONS, isWellFormedPermission } from "../../../packages/core/src/rbac/index.ts";
import { RoleGraph, builtInRoles, celPolicyEngine, errorCatalogue, permissionMatches, validateContractDefinition } from "@aesp/core";
import type { AdmSchema, Classification, PolicyEffect, PolicyRecord, PrincipalType, RoleRecord, ToolContractDefinition } from "@aesp/core";

/** The engines a case can run on. */
export const ENGINES = ["cel", "cedar"] as const;
export type EngineId = (typeof ENGINES)[number];

/** Lifecycle states a case may leave a policy in (only ACTIVE ones act). */
export type PolicyStatus = "ACTIVE" | "DRAFT" | "PENDING_APPROVAL" | "REJECTED";

/** Request time when a case gives none: a Monday, 10:00 UTC. */
export const DEFAULT_TIME = "2025-06-02T10:00:00Z";
/** Source address when a case gives none: what the gateway sees from a loopback client. */
export const LOOPBACK = "127.0.0.1";
/** Session age when a case gives none. */
export const DEFAULT_SESSION_AGE_SECONDS = 300;
/** User agent of core runs when a case gives none (gateway runs send the client library's). */
export const DEFAULT_USER_AGENT = "aesp-conformance";

export interface RoleSpec {
  readonly name: string;
  readonly permissions: readonly string[];
  readonly inherits: readonly string[];
}

export interface PolicySpec {
  readonly id: string;
  readonly effect: PolicyEffect;
  /** Condition text per engine; an engine without text cannot run the case. */
  readonly conditions: Readonly<Partial<Record<EngineId, string>>>;
  readonly appliesTo: readonly string[];
  readonly actions: readonly string[];
  readonly enabled: boolean;
  readonly status: PolicyStatus;
}

export interface ClaimsSpec {
  readonly amr: readonly string[];
  readonly acr: string;
  readonly idp: string;
}

export interface PrincipalSpec {
  /** Null: generated (the Host generates service-account ids). */
  readonly id: string | null;
  readonly type: PrincipalType;
  readonly roles: readonly string[];
  readonly permissions: readonly string[];
  readonly clearance: Classification;
  readonly attributes: Readonly<Record<string, string>>;
  readonly claims: ClaimsSpec;
}

export interface ContractSpec {
  readonly name: string;
  readonly version: string;
  readonly classification: Classification;
  readonly requiredRoles: readonly string[];
  readonly requiredPermissions: readonly string[];
  readonly risk: "LOW" | "MEDIUM" | "HIGH";
  readonly tags: readonly string[];
  readonly parameters: AdmSchema;
}

export interface TenantSpec {
  readonly id: string;
  readonly roles: readonly RoleSpec[];
  readonly policies: readonly PolicySpec[];
  readonly contract: ContractSpec | null;
}

export interface Expectation {
  readonly decision: "ALLOW" | "DENY";
  /** The EnterpriseError code of a refusal; null when allowed. */
  readonly error: string | null;
  /** Substrings the decision's reason must contain. */
  readonly reason: readonly string[];
  /** The policies evaluated, as a set; null when the case does not say. */
  readonly appliedPolicies: readonly string[] | null;
  /** The AUDIT policies that matched, as a set (none unless the case says). */
  readonly auditFlags: readonly string[];
}

/** One case, with every default filled in. */
export interface DecisionCase {
  readonly id: string;
  readonly description: string;
  /** File name (without directory) and topic, for reports. */
  readonly file: string;
  readonly topic: string;
  /** The caller's tenant, or null when the case leaves it to the runner. */
  readonly tenant: string | null;
  readonly roles: readonly RoleSpec[];
  readonly policies: readonly PolicySpec[];
  readonly principal: PrincipalSpec;
  readonly contract: ContractSpec;
  readonly args: Readonly<Record<string, unknown>>;
  readonly timeMs: number;
  readonly sessionAgeSeconds: number;
  readonly sourceIp: string;
  readonly userAgent: string;
  readonly otherTenant: TenantSpec | null;
  readonly call: { readonly contract: string; readonly version: string; readonly session: "own" | "other_tenant" };
  /** Engines the case runs on: those every policy has a condition for (both when there is none). */
  readonly engines: readonly EngineId[];
  readonly expect: Readonly<Record<EngineId, Expectation>>;
  readonly coreOnly: string | null;
  readonly gatewayOnly: string | null;
  /** A product bug the case shows, per engine: the case runs and is reported, without failing the run. */
  readonly knownFailure: Readonly<Record<EngineId, string | null>>;
}

export interface CaseFile {
  readonly file: string;
  readonly topic: string;
  readonly cases: readonly DecisionCase[];
}

// ---------------------------------------------------------------------------------------------
// The YAML shape, as a JSON Schema.

const name = { type: "string", pattern: "^[a-z][a-z0-9_.-]{0,63}$" };
const stringList = { type: "array", items: { type: "string" } };
const classification = { enum: ["public", "internal", "confidential", "restricted"] };
const role = {
  type: "object",
  additionalProperties: false,
  required: ["name"],
  properties: { name, permissions: stringList, inherits: stringList },
};
const policy = {
  type: "object",
  additionalProperties: false,
  required: ["id", "effect"],
  anyOf: [{ required: ["cel"] }, { required: ["cedar"] }],
  properties: {
    id: { type: "string", pattern: "^[a-z][a-z0-9-]{0,47}$" },
    effect: { enum: ["ALLOW", "DENY", "AUDIT", "REQUIRE_APPROVAL"] },
    cel: { type: "string", minLength: 1 },
    cedar: { type: "string" },
    applies_to: stringList,
    actions: stringList,
    enabled: { type: "boolean" },
    status: { enum: ["ACTIVE", "DRAFT", "PENDING_APPROVAL", "REJECTED"] },
  },
};
const contract = {
  type: "object",
  additionalProperties: false,
  required: ["name"],
  properties: {
    name: { type: "string", pattern: "^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$" },
    version: { type: "string" },
    classification,
    required_roles: stringList,
    required_permissions: stringList,
    risk: { enum: ["LOW", "MEDIUM", "HIGH"] },
    tags: stringList,
    parameters: { type: "object" },
  },
};
const tenantId = { type: "string", pattern: "^[a-z0-9][a-z0-9-]{1,62}$" };
const expectationSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    decision: { enum: ["ALLOW", "DENY"] },
    error: { type: "string" },
    reason: { anyOf: [{ type: "string", minLength: 1 }, { type: "array", minItems: 1, items: { type: "string", minLength: 1 } }] },
    applied_policies: stringList,
    audit_flags: stringList,
  },
};
const reason = { type: "string", minLength: 8 };

/** The JSON Schema of one case file. */
export const CASE_FILE_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  additionalProperties: false,
  required: ["topic", "cases"],
  properties: {
    topic: { type: "string", minLength: 1 },
    description: { type: "string" },
    // A place for YAML anchors shared by the file's cases; never read.
    shared: {},
    cases: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["id", "description", "given", "expect"],
        properties: {
          id: { type: "string", pattern: "^[a-z0-9][a-z0-9-]{2,80}$" },
          description: { type: "string", minLength: 10 },
          given: {
            type: "object",
            additionalProperties: false,
            required: ["contract"],
            properties: {
              tenant: tenantId,
              roles: { type: "array", items: role },
              policies: { type: "array", items: policy },
              principal: {
                type: "object",
                additionalProperties: false,
                properties: {
                  id: { type: "string", minLength: 1 },
                  type: { enum: ["USER", "SERVICE_ACCOUNT", "SYSTEM_ACCOUNT"] },
                  roles: stringList,
                  permissions: stringList,
                  clearance: classification,
                  attributes: { type: "object", additionalProperties: { type: "string" } },
                  claims: {
                    type: "object",
                    additionalProperties: false,
                    properties: { amr: { type: "array", minItems: 1, items: { type: "string", pattern: "^[a-z]+$" } }, acr: { type: "string" }, idp: { type: "string" } },
                  },
                },
              },
              contract,
              args: { type: "object" },
              time: { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$" },
              session_age_seconds: { type: "integer", minimum: 0 },
              source_ip: { type: "string", minLength: 2 },
              user_agent: { type: "string" },
              other_tenant: {
                type: "object",
                additionalProperties: false,
                required: ["id"],
                properties: { id: tenantId, roles: { type: "array", items: role }, policies: { type: "array", items: policy }, contract },
              },
            },
          },
          call: {
            type: "object",
            additionalProperties: false,
            properties: { contract: { type: "string", minLength: 1 }, version: { type: "string" }, session: { enum: ["own", "other_tenant"] } },
          },
          expect: { ...expectationSchema, required: ["decision"] },
          expect_cedar: expectationSchema,
          core_only: reason,
          gateway_only: reason,
          known_failure: { anyOf: [reason, { type: "object", additionalProperties: false, minProperties: 1, properties: { cel: reason, cedar: reason } }] },
        },
      },
    },
  },
} as const;

interface RawRole {
  name: string;
  permissions?: string[];
  inherits?: string[];
}
interface RawPolicy {
  id: string;
  effect: PolicyEffect;
  cel?: string;
  cedar?: string;
  applies_to?: string[];
  actions?: string[];
  enabled?: boolean;
  status?: PolicyStatus;
}
interface RawContract {
  name: string;
  version?: string;
  classification?: Classification;
  required_roles?: string[];
  required_permissions?: string[];
  risk?: "LOW" | "MEDIUM" | "HIGH";
  tags?: string[];
  parameters?: AdmSchema;
}
interface RawExpect {
  decision?: "ALLOW" | "DENY";
  error?: string;
  reason?: string | string[];
  applied_policies?: string[];
  audit_flags?: string[];
}
interface RawCase {
  id: string;
  description: string;
  given: {
    tenant?: string;
    roles?: RawRole[];
    policies?: RawPolicy[];
    principal?: {
      id?: string;
      type?: PrincipalType;
      roles?: string[];
      permissions?: string[];
      clearance?: Classification;
      attributes?: Record<string, string>;
      claims?: { amr?: string[]; acr?: string; idp?: string };
    };
    contract: RawContract;
    args?: Record<string, unknown>;
    time?: string;
    session_age_seconds?: number;
    source_ip?: string;
    user_agent?: string;
    other_tenant?: { id: string; roles?: RawRole[]; policies?: RawPolicy[]; contract?: RawContract };
  };
  call?: { contract?: string; version?: string; session?: "own" | "other_tenant" };
  expect: RawExpect & { decision: "ALLOW" | "DENY" };
  expect_cedar?: RawExpect;
  core_only?: string;
  gateway_only?: string;
  known_failure?: string | { cel?: string; cedar?: string };
}
interface RawFile {
  topic: string;
  cases: RawCase[];
}

interface SchemaIssue {
  readonly instancePath: string;
  readonly message?: string;
  readonly params?: unknown;
}
interface FileValidator {
  (data: unknown): data is RawFile;
  errors?: SchemaIssue[] | null;
}
// The root node_modules holds an older ajv (another package's); the JSON Schema validator the Host
// itself uses is ajv 8 with draft 2020-12, installed for @aesp/core, so it is loaded from there.
const requireFromCore = createRequire(fileURLToPath(import.meta.resolve("@aesp/core")));
const { default: Ajv2020 } = requireFromCore("ajv/dist/2020.js") as { default: new (options: object) => { compile(schema: object): FileValidator } };
const validateFile = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true }).compile(CASE_FILE_SCHEMA);

// ---------------------------------------------------------------------------------------------
// Loading.

/**
 * Loads and checks every `*.yaml` file of a directory.
 *
 * @param directory - tests/conformance/cases.
 * @returns The files, in name order, with normalised cases.
 * @throws Error listing every problem of every file (schema violations and rule violations).
 */
export function loadCaseFiles(directory: string): CaseFile[] {
  const problems: string[] = [];
  const files: CaseFile[] = [];
  const seen = new Map<string, string>();
  const names = readdirSync(directory).filter((file) => file.endsWith(".yaml")).sort();
  if (names.length === 0) problems.push(`${directory}: no *.yaml case files`);
  for (const file of names) {
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(path.join(directory, file), "utf8"), { prettyErrors: true, uniqueKeys: true, merge: true });
    } catch (error) {
      problems.push(`${file}: not YAML: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    if (!validateFile(raw)) {
      for (const issue of validateFile.errors ?? []) problems.push(`${file}: ${issue.instancePath || "/"} ${issue.message ?? "is invalid"}${issue.params === undefined ? "" : ` ${JSON.stringify(issue.params)}`}`);
      continue;
    }
    const cases: DecisionCase[] = [];
    raw.cases.forEach((rawCase, index) => {
      const where = `${file}: case ${rawCase.id} (#${index + 1})`;
      const previous = seen.get(rawCase.id);
      if (previous !== undefined) problems.push(`${where}: id already used in ${previous}`);
      seen.set(rawCase.id, file);
      const caseProblems: string[] = [];
      const normalised = normalise(rawCase, file, raw.topic, caseProblems);
      problems.push(...caseProblems.map((problem) => `${where}: ${problem}`));
      if (caseProblems.length === 0) cases.push(normalised);
    });
    files.push({ file, topic: raw.topic, cases });
  }
  if (problems.length > 0) throw new Error(`Malformed conformance cases (${problems.length} problems):\n  ${problems.join("\n  ")}`);
  return files;
}

const builtInNames = new Set(BUILT_IN_ROLE_DEFINITIONS.map((definition) => definition.name));

function normalise(raw: RawCase, file: string, topic: string, problems: string[]): DecisionCase {
  const given = raw.given;
  const roles = (given.roles ?? []).map(roleSpec);
  const policies = (given.policies ?? []).map(policySpec);
  const contract = contractSpec(given.contract, problems);
  const otherTenant: TenantSpec | null =
    given.other_tenant === undefined
      ? null
      : {
          id: given.other_tenant.id,
          roles: (given.other_tenant.roles ?? []).map(roleSpec),
          policies: (given.other_tenant.policies ?? []).map(policySpec),
          contract: given.other_tenant.contract === undefined ? null : contractSpec(given.other_tenant.contract, problems),
        };
  const rawPrincipal = given.principal ?? {};
  const principal: PrincipalSpec = {
    id: rawPrincipal.id ?? null,
    type: rawPrincipal.type ?? "SERVICE_ACCOUNT",
    roles: rawPrincipal.roles ?? [],
    permissions: rawPrincipal.permissions ?? [],
    clearance: rawPrincipal.clearance ?? "internal",
    attributes: rawPrincipal.attributes ?? {},
    claims: { amr: rawPrincipal.claims?.amr ?? ["pwd"], acr: rawPrincipal.claims?.acr ?? "", idp: rawPrincipal.claims?.idp ?? "" },
  };
  const timeMs = Date.parse(given.time ?? DEFAULT_TIME);
  if (!Number.isFinite(timeMs)) problems.push(`given.time ${given.time ?? ""} is not a date-time`);
  const allPolicies = [...policies, ...(otherTenant?.policies ?? [])];
  const engines = ENGINES.filter((engine) => allPolicies.every((p) => p.conditions[engine] !== undefined));
  if (engines.length === 0) problems.push("no engine has a condition for every policy (give each policy `cel:`, or each `cedar:`)");
  const expect = expectation(raw.expect, problems, "expect");
  // expect_cedar overrides expect key by key; turning a DENY into an ALLOW drops the error code.
  let cedarRaw: RawExpect | undefined;
  if (raw.expect_cedar !== undefined) {
    const { error, ...inherited } = raw.expect;
    cedarRaw = { ...inherited, ...(raw.expect_cedar.decision === "ALLOW" || error === undefined ? {} : { error }), ...raw.expect_cedar };
  }
  const cedarOverride = cedarRaw === undefined ? expect : expectation(cedarRaw, problems, "expect_cedar");
  if (raw.expect_cedar !== undefined && !engines.includes("cedar")) problems.push("expect_cedar given but the case does not run on Cedar (a policy has no `cedar:`)");

  const decisionCase: DecisionCase = {
    id: raw.id,
    description: raw.description.trim(),
    file,
    topic,
    tenant: given.tenant ?? null,
    roles,
    policies,
    principal,
    contract,
    args: given.args ?? {},
    timeMs,
    sessionAgeSeconds: given.session_age_seconds ?? DEFAULT_SESSION_AGE_SECONDS,
    sourceIp: given.source_ip ?? LOOPBACK,
    userAgent: given.user_agent ?? DEFAULT_USER_AGENT,
    otherTenant,
    call: { contract: raw.call?.contract ?? contract.name, version: raw.call?.version ?? contract.version, session: raw.call?.session ?? "own" },
    engines,
    expect: { cel: expect, cedar: cedarOverride },
    coreOnly: raw.core_only ?? null,
    gatewayOnly: raw.gateway_only ?? null,
    knownFailure:
      typeof raw.known_failure === "object"
        ? { cel: raw.known_failure.cel ?? null, cedar: raw.known_failure.cedar ?? null }
        : { cel: raw.known_failure ?? null, cedar: raw.known_failure ?? null },
  };
  checkRules(decisionCase, raw, problems);
  return decisionCase;
}

function roleSpec(raw: RawRole): RoleSpec {
  return { name: raw.name, permissions: raw.permissions ?? [], inherits: raw.inherits ?? [] };
}

function policySpec(raw: RawPolicy): PolicySpec {
  const conditions: Partial<Record<EngineId, string>> = {};
  if (raw.cel !== undefined) conditions.cel = raw.cel;
  if (raw.cedar !== undefined) conditions.cedar = raw.cedar;
  return { id: raw.id, effect: raw.effect, conditions, appliesTo: raw.applies_to ?? [], actions: raw.actions ?? [], enabled: raw.enabled ?? true, status: raw.status ?? "ACTIVE" };
}

function contractSpec(raw: RawContract, problems: string[]): ContractSpec {
  const spec: ContractSpec = {
    name: raw.name,
    version: raw.version ?? "1.0.0",
    classification: raw.classification ?? "internal",
    requiredRoles: raw.required_roles ?? [],
    requiredPermissions: raw.required_permissions ?? [],
    risk: raw.risk ?? "LOW",
    tags: raw.tags ?? [],
    // Any argument object is accepted unless the case says otherwise: cases are about decisions.
    parameters: raw.parameters ?? { type: "OBJECT", additionalProperties: true },
  };
  for (const issue of validateContractDefinition(contractDefinition(spec))) problems.push(`contract ${spec.name}: ${issue.path} ${issue.message}`);
  return spec;
}

function expectation(raw: RawExpect, problems: string[], where: string): Expectation {
  const decision = raw.decision ?? "ALLOW";
  const error = raw.error ?? null;
  if (decision === "DENY" && error === null) problems.push(`${where}: a DENY names its error code (expect.error)`);
  if (decision === "ALLOW" && error !== null) problems.push(`${where}: an ALLOW has no error code`);
  if (error !== null && !Object.hasOwn(errorCatalogue, error)) problems.push(`${where}: ${error} is not an error code of packages/core/src/errors.ts`);
  return {
    decision,
    error,
    reason: raw.reason === undefined ? [] : typeof raw.reason === "string" ? [raw.reason] : raw.reason,
    appliedPolicies: raw.applied_policies ?? null,
    auditFlags: raw.audit_flags ?? [],
  };
}

/** The rules a JSON Schema cannot express. */
function checkRules(c: DecisionCase, raw: RawCase, problems: string[]): void {
  const tenants = [{ label: "given", roles: c.roles, policies: c.policies }, ...(c.otherTenant === null ? [] : [{ label: "other_tenant", roles: c.otherTenant.roles, policies: c.otherTenant.policies }])];
  const policyIds = new Set<string>();
  for (const tenant of tenants) {
    const roleNames = new Set<string>();
    for (const r of tenant.roles) {
      if (builtInNames.has(r.name)) problems.push(`${tenant.label}.roles: ${r.name} is a built-in role and cannot be redefined`);
      if (roleNames.has(r.name)) problems.push(`${tenant.label}.roles: ${r.name} is defined twice`);
      roleNames.add(r.name);
    }
    for (const p of tenant.policies) {
      if (policyIds.has(p.id)) problems.push(`policy id ${p.id} is used twice in the case`);
      policyIds.add(p.id);
    }
  }
  for (const expected of [c.expect.cel, c.expect.cedar]) {
    for (const id of [...(expected.appliedPolicies ?? []), ...expected.auditFlags]) {
      if (!policyIds.has(id)) problems.push(`expect names policy ${id}, which the case does not define`);
    }
  }
  if (c.coreOnly !== null && c.gatewayOnly !== null) problems.push("a case is core_only or gateway_only, not both");
  if (c.call.session === "other_tenant") {
    if (c.otherTenant === null) problems.push("call.session other_tenant needs given.other_tenant");
    if (c.gatewayOnly === null) problems.push("a session opened in another tenant exists only on a Host: mark the case gateway_only");
  }
  if (c.otherTenant !== null && c.tenant === null) problems.push("a case with other_tenant names its own tenant (given.tenant)");
  if (c.otherTenant !== null && c.otherTenant.id === c.tenant) problems.push("other_tenant.id must differ from given.tenant");
  if (c.coreOnly === null) {
    for (const why of gatewayObstacles(c, raw)) problems.push(`the gateway cannot run this case (${why}): mark it core_only with that reason`);
  }
}

/**
 * Why a case cannot go through the gateway as written; empty when it can. The gateway's clock,
 * address, user agent and generated ids cannot be chosen, service accounts carry no directory
 * attributes, and the Host refuses what it would never store (malformed grants, unknown roles,
 * a policy CEL cannot compile).
 */
export function gatewayObstacles(c: DecisionCase, raw?: RawCase): string[] {
  const obstacles: string[] = [];
  if (raw?.given.time !== undefined) obstacles.push("the gateway decides at the Host's own clock");
  if (raw?.given.session_age_seconds !== undefined) obstacles.push("a session opened through the gateway is only just created");
  if (raw?.given.user_agent !== undefined) obstacles.push("the gateway reads the client library's user agent");
  if (c.sourceIp !== LOOPBACK) obstacles.push(`the gateway sees the loopback address, not ${c.sourceIp}`);
  if (c.principal.id !== null) obstacles.push("service-account ids are generated by the Host");
  if (c.principal.type !== "SERVICE_ACCOUNT") obstacles.push(`the gateway runs cases as service accounts, not ${c.principal.type}`);
  if (Object.keys(c.principal.attributes).length > 0) obstacles.push("service accounts carry no directory attributes");
  const malformed = [...c.principal.permissions, ...c.roles.flatMap((r) => r.permissions), ...(c.otherTenant?.roles ?? []).flatMap((r) => r.permissions)].filter((p) => !isWellFormedPermission(p));
  if (malformed.length > 0) obstacles.push(`the Host refuses the malformed permission ${malformed.join(", ")}`);
  const defined = new Set([...builtInNames, ...c.roles.map((r) => r.name)]);
  const unknownHeld = c.principal.roles.filter((r) => !defined.has(r));
  if (unknownHeld.length > 0) obstacles.push(`CreateServiceAccount refuses the unknown role ${unknownHeld.join(", ")}`);
  const unknownParents = c.roles.flatMap((r) => r.inherits).filter((r) => !defined.has(r));
  if (unknownParents.length > 0) obstacles.push(`CreateRole refuses to inherit the unknown role ${unknownParents.join(", ")}`);
  if (c.engines.includes("cel")) {
    for (const p of [...c.policies, ...(c.otherTenant?.policies ?? [])]) {
      const condition = p.conditions.cel;
      if (condition === undefined) continue;
      const diagnostics = celPolicyEngine.validate(policyRecord(c.tenant ?? "conformance", p, condition));
      if (diagnostics.length > 0) obstacles.push(`CreatePolicy refuses policy ${p.id}, which CEL cannot compile`);
    }
  }
  if (c.call.session === "own" && !holdsSessionCreate(c)) obstacles.push("the gateway opens a session first, which needs sessions:create (grant it, e.g. as a direct permission)");
  return obstacles;
}

function holdsSessionCreate(c: DecisionCase): boolean {
  const tenant = c.tenant ?? "conformance";
  try {
    const graph = RoleGraph.build(roleRecords(tenant, c.roles));
    return [...graph.effectivePermissions(c.principal.roles), ...c.principal.permissions].some((p) => permissionMatches(p, "sessions:create"));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Records, shared by the core and gateway runners so both read a case the same way.

/** The tenant's role records: the built-in roles plus the case's. */
export function roleRecords(tenantId: string, roles: readonly RoleSpec[]): RoleRecord[] {
  return [...builtInRoles(tenantId, 0), ...roles.map((r): RoleRecord => ({ tenantId, name: r.name, description: "", permissions: [...r.permissions], inherits: [...r.inherits], builtIn: false, createdAt: 0 }))];
}

/** A policy version as the store would hold it. */
export function policyRecord(tenantId: string, p: PolicySpec, condition: string): PolicyRecord {
  return {
    tenantId,
    policyId: p.id,
    name: p.id,
    description: "",
    version: 1,
    rule: { condition, effect: p.effect, actions: [...p.actions], parameters: {} },
    appliesTo: [...p.appliesTo],
    enabled: p.enabled,
    status: p.status,
    createdBy: "conformance",
    createdAt: 0,
    updatedAt: 0,
    revision: 0,
  };
}

/** The contract definition a case describes. */
export function contractDefinition(spec: ContractSpec): ToolContractDefinition {
  return {
    name: spec.name,
    contractVersion: spec.version,
    description: `Conformance contract ${spec.name}.`,
    parameters: spec.parameters,
    returnType: null,
    supportsStreaming: false,
    securityClassification: spec.classification,
    requiredRoles: [...spec.requiredRoles],
    requiredPermissions: [...spec.requiredPermissions],
    complianceTags: [...spec.tags],
    riskAssessment: spec.risk,
    governanceMetadata: {},
  };
}
