/**
 * Translations between wire messages and core records. Transports decode with
 * these, call one core use-case, and encode the result: nothing else.
 */
import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { SchemaType } from "@aesp/proto/adm";
import type { Schema, SchemaSchema } from "@aesp/proto/adm";
import { AuditEventSchema, EnterpriseSecurityContextSchema, EnterpriseToolContractSchema, PolicyDefinitionSchema, PrincipalType as WirePrincipalType } from "@aesp/proto/enterprise";
import type { PolicyDecisionSchema } from "@aesp/proto/enterprise";
import type { PolicyReplayChangeSchema, PolicyValidationIssueSchema } from "@aesp/proto/policy";
import type { EnterpriseToolContract, PolicyDefinition } from "@aesp/proto/enterprise";
import { PrincipalSchema } from "@aesp/proto/identity";
import { ApprovalSchema } from "@aesp/proto/governance";
import { BreakGlassGrantSchema } from "@aesp/proto/break_glass";
import { EnterpriseError, presentedStatus } from "@aesp/core";
import type {
  AdmSchema,
  AdmSchemaType,
  ApprovalRequestRecord,
  BreakGlassGrantRecord,
  AuditRecord,
  Classification,
  ContractRecord,
  PolicyDraftInput,
  PolicyRecord,
  PolicyReplayChange,
  PolicyValidationIssue,
  PolicyVerdict,
  PrincipalRecord,
  PrincipalType,
  SecurityContext,
  ToolContractDefinition,
} from "@aesp/core";

const schemaTypes: Record<number, AdmSchemaType | undefined> = {
  [SchemaType.STRING]: "STRING",
  [SchemaType.NUMBER]: "NUMBER",
  [SchemaType.INTEGER]: "INTEGER",
  [SchemaType.BOOLEAN]: "BOOLEAN",
  [SchemaType.ARRAY]: "ARRAY",
  [SchemaType.OBJECT]: "OBJECT",
};

/**
 * Wire Schema → ADM schema.
 * @throws EnterpriseError INVALID_ARGUMENT for an unspecified type or excessive depth.
 */
export function admSchemaFromWire(schema: Schema, path = "parameters", depth = 0): AdmSchema {
  if (depth > 32) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: path, reason: "schema nested deeper than 32" } });
  const type = schemaTypes[schema.type];
  if (type === undefined) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: `${path}.type`, reason: "type is required" } });
  const out: AdmSchema = { type };
  if (schema.description !== "") out.description = schema.description;
  const propertyNames = Object.keys(schema.properties);
  if (propertyNames.length > 0) {
    out.properties = Object.fromEntries(propertyNames.map((name) => [name, admSchemaFromWire(schema.properties[name] as Schema, `${path}.properties.${name}`, depth + 1)]));
  }
  if (schema.required.length > 0) out.required = [...schema.required];
  if (schema.items !== undefined) out.items = admSchemaFromWire(schema.items, `${path}.items`, depth + 1);
  if (schema.enum.length > 0) out.enum = [...schema.enum];
  if (schema.nullable) out.nullable = true;
  if (schema.minimum !== undefined) out.minimum = schema.minimum;
  if (schema.maximum !== undefined) out.maximum = schema.maximum;
  if (schema.minLength !== undefined) out.minLength = schema.minLength;
  if (schema.maxLength !== undefined) out.maxLength = schema.maxLength;
  if (schema.pattern !== "") out.pattern = schema.pattern;
  if (schema.format !== "") out.format = schema.format;
  if (schema.minItems !== undefined) out.minItems = schema.minItems;
  if (schema.maxItems !== undefined) out.maxItems = schema.maxItems;
  if (schema.additionalProperties !== undefined) out.additionalProperties = schema.additionalProperties;
  if (schema.secret) out.secret = true;
  return out;
}

/** ADM schema → wire Schema. */
export function admSchemaToWire(schema: AdmSchema): MessageInitShape<typeof SchemaSchema> {
  return {
    type: SchemaType[schema.type],
    description: schema.description ?? "",
    properties: Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, admSchemaToWire(v)])),
    required: schema.required ?? [],
    ...(schema.items === undefined ? {} : { items: admSchemaToWire(schema.items) }),
    enum: schema.enum ?? [],
    nullable: schema.nullable ?? false,
    ...(schema.minimum === undefined ? {} : { minimum: schema.minimum }),
    ...(schema.maximum === undefined ? {} : { maximum: schema.maximum }),
    ...(schema.minLength === undefined ? {} : { minLength: schema.minLength }),
    ...(schema.maxLength === undefined ? {} : { maxLength: schema.maxLength }),
    pattern: schema.pattern ?? "",
    format: schema.format ?? "",
    ...(schema.minItems === undefined ? {} : { minItems: schema.minItems }),
    ...(schema.maxItems === undefined ? {} : { maxItems: schema.maxItems }),
    ...(schema.additionalProperties === undefined ? {} : { additionalProperties: schema.additionalProperties }),
    secret: schema.secret ?? false,
  };
}

