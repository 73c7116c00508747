/**
 * Policy simulation: EvaluatePolicy (one policy's ACTIVE version against one
 * request) and TestPolicy (candidate policies on synthetic cases and on
 * recorded decisions). Nothing here changes what is stored or what acts.
 *
 * Rules enforced:
 * - Confined to the caller's tenant: principals, contracts, sessions,
 *   policies and the replayed audit history are read through the caller's
 *   tenant stores only; a principal of another tenant is NOT_FOUND.
 * - Policies only: RBAC and clearance are not simulated (a replayed call had
 *   passed them; a synthetic case states the caller outright).
 * - The tenant's engine decides, with the same PolicySet semantics as the
 *   governed call (DENY wins, failures fail closed, ALLOW gating).
 * - Candidates are validated like a stored version (ERRORs refuse with
 *   INVALID_ARGUMENT naming `candidate_policies[i].<field>`); a candidate
 *   replaces the ACTIVE policy with the same id, or is added.
 * - Replay decides every recorded `policy.decided` call of the window, in log
 *   order, up to the limit, once with the ACTIVE set and once with the
 *   candidate set (both as they are now) and reports every call whose
 *   decision differs, with the policies whose outcome differs. Calls whose
 *   inputs were not recorded (too large) are counted as skipped.
 * - Reading other principals' decisions needs `audit:read` besides
 *   `policies:read`; every simulation is audited.
 */
import { EnterpriseError } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import { buildSecurityContext } from "../identity/authenticate.ts";
import { requirePermission } from "../identity/require-permission.ts";
import type { RequestOrigin, SecurityContext } from "../identity/security-context.ts";
import { celPolicyEngine } from "../policy/cel-engine.ts";
import { PolicySet } from "../policy/evaluate.ts";
import type { Decision } from "../policy/evaluate.ts";
import type { CompiledPolicy, PolicyEngine, PolicyOutcome } from "../policy/engine.ts";
import type { PolicyInput } from "../policy/variables.ts";
import type { Clock, Store, TenantStores } from "../ports.ts";
import { isClassification } from "../rbac/classification.ts";
import { isWellFormedPermission } from "../rbac/permissions.ts";
import type { AuditRecord, PolicyRecord, PrincipalType } from "../records.ts";
import { findServableContract } from "../tenancy/tenant-snapshot.ts";
import type { ServableContract, TenantDirectory, TenantSnapshot } from "../tenancy/tenant-snapshot.ts";
import { decisionInputOf } from "./decision-record.ts";
import { isDeletionVersion } from "./policy-registry.ts";
import type { PolicyEngineResolver } from "./policy-registry.ts";
import { effectOf, hasErrors, validatePolicyDraft } from "./policy-validation.ts";
import type { PolicyDraftInput, PolicyValidationIssue } from "./policy-validation.ts";

/** How one policy fared for one request (mirrors `aesp.v1.PolicyDecision`). */
export interface PolicyVerdict {
  readonly policyId: string;
  readonly version: number;
  /** Whether its condition evaluated to true. */
  readonly matched: boolean;
  /** The rule's effect when matched; empty otherwise. */
  readonly effect: string;
  /** Why it could not be evaluated (it then denies); empty otherwise. */
  readonly error: string;
}

/** A request as EvaluatePolicy states it. */
export interface RequestQuery {
  /** Empty for the caller; else a principal of the caller's tenant. */
  readonly principalId: string;
  /** `contract:<name>[@<version>]` or `<name>[@<version>]`. */
  readonly resource: string;
  /** Empty for `tools:invoke`. */
  readonly action: string;
  /** `args` (JSON object), `session_id`, `source_ip`, `user_agent`, `time` (RFC 3339 or epoch ms). */
  readonly context: Readonly<Record<string, string>>;
}

/** The result of EvaluatePolicy. */
export interface PolicyEvaluationResult {
  readonly verdict: PolicyVerdict;
  /** False when the policy's targets or actions do not cover the request (then it did not match). */
  readonly applicable: boolean;
  /** Time spent deciding, in microseconds (0 when the Host has no fine clock). */
  readonly evaluationTimeUs: number;
}

