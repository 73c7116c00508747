/**
 * Runs cases through a real Host, over the wire, as an administrator and an agent would: tenants
 * are created through TenantService, custom roles through EnterpriseAuthorizationService.CreateRole,
 * contracts and policies are submitted and approved through governance by a second principal,
 * principals are service accounts with API keys, and a runtime enrolled over mutual TLS serves
 * the tenant's contracts. A case is then invoked with ToolService.InvokeTool over one protocol,
 * and its outcome read back from the reply (an allowed call ran on the runtime; a refused one
 * carries exactly one EnterpriseError code and never reached the runtime) and from the audit log
 * (the `policy.audit_matched` event of the call's correlation id).
 */
import { randomBytes } from "node:crypto";
import { createClient, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { SignJWT } from "jose";
import { loadHostConfig } from "@aesp/host";
import { ResultStatus } from "@aesp/proto/adm";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { EnterpriseAuthorizationService } from "@aesp/proto/authorization";
import { SessionService, ToolService } from "@aesp/proto/client";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { EnterpriseIdentityService } from "@aesp/proto/identity";
import { EnterprisePolicyService } from "@aesp/proto/policy";
import { TenantService } from "@aesp/proto/tenant";
import { admSchemaToWire } from "../../../packages/host/src/gateway/mappers.ts";
import { loadOrCreateMasterKey } from "../../../packages/host/src/crypto/master-key.ts";
import { openKeyRecord } from "../../../packages/host/src/crypto/key-material.ts";
import { enterpriseErrorOf, openHostStore, type Actor, type TestHost } from "../../support/harness.ts";
import { connectRawRuntime, type RawRuntime } from "../../support/raw-runtime.ts";
import type { Observed } from "./outcome.ts";
import { principalKey, type StagePlan, type TenantPlan } from "./plan.ts";
import type { ContractSpec, DecisionCase, EngineId, PolicySpec, PrincipalSpec, RoleSpec } from "./schema.ts";

/** The protocols the gateway serves, each run against every case. */
export const PROTOCOLS = ["connect", "grpc", "grpc-web"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Why Cedar cases run over one protocol: the engine is chosen per tenant, independently of the transport. */
export const CEDAR_PROTOCOL_SKIP = "Cedar tenants run over Connect only: the policy engine does not depend on the protocol, which the CEL runs cover on all three";

const CREATE_ROLE_RPC = "aesp.v1.EnterpriseAuthorizationService/CreateRole";
const UPDATE_POLICY_RPC = "aesp.v1.EnterprisePolicyService/UpdatePolicy";

interface Principal {
  readonly principalId: string;
  readonly token: string;
}

/** A policy version this runner made ACTIVE and enabled; retired when the next stage is entered. */
interface ActivePolicy {
  readonly policyId: string;
  readonly spec: PolicySpec;
}

interface Tenant {
  readonly plan: TenantPlan;
  owner: Actor | null;
  approver: Actor | null;
  /** Why the tenant's cases cannot run here; null when they can. */
  skip: string | null;
  /** Set when setting the tenant up failed: its cases fail with it. */
  failure: Error | null;
  readonly principals: Map<string, Principal>;
  runtime: RawRuntime | null;
  /** An agent of the other tenant, whose sessions a case may present. */
  foreign: Principal | null;
  /** The stage whose policies are in force, with its failure if entering it failed. */
  stage: StagePlan | null;
  stageFailure: Error | null;
  active: ActivePolicy[];
  /** Host-generated policy id → the case's policy id, for the current stage and the other tenant. */
  policyIds: Map<string, string>;
}

/**
 * Sets up tenants on one Host, moves them from stage to stage, and invokes cases.
 *
 * @example
 * const gateway = await GatewayRunner.start(testHost, planTenants(cases));
 * await gateway.enter(stage);
 * const observed = await gateway.invoke(stage.cases[0], "grpc");
 */
export class GatewayRunner {
  readonly #t: TestHost;
  readonly #tenants = new Map<TenantPlan, Tenant>();
  readonly #transports = new Map<string, Transport>();
  readonly #sessions = new Map<string, string>();
  readonly #mint: (principalId: string, tenantId: string, claims: PrincipalSpec["claims"]) => Promise<string>;
  readonly #engine: EngineId;

  private constructor(t: TestHost, mint: (principalId: string, tenantId: string, claims: PrincipalSpec["claims"]) => Promise<string>, engine: EngineId) {
    this.#t = t;
    this.#mint = mint;
    this.#engine = engine;
  }

  /**
   * Prepares every tenant (a few at a time: creating principals hashes secrets with scrypt);
   * policies come with the stages.
   *
   * @param t - A running test Host.
   * @param plans - The tenants to create.
   * @param engine - The policy engine of every tenant (SetTenantPolicyEngine right after creation).
   * @returns The runner; tenants that could not be set up are recorded, not thrown.
   * @throws Error when the Host cannot retire a policy (UpdatePolicy), which moving between stages needs.
   */
  static async start(t: TestHost, plans: readonly TenantPlan[], engine: EngineId = "cel"): Promise<GatewayRunner> {
    if (!t.host.implementedRpcs.includes(UPDATE_POLICY_RPC)) throw new Error(`moving a tenant from one policy set to the next retires policies with ${UPDATE_POLICY_RPC}, which this Host does not implement`);
    const runner = new GatewayRunner(t, await tokenMinter(t), engine);
    const canCreateRoles = t.host.implementedRpcs.includes(CREATE_ROLE_RPC);
    const tenants = plans.map((plan): Tenant => {
      const needsRoles = plan.roles.length > 0 || (plan.otherTenant?.roles.length ?? 0) > 0;
      const tenant: Tenant = {
        plan,
        owner: null,
        approver: null,
        skip: needsRoles && !canCreateRoles ? `custom roles need ${CREATE_ROLE_RPC}, which this Host does not implement` : null,
        failure: null,
        principals: new Map(),
        runtime: null,
        foreign: null,
        stage: null,
        stageFailure: null,
        active: [],
        policyIds: new Map(),
      };
      runner.#tenants.set(plan, tenant);
      return tenant;
    });
    let next = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const tenant = tenants[next++];
        if (tenant === undefined) return;
        if (tenant.skip !== null) continue;
        try {
          await runner.#prepare(tenant);
        } catch (error) {
          tenant.failure = error instanceof Error ? error : new Error(String(error));
        }
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    return runner;
  }

  /**
   * Why the cases of a tenant cannot run on this Host, when they cannot.
   *
   * @param plan - A planned tenant.
   * @returns The reason, or null.
   */
  skipReason(plan: TenantPlan): string | null {
    return this.#tenant(plan).skip;
  }

  /**
   * Puts a stage's policies in force: the previous stage's ACTIVE policies are retired (a new,
   * disabled version, approved), then the stage's are submitted and taken to their status.
   * A failure is kept and reported by every case of the stage.
   *
   * @param stage - The stage to enter.
   */
  async enter(stage: StagePlan): Promise<void> {
    const tenant = this.#tenant(stage.tenant);
    if (tenant.skip !== null || tenant.failure !== null) return;
    tenant.stage = stage;
    tenant.stageFailure = null;
    const owner = tenant.owner as Actor;
    const approver = tenant.approver as Actor;
    try {
      const retiring = tenant.active;
      tenant.active = [];
      await Promise.all(retiring.map((policy) => retire(owner, approver, policy, this.#engine)));
      for (const [generated, id] of [...tenant.policyIds]) if (!id.startsWith("other:")) tenant.policyIds.delete(generated);
      const created = await Promise.all(stage.policies.map((spec) => submitPolicy(owner, approver, spec, this.#engine)));
      for (const policy of created) {
        tenant.policyIds.set(policy.policyId, policy.spec.id);
        if (policy.spec.status === "ACTIVE" && policy.spec.enabled) tenant.active.push(policy);
      }
    } catch (error) {
      tenant.stageFailure = error instanceof Error ? error : new Error(String(error));
    }
  }

  /**
   * Invokes a case of the current stage over one protocol.
   *
   * @param stage - The case's stage, which must have been entered.
   * @param c - The case.
   * @param protocol - The wire protocol.
   * @returns What the caller and the audit log saw.
   */
  async invoke(stage: StagePlan, c: DecisionCase, protocol: Protocol): Promise<Observed> {
    const tenant = this.#tenant(stage.tenant);
    if (tenant.failure !== null) throw new Error(`setting up tenant ${tenant.plan.tenantId} failed: ${tenant.failure.message}`, { cause: tenant.failure });
    if (tenant.skip !== null) throw new Error(`case ${c.id} cannot run: ${tenant.skip}`);
    if (tenant.stage !== stage) throw new Error(`stage ${stage.index} of tenant ${tenant.plan.tenantId} is not in force`);
    if (tenant.stageFailure !== null) throw new Error(`putting the policies of stage ${stage.index} in force failed: ${tenant.stageFailure.message}`, { cause: tenant.stageFailure });
    const owner = tenant.owner as Actor;
    const runtime = tenant.runtime as RawRuntime;
    const principal = tenant.principals.get(principalKey(c.principal));
    if (principal === undefined) throw new Error(`no principal prepared for case ${c.id}`);
    const sessionOwner = c.call.session === "own" ? principal : tenant.foreign;
    if (sessionOwner === null) throw new Error(`no agent of tenant ${c.otherTenant?.id ?? "?"} to open the session`);
    const sessionId = await this.#session(sessionOwner, protocol);
    const before = runtime.calls().length;
    let correlationId: string;
    let observed: Omit<Observed, "auditFlags">;
    try {
      const response = await createClient(ToolService, this.#transport(principal.token, protocol)).invokeTool({
        sessionId,
        contractVersion: c.call.version,
        call: { name: c.call.contract, args: c.args as Record<string, never> },
      });
      if (response.result?.status !== ResultStatus.SUCCESS) throw new Error(`the tool ran but did not succeed: ${JSON.stringify(response.result?.error ?? null)}`);
      const ran = runtime.calls().slice(before);
      if (ran.length !== 1 || ran[0]?.call?.name !== c.call.contract) throw new Error(`an allowed call must run on the runtime once; it received ${ran.length} calls`);
      correlationId = response.correlationId;
      observed = { decision: "ALLOW", error: null, reason: null, appliedPolicies: null };
    } catch (error) {
      if (!(error instanceof ConnectError)) throw error;
      const enterprise = enterpriseErrorOf(error);
      if (enterprise === undefined) throw new Error(`the call failed without an EnterpriseError: ${error.message}`, { cause: error });
      if (runtime.calls().length !== before) throw new Error(`a refused call (${enterprise.code}) reached the runtime`, { cause: error });
      correlationId = enterprise.correlationId;
      const applied = enterprise.details["applied_policies"];
      observed = {
        decision: "DENY",
        error: enterprise.code,
        reason: caseIds(tenant, enterprise.details["reason"] ?? enterprise.details["decision_reason"] ?? ""),
        appliedPolicies: applied === undefined || applied === "" ? [] : applied.split(",").map((id) => caseIds(tenant, id)),
      };
    }
    const { events } = await owner.client(EnterpriseAuditService).queryEvents({ eventTypes: ["policy.audit_matched"], correlationId, limit: 10 });
    if (events.length > 1) throw new Error(`one call recorded ${events.length} policy.audit_matched events`);
    const flagged = events[0]?.metadata["policies"];
    return { ...observed, auditFlags: flagged === undefined || flagged === "" ? [] : flagged.split(",").map((id) => caseIds(tenant, id)) };
  }

  /** Disconnects the runtimes. */
  close(): void {
    for (const tenant of this.#tenants.values()) tenant.runtime?.close();
  }

  #tenant(plan: TenantPlan): Tenant {
    const tenant = this.#tenants.get(plan);
    if (tenant === undefined) throw new Error(`tenant ${plan.tenantId} was not planned for the gateway`);
    return tenant;
  }

  async #prepare(tenant: Tenant): Promise<void> {
    const { plan } = tenant;
    const t = this.#t;
    const owner = await this.#newTenant(plan.tenantId);
    tenant.owner = owner;
    const approver = await t.actor("conformance-approver", ["approver"], owner);
    tenant.approver = approver;
    await createRoles(owner, approver, plan.roles);
    for (const contract of plan.contracts.values()) await t.activate(wireContract(contract), owner, approver);
    for (const [key, spec] of plan.principals) tenant.principals.set(key, await this.#principal(owner, spec));
    const other = plan.otherTenant;
    if (other !== null) {
      const otherOwner = await this.#newTenant(other.id);
      const otherApprover = await t.actor("conformance-approver", ["approver"], otherOwner);
      await createRoles(otherOwner, otherApprover, other.roles);
      if (other.contract !== null) await t.activate(wireContract(other.contract), otherOwner, otherApprover);
      for (const spec of other.policies) {
        const created = await submitPolicy(otherOwner, otherApprover, spec, this.#engine);
        // Never expected in a reply of the caller's tenant; named so a leak would be recognisable.
        tenant.policyIds.set(created.policyId, `other:${spec.id}`);
      }
      const foreign = await t.actor("conformance-foreign-agent", ["agent"], otherOwner);
      tenant.foreign = { principalId: foreign.principalId, token: foreign.token };
    }
    const contracts = [...plan.contracts.values()];
    const credentials = await t.enroll(owner, `conformance-${plan.tenantId}`, [...new Set(contracts.map((c) => c.name))]);
    const handlers = Object.fromEntries(contracts.map((c) => [`${c.name}@${c.version}`, async () => ({ ran: c.name })]));
    const runtime = await connectRawRuntime({ url: t.host.runtimePlaneUrl, credentials, contracts: Object.keys(handlers), handlers });
    tenant.runtime = runtime;
    if (runtime.first.kind.case !== "accepted") throw new Error(`the runtime of tenant ${plan.tenantId} was not admitted`);
  }

  /** Creates a tenant on this runner's engine; returns its administrator. */
  async #newTenant(tenantId: string): Promise<Actor> {
    const owner = await this.#t.tenant(tenantId);
    if (this.#engine !== "cel") await this.#t.admin.client(TenantService).setTenantPolicyEngine({ tenantId, policyEngine: this.#engine });
    return owner;
  }

  async #principal(owner: Actor, spec: PrincipalSpec): Promise<Principal> {
    const created = await owner.client(EnterpriseIdentityService).createServiceAccount({
      name: "conformance principal",
      roles: [...spec.roles],
      permissions: [...spec.permissions],
      metadata: { clearance: spec.clearance },
    });
    if (created.responseType.case !== "successDetails") throw new Error("service account not created");
    const { serviceAccountId, apiKey } = created.responseType.value;
    const { amr, acr, idp } = spec.claims;
    // An API-key sign-in carries amr ["pwd"] and nothing else; other sign-in evidence needs a token
    // the Host signed with those claims, as its identity providers' sign-ins would issue.
    if (amr.length === 1 && amr[0] === "pwd" && acr === "" && idp === "") {
      const actor = await this.#t.signIn(apiKey);
      return { principalId: actor.principalId, token: actor.token };
    }
    return { principalId: serviceAccountId, token: await this.#mint(serviceAccountId, owner.tenantId, spec.claims) };
  }

  async #session(principal: Principal, protocol: Protocol): Promise<string> {
    const key = `${principal.token}\u0000${protocol}`;
    const cached = this.#sessions.get(key);
    if (cached !== undefined) return cached;
    const { sessionId } = await createClient(SessionService, this.#transport(principal.token, protocol)).createSession({ ttlSeconds: 3600 });
    this.#sessions.set(key, sessionId);
    return sessionId;
  }

  #transport(token: string, protocol: Protocol): Transport {
    const key = `${token}\u0000${protocol}`;
    let transport = this.#transports.get(key);
    if (transport === undefined) {
      transport = gatewayTransport(this.#t, token, protocol);
      this.#transports.set(key, transport);
    }
    return transport;
  }
}

/** Replaces the Host's generated policy ids with the case's. */
function caseIds(tenant: Tenant, text: string): string {
  let out = text;
  for (const [generated, id] of tenant.policyIds) out = out.replaceAll(generated, id);
  return out;
}

function policyDefinition(spec: PolicySpec, enabled: boolean, engine: EngineId) {
  const condition = spec.conditions[engine];
  if (condition === undefined) throw new Error(`policy ${spec.id} has no ${engine} condition`);
  return { name: spec.id, description: `conformance policy ${spec.id}`, rule: { condition, effect: spec.effect, actions: [...spec.actions], parameters: {} }, appliesTo: [...spec.appliesTo], enabled };
}

/** Submits a policy and takes it through governance to the status the case asks for. */
async function submitPolicy(owner: Actor, approver: Actor, spec: PolicySpec, engine: EngineId): Promise<ActivePolicy> {
  const created = await owner.client(EnterprisePolicyService).createPolicy({ policy: policyDefinition(spec, spec.enabled, engine) });
  const stored = created.policy;
  if (stored === undefined) throw new Error(`CreatePolicy returned no policy for ${spec.id}`);
  if (spec.status !== "DRAFT") await decide(owner, approver, `${stored.policyId}@${stored.version}`, spec.status);
  return { policyId: stored.policyId, spec };
}

/** Retires an ACTIVE policy: its next version is the same rule, disabled, approved. */
async function retire(owner: Actor, approver: Actor, policy: ActivePolicy, engine: EngineId): Promise<void> {
  const updated = await owner.client(EnterprisePolicyService).updatePolicy({ policy: { policyId: policy.policyId, ...policyDefinition(policy.spec, false, engine) } });
  const stored = updated.policy;
  if (stored === undefined) throw new Error(`UpdatePolicy returned no policy for ${policy.spec.id}`);
  await decide(owner, approver, `${stored.policyId}@${stored.version}`, "ACTIVE");
}

async function decide(owner: Actor, approver: Actor, artifactId: string, status: Exclude<PolicySpec["status"], "DRAFT">): Promise<void> {
  const requested = await owner.client(EnterpriseGovernanceService).requestApproval({ artifactType: "POLICY", artifactId, justification: "conformance case" });
  if (requested.responseType.case !== "successDetails") throw new Error(`approval of policy ${artifactId} was not requested`);
  if (status === "PENDING_APPROVAL") return;
  await approver.client(EnterpriseGovernanceService).adjudicateApproval({
    approvalRequestId: requested.responseType.value.approvalRequestId,
    decision: status === "REJECTED" ? "REJECT" : "APPROVE",
  });
}

/**
 * A client transport for the gateway over HTTP/2 (as tests/support/harness.ts builds its own, plus gRPC-Web).
 *
 * @param t - The test Host.
 * @param token - Bearer token.
 * @param protocol - The wire protocol.
 * @returns The transport.
 */
export function gatewayTransport(t: TestHost, token: string, protocol: Protocol): Transport {
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const options = { baseUrl: t.host.gatewayUrl, httpVersion: "2" as const, nodeOptions: { ca: t.host.caCertificatePem }, interceptors: [auth] };
  switch (protocol) {
    case "connect":
      return createConnectTransport({ ...options, jsonOptions: { useProtoFieldName: true } });
    case "grpc":
      return createGrpcTransport(options);
    case "grpc-web":
      return createGrpcWebTransport(options);
  }
}

/**
 * The address the gateway records for this process's calls, read from the audit log.
 *
 * @param t - The test Host.
 * @returns The source address of the administrator's latest sign-in.
 */
export async function observedSourceAddress(t: TestHost): Promise<string> {
  const { events } = await t.admin.client(EnterpriseAuditService).queryEvents({ eventTypes: ["authn.succeeded"], limit: 1 });
  return events[0]?.sourceIp ?? "";
}

async function createRoles(owner: Actor, approver: Actor, roles: readonly RoleSpec[]): Promise<void> {
  const pending = [...roles];
  const created = new Set<string>();
  const local = new Set(roles.map((r) => r.name));
  while (pending.length > 0) {
    // Parents first: CreateRole accepts only existing roles in `inherits`.
    const index = pending.findIndex((r) => r.inherits.every((parent) => !local.has(parent) || created.has(parent)));
    if (index < 0) throw new Error(`the roles ${pending.map((r) => r.name).join(", ")} inherit in a cycle`);
    const [role] = pending.splice(index, 1) as [RoleSpec];
    const response = await owner.client(EnterpriseAuthorizationService).createRole({
      role: { name: role.name, description: `conformance role ${role.name}`, permissions: [...role.permissions], inherits: [...role.inherits] },
      justification: "conformance case",
    });
    if (response.approvalRequestId !== "") {
      await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: response.approvalRequestId, decision: "APPROVE" });
    }
    created.add(role.name);
  }
}

function wireContract(spec: ContractSpec) {
  return {
    name: spec.name,
    contractVersion: spec.version,
    description: `Conformance contract ${spec.name}.`,
    parameters: admSchemaToWire(spec.parameters),
    securityClassification: spec.classification,
    requiredRoles: [...spec.requiredRoles],
    requiredPermissions: [...spec.requiredPermissions],
    complianceTags: [...spec.tags],
    riskAssessment: spec.risk,
  };
}

/**
 * Signs access tokens with the Host's own token-signing key (as tests/support/harness.ts
 * `mintHostAccessToken` does), with the sign-in evidence a case asks for. The key is read once.
 */
async function tokenMinter(t: TestHost): Promise<(principalId: string, tenantId: string, claims: PrincipalSpec["claims"]) => Promise<string>> {
  const config = await loadHostConfig({ flags: await t.storeFlags(), env: {} });
  const store = await openHostStore(t);
  let privateKey;
  let keyId;
  try {
    const record = await store.platform.keys.current("token-signing");
    if (record === null) throw new Error("the Host has no token-signing key");
    const masterKey = await loadOrCreateMasterKey({ dataDir: t.host.dataDir, env: {} });
    ({ privateKey } = openKeyRecord(record, masterKey, "Ed25519"));
    keyId = record.keyId;
  } finally {
    await store.close();
  }
  const issuer = config.values["identity.token_issuer"];
  return async (principalId, tenantId, claims) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ tid: tenantId, typ: "SERVICE_ACCOUNT", amr: [...claims.amr], ...(claims.acr === "" ? {} : { acr: claims.acr }), ...(claims.idp === "" ? {} : { idp: claims.idp }) })
      .setProtectedHeader({ alg: "EdDSA", kid: keyId, typ: "at+jwt" })
      .setIssuer(issuer)
      .setAudience("aesp-api")
      .setSubject(principalId)
      .setJti(`tok_conf${randomBytes(8).toString("hex")}`)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
  };
}