const classifications: readonly Classification[] = ["public", "internal", "confidential", "restricted"];
const risks = ["LOW", "MEDIUM", "HIGH"] as const;

/**
 * Wire contract → definition. Governance fields a submitter sends (status, approver) are ignored:
 * only the Host sets them.
 * @throws EnterpriseError INVALID_ARGUMENT
 */
export function contractDefinitionFromWire(contract: EnterpriseToolContract | undefined): ToolContractDefinition {
  if (contract === undefined) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "contract" } });
  if (contract.parameters === undefined) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "contract.parameters" } });
  const classification = (contract.securityClassification === "" ? "internal" : contract.securityClassification.toLowerCase()) as Classification;
  if (!classifications.includes(classification)) {
    throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "contract.security_classification", expected: classifications.join("|") } });
  }
  const risk = (contract.riskAssessment === "" ? "LOW" : contract.riskAssessment.toUpperCase()) as (typeof risks)[number];
  if (!risks.includes(risk)) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "contract.risk_assessment", expected: risks.join("|") } });
  return {
    name: contract.name,
    contractVersion: contract.contractVersion,
    description: contract.description,
    parameters: admSchemaFromWire(contract.parameters),
    returnType: contract.returnType === undefined ? null : admSchemaFromWire(contract.returnType, "return_type"),
    supportsStreaming: contract.supportsStreaming,
    securityClassification: classification,
    requiredRoles: [...contract.requiredRoles],
    requiredPermissions: [...contract.requiredPermissions],
    complianceTags: [...contract.complianceTags],
    riskAssessment: risk,
    governanceMetadata: { ...contract.governanceMetadata },
  };
}

/** Contract record → wire contract, with its governance state. */
export function contractToWire(record: ContractRecord): EnterpriseToolContract {
  const d = record.definition;
  return create(EnterpriseToolContractSchema, {
    name: d.name,
    contractVersion: d.contractVersion,
    description: d.description,
    parameters: admSchemaToWire(d.parameters),
    ...(d.returnType === null ? {} : { returnType: admSchemaToWire(d.returnType) }),
    supportsStreaming: d.supportsStreaming,
    securityClassification: d.securityClassification,
    requiredRoles: d.requiredRoles,
    requiredPermissions: d.requiredPermissions,
    approvalStatus: record.status,
    approvedBy: record.approvedBy ?? "",
    approvedAt: BigInt(record.approvedAt ?? 0),
    complianceTags: d.complianceTags,
    riskAssessment: d.riskAssessment,
    governanceMetadata: d.governanceMetadata,
  });
}

const wirePrincipalTypes: Record<PrincipalType, WirePrincipalType> = {
  USER: WirePrincipalType.USER,
  SERVICE_ACCOUNT: WirePrincipalType.SERVICE_ACCOUNT,
  SYSTEM_ACCOUNT: WirePrincipalType.SYSTEM_ACCOUNT,
};

/** Wire principal type → core; UNSPECIFIED → undefined (no filter). */
export function principalTypeFromWire(type: WirePrincipalType): PrincipalType | undefined {
  return (Object.keys(wirePrincipalTypes) as PrincipalType[]).find((k) => wirePrincipalTypes[k] === type);
}

/** Principal record → wire principal (never any credential). */
export function principalToWire(p: PrincipalRecord) {
  return create(PrincipalSchema, {
    principalId: p.principalId,
    tenantId: p.tenantId,
    principalType: wirePrincipalTypes[p.type],
    displayName: p.displayName,
    description: p.description,
    roles: p.roles,
    permissions: p.permissions,
    securityClearance: p.clearance,
    status: p.status,
    attributes: p.attributes,
    createdAt: BigInt(p.createdAt),
    createdBy: p.createdBy,
    expiresAt: BigInt(p.expiresAt ?? 0),
    userName: p.userName,
    providerId: p.providerId,
    groups: p.groups,
    syncedRoles: p.syncedRoles,
    syncedAt: BigInt(p.syncedAt),
  });
}

/** Security context → wire EnterpriseSecurityContext. */
export function securityContextToWire(ctx: SecurityContext, sessionExpiresAt = 0) {
  return create(EnterpriseSecurityContextSchema, {
    principalId: ctx.principalId,
    tenantId: ctx.tenantId,
    claims: { ...ctx.claims },
    organizationId: ctx.attributes["organization"] ?? "",
    businessUnit: ctx.attributes["business_unit"] ?? "",
    roles: [...ctx.roles],
    permissions: [...ctx.permissions],
    securityClearance: ctx.clearance,
    dataClassification: ctx.clearance,
    sessionExpiresAt: BigInt(sessionExpiresAt),
    policyContext: {},
  });
}

