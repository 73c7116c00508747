/**
 * SCIM 2.0 provisioning (RFC 7643, RFC 7644): the IdP-facing directory of a tenant's users and
 * groups. The host serves it under `/scim/v2` (packages/host/src/scim/scim-routes.ts).
 */
export { ScimService, SCIM_PROVIDER_ID, MAX_FILTER_SCAN, MAX_GROUP_MEMBERS, MAX_PATCH_MEMBERS } from "./scim-service.ts";
export type { ScimCaller, ScimLifecycle, ScimResourceResponse, ScimServiceDeps, ScimWriteOptions } from "./scim-service.ts";
export { ScimError, toScimError } from "./scim-error.ts";
export type { ScimType } from "./scim-error.ts";
export { entityTag, fromScimGroup, fromScimUser, readGroupFields, readUserFields, toScimGroup, toScimUser } from "./resources.ts";
export type { ScimGroupFields, ScimGroupRef, ScimUserFields } from "./resources.ts";
export { applyPatch, parsePatchRequest, MAX_PATCH_OPERATIONS } from "./patch.ts";
export type { JsonObject, PatchOperation } from "./patch.ts";
export { compileFilter, parseFilter } from "./filter.ts";
export { parseListQuery } from "./list-query.ts";
export type { ScimListQuery } from "./list-query.ts";
export {
  ENTERPRISE_USER_SCHEMA,
  ERROR_SCHEMA,
  GROUP_SCHEMA,
  LIST_RESPONSE_SCHEMA,
  MAX_PAGE_SIZE,
  PATCH_OP_SCHEMA,
  USER_SCHEMA,
  groupResourceType,
  resourceTypeDocuments,
  schemaDocuments,
  serviceProviderConfig,
  userResourceType,
} from "./schema.ts";
