/**
 * Role-based access control: permissions, the role graph, built-in roles,
 * contract access and classification clearance.
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
