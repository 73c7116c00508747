/**
 * The Cedar policy engine: a record's `rule.condition` is the body of a Cedar
 * `when { … }` clause, evaluated by the Cedar authorizer (@cedar-policy/cedar-wasm,
 * Node build: the wasm module is compiled synchronously when this module is
 * first imported, so construction needs no async initialisation).
 *
 * How a {@link PolicyInput} is presented to Cedar (docs/guides/policy-engines.md
 * has the full table and examples):
 *
 * - `principal` is `Aesp::Principal::"<principal id>"` with attributes
 *   `id`, `type` (`USER`, `SERVICE_ACCOUNT`, `SYSTEM_ACCOUNT`), `roles` (set of
 *   bound role names), `effectiveRoles` (bound roles with every role they inherit),
 *   `permissions` (set of effective permissions), `clearance`,
 *   `clearanceRank` (0 public … 3 restricted; -1 when unknown), `attributes`
 *   (record of strings), `claims` (record of strings: `amr`, `acr`, `idp`, `iat`
 *   when present), `mfa` (bool, as CEL's `principal.mfa`).
 * - `action` is `Aesp::Action::"<action>"`, e.g. `Aesp::Action::"tools:invoke"`.
 * - `resource` is `Aesp::Contract::"<contract name>"` with attributes `name`,
 *   `version`, `classification`, `classificationRank` (0 … 3; 4 when unknown, so
 *   no clearance reaches it), `complianceTags` (set), `risk`, `requiredRoles` (set).
 * - `context` is `{ args, tenant: { id }, session: { id, createdAt, createdAtMs },
 *   request: { time, timeMs, hourUtc, dayOfWeekUtc, sourceIp, ip, userAgent,
 *   correlationId } }`. `time` and `createdAt` are Cedar `datetime` values;
 *   `dayOfWeekUtc` is 0 (Sunday) … 6 as CEL's `getDayOfWeek()`; `ip` is an
 *   `ipaddr` value, present only when `sourceIp` is an address Cedar accepts
 *   (IPv4-mapped IPv6 is given as its IPv4 address, a zone index is dropped).
 * - `args` map JSON to Cedar: strings, booleans and records as themselves,
 *   arrays as sets (order and duplicates are lost), safe integers as `Long`,
 *   other numbers as `decimal` when exactly representable (at most four
 *   fractional digits), `null` as the entity `Aesp::Null::"null"` (test it with
 *   `== Aesp::Null::"null"`: `is` is a type error on a value that is not an entity). Anything else (a number Cedar cannot hold, an object with
 *   a key Cedar reserves for escapes: `__entity`, `__extn`, `__expr`) becomes the
 *   entity `Aesp::Unrepresentable::"<kind>"`: equal to nothing, and an error
 *   (so a failure, which denies) when compared or read. A caller can therefore
 *   never smuggle an entity reference in through its arguments.
 *
 * Rules enforced:
 * - Every policy is compiled to `permit(principal, action, resource) when {
 *   <condition> };` (no `when` at all for an empty condition); the condition
 *   must parse as the body of exactly one `when` clause, so it can neither add
 *   clauses, annotations or policies nor change the scope.
 * - The effect (ALLOW/DENY/AUDIT) is never given to Cedar: the policy set
 *   combines outcomes exactly as for CEL. A policy in Cedar's `reason` matched;
 *   a policy in Cedar's `errors` failed (an `error` outcome, which fails
 *   closed); any other did not match. A request Cedar refuses as a whole fails
 *   every policy of the call.
 * - A condition cannot evaluate to a non-boolean: Cedar raises a type error
 *   instead, which is an `error` outcome like any other evaluation error.
 * - The applicable policies of a call are answered by one request against a
 *   Cedar policy set holding exactly those policies, preparsed once (first use)
 *   and cached by the identity of its members; calls never parse policies.
 * - Each call sends Cedar only the attributes and context entries its
 *   policies can read (worked out from each condition's syntax tree when it is
 *   compiled), because marshalling the request into wasm costs more than
 *   evaluating simple conditions. Any attribute access the analysis cannot
 *   follow sends everything.
 */
