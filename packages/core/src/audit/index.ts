/**
 * `@aesp/core/audit`: the tamper-evident audit log.
 *
 * Events are canonically encoded (RFC 8785), hashed as RFC 6962 leaves, hash
 * chained and kept in a Merkle tree; group-committed through the
 * `AuditLogStore` port; signed as C2SP checkpoints through the `Signer` port;
 * verified offline with only public keys. See docs/adr/0006-audit-log.md.
 */
export { AuditLog } from "./audit-log.ts";
export type { AuditEventInput, AuditLogDeps, AuditLogOptions, CommittedListener } from "./audit-log.ts";

export { Detector, IGNORED_EVENT_TYPES, detectionRuleIds } from "./detection.ts";
export type { Detection, DetectionOptions, DetectionRuleId } from "./detection.ts";

export {
  CANONICAL_EVENT_FIELDS,
  EventHasher,
  canonicalEventBytes,
  canonicalEventJson,
  chainHash,
  copyDraft,
  leafHash,
  isTombstoneReason,
  linkRecords,
  TOMBSTONE_REASONS,
} from "./canonical.ts";

export {
  formatCheckpointBody,
  formatVerifierKey,
  noteKeyId,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
  signCheckpoint,
  verifyCheckpoint,
  verifyNote,
} from "./checkpoint.ts";
export type {
  CheckpointBody,
  CheckpointVerification,
  NoteSignature,
  NoteVerification,
  ParsedCheckpoint,
  ParsedNote,
  TrustedKey,
} from "./checkpoint.ts";

export { ZERO_HASH_HEX, fromBase64, fromHex, toBase64, toHex } from "./encoding.ts";

export { auditEventCatalogue, auditEventSpec, auditEventTypes, isAuditEventType, renderAuditEventReference } from "./events.ts";
export type { AuditEventSpec, AuditEventType, AuditSeverity } from "./events.ts";

export {
  CompactRange,
  consistencyProof,
  emptyRoot,
  hashChildren,
  inclusionProof,
  merkleRoot,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.ts";
export type { CompactRangeState } from "./merkle.ts";

export { completedNodes, consistencyProofFromNodes, frontierNodes, inclusionProofFromNodes, rootFromNodes, treeNodePosition } from "./tree-nodes.ts";
export type { TreeNode, TreeNodeHash, TreeNodeReader } from "./tree-nodes.ts";

export { AuditProofs, MAX_CHECKPOINT_PAGE } from "./proofs.ts";
export type { AuditProofsDeps, ConsistencyProofResult, InclusionProofRequest, InclusionProofResult } from "./proofs.ts";

export { verifyServedConsistency, verifyServedInclusion } from "./verify-proof.ts";
export type { ProofVerification, ServedInclusion } from "./verify-proof.ts";

export { REDACTED, SENSITIVE_METADATA_KEY, redactArguments, redactMetadata, schemaHasSecrets } from "./redact.ts";

export { AuditLogVerifier, verifyAuditLog } from "./verify.ts";
export type { AuditVerification, VerifiedCheckpoint, VerifyAuditLogInput } from "./verify.ts";

export {
  DAY_MS,
  ERASED,
  MAX_RETENTION_DAYS,
  PERSONAL_METADATA_KEYS,
  SEALED_PREFIX,
  SECURITY_FLOOR_TYPES,
  UNREADABLE,
  checkRetentionRule,
  holdCoveringSubject,
  mapPersonalFields,
  personalFields,
  retentionPlan,
  retentionSelector,
  sealedKeyId,
  sealedKeyIds,
} from "./retention.ts";
export type { PersonalField, RetentionPlanInput } from "./retention.ts";

export {
  AUDIT_EXPORT_CONTENT_TYPES,
  AUDIT_EXPORT_FORMATS,
  OCSF_VERSION,
  cefHeader,
  cefLine,
  cefValue,
  csvCell,
  csvHeader,
  csvRow,
  exportedEvent,
  jsonlLine,
  ocsfEvent,
  ocsfLine,
} from "./export-formats.ts";
export type { AuditExportFormat, ExportProduct, OcsfEvent } from "./export-formats.ts";

export { EXPORT_BUNDLE_FORMAT, ExportBundleVerifier, ExportDigest, exportBinding, manifestText, signManifest } from "./export-bundle.ts";
export type {
  ExportCheckpointLine,
  ExportConsistencyLine,
  ExportEventLine,
  ExportFilters,
  ExportHeaderLine,
  ExportManifestLine,
  ExportTrustedKey,
  ExportVerification,
} from "./export-bundle.ts";

export { COMPLIANCE_CONTROLS, COMPLIANCE_FRAMEWORKS, ComplianceReportBuilder, EVIDENCE_CATEGORIES, evidenceCategories, parseComplianceFramework } from "./compliance.ts";
export type {
  ComplianceControlResult,
  ComplianceControlSpec,
  ComplianceEvidenceItem,
  ComplianceFramework,
  ComplianceVerificationResult,
  EvidenceCategory,
} from "./compliance.ts";

export { ocsfExportSchema, ocsfExportValidator } from "./ocsf-schema.ts";