/** Approval record → wire Approval. */
export function approvalToWire(a: ApprovalRequestRecord) {
  return create(ApprovalSchema, {
    approvalRequestId: a.approvalRequestId,
    tenantId: a.tenantId,
    artifactType: a.artifactType,
    artifactId: a.artifactId,
    requesterId: a.requesterId,
    justification: a.justification,
    requiredApprovers: a.requiredApprovers,
    status: a.status,
    createdAt: BigInt(a.createdAt),
    expiresAt: BigInt(a.expiresAt),
    decisions:
      a.decidedBy === null
        ? []
        : [{ approverId: a.decidedBy, decision: a.status === "APPROVED" ? "APPROVE" : "REJECT", comments: a.comments, decidedAt: BigInt(a.decidedAt ?? 0) }],
    pendingApprovers: a.status === "PENDING" ? a.requiredApprovers : [],
    metadata: a.metadata,
  });
}

/** Policy record → wire PolicyDefinition (version as a decimal string; an approved deletion reads RETIRED). */
export function policyToWire(p: PolicyRecord): PolicyDefinition {
  return create(PolicyDefinitionSchema, {
    policyId: p.policyId,
    name: p.name,
    description: p.description,
    version: String(p.version),
    rule: { condition: p.rule.condition, effect: p.rule.effect, actions: p.rule.actions, parameters: p.rule.parameters },
    appliesTo: p.appliesTo,
    enabled: p.enabled,
    createdAt: BigInt(p.createdAt),
    updatedAt: BigInt(p.updatedAt),
    createdBy: p.createdBy,
    status: presentedStatus(p),
  });
}

/**
 * Wire policy definition → what an author submits. Nothing is judged here: ValidatePolicy must
 * be able to report a wrong effect or an empty condition as issues, like any other problem.
 * @throws EnterpriseError INVALID_ARGUMENT when the policy is missing altogether
 */
export function policyDraftFromWire(policy: PolicyDefinition | undefined, field = "policy"): PolicyDraftInput {
  if (policy === undefined) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field } });
  const rule = policy.rule;
  return {
    name: policy.name,
    description: policy.description,
    rule: { condition: rule?.condition ?? "", effect: (rule?.effect ?? "").toUpperCase(), actions: [...(rule?.actions ?? [])], parameters: { ...rule?.parameters } },
    appliesTo: [...policy.appliesTo],
    enabled: policy.enabled,
  };
}

/** Core validation issue → wire PolicyValidationIssue. */
export function policyIssueToWire(issue: PolicyValidationIssue): MessageInitShape<typeof PolicyValidationIssueSchema> {
  return { severity: issue.severity, field: issue.field, message: issue.message, line: issue.line, column: issue.column };
}

/** Core verdict → wire PolicyDecision (one policy's outcome for one request). */
export function policyVerdictToWire(verdict: PolicyVerdict): MessageInitShape<typeof PolicyDecisionSchema> {
  return { policyId: verdict.policyId, version: String(verdict.version), matched: verdict.matched, effect: verdict.effect, error: verdict.error };
}

/** Core replay change → wire PolicyReplayChange. */
export function policyReplayChangeToWire(change: PolicyReplayChange): MessageInitShape<typeof PolicyReplayChangeSchema> {
  return {
    eventId: change.eventId,
    correlationId: change.correlationId,
    principalId: change.principalId,
    resource: change.resource,
    action: change.action,
    previousDecision: change.previousDecision,
    newDecision: change.newDecision,
    policyIds: [...change.policyIds],
  };
}

/** Audit record → wire AuditEvent. */
export function auditEventToWire(r: AuditRecord) {
  return create(AuditEventSchema, {
    eventId: r.eventId,
    timestampMs: BigInt(r.timestampMs),
    eventType: r.eventType,
    principalId: r.principalId,
    tenantId: r.tenantId,
    sessionId: r.sessionId,
    resource: r.resource,
    action: r.action,
    outcome: r.outcome,
    sourceIp: r.sourceIp,
    userAgent: r.userAgent,
    metadata: r.metadata,
    riskScore: r.riskScore,
    policyViolations: r.policyViolations,
    correlationId: r.correlationId,
    seq: BigInt(r.seq),
    leafHash: r.leafHash,
    chainHash: r.chainHash,
    tombstone: r.tombstone ?? "",
  });
}

/** A uint64 epoch-ms field → number (0 stays 0). */
export function msFromWire(value: bigint): number {
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

/** A break-glass grant on the wire (absent times as 0). */
export function breakGlassGrantToWire(g: BreakGlassGrantRecord) {
  return create(BreakGlassGrantSchema, {
    grantId: g.grantId,
    tenantId: g.tenantId,
    principalId: g.principalId,
    justification: g.justification,
    contracts: g.contracts,
    status: g.status,
    activatedAt: BigInt(g.activatedAt),
    expiresAt: BigInt(g.expiresAt),
    closedAt: BigInt(g.closedAt ?? 0),
    closedBy: g.closedBy,
    closeReason: g.closeReason,
    firstUsedAt: BigInt(g.firstUsedAt ?? 0),
    reviewStatus: g.reviewStatus,
    reviewDueAt: BigInt(g.reviewDueAt),
    reviewedBy: g.reviewedBy ?? "",
    reviewedAt: BigInt(g.reviewedAt ?? 0),
    reviewComments: g.reviewComments,
  });
}
