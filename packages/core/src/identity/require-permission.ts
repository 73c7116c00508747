import { EnterpriseError } from "../errors.ts";
import { permissionMatches } from "../rbac/index.ts";
import type { SecurityContext } from "./security-context.ts";

/** True when any effective permission of the caller grants `required`. */
export function hasPermission(ctx: SecurityContext, required: string): boolean {
  return ctx.permissions.some((granted) => permissionMatches(granted, required));
}

/**
 * Refuses unless the caller holds `required` (wildcards honoured).
 * @throws EnterpriseError AUTHORIZATION_DENIED naming the missing permission.
 */
export function requirePermission(ctx: SecurityContext, required: string): void {
  if (!hasPermission(ctx, required)) {
    throw new EnterpriseError("AUTHORIZATION_DENIED", {
      details: { required_permission: required },
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
    });
  }
}