/** One synthetic request of TestPolicy. */
export interface PolicyTestCase {
  readonly name: string;
  /** The caller as policies would see it; need not exist. */
  readonly caller: {
    readonly principalId: string;
    readonly roles: readonly string[];
    readonly permissions: readonly string[];
    /** Empty: public. */
    readonly clearance: string;
    readonly claims: Readonly<Record<string, string>>;
    readonly attributes: Readonly<Record<string, string>>;
  };
  readonly resource: string;
  readonly action: string;
  /** `args`, `source_ip`, `user_agent`, `time`, `principal_type`, `session_id`, `session_created_at`. */
  readonly context: Readonly<Record<string, string>>;
  /** ALLOW, DENY or empty (no expectation). */
  readonly expectedDecision: string;
}

/** A candidate policy: a definition and the id it stands for (empty: a new one). */
export interface CandidatePolicy {
  readonly policyId: string;
  readonly draft: PolicyDraftInput;
}

/** Outcome of one synthetic case. */
export interface PolicyTestCaseResult {
  readonly name: string;
  readonly decision: Decision["effect"];
  readonly reason: string;
  readonly verdicts: readonly PolicyVerdict[];
  readonly passed: boolean;
}

/** One recorded decision the candidates would change. */
export interface PolicyReplayChange {
  readonly eventId: string;
  readonly correlationId: string;
  readonly principalId: string;
  readonly resource: string;
  readonly action: string;
  /** As the ACTIVE policies decide it now. */
  readonly previousDecision: Decision["effect"];
  readonly previousReason: string;
  readonly newDecision: Decision["effect"];
  readonly newReason: string;
  /** As recorded when the call was made. */
  readonly recordedDecision: string;
  /** Policies whose outcome differs between the two sets, sorted. */
  readonly policyIds: readonly string[];
  readonly timestampMs: number;
}

/** What replaying a window found. */
export interface PolicyReplaySummary {
  readonly decisionsReplayed: number;
  readonly decisionsChanged: number;
  readonly newlyDenied: number;
  readonly newlyAllowed: number;
  /** Recorded decisions that could not be decided again (inputs not recorded). */
  readonly skipped: number;
  /** The first {@link MAX_REPLAY_SAMPLES} changes, in log order. */
  readonly samples: readonly PolicyReplayChange[];
}

/** The result of TestPolicy. */
export interface PolicyTestResult {
  readonly cases: readonly PolicyTestCaseResult[];
  readonly replay: PolicyReplaySummary | null;
}

/** Most changed decisions reported individually. */
export const MAX_REPLAY_SAMPLES = 100;
/** Decisions replayed when the request names no limit. */
export const DEFAULT_REPLAY_LIMIT = 1000;
/** Most decisions one TestPolicy replays. */
export const MAX_REPLAY_LIMIT = 10_000;
/** Most candidates and cases per TestPolicy. */
export const MAX_CANDIDATES = 100;
export const MAX_CASES = 1000;

const INVOKE = "tools:invoke";
const EVALUATE_CONTEXT_KEYS = new Set(["args", "session_id", "source_ip", "user_agent", "time"]);
const CASE_CONTEXT_KEYS = new Set(["args", "session_id", "session_created_at", "source_ip", "user_agent", "time", "principal_type"]);
const PRINCIPAL_TYPES: readonly PrincipalType[] = ["USER", "SERVICE_ACCOUNT", "SYSTEM_ACCOUNT"];
const MAX_ARGS_LENGTH = 1024 * 1024;
const AUDIT_PAGE = 1000;

/**
 * See the module comment.
 *
 * @example
 * const simulator = new PolicySimulator({ store, clock, audit, tenants });
 * const { replay } = await simulator.test(ctx, origin, { candidates, cases: [], history: { startMs, endMs: 0, limit: 0 } });
 */
export class PolicySimulator {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #audit: AuditRecorder;
  readonly #tenants: TenantDirectory;
  readonly #engines: PolicyEngineResolver;
  readonly #micros: (() => number) | null;

  /**
   * @param deps - `engines`: the tenant's engine (CEL by default, as for the registry);
   *   `micros`: a monotonic clock in microseconds for EvaluatePolicy's timing (none: timing is 0).
   */
  constructor(deps: { store: Store; clock: Clock; audit: AuditRecorder; tenants: TenantDirectory; engines?: PolicyEngineResolver; micros?: () => number }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
    this.#tenants = deps.tenants;
    this.#engines = deps.engines ?? ((): Promise<PolicyEngine> => Promise.resolve(celPolicyEngine));
    this.#micros = deps.micros ?? null;
  }

