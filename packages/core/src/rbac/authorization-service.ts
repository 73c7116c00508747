/**
 * The Authorization Manager: role administration (define, grant, withdraw; to principals and to
 * directory groups) and authorization questions (effective permissions, one permission, a whole
 * call, policies only), each confined to the caller's tenant.
 *
 * Rules enforced (docs/adr/0007-authorization-model.md and ./role-admin.ts):
 * - every read and write is bound to the caller's tenant: a principal id of another tenant is
 *   NOT_FOUND, exactly like one that does not exist;
 * - defining a role needs `roles:manage`; granting or withdrawing one (to a principal or a group)
 *   needs `roles:assign`; listing roles needs `roles:read`; asking about anyone but oneself needs
 *   `principals:read`; tracing policies needs `policies:read`;
 * - no escalation: a role can be defined, granted or withdrawn only by a caller holding every
 *   permission it amounts to; a caller cannot withdraw their own `tenant-admin`;
 * - a role bound to a group is held by every principal whose groups name it, on the next call on
 *   every Host: a change of roles or bindings raises the tenant's change epoch, which every Host
 *   checks when it authenticates a call (TenantDirectory.currentSnapshot); a principal's own roles
 *   are re-read from storage on every call;
 * - AuthorizeAction decides as the governed call does (same functions, same snapshot, same
 *   reasons); every change and every question is audited.
 */
import { EnterpriseError } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import { buildSecurityContext } from "../identity/authenticate.ts";
import { updatePrincipal } from "../identity/principal-updates.ts";
import type { RequestOrigin, SecurityContext } from "../identity/security-context.ts";
import { PolicySet } from "../policy/index.ts";
import type { Decision } from "../policy/index.ts";
import type { Clock, Store } from "../ports.ts";
import type { Classification, PolicyRecord, PrincipalRecord, RoleRecord } from "../records.ts";
import { findServableContract } from "../tenancy/tenant-snapshot.ts";
import type { ServableContract, TenantDirectory, TenantSnapshot } from "../tenancy/tenant-snapshot.ts";
import { authorizeCall, callPolicyInput, INVOKE_ACTION, tracePolicies } from "./call-authorization.ts";
import type { CallAuthorization, CallAuthorizationInput, CallRefusalCode, PolicyTrace } from "./call-authorization.ts";
import { isWellFormedPermission, permissionMatches } from "./permissions.ts";
import { assertMayGrantRole, assertWithinCallerGrants, defineRole, expandedRoles, explainPermission, GROUP_SUBJECT_PREFIX, parseSubject, RESERVED_ROLE_NAMES } from "./role-admin.ts";
import type { RoleDefinitionInput, Subject } from "./role-admin.ts";
import type { RoleGraph } from "./role-graph.ts";

/** A role with what it amounts to in its tenant. */
export interface RoleView {
  readonly record: RoleRecord;
  /** Every role it includes through inheritance, itself excluded, sorted. */
  readonly inheritedRoles: readonly string[];
  /** Its own and inherited permissions, sorted. */
  readonly effectivePermissions: readonly string[];
  /** Directory groups whose members hold it, sorted. */
  readonly groups: readonly string[];
}

/** A subject's rights after inheritance. */
export interface EffectiveRights {
  /** The principal id, or `group:<name>`. */
  readonly subject: string;
  /** Bound roles (direct, from the identity provider, from groups) and every role they inherit, sorted. */
  readonly roles: readonly string[];
  /** Sorted `resource:action` strings, direct grants included. */
  readonly permissions: readonly string[];
  /** The principal's clearance; null for a group. */
  readonly clearance: Classification | null;
  /** The principal's directory groups; empty for a group. */
  readonly groups: readonly string[];
}

/** The answer to "does this subject hold this permission?". */
export interface PermissionCheck {
  readonly subject: string;
  readonly permission: string;
  readonly granted: boolean;
  readonly grantedBy: readonly string[];
  readonly reason: string;
}