import { Buffer } from "node:buffer";
import { isIP } from "node:net";
import {
  getCedarVersion,
  policyToJson,
  preparsePolicySet,
  statefulIsAuthorized,
  type CedarValueJson,
  type Clause,
  type DetailedError,
  type EntityJson,
  type StatefulAuthorizationCall,
} from "@cedar-policy/cedar-wasm/nodejs";
import {
  CompiledPolicyCache,
  MATCH,
  MAX_CONDITION_LENGTH,
  NO_MATCH,
  classificationRank,
  compilePolicyScope,
  conditionPosition,
  diagnosticsOf,
  hasMultiFactorEvidence,
  policyCompileError,
  type CompiledPolicy,
  type PolicyDiagnostic,
  type PolicyEffect,
  type PolicyEngine,
  type PolicyInput,
  type PolicyOutcome,
  type PolicyRecord,
  type PolicyScope,
  type PolicyTarget,
} from "@aesp/core";

/** The Cedar version the engine evaluates with (e.g. `4.13.0`). */
export const CEDAR_VERSION: string = getCedarVersion();

/** Entity types of the mapping. */
export const CEDAR_TYPES = Object.freeze({
  principal: "Aesp::Principal",
  action: "Aesp::Action",
  resource: "Aesp::Contract",
  null: "Aesp::Null",
  unrepresentable: "Aesp::Unrepresentable",
});

/** Compiled versions an engine keeps before evicting the oldest. */
export const DEFAULT_CEDAR_COMPILE_CACHE_SIZE = 10_000;
/** Preparsed per-call policy subsets an engine keeps before evicting the least recently used. */
export const DEFAULT_CEDAR_PREPARED_SETS = 1_024;

/** Options of {@link CedarPolicyEngine}. */
export interface CedarPolicyEngineOptions {
  /** Compile cache bound (default {@link DEFAULT_CEDAR_COMPILE_CACHE_SIZE}). */
  readonly maxCompiled?: number;
  /**
   * Bound on the preparsed policy subsets held in wasm memory (default
   * {@link DEFAULT_CEDAR_PREPARED_SETS}). One subset exists per distinct set of
   * applicable policies (per contract, role combination and action, in practice).
   */
  readonly maxPreparedSets?: number;
  /**
   * Send Cedar only what the policies can read (default true). False sends the
   * whole mapping on every call: the same decisions, slower; for tests and measurement.
   */
  readonly projectInputs?: boolean;
}

const POLICY_HEAD = "permit(principal, action, resource) when {\n";
const POLICY_TAIL = "\n};";
const UNCONDITIONAL = "permit(principal, action, resource);";
const HEAD_BYTES = Buffer.byteLength(POLICY_HEAD);

/**
 * What a set of conditions can read: `true` is a whole value, a map names the
 * attributes read (each with what is read of it), null means nothing (for an
 * entity: it is not sent at all).
 */
type Projection = true | Map<string, Projection>;

interface InputProjection {
  readonly principal: Projection | null;
  readonly resource: Projection | null;
  readonly context: Projection | null;
}

const EVERYTHING: InputProjection = Object.freeze({ principal: true, resource: true, context: true });

// Compiled-policy serials are process-wide: a subset key names its members unambiguously
// whichever engine instance compiled them.
let nextPolicySerial = 0;

/** A policy version compiled to Cedar text, with what its condition reads. */
export class CedarCompiledPolicy implements CompiledPolicy {
  readonly key: string;
  readonly policyId: string;
  readonly version: number;
  readonly effect: PolicyEffect;
  readonly actions: readonly string[];
  readonly targets: readonly PolicyTarget[];
  readonly engine = "cedar";
  /** The Cedar policy as evaluated. */
  readonly text: string;
  /** Process-unique: identifies this compiled object in subset keys. */
  readonly serial: number;
  /** @internal What the condition can read. */
  readonly projection: InputProjection;
  readonly #covers: (action: string) => boolean;

