import type { HandlerContext } from "@connectrpc/connect";
import type {
  AssignRoleRequest,
  AuthorizationEvaluatePolicyRequest,
  AuthorizeActionRequest,
  CheckPermissionRequest,
  CreateRoleRequest,
  GetEffectivePermissionsRequest,
  RevokeRoleRequest,
} from "@aesp/proto/authorization";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { RoleSchema } from "@aesp/proto/authorization";
import type { GetRoleRequest, ListRolesRequest, RoleDetailsSchema } from "@aesp/proto/role";
import { AuthorizationService, EnterpriseError } from "@aesp/core";
import type { RoleView } from "@aesp/core";
import { callerOf, originOf } from "../context.ts";
import type { GatewayDeps } from "./deps.ts";
import { assertOwnTenant } from "./tenant-guard.ts";

/** The core use-cases of both services; stateless, so one per registration is fine. */
function useCases(deps: GatewayDeps): AuthorizationService {
  return new AuthorizationService({ store: deps.store, clock: deps.clock, audit: deps.audit, tenants: deps.tenants });
}

function roleToWire(view: RoleView): MessageInitShape<typeof RoleSchema> {
  const r = view.record;
  return { name: r.name, description: r.description, permissions: r.permissions, inherits: r.inherits, builtIn: r.builtIn, tenantId: r.tenantId, createdAt: BigInt(r.createdAt) };
}

function roleDetailsToWire(view: RoleView): MessageInitShape<typeof RoleDetailsSchema> {
  return { role: roleToWire(view), inheritedRoles: [...view.inheritedRoles], effectivePermissions: [...view.effectivePermissions], boundGroups: [...view.groups] };
}

/**
 * EnterpriseAuthorizationService: role administration and authorization questions. A principal id
 * `group:<name>` names a directory group (AssignRole and RevokeRole bind and unbind it).
 */
export function authorizationService(deps: GatewayDeps) {
  const authz = useCases(deps);
  return {
    async authorizeAction(req: AuthorizeActionRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      const decision = await authz.authorizeAction(callerOf(ctx), originOf(ctx), { principalId: req.principalId, resource: req.resource, action: req.action, context: req.context });
      return {
        authorized: decision.authorized,
        decisionReason: decision.reason,
        appliedPolicies: [...decision.appliedPolicies],
        riskScore: decision.risk,
        conditions: decision.authorized ? decision.auditFlags.map((id) => `audit:${id}`) : [],
      };
    },
    async checkPermission(req: CheckPermissionRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      const check = await authz.checkPermission(callerOf(ctx), originOf(ctx), req.principalId, req.permission);
      return { granted: check.granted, grantedBy: [...check.grantedBy] };
    },
    async getEffectivePermissions(req: GetEffectivePermissionsRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      const rights = await authz.effectiveRights(callerOf(ctx), req.principalId);
      return { principalId: rights.subject, roles: [...rights.roles], permissions: [...rights.permissions] };
    },
    async evaluatePolicy(req: AuthorizationEvaluatePolicyRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      const evaluation = await authz.evaluatePolicy(callerOf(ctx), originOf(ctx), { principalId: req.principalId, resource: req.resource, action: req.action, context: req.context });
      return {
        decision: evaluation.effect,
        decisions: evaluation.traces.map((trace) => ({ policyId: trace.policyId, version: String(trace.version), matched: trace.matched, effect: trace.effect, error: trace.error })),
        auditFlags: [...evaluation.auditFlags],
        decisionReason: evaluation.reason,
      };
    },
    async createRole(req: CreateRoleRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      if (req.role === undefined) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "role" } });
      await assertOwnTenant(deps, ctx, req.role.tenantId);
      const view = await authz.createRole(callerOf(ctx), originOf(ctx), {
        name: req.role.name,
        description: req.role.description,
        permissions: req.role.permissions,
        inherits: req.role.inherits,
        builtIn: req.role.builtIn,
        justification: req.justification,
      });
      return { role: roleToWire(view), approvalRequestId: "" };
    },
    async assignRole(req: AssignRoleRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      if (req.expiresAt !== 0n) throw new EnterpriseError("UNIMPLEMENTED", { message: "expires_at is not supported by this Host version; assign without it and revoke later." });
      const result = await authz.assignRole(callerOf(ctx), originOf(ctx), { subject: req.principalId, role: req.role, justification: req.justification });
      return { roles: result.roles, approvalRequestId: "" };
    },
    async revokeRole(req: RevokeRoleRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      const result = await authz.revokeRole(callerOf(ctx), originOf(ctx), { subject: req.principalId, role: req.role, reason: req.reason });
      return { roles: result.roles, approvalRequestId: "" };
    },
  };
}

/** RoleService: the tenant's roles as they stand (`roles:read`). */
export function roleService(deps: GatewayDeps) {
  const authz = useCases(deps);
  return {
    async listRoles(req: ListRolesRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      return { roles: (await authz.listRoles(callerOf(ctx))).map(roleDetailsToWire) };
    },
    async getRole(req: GetRoleRequest, ctx: HandlerContext) {
      await assertOwnTenant(deps, ctx, req.tenantId);
      return { role: roleDetailsToWire(await authz.getRole(callerOf(ctx), req.name)) };
    },
  };
}