/** A question about one call ahead of it: who, which contract, with what. */
export interface ActionQuery {
  /** Empty for the caller; otherwise a principal id of the caller's tenant. */
  readonly principalId: string;
  /** `contract:<name>` or `contract:<name>@<version>`. */
  readonly resource: string;
  /** Empty or `tools:invoke`, the action the Host authorizes calls for. */
  readonly action: string;
  /**
   * Optional: `args` (the call's arguments as JSON text, validated against the contract as the
   * call would be; absent means `{}` without validation), `session_id` (a live session of that
   * principal; absent means none: `session.id` is empty and `session.created_at` is now),
   * `source_ip` and `user_agent` (default: the caller's).
   */
  readonly context: Readonly<Record<string, string>>;
}

/** The answer to AuthorizeAction. */
export interface ActionDecision extends Omit<CallAuthorization, "refusal"> {
  /** The code the governed call would fail with (AUTHENTICATION_FAILED: the principal cannot sign in); null when authorized. */
  readonly refusal: CallRefusalCode | "AUTHENTICATION_FAILED" | null;
  readonly principalId: string;
  /** `name@version` of the contract version the call would use. */
  readonly contractId: string;
  /** The contract's risk assessment. */
  readonly risk: string;
}

/** The answer to EvaluatePolicy: policies only, one trace per applicable policy. */
export interface PolicyEvaluation {
  readonly effect: Decision["effect"];
  readonly reason: string;
  readonly auditFlags: readonly string[];
  readonly traces: readonly PolicyTrace[];
}

const CONTEXT_KEYS = new Set(["args", "session_id", "source_ip", "user_agent"]);
const MAX_ARGS_LENGTH = 1024 * 1024;

/** See the module comment. */
export class AuthorizationService {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #audit: AuditRecorder;
  readonly #tenants: TenantDirectory;

  constructor(deps: { store: Store; clock: Clock; audit: AuditRecorder; tenants: TenantDirectory }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
    this.#tenants = deps.tenants;
  }

  // ------------------------------------------------------------ roles

