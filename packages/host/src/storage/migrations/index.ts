/** Every migration, in the order they apply. Append new ones; never edit or reorder applied ones. */
import { initialSchema } from "./0001-initial.ts";
import { identitySchema } from "./0002-identity.ts";
import { authorizationSchema } from "./0003-authorization.ts";
import { breakGlassSchema } from "./0004-break-glass.ts";
import { policyRolloutsSchema } from "./0005-policy-rollouts.ts";
import { auditSearchSchema } from "./0006-audit-search.ts";
import { auditForwardingSchema } from "./0007-audit-forwarding.ts";
import { callApprovalsSchema } from "./0008-call-approvals.ts";
import { auditRetentionSchema } from "./0010-audit-retention.ts";
import { tenantPolicyEngineSchema } from "./0012-tenant-policy-engine.ts";
import type { Migration } from "./migration.ts";

export { migrate } from "./runner.ts";
export type { ColumnTypes, Migration } from "./migration.ts";
export { postgresColumnTypes, sqliteColumnTypes } from "./migration.ts";

/** The migrations of this Host version. */
export const migrations: readonly Migration[] = [initialSchema, identitySchema, authorizationSchema, breakGlassSchema, policyRolloutsSchema, auditSearchSchema, auditForwardingSchema, callApprovalsSchema, auditRetentionSchema, tenantPolicyEngineSchema];