  /**
   * @param scope - The checked scope (from `compilePolicyScope`).
   * @param text - The Cedar policy text.
   * @param projection - What the condition can read.
   */
  constructor(scope: PolicyScope, text: string, projection: InputProjection) {
    this.key = scope.key;
    this.policyId = scope.policyId;
    this.version = scope.version;
    this.effect = scope.effect;
    this.actions = scope.actions;
    this.targets = scope.targets;
    this.text = text;
    this.projection = projection;
    this.serial = nextPolicySerial++;
    this.#covers = (action) => scope.coversAction(action);
  }

  /** Tells whether the rule covers `action`. */
  coversAction(action: string): boolean {
    return this.#covers(action);
  }
}

interface PreparedSet {
  readonly id: string;
  readonly projection: InputProjection;
}

// Cedar keeps preparsed sets in the wasm instance (one per thread), keyed by a string, with no
// call to drop one: an evicted set is overwritten with an empty set and its id reused.
let nextSetSerial = 0;
const freeSetIds: string[] = [];

function allocateSetId(): string {
  return freeSetIds.pop() ?? `aesp-cedar-${nextSetSerial++}`;
}

function releaseSetId(id: string): void {
  preparsePolicySet(id, { staticPolicies: {} });
  freeSetIds.push(id);
}

const FOREIGN: PolicyOutcome = Object.freeze({ kind: "error", message: "policy was not compiled by the cedar engine" });

/**
 * The Cedar engine. Construct one per process and share it between tenants
 * (its caches are keyed by policy version and tenant); construction is
 * synchronous.
 *
 * @example
 * const engine = new CedarPolicyEngine();
 * const policies = PolicySet.build(records, { engine });
 * policies.decide(input);
 */
export class CedarPolicyEngine implements PolicyEngine {
  readonly id = "cedar";
  readonly #compiled: CompiledPolicyCache<CedarCompiledPolicy>;
  readonly #prepared = new Map<string, PreparedSet>();
  readonly #maxPrepared: number;
  readonly #project: boolean;
  #preparations = 0;

  /**
   * @param options - Cache bounds and input projection (see {@link CedarPolicyEngineOptions}).
   */
  constructor(options: CedarPolicyEngineOptions = {}) {
    this.#compiled = new CompiledPolicyCache(options.maxCompiled ?? DEFAULT_CEDAR_COMPILE_CACHE_SIZE);
    this.#maxPrepared = Math.max(1, options.maxPreparedSets ?? DEFAULT_CEDAR_PREPARED_SETS);
    this.#project = options.projectInputs ?? true;
  }

  /** How many times a policy was actually parsed (compile cache misses). */
  get compilations(): number {
    return this.#compiled.compilations;
  }

  /** How many policy subsets were preparsed in Cedar (subset cache misses). */
  get preparations(): number {
    return this.#preparations;
  }

  /** Preparsed subsets currently held. */
  get preparedSets(): number {
    return this.#prepared.size;
  }

  /**
   * Compiles a policy version (cached by `tenantId/policyId@version` and the rule's content).
   *
   * @param record - The policy version; `rule.condition` is the body of a Cedar `when` clause
   *   (empty: always matches).
   * @returns The compiled policy.
   * @throws EnterpriseError `INVALID_ARGUMENT` with details `{ policy_id, error }`, plus `line`
   *   and `column` (1-based, within the condition) for a Cedar syntax error: condition longer
   *   than 4,096 characters, not Cedar, not the body of one `when` clause; unknown effect;
   *   malformed action or target.
   */
  compile(record: PolicyRecord): CedarCompiledPolicy {
    return this.#compiled.get(record, compileCedar);
  }


  /**
   * Checks a policy version.
   *
   * @param record - The policy version.
   * @returns The problems found; a Cedar syntax error carries its line and column.
   */
  validate(record: PolicyRecord): PolicyDiagnostic[] {
    return diagnosticsOf((candidate) => this.compile(candidate), record);
  }