  /**
   * Evaluates the ACTIVE version of one policy against one request. Audited.
   * @throws EnterpriseError AUTHORIZATION_DENIED (without `policies:read`; asking about another principal
   *   also needs `principals:read`), NOT_FOUND (policy without an ACTIVE version, unknown principal),
   *   CONTRACT_NOT_FOUND, SESSION_NOT_FOUND, PARAMETER_VALIDATION_FAILED, INVALID_ARGUMENT
   */
  async evaluate(ctx: SecurityContext, origin: RequestOrigin, policyId: string, query: RequestQuery): Promise<PolicyEvaluationResult> {
    requirePermission(ctx, "policies:read");
    const stores = this.#store.forTenant(ctx.tenantId);
    // Of several ACTIVE versions (possible only transiently), the highest acts, as in PolicySet.
    const record = (await activeRecords(stores)).filter((candidate) => candidate.policyId === policyId).sort((a, b) => b.version - a.version)[0];
    if (record === undefined || !record.enabled || isDeletionVersion(record)) {
      throw new EnterpriseError("NOT_FOUND", { message: "The policy has no ACTIVE version.", details: { policy_id: policyId.slice(0, 64) } });
    }
    const snapshot = await this.#tenants.activeSnapshot(ctx.tenantId);
    const { input, contract } = await this.#requestInput(ctx, origin, stores, snapshot, query);
    const engine = await this.#engines(ctx.tenantId);
    const set = PolicySet.build([record], { engine });
    const started = this.#micros?.() ?? 0;
    const decision = set.decide(input);
    const elapsed = this.#micros === null ? 0 : Math.max(0, Math.round(this.#micros() - started));
    const applicable = decision.appliedPolicies.includes(record.policyId);
    const verdict = applicable ? (verdictsOf(set, engine, input)[0] ?? notApplicable(record)) : notApplicable(record);
    await this.#audit.record({
      eventType: "policy.evaluated",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `policy:${record.policyId}@${record.version}`,
      action: "evaluate",
      outcome: "SUCCESS",
      origin,
      metadata: { subject: input.principal.id, contract: contract.record.contractId, matched: String(verdict.matched), ...(verdict.error === "" ? {} : { error: verdict.error.slice(0, 256) }) },
    });
    return { verdict, applicable, evaluationTimeUs: elapsed };
  }

  /**
   * Decides synthetic cases with the candidates (together with the ACTIVE policies) and, with a
   * history window, replays recorded decisions. Changes nothing; audited.
   * @throws EnterpriseError AUTHORIZATION_DENIED (`policies:read`; `audit:read` for a replay),
   *   INVALID_ARGUMENT (an invalid candidate or case), CONTRACT_NOT_FOUND, PARAMETER_VALIDATION_FAILED
   */
  async test(
    ctx: SecurityContext,
    origin: RequestOrigin,
    input: { candidates: readonly CandidatePolicy[]; cases: readonly PolicyTestCase[]; history: { startMs: number; endMs: number; limit: number } | null },
  ): Promise<PolicyTestResult> {
    requirePermission(ctx, "policies:read");
    if (input.history !== null) requirePermission(ctx, "audit:read");
    if (input.candidates.length > MAX_CANDIDATES) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "candidate_policies", max: String(MAX_CANDIDATES) } });
    if (input.cases.length > MAX_CASES) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "cases", max: String(MAX_CASES) } });
    const engine = await this.#engines(ctx.tenantId);
    const stores = this.#store.forTenant(ctx.tenantId);
    const candidates = candidateRecords(engine, ctx.tenantId, input.candidates, this.#clock.now(), ctx.principalId);
    const active = await activeRecords(stores);
    const replaced = new Set(candidates.map((candidate) => candidate.policyId));
    const activeSet = PolicySet.build(active, { engine });
    const candidateSet = PolicySet.build([...active.filter((record) => !replaced.has(record.policyId)), ...candidates], { engine });
    const snapshot = input.cases.length === 0 ? null : await this.#tenants.activeSnapshot(ctx.tenantId);
    const cases = input.cases.map((testCase, index) => {
      const caseInput = caseInputOf(ctx, origin, snapshot as TenantSnapshot, testCase, index, this.#clock.now());
      const decision = candidateSet.decide(caseInput);
      const expected = testCase.expectedDecision.toUpperCase();
      return {
        name: testCase.name,
        decision: decision.effect,
        reason: decision.reason,
        verdicts: verdictsOf(candidateSet, engine, caseInput),
        passed: expected === "" || expected === decision.effect,
      };
    });
    const replay = input.history === null ? null : await this.#replay(stores, activeSet, candidateSet, engine, input.history);
    const window = input.history === null ? "" : `${input.history.startMs}-${input.history.endMs === 0 ? this.#clock.now() : input.history.endMs}`;
    await this.#audit.record({
      eventType: "policy.tested",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `policy:${candidates.map((candidate) => candidate.policyId).join(",")}`.slice(0, 512),
      action: "test",
      outcome: "SUCCESS",
      origin,
      metadata: {
        cases: String(cases.length),
        failed_cases: String(cases.filter((result) => !result.passed).length),
        replayed: String(replay?.decisionsReplayed ?? 0),
        changed: String(replay?.decisionsChanged ?? 0),
        ...(window === "" ? {} : { window }),
      },
    });
    return { cases, replay };
  }

  async #replay(
    stores: TenantStores,
    activeSet: PolicySet,
    candidateSet: PolicySet,
    engine: PolicyEngine,
    window: { startMs: number; endMs: number; limit: number },
  ): Promise<PolicyReplaySummary> {
    const now = this.#clock.now();
    const endMs = window.endMs === 0 ? now : window.endMs;
    if (!Number.isSafeInteger(window.startMs) || window.startMs < 0 || !Number.isSafeInteger(endMs) || endMs < window.startMs) {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "history", expected: "0 <= start_time <= end_time (epoch ms; end 0 means now)" } });
    }
    const limit = Math.min(window.limit === 0 ? DEFAULT_REPLAY_LIMIT : window.limit, MAX_REPLAY_LIMIT);
    let replayed = 0;
    let skipped = 0;
    let changed = 0;
    let newlyDenied = 0;
    let newlyAllowed = 0;
    const samples: PolicyReplayChange[] = [];
    let afterSeq: number | undefined;
    while (replayed + skipped < limit) {
      const page: AuditRecord[] = await stores.audit.query({
        fromMs: window.startMs,
        // The store's upper bound is exclusive; the window's end is inclusive.
        toMs: endMs + 1,
        eventTypes: ["policy.decided"],
        limit: Math.min(AUDIT_PAGE, limit - replayed - skipped),
        ...(afterSeq === undefined ? {} : { afterSeq }),
      });
      for (const event of page) {
        const rebuilt = decisionInputOf(event);
        if (!("input" in rebuilt)) {
          skipped += 1;
          continue;
        }
        replayed += 1;
        const before = activeSet.decide(rebuilt.input);
        const after = candidateSet.decide(rebuilt.input);
        if (before.effect === after.effect) continue;
        changed += 1;
        if (after.effect === "DENY") newlyDenied += 1;
        else newlyAllowed += 1;
        if (samples.length >= MAX_REPLAY_SAMPLES) continue;
        samples.push({
          eventId: event.eventId,
          correlationId: event.correlationId,
          principalId: event.principalId,
          resource: event.resource,
          action: rebuilt.input.action,
          previousDecision: before.effect,
          previousReason: before.reason,
          newDecision: after.effect,
          newReason: after.reason,
          recordedDecision: event.metadata["decision"] ?? "",
          policyIds: differingPolicies(verdictsOf(activeSet, engine, rebuilt.input), verdictsOf(candidateSet, engine, rebuilt.input)),
          timestampMs: event.timestampMs,
        });
      }
      const last = page.at(-1);
      if (last === undefined || page.length < Math.min(AUDIT_PAGE, limit)) break;
      afterSeq = last.seq;
    }
    return { decisionsReplayed: replayed, decisionsChanged: changed, newlyDenied, newlyAllowed, skipped, samples };
  }

  /** The decision input of an EvaluatePolicy request, as the governed call would build it. */
  async #requestInput(ctx: SecurityContext, origin: RequestOrigin, stores: TenantStores, snapshot: TenantSnapshot, query: RequestQuery): Promise<{ input: PolicyInput; contract: ServableContract }> {
    for (const key of Object.keys(query.context)) {
      if (!EVALUATE_CONTEXT_KEYS.has(key)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "context", unknown_key: key.slice(0, 64), expected: [...EVALUATE_CONTEXT_KEYS].join(",") } });
    }
    const action = actionOf(query.action, "action");
    const contract = contractOf(snapshot, query.resource, "resource");
    let security: SecurityContext = ctx;
    if (query.principalId !== "" && query.principalId !== ctx.principalId) {
      requirePermission(ctx, "principals:read");
      const principal = await stores.principals.get(query.principalId);
      if (principal === null) throw new EnterpriseError("NOT_FOUND", { details: { principal_id: query.principalId.slice(0, 64) } });
      security = buildSecurityContext(snapshot, principal, { tokenId: "", tokenExpiresAt: 0, claims: {} });
    }
    const now = this.#clock.now();
    let session = { id: "", createdAt: now };
    const sessionId = query.context["session_id"];
    if (sessionId !== undefined && sessionId !== "") {
      const record = await stores.sessions.get(sessionId);
      if (record === null || record.principalId !== security.principalId || record.destroyedAt !== null || record.expiresAt <= now) throw new EnterpriseError("SESSION_NOT_FOUND", { tenantId: ctx.tenantId });
      session = { id: record.sessionId, createdAt: record.createdAt };
    }
    return {
      contract,
      input: {
        action,
        principal: {
          id: security.principalId,
          type: security.principalType,
          roles: security.roles,
          permissions: security.permissions,
          clearance: security.clearance,
          attributes: security.attributes,
          claims: security.claims,
        },
        tenant: { id: ctx.tenantId },
        session,
        contract: contractVariables(contract),
        args: argumentsOf(query.context["args"], contract, "context.args"),
        request: {
          timeMs: timeOf(query.context["time"], now, "context.time"),
          sourceIp: query.context["source_ip"] ?? origin.sourceIp,
          userAgent: query.context["user_agent"] ?? origin.userAgent,
          correlationId: origin.correlationId,
        },
      },
    };
  }
}