  /**
   * Defines a role of the caller's tenant, effective at once on every Host.
   * @throws EnterpriseError AUTHORIZATION_DENIED (including permissions beyond the caller's), INVALID_ARGUMENT, ALREADY_EXISTS
   */
  async createRole(ctx: SecurityContext, origin: RequestOrigin, input: RoleDefinitionInput & { readonly justification: string }): Promise<RoleView> {
    requireGrant(ctx, "roles:manage");
    const record = await this.#store.transaction(async (tx) => {
      const stores = tx.forTenant(ctx.tenantId);
      const [existing, bindings] = await Promise.all([stores.roles.list(), stores.groupRoleBindings.list()]);
      const defined = defineRole(existing, bindings, input, { tenantId: ctx.tenantId, now: this.#clock.now() });
      assertWithinCallerGrants(ctx, defined.graph.effectivePermissions([defined.record.name]), defined.record.name);
      await stores.roles.upsert(defined.record);
      return defined.record;
    });
    const snapshot = await this.#changed(ctx.tenantId);
    await this.#audit.record({
      eventType: "role.created",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `role:${record.name}`,
      action: "create",
      outcome: "SUCCESS",
      origin,
      metadata: { permissions: record.permissions.join(","), inherits: record.inherits.join(","), justification: input.justification.slice(0, 256) },
    });
    return roleView(snapshot.roles, record.name) ?? { record, inheritedRoles: [], effectivePermissions: [], groups: [] };
  }

  /** Every role of the caller's tenant, by name. @throws EnterpriseError AUTHORIZATION_DENIED */
  async listRoles(ctx: SecurityContext): Promise<RoleView[]> {
    requireGrant(ctx, "roles:read");
    const graph = (await this.#tenants.activeSnapshot(ctx.tenantId)).roles;
    return graph.names().map((name) => roleView(graph, name)).filter((view) => view !== null);
  }

  /** One role of the caller's tenant. @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND */
  async getRole(ctx: SecurityContext, name: string): Promise<RoleView> {
    requireGrant(ctx, "roles:read");
    const view = roleView((await this.#tenants.activeSnapshot(ctx.tenantId)).roles, name);
    if (view === null) throw new EnterpriseError("NOT_FOUND", { details: { role: name.slice(0, 64) } });
    return view;
  }

  /**
   * Grants a role to a principal (its direct roles) or binds it to a directory group
   * (`group:<name>`); effective on the subject's next call on every Host.
   * @returns the subject's direct roles (a group's bound roles) afterwards, and whether anything changed.
   * @throws EnterpriseError AUTHORIZATION_DENIED, INVALID_ARGUMENT, NOT_FOUND, CONFLICT
   */
  async assignRole(ctx: SecurityContext, origin: RequestOrigin, input: { subject: string; role: string; justification: string }): Promise<{ roles: string[]; changed: boolean }> {
    requireGrant(ctx, "roles:assign");
    const subject = subjectOf(input.subject, ctx);
    const snapshot = await this.#tenants.activeSnapshot(ctx.tenantId);
    assertMayGrantRole(ctx, snapshot.roles, input.role);
    const justification = input.justification.slice(0, 256);
    if (subject.kind === "group") {
      const changed = await this.#store.forTenant(ctx.tenantId).groupRoleBindings.bind({
        tenantId: ctx.tenantId,
        group: subject.group,
        role: input.role,
        createdAt: this.#clock.now(),
        createdBy: ctx.principalId,
      });
      const after = changed ? await this.#changed(ctx.tenantId) : snapshot;
      if (changed) {
        await this.#audit.record({
          eventType: "role.bound_to_group",
          tenantId: ctx.tenantId,
          principalId: ctx.principalId,
          resource: `role:${input.role}`,
          action: "bind_group",
          outcome: "SUCCESS",
          origin,
          metadata: { group: subject.group.slice(0, 256), justification },
        });
      }
      return { roles: [...after.roles.rolesOfGroups([subject.group])], changed };
    }
    const outcome = { roles: [] as string[], changed: false };
    const found = await updatePrincipal(this.#store.forTenant(ctx.tenantId).principals, subject.principalId, (current) => {
      outcome.changed = !current.roles.includes(input.role);
      outcome.roles = outcome.changed ? [...current.roles, input.role].sort() : [...current.roles];
      return outcome.changed ? { ...current, roles: outcome.roles, revision: current.revision + 1 } : null;
    });
    if (!found) throw notFound(subject.principalId);
    if (outcome.changed) {
      this.#tenants.forgetPrincipal(ctx.tenantId, subject.principalId);
      // Other Hosts cache principals briefly; the epoch makes them drop the cache on their next call.
      await this.#changed(ctx.tenantId);
      await this.#audit.record({
        eventType: "principal.roles_updated",
        tenantId: ctx.tenantId,
        principalId: ctx.principalId,
        resource: `principal:${subject.principalId}`,
        action: "assign_role",
        outcome: "SUCCESS",
        origin,
        metadata: { added: input.role, removed: "", justification },
      });
    }
    return outcome;
  }

  /**
   * Withdraws a role from a principal's direct roles, or unbinds it from a directory group
   * (`group:<name>`). Withdrawing what is not held changes nothing. A role the principal holds only
   * through its identity provider or a group is refused, naming where it comes from.
   * @throws EnterpriseError AUTHORIZATION_DENIED, INVALID_ARGUMENT, NOT_FOUND, CONFLICT
   */
  async revokeRole(ctx: SecurityContext, origin: RequestOrigin, input: { subject: string; role: string; reason: string }): Promise<{ roles: string[]; changed: boolean }> {
    requireGrant(ctx, "roles:assign");
    const subject = subjectOf(input.subject, ctx);
    const snapshot = await this.#tenants.activeSnapshot(ctx.tenantId);
    // Withdrawing is granting's mirror image: no demoting anyone beyond one's own rights. A name
    // the tenant does not define grants nothing and may be cleaned up, unless the Host reserves it.
    if (snapshot.roles.has(input.role)) assertMayGrantRole(ctx, snapshot.roles, input.role);
    else if (RESERVED_ROLE_NAMES.includes(input.role) && !ctx.roles.includes(input.role)) {
      throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { reason: "role_beyond_creator", role: input.role } });
    }
    const reason = input.reason.slice(0, 256);
    if (subject.kind === "group") {
      const changed = await this.#store.forTenant(ctx.tenantId).groupRoleBindings.unbind(subject.group, input.role);
      const after = changed ? await this.#changed(ctx.tenantId) : snapshot;
      if (changed) {
        await this.#audit.record({
          eventType: "role.unbound_from_group",
          tenantId: ctx.tenantId,
          principalId: ctx.principalId,
          resource: `role:${input.role}`,
          action: "unbind_group",
          outcome: "SUCCESS",
          origin,
          metadata: { group: subject.group.slice(0, 256), reason },
        });
      }
      return { roles: [...after.roles.rolesOfGroups([subject.group])], changed };
    }
    if (subject.self && input.role === "tenant-admin") throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { reason: "cannot_remove_own_admin_role" } });
    const outcome = { roles: [] as string[], changed: false };
    const found = await updatePrincipal(this.#store.forTenant(ctx.tenantId).principals, subject.principalId, (current) => {
      outcome.changed = current.roles.includes(input.role);
      outcome.roles = current.roles.filter((role) => role !== input.role);
      if (!outcome.changed) assertNotHeldElsewhere(current, snapshot.roles, input.role);
      return outcome.changed ? { ...current, roles: outcome.roles, revision: current.revision + 1 } : null;
    });
    if (!found) throw notFound(subject.principalId);
    if (outcome.changed) {
      this.#tenants.forgetPrincipal(ctx.tenantId, subject.principalId);
      // Other Hosts cache principals briefly; the epoch makes them drop the cache on their next call.
      await this.#changed(ctx.tenantId);
      await this.#audit.record({
        eventType: "principal.roles_updated",
        tenantId: ctx.tenantId,
        principalId: ctx.principalId,
        resource: `principal:${subject.principalId}`,
        action: "revoke_role",
        outcome: "SUCCESS",
        origin,
        metadata: { added: "", removed: input.role, reason },
      });
    }
    return outcome;
  }

  // ------------------------------------------------------------ questions

  /**
   * A subject's roles and permissions after inheritance (group-bound and identity-provider roles included).
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND, INVALID_ARGUMENT
   */
  async effectiveRights(ctx: SecurityContext, subjectRef: string): Promise<EffectiveRights> {
    const subject = subjectOf(subjectRef, ctx);
    const snapshot = await this.#tenants.activeSnapshot(ctx.tenantId);
    if (subject.kind === "group") {
      requireGrant(ctx, "principals:read");
      const bound = snapshot.roles.rolesOfGroups([subject.group]);
      return { subject: subjectRef, roles: expandedRoles(snapshot.roles, bound), permissions: [...snapshot.roles.effectivePermissions(bound)].sort(), clearance: null, groups: [] };
    }
    const { security, record } = await this.#principalContext(ctx, snapshot, subject);
    return {
      subject: subject.principalId,
      roles: expandedRoles(snapshot.roles, security.roles),
      permissions: [...new Set(security.permissions)].sort(),
      clearance: security.clearance,
      groups: [...record.groups],
    };
  }

  /**
   * Whether a subject holds one permission, and which roles (or a direct grant) give it. Audited.
   * @throws EnterpriseError AUTHORIZATION_DENIED, NOT_FOUND, INVALID_ARGUMENT
   */
  async checkPermission(ctx: SecurityContext, origin: RequestOrigin, subjectRef: string, permission: string): Promise<PermissionCheck> {
    if (!isWellFormedPermission(permission)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "permission", expected: "resource:action, each a lower-case name or *" } });
    const subject = subjectOf(subjectRef, ctx);
    const snapshot = await this.#tenants.activeSnapshot(ctx.tenantId);
    let explanation;
    let subjectId: string;
    if (subject.kind === "group") {
      requireGrant(ctx, "principals:read");
      subjectId = `${GROUP_SUBJECT_PREFIX}${subject.group}`;
      explanation = explainPermission(snapshot.roles, snapshot.roles.rolesOfGroups([subject.group]), [], permission);
    } else {
      subjectId = subject.principalId;
      const { security, record } = await this.#principalContext(ctx, snapshot, subject);
      explanation = explainPermission(snapshot.roles, security.roles, record.permissions, permission);
    }
    await this.#audit.record({
      eventType: "authz.evaluated",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: subject.kind === "group" ? subjectId.slice(0, 256) : `principal:${subjectId}`,
      action: "check_permission",
      outcome: "SUCCESS",
      origin,
      metadata: { query: "check_permission", permission, decision: explanation.granted ? "ALLOW" : "DENY", decision_reason: explanation.reason.slice(0, 256) },
    });
    return { subject: subjectId, permission, ...explanation };
  }

  /**
   * Decides a tool call ahead of it, exactly as the governed call would: RBAC, clearance, then the
   * tenant's policies, over the same snapshot. Arguments given are validated as the call would
   * validate them. Audited.
   * @throws EnterpriseError AUTHORIZATION_DENIED (asking about someone else without `principals:read`),
   *   NOT_FOUND, CONTRACT_NOT_FOUND, SESSION_NOT_FOUND, PARAMETER_VALIDATION_FAILED, INVALID_ARGUMENT
   */
  async authorizeAction(ctx: SecurityContext, origin: RequestOrigin, query: ActionQuery): Promise<ActionDecision> {
    const call = await this.#callInput(ctx, origin, query);
    const decided: Omit<CallAuthorization, "refusal"> & { refusal: ActionDecision["refusal"] } = call.usable
      ? authorizeCall(call.input)
      : { authorized: false, refusal: "AUTHENTICATION_FAILED", reason: "the principal cannot authenticate (not active or expired)", appliedPolicies: [], auditFlags: [], decision: null };
    const decision: ActionDecision = { ...decided, principalId: call.input.security.principalId, contractId: call.contract.record.contractId, risk: call.contract.record.definition.riskAssessment };
    await this.#auditQuestion(ctx, origin, "authorize_action", call, decided.authorized ? "ALLOW" : "DENY", decided.reason, decided.appliedPolicies, decided.refusal);
    return decision;
  }

  /**
   * The policy stage alone (no RBAC) for a tool call ahead of it, with one trace per applicable
   * policy. Audited.
   * @throws EnterpriseError AUTHORIZATION_DENIED (without `policies:read`), NOT_FOUND, CONTRACT_NOT_FOUND,
   *   SESSION_NOT_FOUND, PARAMETER_VALIDATION_FAILED, INVALID_ARGUMENT
   */
  async evaluatePolicy(ctx: SecurityContext, origin: RequestOrigin, query: ActionQuery): Promise<PolicyEvaluation> {
    requireGrant(ctx, "policies:read");
    const call = await this.#callInput(ctx, origin, query);
    const input = callPolicyInput(call.input);
    const decision = call.snapshot.policies.decide(input);
    const records = decision.appliedPolicies.length === 0 ? [] : await this.#activePolicies(ctx.tenantId);
    const engine = call.snapshot.policies.engineImplementation;
    const traces = tracePolicies(decision, records, input, (subset) => PolicySet.build(subset, { engine }));
    await this.#auditQuestion(ctx, origin, "evaluate_policy", call, decision.effect, decision.reason, decision.appliedPolicies, null);
    return { effect: decision.effect, reason: decision.reason, auditFlags: decision.auditFlags, traces };
  }

  // ------------------------------------------------------------ internals

  /** After a committed change of roles or bindings: every Host rebuilds on its next call. */
  async #changed(tenantId: string): Promise<TenantSnapshot> {
    const snapshot = await this.#tenants.refresh(tenantId);
    if (snapshot === null) throw new EnterpriseError("NOT_FOUND");
    return snapshot;
  }

  /** The security context the gateway would build for a principal of the caller's tenant. */
  async #principalContext(ctx: SecurityContext, snapshot: TenantSnapshot, subject: Extract<Subject, { kind: "principal" }>): Promise<{ security: SecurityContext; record: PrincipalRecord }> {
    if (!subject.self) requireGrant(ctx, "principals:read");
    const record = await this.#store.forTenant(ctx.tenantId).principals.get(subject.principalId);
    if (record === null) throw notFound(subject.principalId);
    // The caller's own context carries its token's claims, which policies may read.
    const security = subject.self ? ctx : buildSecurityContext(snapshot, record, { tokenId: "", tokenExpiresAt: 0, claims: {} });
    return { security, record };
  }

  async #callInput(
    ctx: SecurityContext,
    origin: RequestOrigin,
    query: ActionQuery,
  ): Promise<{ input: CallAuthorizationInput; contract: ServableContract; snapshot: TenantSnapshot; usable: boolean }> {
    if (query.action !== "" && query.action !== INVOKE_ACTION) {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: "The Host authorizes tool calls (tools:invoke) only.", details: { field: "action", expected: INVOKE_ACTION } });
    }
    const target = parseContractResource(query.resource);
    for (const key of Object.keys(query.context)) {
      if (!CONTEXT_KEYS.has(key)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "context", unknown_key: key.slice(0, 64), expected: [...CONTEXT_KEYS].join(",") } });
    }
    const subject = parseSubject(query.principalId, ctx.principalId);
    if (subject.kind !== "principal") throw new EnterpriseError("INVALID_ARGUMENT", { message: "A call is made by a principal, not a group.", details: { field: "principal_id" } });
    const snapshot = await this.#tenants.activeSnapshot(ctx.tenantId);
    const { security, record } = await this.#principalContext(ctx, snapshot, subject);
    const now = this.#clock.now();
    // A principal that cannot authenticate never reaches the call's authorization.
    const usable = record.status === "ACTIVE" && (record.expiresAt === null || record.expiresAt > now);
    const session = await this.#session(ctx.tenantId, record.principalId, query.context["session_id"], now);
    const contract = findServableContract(snapshot, target.name, target.version);
    if (contract === null) throw new EnterpriseError("CONTRACT_NOT_FOUND", { details: { contract: target.name.slice(0, 128), version: target.version.slice(0, 64) } });
    const args = argumentsOf(query.context["args"], contract);
    return {
      snapshot,
      contract,
      usable,
      input: {
        security,
        roles: snapshot.roles,
        policies: snapshot.policies,
        contract: contract.record.definition,
        session,
        args,
        request: {
          timeMs: now,
          sourceIp: query.context["source_ip"] ?? origin.sourceIp,
          userAgent: query.context["user_agent"] ?? origin.userAgent,
          correlationId: origin.correlationId,
        },
      },
    };
  }

  /** The session a call would run in: a live one of the principal, or none. */
  async #session(tenantId: string, principalId: string, sessionId: string | undefined, now: number): Promise<{ id: string; createdAt: number }> {
    if (sessionId === undefined || sessionId === "") return { id: "", createdAt: now };
    const session = await this.#store.forTenant(tenantId).sessions.get(sessionId);
    if (session === null || session.principalId !== principalId || session.destroyedAt !== null || session.expiresAt <= now) {
      throw new EnterpriseError("SESSION_NOT_FOUND", { tenantId });
    }
    return { id: session.sessionId, createdAt: session.createdAt };
  }

  async #activePolicies(tenantId: string): Promise<PolicyRecord[]> {
    const policies = this.#store.forTenant(tenantId).policies;
    const all: PolicyRecord[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await policies.list({ status: "ACTIVE", limit: 500, ...(cursor === undefined ? {} : { cursor }) });
      all.push(...page);
      const last = page.at(-1);
      if (page.length < 500 || last === undefined) return all;
      cursor = `${last.policyId}@${last.version}`;
    }
  }

  async #auditQuestion(
    ctx: SecurityContext,
    origin: RequestOrigin,
    query: string,
    call: { input: CallAuthorizationInput; contract: ServableContract },
    decision: string,
    reason: string,
    appliedPolicies: readonly string[],
    refusal: ActionDecision["refusal"],
  ): Promise<void> {
    await this.#audit.record({
      eventType: "authz.evaluated",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `contract:${call.contract.record.contractId}`,
      action: query,
      outcome: "SUCCESS",
      origin,
      metadata: {
        query,
        subject: call.input.security.principalId,
        decision,
        decision_reason: reason.slice(0, 256),
        applied_policies: appliedPolicies.join(","),
        ...(refusal === null ? {} : { error_code: refusal }),
      },
    });
  }
}