  /**
   * Answers every applicable policy of one call with one Cedar authorization request.
   *
   * @param policies - Policies compiled by a Cedar engine.
   * @param input - The decision input.
   * @returns One outcome per policy, in order; never throws.
   */
  evaluateAll(policies: readonly CompiledPolicy[], input: PolicyInput): PolicyOutcome[] {
    const outcomes = new Array<PolicyOutcome>(policies.length);
    if (policies.length === 0) return outcomes;
    const members: CedarCompiledPolicy[] = [];
    // Position of each member in `policies`; only built when a foreign policy is mixed in.
    let positions: number[] | null = null;
    let key = "";
    for (let index = 0; index < policies.length; index++) {
      const policy = policies[index];
      if (policy instanceof CedarCompiledPolicy) {
        key = key === "" ? String(policy.serial) : `${key},${policy.serial}`;
        members.push(policy);
        positions?.push(index);
      } else {
        outcomes[index] = FOREIGN;
        positions ??= members.map((_, position) => position);
      }
    }
    if (members.length === 0) return outcomes;
    const at = (member: number): number => (positions === null ? member : (positions[member] as number));
    const fail = (message: string): PolicyOutcome[] => {
      const failed: PolicyOutcome = Object.freeze({ kind: "error", message });
      for (let member = 0; member < members.length; member++) outcomes[at(member)] = failed;
      return outcomes;
    };
    try {
      const prepared = this.#prepare(key, members);
      if (typeof prepared === "string") return fail(prepared);
      const answer = statefulIsAuthorized(authorizationCall(input, prepared));
      if (answer.type === "failure") return fail(`cedar refused the request: ${describeErrors(answer.errors)}`);
      const { reason, errors } = answer.response.diagnostics;
      for (let member = 0; member < members.length; member++) outcomes[at(member)] = NO_MATCH;
      for (const id of reason) {
        const member = Number(id);
        if (member >= 0 && member < members.length) outcomes[at(member)] = MATCH;
      }
      for (const { policyId, error } of errors) {
        const member = Number(policyId);
        if (member >= 0 && member < members.length) outcomes[at(member)] = { kind: "error", message: error.message.slice(0, 512) };
      }
      return outcomes;
    } catch (error) {
      return fail(`cedar evaluation failed: ${error instanceof Error ? error.message : "unknown error"}`);
    }
  }