/**
 * How each applicable policy of a set fares for one input: the engine's outcome per policy, in
 * the set's order (a policy that could not be compiled reports its compile error).
 *
 * @param set - The policy set.
 * @param engine - The engine that built it.
 * @param input - The decision input.
 * @returns One verdict per applicable policy.
 */
export function verdictsOf(set: PolicySet, engine: PolicyEngine, input: PolicyInput): PolicyVerdict[] {
  const applicable = set.applicable(input);
  const broken = new Map(set.broken.map((policy) => [policy.policyId, policy.error]));
  const healthy = applicable.filter((policy) => !broken.has(policy.policyId));
  let outcomes: readonly PolicyOutcome[];
  try {
    outcomes = healthy.length === 0 ? [] : engine.evaluateAll(healthy, input);
  } catch (error) {
    const failed: PolicyOutcome = { kind: "error", message: `engine ${engine.id} failed: ${error instanceof Error ? error.message : "unknown error"}` };
    outcomes = healthy.map(() => failed);
  }
  const byPolicy = new Map<CompiledPolicy, PolicyOutcome>();
  healthy.forEach((policy, index) => byPolicy.set(policy, outcomes[index] ?? { kind: "error", message: "the policy engine returned no outcome for this policy" }));
  return applicable.map((policy): PolicyVerdict => {
    const compileError = broken.get(policy.policyId);
    const outcome: PolicyOutcome = compileError === undefined ? (byPolicy.get(policy) as PolicyOutcome) : { kind: "error", message: `policy could not be compiled: ${compileError}` };
    if (outcome.kind === "error") return { policyId: policy.policyId, version: policy.version, matched: false, effect: "", error: outcome.message };
    const matched = outcome.kind === "match";
    return { policyId: policy.policyId, version: policy.version, matched, effect: matched ? policy.effect : "", error: "" };
  });
}