function requireGrant(ctx: SecurityContext, permission: string): void {
  if (!ctx.permissions.some((granted) => permissionMatches(granted, permission))) {
    throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { required_permission: permission }, tenantId: ctx.tenantId, principalId: ctx.principalId });
  }
}

function subjectOf(ref: string, ctx: SecurityContext): Subject {
  return parseSubject(ref, ctx.principalId);
}

function notFound(principalId: string): EnterpriseError {
  return new EnterpriseError("NOT_FOUND", { details: { principal_id: principalId.slice(0, 64) } });
}

function roleView(graph: RoleGraph, name: string): RoleView | null {
  const record = graph.get(name);
  if (record === undefined) return null;
  return {
    record,
    inheritedRoles: graph.effectiveRoles([name]).filter((role) => role !== name),
    effectivePermissions: graph.effectivePermissions([name]),
    groups: graph.groupsOf(name),
  };
}

/** Refuses to "withdraw" a role the principal holds from elsewhere, naming where. */
function assertNotHeldElsewhere(principal: PrincipalRecord, graph: RoleGraph, role: string): void {
  if (principal.syncedRoles.includes(role)) {
    throw new EnterpriseError("INVALID_ARGUMENT", { message: "The identity provider grants this role; change it there.", details: { reason: "role_from_identity_provider", role } });
  }
  const groups = principal.groups.filter((group) => graph.rolesOfGroups([group]).includes(role));
  if (groups.length > 0) {
    throw new EnterpriseError("INVALID_ARGUMENT", { message: "A group binding grants this role; unbind the group.", details: { reason: "role_from_group", role, group: (groups[0] ?? "").slice(0, 256) } });
  }
}