  /** Drops every preparsed subset from wasm memory (they are rebuilt on next use). */
  clear(): void {
    for (const prepared of this.#prepared.values()) releaseSetId(prepared.id);
    this.#prepared.clear();
  }

  /** The preparsed subset holding exactly `members`, or why Cedar refused it. */
  #prepare(key: string, members: readonly CedarCompiledPolicy[]): PreparedSet | string {
    const cached = this.#prepared.get(key);
    if (cached !== undefined) {
      // Least recently used goes first: re-inserting moves the entry to the end.
      this.#prepared.delete(key);
      this.#prepared.set(key, cached);
      return cached;
    }
    const staticPolicies = Object.create(null) as Record<string, string>;
    members.forEach((member, index) => {
      staticPolicies[String(index)] = member.text;
    });
    const id = allocateSetId();
    const answer = preparsePolicySet(id, { staticPolicies });
    this.#preparations += 1;
    if (answer.type === "failure") {
      // Cannot happen for policies that compiled; not cached, so the next call retries (and fails closed again).
      freeSetIds.push(id);
      return `cedar refused the policy set: ${describeErrors(answer.errors)}`;
    }
    const prepared: PreparedSet = { id, projection: this.#project ? unionOf(members.map((member) => member.projection)) : EVERYTHING };
    this.#prepared.set(key, prepared);
    if (this.#prepared.size > this.#maxPrepared) {
      const oldest = this.#prepared.entries().next();
      if (oldest.done !== true) {
        this.#prepared.delete(oldest.value[0]);
        releaseSetId(oldest.value[1].id);
      }
    }
    return prepared;
  }
}

function compileCedar(record: PolicyRecord, key: string): CedarCompiledPolicy {
  const { rule, policyId } = record;
  if (typeof rule.condition !== "string") throw policyCompileError(policyId, "condition must be a string");
  if (rule.condition.length > MAX_CONDITION_LENGTH) throw policyCompileError(policyId, `condition is longer than ${MAX_CONDITION_LENGTH} characters`);
  const scope = compilePolicyScope(record, key);
  const body = rule.condition.trim() === "" ? null : rule.condition;
  // The newlines keep a trailing `//` comment in the condition from swallowing the closing brace.
  const text = body === null ? UNCONDITIONAL : `${POLICY_HEAD}${body}${POLICY_TAIL}`;
  const parsed = policyToJson(text);
  if (parsed.type === "failure") {
    throw policyCompileError(policyId, `syntax error: ${describeErrors(parsed.errors)}`, body === null ? null : errorPosition(parsed.errors, body));
  }
  const { json } = parsed;
  const conditions = json.conditions;
  const isSingleWhen = body === null ? conditions.length === 0 : conditions.length === 1 && conditions[0]?.kind === "when";
  const hasAnnotations = json.annotations !== undefined && Object.keys(json.annotations).length > 0;
  const scopeIsOpen = json.effect === "permit" && json.principal.op === "All" && json.action.op === "All" && json.resource.op === "All";
  if (!isSingleWhen || hasAnnotations || !scopeIsOpen) {
    throw policyCompileError(policyId, "the condition must be the body of a single Cedar `when` clause");
  }
  return new CedarCompiledPolicy(scope, text, projectionOf(conditions));
}

function describeErrors(errors: readonly DetailedError[]): string {
  const first = errors[0];
  if (first === undefined) return "unknown error";
  const message = first.message.replace(/^failed to parse policy( with id `[^`]*`)? from string: /, "");
  const label = first.sourceLocations?.find((location) => location.label !== null)?.label;
  return (label === undefined || label === null ? message : `${message} (${label})`).slice(0, 512);
}

/** Maps the first error location (bytes into the policy text) to a line and column of the condition. */
function errorPosition(errors: readonly DetailedError[], body: string): { line: number; column: number } | null {
  const start = errors[0]?.sourceLocations?.[0]?.start;
  if (start === undefined) return null;
  const bodyBytes = Buffer.from(body, "utf8");
  const offset = start - HEAD_BYTES;
  // Before the condition: its first character; past it (e.g. an unexpected end): just after it.
  const index = offset <= 0 ? 0 : offset >= bodyBytes.length ? body.length : bodyBytes.subarray(0, offset).toString("utf8").length;
  return conditionPosition(body, index);
}

// ---------------------------------------------------------------------------------------------
// What a condition reads, from Cedar's JSON syntax tree.

interface ProjectionBuilder {
  principal: Projection | null;
  resource: Projection | null;
  context: Projection | null;
}

function projectionOf(conditions: readonly Clause[]): InputProjection {
  const builder: ProjectionBuilder = { principal: null, resource: null, context: null };
  for (const clause of conditions) walk(clause.body, builder);
  return Object.freeze({ ...builder });
}

function unionOf(projections: readonly InputProjection[]): InputProjection {
  const builder: ProjectionBuilder = { principal: null, resource: null, context: null };
  for (const projection of projections) {
    builder.principal = mergeProjection(builder.principal, projection.principal);
    builder.resource = mergeProjection(builder.resource, projection.resource);
    builder.context = mergeProjection(builder.context, projection.context);
  }
  return Object.freeze({ ...builder });
}

function mergeProjection(into: Projection | null, from: Projection | null): Projection | null {
  if (from === null) return into;
  if (into === null) return from === true ? true : mergeProjection(new Map(), from);
  if (into === true || from === true) return true;
  const merged = new Map(into);
  for (const [name, sub] of from) merged.set(name, mergeProjection(merged.get(name) ?? null, sub) ?? true);
  return merged;
}

function withPath(projection: Projection | null, path: readonly string[]): Projection {
  if (projection === true) return true;
  if (path.length === 0) return true;
  const [head, ...rest] = path as [string, ...string[]];
  const map = new Map(projection ?? []);
  map.set(head, withPath(map.get(head) ?? null, rest));
  return map;
}

function mark(builder: ProjectionBuilder, root: string, path: readonly string[]): void {
  // `action` has no attributes (no action entities are sent): reading one is an error either way.
  if (root === "principal" || root === "resource" || root === "context") builder[root] = withPath(builder[root], path);
}

function markEverything(builder: ProjectionBuilder, context: boolean): void {
  builder.principal = true;
  builder.resource = true;
  if (context) builder.context = true;
}

/** `principal.a.b` → { root: "principal", path: ["a", "b"] }; null when not a plain attribute chain. */
function chainOf(expr: unknown): { root: string; path: string[] } | null {
  if (!isObject(expr)) return null;
  if ("Var" in expr && typeof expr["Var"] === "string") return { root: expr["Var"], path: [] };
  const access = expr["."];
  if (isObject(access) && typeof access["attr"] === "string") {
    const chain = chainOf(access["left"]);
    if (chain !== null) chain.path.push(access["attr"]);
    return chain;
  }
  return null;
}

const BINARY = new Set(["==", "!=", "in", "<", "<=", ">", ">=", "&&", "||", "+", "-", "*", "contains", "containsAll", "containsAny", "getTag", "hasTag"]);

/**
 * Collects what an expression reads. An attribute is only read through `.` or
 * `has`; when their left side is a plain chain from a variable the path is
 * recorded, otherwise (an entity literal, an if-then-else, a record literal…)
 * every entity attribute is sent. A variable used as a value (compared,
 * tested with `in`/`is`) needs no attribute, except `context`, sent whole.
 */
function walk(expr: unknown, builder: ProjectionBuilder): void {
  if (!isObject(expr)) return markEverything(builder, true);
  const keys = Object.keys(expr);
  if (keys.length !== 1) return markEverything(builder, true);
  const op = keys[0] as string;
  const arg = expr[op];
  if (op === "Value" || op === "Slot") return;
  if (op === "Var") {
    if (arg === "context") mark(builder, "context", []);
    return;
  }
  if (op === "." || op === "has") {
    if (!isObject(arg)) return markEverything(builder, true);
    const attr = arg["attr"];
    const names = typeof attr === "string" ? [attr] : Array.isArray(attr) && attr.every((name) => typeof name === "string") ? attr : null;
    const chain = chainOf(arg["left"]);
    if (names === null) return markEverything(builder, true);
    if (chain !== null) return mark(builder, chain.root, [...chain.path, ...names]);
    markEverything(builder, false);
    return walk(arg["left"], builder);
  }
  if (op === "getTag" || op === "hasTag") markEverything(builder, false);
  if (!isObject(arg) && !Array.isArray(arg)) return markEverything(builder, true);
  if (BINARY.has(op) && isObject(arg)) {
    walk(arg["left"], builder);
    walk(arg["right"], builder);
    return;
  }
  switch (op) {
    case "!":
    case "neg":
    case "isEmpty":
      return isObject(arg) ? walk(arg["arg"], builder) : markEverything(builder, true);
    case "like":
      return isObject(arg) ? walk(arg["left"], builder) : markEverything(builder, true);
    case "is":
      if (!isObject(arg)) return markEverything(builder, true);
      walk(arg["left"], builder);
      if (arg["in"] !== undefined) walk(arg["in"], builder);
      return;
    case "if-then-else":
      if (!isObject(arg)) return markEverything(builder, true);
      walk(arg["if"], builder);
      walk(arg["then"], builder);
      walk(arg["else"], builder);
      return;
    case "Record":
      if (!isObject(arg)) return markEverything(builder, true);
      for (const value of Object.values(arg)) walk(value, builder);
      return;
    default:
      // `Set` and every extension function or method call: a list of argument expressions.
      if (Array.isArray(arg)) {
        for (const item of arg) walk(item, builder);
        return;
      }
      return markEverything(builder, true);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// The request: PolicyInput → Cedar entities and context.

type CedarRecord = Record<string, CedarValueJson>;
type Field = (input: PolicyInput, projection: Projection) => CedarValueJson | undefined;

const NULL_VALUE: CedarValueJson = Object.freeze({ __entity: { type: CEDAR_TYPES.null, id: "null" } });
const unrepresentable = (kind: string): CedarValueJson => ({ __entity: { type: CEDAR_TYPES.unrepresentable, id: kind } });
const RESERVED_KEYS = ["__entity", "__extn", "__expr"];
// Cedar decimals are 64-bit integers of ten-thousandths.
const DECIMAL_LIMIT = 922_337_203_685_477;

/** Maps a JSON value to Cedar's JSON value format (see the module comment). */
function toCedar(value: unknown): CedarValueJson {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return cedarNumber(value);
    case "object":
      if (value === null) return NULL_VALUE;
      if (Array.isArray(value)) return value.map(toCedar);
      return toCedarRecord(value as Record<string, unknown>, true);
    case "bigint":
    case "undefined":
    case "function":
    case "symbol":
      return unrepresentable(typeof value);
  }
}

function cedarNumber(value: number): CedarValueJson {
  if (Number.isSafeInteger(value)) return value === 0 ? 0 : value;
  if (Number.isFinite(value) && Math.abs(value) < DECIMAL_LIMIT) {
    const fixed = value.toFixed(4);
    if (Number(fixed) === value) return { __extn: { fn: "decimal", arg: fixed } };
  }
  return unrepresentable("number");
}

/** A record of the projected keys of `value` (all of them for `true`), or a stand-in when Cedar cannot hold it. */
function toCedarRecord(value: Readonly<Record<string, unknown>>, projection: Projection): CedarValueJson {
  for (const reserved of RESERVED_KEYS) if (Object.hasOwn(value, reserved)) return unrepresentable("object");
  // No prototype: an argument named `__proto__` stays an ordinary key.
  const record = Object.create(null) as CedarRecord;
  if (projection === true) {
    for (const key of Object.keys(value)) {
      const item = value[key];
      if (item !== undefined) record[key] = toCedar(item);
    }
  } else {
    for (const [key, sub] of projection) {
      if (!Object.hasOwn(value, key)) continue;
      const item = value[key];
      if (item !== undefined) record[key] = projectJson(item, sub);
    }
  }
  return record;
}

function projectJson(value: unknown, projection: Projection): CedarValueJson {
  if (projection === true || typeof value !== "object" || value === null || Array.isArray(value)) return toCedar(value);
  return toCedarRecord(value as Record<string, unknown>, projection);
}

function buildRecord(fields: ReadonlyMap<string, Field>, input: PolicyInput, projection: Projection): CedarRecord {
  const record = Object.create(null) as CedarRecord;
  if (projection === true) {
    for (const [name, field] of fields) {
      const value = field(input, true);
      if (value !== undefined) record[name] = value;
    }
  } else {
    for (const [name, sub] of projection) {
      const value = fields.get(name)?.(input, sub);
      if (value !== undefined) record[name] = value;
    }
  }
  return record;
}

const nested = (fields: ReadonlyMap<string, Field>): Field => (input, projection) => buildRecord(fields, input, projection);
const datetime = (ms: number): CedarValueJson => ({ __extn: { fn: "datetime", arg: new Date(ms).toISOString() } });
const UNKNOWN_CLASSIFICATION_RANK = 4;

const PRINCIPAL_FIELDS: ReadonlyMap<string, Field> = new Map<string, Field>([
  ["id", (input) => input.principal.id],
  ["type", (input) => input.principal.type],
  ["roles", (input) => [...input.principal.roles]],
  ["effectiveRoles", (input) => [...(input.principal.effectiveRoles ?? input.principal.roles)]],
  ["permissions", (input) => [...input.principal.permissions]],
  ["clearance", (input) => input.principal.clearance],
  ["clearanceRank", (input) => classificationRank(input.principal.clearance)],
  ["attributes", (input, projection) => toCedarRecord(input.principal.attributes, projection)],
  ["claims", (input, projection) => toCedarRecord(input.principal.claims ?? {}, projection)],
  ["mfa", (input) => hasMultiFactorEvidence(input.principal.claims?.["amr"] ?? "")],
]);

const RESOURCE_FIELDS: ReadonlyMap<string, Field> = new Map<string, Field>([
  ["name", (input) => input.contract.name],
  ["version", (input) => input.contract.version],
  ["classification", (input) => input.contract.classification],
  [
    "classificationRank",
    (input) => {
      const rank = classificationRank(input.contract.classification);
      return rank < 0 ? UNKNOWN_CLASSIFICATION_RANK : rank;
    },
  ],
  ["complianceTags", (input) => [...input.contract.complianceTags]],
  ["risk", (input) => input.contract.risk],
  ["requiredRoles", (input) => [...input.contract.requiredRoles]],
]);

const CONTEXT_FIELDS: ReadonlyMap<string, Field> = new Map<string, Field>([
  ["args", (input, projection) => toCedarRecord(input.args, projection)],
  ["tenant", nested(new Map<string, Field>([["id", (input) => input.tenant.id]]))],
  [
    "session",
    nested(
      new Map<string, Field>([
        ["id", (input) => input.session.id],
        ["createdAt", (input) => datetime(input.session.createdAt)],
        ["createdAtMs", (input) => input.session.createdAt],
      ]),
    ),
  ],
  [
    "request",
    nested(
      new Map<string, Field>([
        ["time", (input) => datetime(input.request.timeMs)],
        ["timeMs", (input) => input.request.timeMs],
        ["hourUtc", (input) => new Date(input.request.timeMs).getUTCHours()],
        ["dayOfWeekUtc", (input) => new Date(input.request.timeMs).getUTCDay()],
        ["sourceIp", (input) => input.request.sourceIp],
        ["ip", (input) => cedarIp(input.request.sourceIp)],
        ["userAgent", (input) => input.request.userAgent],
        ["correlationId", (input) => input.request.correlationId],
      ]),
    ),
  ],
]);

/** The `ipaddr` form of an address, or undefined when Cedar would not accept it. */
function cedarIp(address: string): CedarValueJson | undefined {
  let candidate = address;
  const zone = candidate.indexOf("%");
  if (zone >= 0) candidate = candidate.slice(0, zone);
  // Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d, which Cedar refuses.
  if (candidate.toLowerCase().startsWith("::ffff:") && isIP(candidate.slice(7)) === 4) candidate = candidate.slice(7);
  const family = isIP(candidate);
  if (family === 0 || (family === 6 && candidate.includes("."))) return undefined;
  return { __extn: { fn: "ip", arg: candidate } };
}

function entity(type: string, id: string, fields: ReadonlyMap<string, Field>, input: PolicyInput, projection: Projection): EntityJson {
  return { uid: { type, id }, attrs: buildRecord(fields, input, projection), parents: [] };
}

function authorizationCall(input: PolicyInput, prepared: PreparedSet): StatefulAuthorizationCall {
  const { projection } = prepared;
  const entities: EntityJson[] = [];
  if (projection.principal !== null) entities.push(entity(CEDAR_TYPES.principal, input.principal.id, PRINCIPAL_FIELDS, input, projection.principal));
  if (projection.resource !== null) entities.push(entity(CEDAR_TYPES.resource, input.contract.name, RESOURCE_FIELDS, input, projection.resource));
  return {
    principal: { type: CEDAR_TYPES.principal, id: input.principal.id },
    action: { type: CEDAR_TYPES.action, id: input.action },
    resource: { type: CEDAR_TYPES.resource, id: input.contract.name },
    context: projection.context === null ? {} : buildRecord(CONTEXT_FIELDS, input, projection.context),
    entities,
    preparsedPolicySetId: prepared.id,
  };
}