/**
 * The policies whose outcome differs between two traces of one input: present in one only, or
 * with another version, match or error.
 *
 * @returns Sorted policy ids.
 */
export function differingPolicies(before: readonly PolicyVerdict[], after: readonly PolicyVerdict[]): string[] {
  const key = (verdict: PolicyVerdict | undefined): string => (verdict === undefined ? "absent" : `${verdict.version}|${verdict.matched}|${verdict.effect}|${verdict.error}`);
  const left = new Map(before.map((verdict) => [verdict.policyId, verdict]));
  const right = new Map(after.map((verdict) => [verdict.policyId, verdict]));
  const ids = new Set([...left.keys(), ...right.keys()]);
  return [...ids].filter((id) => key(left.get(id)) !== key(right.get(id))).sort();
}

function notApplicable(record: PolicyRecord): PolicyVerdict {
  return { policyId: record.policyId, version: record.version, matched: false, effect: "", error: "" };
}

/** Candidates as ACTIVE records, validated; ids given or `candidate-<n>`. */
function candidateRecords(engine: PolicyEngine, tenantId: string, candidates: readonly CandidatePolicy[], now: number, author: string): PolicyRecord[] {
  const seen = new Set<string>();
  return candidates.map((candidate, index) => {
    const policyId = candidate.policyId === "" ? `candidate-${index + 1}` : candidate.policyId;
    const prefix = `candidate_policies[${index}].`;
    const issues = validatePolicyDraft(engine, tenantId, candidate.draft, { policyId, fieldPrefix: prefix });
    refuseCandidate(issues);
    if (seen.has(policyId)) throw new EnterpriseError("INVALID_ARGUMENT", { message: "Two candidates name the same policy.", details: { field: `${prefix}policy_id`, policy_id: policyId } });
    seen.add(policyId);
    return {
      tenantId,
      policyId,
      name: candidate.draft.name,
      description: candidate.draft.description,
      // Version 0 never collides with a stored version in the engine's compile cache.
      version: 0,
      rule: { condition: candidate.draft.rule.condition, effect: effectOf(candidate.draft), actions: [...candidate.draft.rule.actions], parameters: { ...candidate.draft.rule.parameters } },
      appliesTo: [...candidate.draft.appliesTo],
      enabled: candidate.draft.enabled,
      status: "ACTIVE",
      createdBy: author,
      createdAt: now,
      updatedAt: now,
      revision: 0,
    };
  });
}