/** `contract:<name>` or `contract:<name>@<version>`. */
function parseContractResource(resource: string): { name: string; version: string } {
  const match = /^contract:([^@\s]{1,128})(?:@([^@\s]{1,64}))?$/.exec(resource);
  if (match === null) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "resource", expected: "contract:<name> or contract:<name>@<version>" } });
  return { name: match[1] ?? "", version: match[2] ?? "" };
}

/** The call's arguments from their JSON text, validated as the `validate-arguments` step does. */
function argumentsOf(text: string | undefined, contract: ServableContract): Readonly<Record<string, unknown>> {
  if (text === undefined) return {};
  if (text.length > MAX_ARGS_LENGTH) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "context.args", max: String(MAX_ARGS_LENGTH) } });
  let args: unknown;
  try {
    args = JSON.parse(text);
  } catch {
    throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "context.args", expected: "a JSON object" } });
  }
  if (typeof args !== "object" || args === null || Array.isArray(args)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "context.args", expected: "a JSON object" } });
  const issues = contract.compiled.validateArguments(args);
  if (issues.length > 0) {
    throw new EnterpriseError("PARAMETER_VALIDATION_FAILED", {
      details: {
        contract: contract.record.contractId,
        ...Object.fromEntries(issues.slice(0, 20).map((issue, i) => [`validation_error_${i}`, `${issue.path || "/"}: ${issue.message}`])),
      },
    });
  }
  return args as Record<string, unknown>;
}
