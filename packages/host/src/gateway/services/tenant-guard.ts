import type { HandlerContext } from "@connectrpc/connect";
import { EnterpriseError } from "@aesp/core";
import { callerOf, originOf } from "../context.ts";
import type { GatewayDeps } from "./deps.ts";

/**
 * A request may name a tenant only to restate the caller's own. Naming another one is a
 * cross-tenant attempt: audited as a security event, answered exactly like "not found".
 * @throws EnterpriseError NOT_FOUND
 */
export async function assertOwnTenant(deps: GatewayDeps, ctx: HandlerContext, named: string): Promise<void> {
  const caller = callerOf(ctx);
  if (named === "" || named === caller.tenantId) return;
  await deps.audit.record({
    eventType: "security.cross_tenant_attempt",
    tenantId: caller.tenantId,
    principalId: caller.principalId,
    resource: `${ctx.service.typeName}/${ctx.method.name}`,
    action: "name_foreign_tenant",
    outcome: "DENIED",
    origin: originOf(ctx),
    riskScore: "HIGH",
    metadata: { named_tenant: named.slice(0, 64) },
  });
  throw new EnterpriseError("NOT_FOUND");
}