function refuseCandidate(issues: readonly PolicyValidationIssue[]): void {
  if (!hasErrors(issues)) return;
  const first = issues.find((issue) => issue.severity === "ERROR") as PolicyValidationIssue;
  throw new EnterpriseError("INVALID_ARGUMENT", {
    message: "A candidate policy is not valid; ValidatePolicy lists every problem.",
    details: { field: first.field, error: first.message.slice(0, 512), ...(first.line > 0 ? { line: String(first.line), column: String(first.column) } : {}) },
  });
}

/** The decision input of a synthetic case. */
function caseInputOf(ctx: SecurityContext, origin: RequestOrigin, snapshot: TenantSnapshot, testCase: PolicyTestCase, index: number, now: number): PolicyInput {
  const field = (name: string) => `cases[${index}].${name}`;
  for (const key of Object.keys(testCase.context)) {
    if (!CASE_CONTEXT_KEYS.has(key)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: field("context"), unknown_key: key.slice(0, 64), expected: [...CASE_CONTEXT_KEYS].join(",") } });
  }
  const expected = testCase.expectedDecision.toUpperCase();
  if (expected !== "" && expected !== "ALLOW" && expected !== "DENY" && expected !== "REQUIRE_APPROVAL") {
    throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: field("expected_decision"), expected: "ALLOW|DENY|REQUIRE_APPROVAL or empty" } });
  }
  const clearance = testCase.caller.clearance === "" ? "public" : testCase.caller.clearance;
  if (!isClassification(clearance)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: field("security_context.security_clearance"), expected: "public|internal|confidential|restricted" } });
  const type = testCase.context["principal_type"] ?? "USER";
  if (!(PRINCIPAL_TYPES as readonly string[]).includes(type)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: field("context.principal_type"), expected: PRINCIPAL_TYPES.join("|") } });
  const contract = contractOf(snapshot, testCase.resource, field("resource"));
  const timeMs = timeOf(testCase.context["time"], now, field("context.time"));
  return {
    action: actionOf(testCase.action, field("action")),
    principal: {
      id: testCase.caller.principalId === "" ? "test-principal" : testCase.caller.principalId,
      type: type as PrincipalType,
      roles: testCase.caller.roles,
      permissions: testCase.caller.permissions,
      clearance,
      attributes: testCase.caller.attributes,
      claims: testCase.caller.claims,
    },
    tenant: { id: ctx.tenantId },
    session: { id: testCase.context["session_id"] ?? "", createdAt: timeOf(testCase.context["session_created_at"], timeMs, field("context.session_created_at")) },
    contract: contractVariables(contract),
    args: argumentsOf(testCase.context["args"], contract, field("context.args")),
    request: { timeMs, sourceIp: testCase.context["source_ip"] ?? "", userAgent: testCase.context["user_agent"] ?? "", correlationId: origin.correlationId },
  };
}

