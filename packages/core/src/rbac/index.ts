/**
 * Role-based access control: permissions, the role graph (with group bindings), built-in roles,
 * contract access, classification clearance, role administration and the Authorization Manager.
 */
export { BUILT_IN_ROLE_DEFINITIONS, builtInRoles } from "./built-in-roles.ts";
export { CLASSIFICATION_LEVELS, classificationRank, clearanceAllows, isClassification } from "./classification.ts";
export { checkContractAccess, type ContractAccess, type ContractAccessInput } from "./contract-access.ts";
export {
  INVOKE_PERMISSION,
  PERMISSION_PATTERN,
  ROLE_NAME_PATTERN,
  hasPermission,
  isValidRoleName,
  isWellFormedPermission,
  permissionMatches,
} from "./permissions.ts";
export { RoleGraph } from "./role-graph.ts";
export {
  AuthorizationService,
  type ActionDecision,
  type ActionQuery,
  type EffectiveRights,
  type PermissionCheck,
  type PolicyEvaluation,
  type RoleView,
} from "./authorization-service.ts";
export { authorizeCall, callPolicyInput, INVOKE_ACTION, tracePolicies, type CallAuthorization, type CallAuthorizationInput, type CallRefusalCode, type PolicyTrace } from "./call-authorization.ts";
export {
  assertGroupName,
  assertMayGrantRole,
  assertWithinCallerGrants,
  defineRole,
  expandedRoles,
  explainPermission,
  GROUP_SUBJECT_PREFIX,
  parseSubject,
  RESERVED_ROLE_NAMES,
  type PermissionExplanation,
  type RoleDefinitionInput,
  type Subject,
} from "./role-admin.ts";
