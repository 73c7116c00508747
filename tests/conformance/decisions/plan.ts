/**
 * Groups gateway cases so the Host does as little setup as the cases allow.
 *
 * - A tenant is created once per distinct shape: custom roles and the other tenant (with its own
 *   policies). Its contracts and principals are the union of what its cases need, set up once.
 * - A tenant's policies apply to every call in it, so its cases run in stages: one stage per
 *   distinct policy set, entered by retiring the previous stage's policies and activating the
 *   next ones through governance, then every case of the stage is invoked over every protocol.
 * - A case whose contract clashes with one already in the tenant (same name and version, another
 *   definition) goes to another tenant of the same shape.
 */
import type { ContractSpec, DecisionCase, PolicySpec, PrincipalSpec, RoleSpec, TenantSpec } from "./schema.ts";

export interface TenantPlan {
  readonly index: number;
  /** The caller's tenant on the Host. */
  readonly tenantId: string;
  readonly roles: readonly RoleSpec[];
  readonly otherTenant: TenantSpec | null;
  /** Distinct contracts, by `name@version`. */
  readonly contracts: Map<string, ContractSpec>;
  /** Distinct principals, by {@link principalKey}. */
  readonly principals: Map<string, PrincipalSpec>;
  readonly stages: StagePlan[];
}

export interface StagePlan {
  readonly tenant: TenantPlan;
  /** 1-based within the tenant. */
  readonly index: number;
  readonly policies: readonly PolicySpec[];
  readonly cases: DecisionCase[];
}

/** Identifies a principal specification within a tenant. */
export function principalKey(principal: PrincipalSpec): string {
  return JSON.stringify(principal);
}

/**
 * Plans the tenants and stages of the given cases, in case order.
 *
 * @param cases - Cases that run through the gateway.
 * @returns One plan per tenant to create.
 * @throws Error when a tenant id a case names explicitly would need two shapes, or two
 *   definitions of one contract.
 */
export function planTenants(cases: readonly DecisionCase[]): TenantPlan[] {
  const tenants: TenantPlan[] = [];
  const byShape = new Map<string, TenantPlan[]>();
  const named = new Map<string, { shape: string; caseId: string }>();
  const claim = (tenantId: string, shape: string, caseId: string): void => {
    const owner = named.get(tenantId);
    if (owner !== undefined && owner.shape !== shape) {
      throw new Error(`tenant ${tenantId} is named by cases ${owner.caseId} and ${caseId} with different roles or other tenant; give one of them another tenant id`);
    }
    named.set(tenantId, { shape, caseId });
  };
  for (const c of cases) {
    const shape = JSON.stringify({ tenant: c.tenant, roles: c.roles, other: c.otherTenant });
    if (c.tenant !== null) claim(c.tenant, shape, c.id);
    if (c.otherTenant !== null) claim(c.otherTenant.id, shape, c.id);
    const contractId = `${c.contract.name}@${c.contract.version}`;
    const candidates = byShape.get(shape) ?? [];
    let tenant = candidates.find((plan) => {
      const present = plan.contracts.get(contractId);
      return present === undefined || JSON.stringify(present) === JSON.stringify(c.contract);
    });
    if (tenant === undefined) {
      if (c.tenant !== null && candidates.length > 0) {
        throw new Error(`case ${c.id} defines contract ${contractId} differently from another case of tenant ${c.tenant}; rename the contract or the tenant`);
      }
      const index = tenants.length + 1;
      tenant = { index, tenantId: c.tenant ?? `conf-t${index}`, roles: c.roles, otherTenant: c.otherTenant, contracts: new Map(), principals: new Map(), stages: [] };
      tenants.push(tenant);
      byShape.set(shape, [...candidates, tenant]);
    }
    tenant.contracts.set(contractId, c.contract);
    tenant.principals.set(principalKey(c.principal), c.principal);
    const policies = JSON.stringify(c.policies);
    let stage = tenant.stages.find((s) => JSON.stringify(s.policies) === policies);
    if (stage === undefined) {
      stage = { tenant, index: tenant.stages.length + 1, policies: c.policies, cases: [] };
      tenant.stages.push(stage);
    }
    stage.cases.push(c);
  }
  return tenants;
}