/** Every ACTIVE policy version of the tenant (what its snapshot holds). */
async function activeRecords(stores: TenantStores): Promise<PolicyRecord[]> {
  const all: PolicyRecord[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await stores.policies.list({ status: "ACTIVE", limit: 500, ...(cursor === undefined ? {} : { cursor }) });
    all.push(...page);
    const last = page.at(-1);
    if (page.length < 500 || last === undefined) return all;
    cursor = `${last.policyId}@${last.version}`;
  }
}

function actionOf(action: string, field: string): string {
  if (action === "") return INVOKE;
  if (!isWellFormedPermission(action) || action === "*") throw new EnterpriseError("INVALID_ARGUMENT", { details: { field, expected: "resource:action, e.g. tools:invoke" } });
  return action;
}

function contractOf(snapshot: TenantSnapshot, resource: string, field: string): ServableContract {
  const match = /^(?:contract:)?([^@\s:]{1,128})(?:@([^@\s]{1,64}))?$/.exec(resource);
  if (match === null) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field, expected: "contract:<name> or contract:<name>@<version>" } });
  const name = match[1] ?? "";
  const version = match[2] ?? "";
  const contract = findServableContract(snapshot, name, version);
  if (contract === null) throw new EnterpriseError("CONTRACT_NOT_FOUND", { details: { contract: name.slice(0, 128), version: version.slice(0, 64) } });
  return contract;
}

function contractVariables(contract: ServableContract): PolicyInput["contract"] {
  const definition = contract.record.definition;
  return {
    name: definition.name,
    version: definition.contractVersion,
    classification: definition.securityClassification,
    complianceTags: definition.complianceTags,
    risk: definition.riskAssessment,
    requiredRoles: definition.requiredRoles,
  };
}

/** Arguments from their JSON text, validated against the contract as the governed call would. */
function argumentsOf(text: string | undefined, contract: ServableContract, field: string): Readonly<Record<string, unknown>> {
  if (text === undefined || text === "") return {};
  if (text.length > MAX_ARGS_LENGTH) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field, max: String(MAX_ARGS_LENGTH) } });
  let args: unknown;
  try {
    args = JSON.parse(text);
  } catch {
    throw new EnterpriseError("INVALID_ARGUMENT", { details: { field, expected: "a JSON object" } });
  }
  if (typeof args !== "object" || args === null || Array.isArray(args)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field, expected: "a JSON object" } });
  const issues = contract.compiled.validateArguments(args);
  if (issues.length > 0) {
    throw new EnterpriseError("PARAMETER_VALIDATION_FAILED", {
      details: { field, contract: contract.record.contractId, ...Object.fromEntries(issues.slice(0, 20).map((issue, i) => [`validation_error_${i}`, `${issue.path || "/"}: ${issue.message}`])) },
    });
  }
  return args as Record<string, unknown>;
}

/** A time given as epoch milliseconds or RFC 3339; `fallback` when absent. */
function timeOf(text: string | undefined, fallback: number, field: string): number {
  if (text === undefined || text === "") return fallback;
  const ms = /^\d{1,15}$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isSafeInteger(ms) || ms < 0) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field, expected: "epoch milliseconds or RFC 3339" } });
  return ms;
}
