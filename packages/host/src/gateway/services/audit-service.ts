import type { HandlerContext } from "@connectrpc/connect";
import type {
  ExportAuditLogsRequest,
  GetAuditStatisticsRequest,
  GetComplianceReportRequest,
  GetCheckpointRequest,
  GetConsistencyProofRequest,
  GetInclusionProofRequest,
  ListCheckpointsRequest,
  ListDeadLettersRequest,
  ListLegalHoldsRequest,
  PlaceLegalHoldRequest,
  QueryEventsRequest,
  EraseSubjectRequest,
  ReleaseLegalHoldRequest,
  ReplayDeadLettersRequest,
  SetRetentionPolicyRequest,
} from "@aesp/proto/audit";
import { EnterpriseError, hasPermission, requirePermission } from "@aesp/core";
import type { AuditCheckpointRecord, AuditLegalHoldRecord, AuditOutcome, AuditQuery, AuditRetentionRuleRecord, SecurityContext } from "@aesp/core";
import { AUDIT_EXPORT_FORMATS, auditEventCatalogue, isAuditEventType, parseComplianceFramework } from "@aesp/core/audit";
import type { AuditExportFormat, ComplianceControlResult } from "@aesp/core/audit";
import { nodeSignatureVerifier } from "../../crypto/node-crypto-ports.ts";
import { buildComplianceReport, streamAuditExport } from "../../audit/exporter.ts";
import type { AuditExporterDeps } from "../../audit/exporter.ts";
import { callerOf, originOf } from "../context.ts";
import { auditEventToWire, msFromWire } from "../mappers.ts";
import type { GatewayDeps } from "./deps.ts";
import { assertOwnTenant } from "./tenant-guard.ts";

/** Dead letters hold events of every tenant: only a platform administrator may see or replay them. */
function requirePlatformAdmin(deps: GatewayDeps, caller: SecurityContext): void {
  if (caller.tenantId !== deps.platformTenantId || !caller.roles.includes("platform-admin")) {
    throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { required_role: "platform-admin" } });
  }
}

/** A page size from the wire: 0 means 100, at most 1000. */
function pageLimit(limit: number): number {
  return Math.min(limit === 0 ? 100 : limit, 1000);
}


/** Set retention rules and place or release legal holds in one's own tenant. */
export const MANAGE_RETENTION_PERMISSION = "audit:manage_retention";

/** Erase a data subject's personal data from the tenant's audit events. */
export const ERASE_SUBJECT_PERMISSION = "audit:erase_subject";

/** The permission that lets a principal of the platform tenant read every tenant's audit events. */
export const READ_ALL_AUDIT_PERMISSION = "audit:read_all";

const OUTCOMES: readonly string[] = ["SUCCESS", "FAILURE", "DENIED", "ERROR"];
const DAY_MS = 86_400_000;

/**
 * EnterpriseAuditService.
 *
 * Rules enforced here:
 * - Reads are confined to the caller's tenant; naming another tenant is a cross-tenant attempt
 *   (audited, answered NOT_FOUND). Only a platform auditor — a principal of the platform tenant
 *   holding `audit:read_all` (built-in role `platform-auditor`) — may read across tenants.
 * - An inclusion proof is served only for the caller's own tenant's events (core `AuditProofs`).
 * - Checkpoints, consistency proofs and verifier keys are global: they carry only sizes, hashes
 *   and public keys. They need `audit:verify`.
 * - Only a platform administrator may rotate the audit signing key, or list and replay SIEM dead
 *   letters (they hold events of every tenant).
 * - Retention rules and legal holds (`audit:manage_retention`) and erasure (`audit:erase_subject`)
 *   act on the caller's own tenant only: there is no tenant field to name another.
 * - QueryEvents opens sealed personal fields for its (authorized) caller; proofs return events as
 *   hashed (sealed), so their leaf hashes can be recomputed.
 * - Exports and compliance reports are confined like QueryEvents (platform auditors may export
 *   across tenants); each is audited (`audit.exported`, `audit.compliance_reported`) before any
 *   event leaves the Host.
 */
export function auditService(deps: GatewayDeps) {
  const isPlatformAuditor = (caller: SecurityContext): boolean =>
    caller.tenantId === deps.platformTenantId && hasPermission(caller, READ_ALL_AUDIT_PERMISSION);

  /** The exporter's effects, reading through the reader the caller is confined to. */
  const exporterDeps = (tenantId: string, allTenants: boolean): AuditExporterDeps => ({
    query: allTenants
      ? (query) => deps.store.platform.auditProofs.queryAllTenants(tenantId === "" ? query : { ...query, tenantId })
      : (query) => deps.store.forTenant(tenantId).audit.query(query),
    nodeHashes: (nodes) => deps.store.platform.auditProofs.nodeHashes(nodes),
    checkpointNow: deps.auditTrail.checkpointNow,
    checkpointPage: (after, limit) => deps.store.platform.auditProofs.checkpointPage(after, limit),
    checkpointAt: (treeSize) => deps.store.platform.auditProofs.checkpointAt(treeSize),
    signer: deps.auditTrail.keys.signer(),
    verifierKeys: async () => (await deps.auditTrail.keys.verifierKeys()).map((key) => key.verifierKey),
    origin: deps.auditTrail.origin,
    product: { vendor: "AESP", name: "AESP Host", version: deps.hostInfo.version },
    now: () => deps.clock.now(),
  });

  /** The tenant a read is confined to; "" only for a platform auditor's platform-wide read. */
  const confinedTenant = async (ctx: HandlerContext, named: string): Promise<{ tenantId: string; allTenants: boolean }> => {
    const caller = callerOf(ctx);
    requirePermission(caller, "audit:read");
    if (isPlatformAuditor(caller)) return { tenantId: named, allTenants: true };
    await assertOwnTenant(deps, ctx, named);
    return { tenantId: caller.tenantId, allTenants: false };
  };

  return {
    async *exportAuditLogs(req: ExportAuditLogsRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      const { tenantId, allTenants } = await confinedTenant(ctx, req.tenantId);
      const format = (req.format === "" ? "JSONL" : req.format.toUpperCase()) as AuditExportFormat;
      if (!AUDIT_EXPORT_FORMATS.includes(format)) throw invalid("format", "The format is JSONL, CSV, CEF or OCSF.");
      if (req.outcome !== "" && !OUTCOMES.includes(req.outcome)) throw invalid("outcome", "The outcome is SUCCESS, FAILURE, DENIED or ERROR.");
      if (req.eventTypes.length > 100) throw invalid("event_types", "Name at most 100 event types.");
      const verifiable = format === "JSONL" && req.includeProofs;
      if (!verifiable && req.sinceTreeSize !== 0n) throw invalid("since_tree_size", "since_tree_size needs a verifiable export (JSONL with include_proofs).");
      const filters = {
        start_time: msFromWire(req.startTime),
        end_time: msFromWire(req.endTime),
        event_types: [...req.eventTypes],
        principal_id: req.principalId,
        outcome: req.outcome,
      };
      await deps.audit.record({
        eventType: "audit.exported",
        tenantId: caller.tenantId,
        principalId: caller.principalId,
        resource: `tenant:${tenantId === "" ? "*" : tenantId}`,
        action: "export",
        outcome: "SUCCESS",
        origin: originOf(ctx),
        metadata: { format, verifiable: String(verifiable), ...(req.eventTypes.length === 0 ? {} : { event_types: req.eventTypes.join(",").slice(0, 512) }) },
      });
      const chunks = streamAuditExport(exporterDeps(tenantId, allTenants), { tenantId, filters, format, verifiable, sinceTreeSize: msFromWire(req.sinceTreeSize) });
      for await (const chunk of chunks) {
        if (ctx.signal.aborted) return;
        yield {
          data: chunk.data,
          eventCount: chunk.eventCount,
          contentType: chunk.contentType,
          ...(chunk.checkpoint === undefined ? {} : { checkpoint: checkpointToWire(chunk.checkpoint) }),
        };
      }
    },

    async getComplianceReport(req: GetComplianceReportRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      const { tenantId, allTenants } = await confinedTenant(ctx, req.tenantId);
      const framework = parseComplianceFramework(req.framework);
      if (framework === null) throw invalid("framework", "The framework is SOC2, ISO27001, GDPR, HIPAA or PCI_DSS.");
      // A report is about one tenant: a platform auditor names it, or reports on the platform tenant.
      const reportTenant = allTenants && tenantId === "" ? caller.tenantId : tenantId;
      const fromMs = msFromWire(req.startTime);
      const toMs = req.endTime === 0n ? deps.clock.now() + 1 : msFromWire(req.endTime);
      if (toMs <= fromMs) throw invalid("end_time", "end_time must be after start_time.");
      const limit = pageLimit(req.evidenceLimit);
      const report = await buildComplianceReport({ ...exporterDeps(reportTenant, allTenants), verifier: nodeSignatureVerifier }, framework, { fromMs, toMs }, limit);
      await deps.audit.record({
        eventType: "audit.compliance_reported",
        tenantId: caller.tenantId,
        principalId: caller.principalId,
        resource: `tenant:${reportTenant}`,
        action: "report",
        outcome: "SUCCESS",
        origin: originOf(ctx),
        metadata: { framework, verification: report.verification.status, tree_size: String(report.checkpoint.treeSize) },
      });
      const toBig = (map: Record<string, number>) => Object.fromEntries(Object.entries(map).map(([k, v]) => [k, BigInt(v)]));
      return {
        report: {
          reportId: deps.ids.newId("rpt"),
          framework,
          tenantId: reportTenant,
          startTime: BigInt(fromMs),
          endTime: BigInt(toMs),
          generatedAt: BigInt(deps.clock.now()),
          controls: report.controls.map((control) => controlToWire(control, report.checkpoint.treeSize)),
          eventCounts: toBig(report.eventCounts),
          checkpoint: checkpointToWire(report.checkpoint),
          categoryCounts: toBig(report.categoryCounts),
          verification: {
            status: report.verification.status,
            treeSize: BigInt(report.verification.treeSize),
            checkedEvents: BigInt(report.verification.checkedEvents),
            detail: report.verification.detail,
          },
        },
      };
    },

    async queryEvents(req: QueryEventsRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      requirePermission(caller, "audit:read");
      const allTenants = isPlatformAuditor(caller);
      if (!allTenants) await assertOwnTenant(deps, ctx, req.tenantId);
      const limit = Math.min(req.limit === 0 ? 100 : req.limit, 1000);
      const query = { ...toAuditQuery(req), limit };
      const records = allTenants
        ? await deps.store.platform.auditProofs.queryAllTenants(req.tenantId === "" ? query : { ...query, tenantId: req.tenantId })
        : await deps.store.forTenant(caller.tenantId).audit.query(query);
      const revealed = await deps.subjectCipher.reveal(records);
      return { events: revealed.map(auditEventToWire), nextCursor: records.length === limit ? String(records.at(-1)?.seq ?? "") : "" };
    },

    async getAuditStatistics(req: GetAuditStatisticsRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      requirePermission(caller, "audit:read");
      const tenantId = req.tenantId !== "" && isPlatformAuditor(caller) ? req.tenantId : caller.tenantId;
      if (tenantId === caller.tenantId) await assertOwnTenant(deps, ctx, req.tenantId);
      const fromMs = msFromWire(req.startTime);
      const toMs = req.endTime === 0n ? deps.clock.now() + 1 : msFromWire(req.endTime);
      const rows = await deps.store.forTenant(tenantId).audit.statistics(fromMs, toMs);
      const byType: Record<string, bigint> = {};
      const byOutcome: Record<string, bigint> = {};
      const byDay: Record<string, bigint> = {};
      let total = 0n;
      let security = 0n;
      let first = Number.MAX_SAFE_INTEGER;
      let last = 0;
      for (const row of rows) {
        const count = BigInt(row.count);
        total += count;
        byType[row.eventType] = (byType[row.eventType] ?? 0n) + count;
        byOutcome[row.outcome] = (byOutcome[row.outcome] ?? 0n) + count;
        const day = new Date(row.day * DAY_MS).toISOString().slice(0, 10);
        byDay[day] = (byDay[day] ?? 0n) + count;
        if (isAuditEventType(row.eventType) && auditEventCatalogue[row.eventType].severity === "security") security += count;
        first = Math.min(first, row.firstMs);
        last = Math.max(last, row.lastMs);
      }
      const [head, latest] = await Promise.all([deps.store.platform.auditLog.head(), deps.store.platform.auditLog.latestCheckpoint()]);
      return {
        totalEvents: total,
        eventsByType: byType,
        eventsByOutcome: byOutcome,
        eventsByDay: byDay,
        securityEvents: security,
        firstEventAt: BigInt(total === 0n ? 0 : first),
        lastEventAt: BigInt(last),
        logSize: BigInt(head.size),
        ...(latest === null ? {} : { latestCheckpoint: checkpointToWire(latest) }),
      };
    },

    async getInclusionProof(req: GetInclusionProofRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      requirePermission(caller, "audit:read");
      const result = await deps.auditTrail.proofs.inclusion(
        { eventId: req.eventId, seq: msFromWire(req.seq), treeSize: msFromWire(req.treeSize) },
        isPlatformAuditor(caller) ? null : caller.tenantId,
      );
      return {
        event: auditEventToWire(result.record),
        leafIndex: BigInt(result.record.seq),
        leafHash: result.record.leafHash,
        treeSize: BigInt(result.checkpoint.treeSize),
        proof: result.proof,
        checkpoint: checkpointToWire(result.checkpoint),
      };
    },

    async getConsistencyProof(req: GetConsistencyProofRequest, ctx: HandlerContext) {
      requirePermission(callerOf(ctx), "audit:verify");
      const result = await deps.auditTrail.proofs.consistency(msFromWire(req.oldSize), msFromWire(req.newSize));
      return {
        oldSize: BigInt(result.oldCheckpoint.treeSize),
        newSize: BigInt(result.newCheckpoint.treeSize),
        proof: result.proof,
        oldCheckpoint: checkpointToWire(result.oldCheckpoint),
        newCheckpoint: checkpointToWire(result.newCheckpoint),
      };
    },

    async getCheckpoint(req: GetCheckpointRequest, ctx: HandlerContext) {
      requirePermission(callerOf(ctx), "audit:verify");
      return { checkpoint: checkpointToWire(await deps.auditTrail.proofs.checkpoint(msFromWire(req.treeSize))) };
    },

    async listCheckpoints(req: ListCheckpointsRequest, ctx: HandlerContext) {
      requirePermission(callerOf(ctx), "audit:verify");
      const after = req.cursor === "" ? 0 : Number(req.cursor);
      if (!/^(0|[1-9][0-9]*)$/.test(req.cursor === "" ? "0" : req.cursor) || !Number.isSafeInteger(after)) {
        throw new EnterpriseError("INVALID_ARGUMENT", { message: "Pass the next_cursor of the previous page.", details: { field: "cursor" } });
      }
      const page = await deps.auditTrail.proofs.list(after, req.limit === 0 ? 100 : req.limit);
      return { checkpoints: page.checkpoints.map(checkpointToWire), nextCursor: page.next === null ? "" : String(page.next) };
    },

    async getAuditVerifierKeys(_req: unknown, ctx: HandlerContext) {
      requirePermission(callerOf(ctx), "audit:verify");
      const keys = await deps.auditTrail.keys.verifierKeys();
      return {
        origin: deps.auditTrail.origin,
        keys: keys.map((key) => ({
          keyId: key.keyId,
          verifierKey: key.verifierKey,
          publicKeyPem: key.publicKeyPem,
          createdAt: BigInt(key.createdAt),
          retiredAt: BigInt(key.retiredAt ?? 0),
        })),
      };
    },

    async rotateAuditSigningKey(_req: unknown, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      // The audit key signs the whole platform's log: only a platform administrator may rotate it.
      if (caller.tenantId !== deps.platformTenantId || !caller.roles.includes("platform-admin")) {
        throw new EnterpriseError("AUTHORIZATION_DENIED", { details: { required_role: "platform-admin" } });
      }
      // Cover everything so far with the old key first, so the rotation point is itself signed.
      await deps.auditTrail.checkpointNow();
      const rotated = await deps.auditTrail.keys.rotate();
      await deps.audit.record({
        eventType: "signing_key.rotated",
        tenantId: caller.tenantId,
        principalId: caller.principalId,
        resource: `key:${rotated.keyId}`,
        action: "rotate",
        outcome: "SUCCESS",
        origin: originOf(ctx),
        metadata: { previous_key_id: rotated.previousKeyId, purpose: "audit-signing" },
      });
      const checkpoint = await deps.auditTrail.checkpointNow();
      return { keyId: rotated.keyId, previousKeyId: rotated.previousKeyId, checkpoint: checkpointToWire(checkpoint) };
    },
    async listDeadLetters(req: ListDeadLettersRequest, ctx: HandlerContext) {
      requirePlatformAdmin(deps, callerOf(ctx));
      const limit = pageLimit(req.limit);
      const destination = req.destination === "" ? undefined : req.destination;
      const letters = await deps.store.platform.deadLetters.list({
        limit,
        ...(destination === undefined ? {} : { destination }),
        ...(req.cursor === "" ? {} : { afterId: req.cursor }),
      });
      return {
        deadLetters: letters.map((letter) => ({
          deadLetterId: letter.deadLetterId,
          destination: letter.destination,
          eventCount: letter.eventCount,
          firstSeq: BigInt(letter.firstSeq),
          lastSeq: BigInt(letter.lastSeq),
          reason: letter.reason,
          attempts: letter.attempts,
          createdAt: BigInt(letter.createdAt),
        })),
        nextCursor: letters.length === limit ? (letters.at(-1)?.deadLetterId ?? "") : "",
        total: BigInt(await deps.store.platform.deadLetters.count(destination)),
      };
    },
    async setRetentionPolicy(req: SetRetentionPolicyRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      requirePermission(caller, MANAGE_RETENTION_PERMISSION);
      const rules = await deps.retention.setRule({ tenantId: caller.tenantId, principalId: caller.principalId, origin: originOf(ctx) }, req.pattern, req.retentionDays);
      return { policies: rules.map(ruleToWire) };
    },
    async listRetentionPolicies(_req: unknown, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      requirePermission(caller, "audit:read");
      return {
        policies: (await deps.retention.listRules(caller.tenantId)).map(ruleToWire),
        defaultRetentionDays: deps.retention.defaultDays,
        securityMinRetentionDays: deps.retention.floorDays,
      };
    },
    async placeLegalHold(req: PlaceLegalHoldRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      requirePermission(caller, MANAGE_RETENTION_PERMISSION);
      const hold = await deps.retention.placeHold(
        { tenantId: caller.tenantId, principalId: caller.principalId, origin: originOf(ctx) },
        { principalId: req.principalId, fromMs: msFromWire(req.startTime), toMs: msFromWire(req.endTime), reason: req.reason },
      );
      return { hold: holdToWire(hold) };
    },
    async releaseLegalHold(req: ReleaseLegalHoldRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      requirePermission(caller, MANAGE_RETENTION_PERMISSION);
      return { hold: holdToWire(await deps.retention.releaseHold({ tenantId: caller.tenantId, principalId: caller.principalId, origin: originOf(ctx) }, req.holdId)) };
    },
    async listLegalHolds(req: ListLegalHoldsRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      requirePermission(caller, "audit:read");
      return { holds: (await deps.retention.listHolds(caller.tenantId, req.includeReleased)).map(holdToWire) };
    },
    async eraseSubject(req: EraseSubjectRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      requirePermission(caller, ERASE_SUBJECT_PERMISSION);
      const destroyed = await deps.retention.eraseSubject({ tenantId: caller.tenantId, principalId: caller.principalId, origin: originOf(ctx) }, req.principalId);
      return { keysDestroyed: destroyed };
    },
    async replayDeadLetters(req: ReplayDeadLettersRequest, ctx: HandlerContext) {
      const caller = callerOf(ctx);
      requirePlatformAdmin(deps, caller);
      if (req.deadLetterIds.length > 1000) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "dead_letter_ids" } });
      const outcome = await deps.siem.replay({
        limit: req.deadLetterIds.length > 0 ? req.deadLetterIds.length : pageLimit(req.limit),
        ...(req.destination === "" ? {} : { destination: req.destination }),
        deadLetterIds: [...req.deadLetterIds],
      });
      await deps.audit.record({
        eventType: "siem.dead_letters_replayed",
        tenantId: caller.tenantId,
        principalId: caller.principalId,
        resource: `siem:${req.destination === "" ? "*" : req.destination}`,
        action: "replay",
        outcome: outcome.failed > 0 && outcome.replayed === 0 ? "FAILURE" : "SUCCESS",
        origin: originOf(ctx),
        metadata: { replayed: String(outcome.replayed), failed: String(outcome.failed) },
      });
      return { replayed: outcome.replayed, failed: outcome.failed, firstFailure: outcome.firstFailure, remaining: BigInt(await deps.store.platform.deadLetters.count()) };
    },
  };
}

/**
 * The request's filters as a store query (without limit).
 *
 * @throws EnterpriseError INVALID_ARGUMENT on a malformed cursor, outcome or filter key.
 */
function toAuditQuery(req: QueryEventsRequest): Omit<AuditQuery, "limit"> {
  const afterSeq = req.cursor === "" ? undefined : Number(req.cursor);
  if (afterSeq !== undefined && (!/^(0|[1-9][0-9]*)$/.test(req.cursor) || !Number.isSafeInteger(afterSeq))) {
    throw invalid("cursor", "Pass the next_cursor of the previous page.");
  }
  const fields: Record<string, string> = {};
  const metadata: Record<string, string> = { ...req.metadata };
  for (const [key, value] of Object.entries(req.filters)) {
    if (key.startsWith("metadata.")) metadata[key.slice("metadata.".length)] = value;
    else if (["session_id", "resource", "action", "outcome"].includes(key)) fields[key] = value;
    else throw invalid("filters", "Filter keys are session_id, resource, action, outcome and metadata.<key>.");
  }
  const outcome = req.outcome !== "" ? req.outcome : fields["outcome"];
  if (outcome !== undefined && !OUTCOMES.includes(outcome)) throw invalid("outcome", "The outcome is SUCCESS, FAILURE, DENIED or ERROR.");
  if (req.contractId !== "" && fields["resource"] !== undefined) throw invalid("contract_id", "Filter by contract or by resource, not both.");
  const resource = req.contractId !== "" ? `contract:${req.contractId}` : fields["resource"];
  return {
    ...(req.startTime === 0n ? {} : { fromMs: msFromWire(req.startTime) }),
    ...(req.endTime === 0n ? {} : { toMs: msFromWire(req.endTime) }),
    ...(req.eventTypes.length === 0 ? {} : { eventTypes: [...req.eventTypes] }),
    ...(req.principalId === "" ? {} : { principalId: req.principalId }),
    ...(req.correlationId === "" ? {} : { correlationId: req.correlationId }),
    ...(afterSeq === undefined ? {} : { afterSeq }),
    ...(outcome === undefined ? {} : { outcome: outcome as AuditOutcome }),
    ...(resource === undefined ? {} : { resource }),
    ...(fields["session_id"] === undefined ? {} : { sessionId: fields["session_id"] }),
    ...(fields["action"] === undefined ? {} : { action: fields["action"] }),
    ...(Object.keys(metadata).length === 0 ? {} : { metadata }),
  };
}

function invalid(field: string, message: string): EnterpriseError {
  return new EnterpriseError("INVALID_ARGUMENT", { message, details: { field } });
}

/** A retention rule as `aesp.v1.RetentionPolicy`. */
function ruleToWire(rule: AuditRetentionRuleRecord) {
  return { pattern: rule.pattern, retentionDays: rule.days, updatedAt: BigInt(rule.updatedAt), updatedBy: rule.updatedBy };
}

/** A legal hold as `aesp.v1.LegalHold`. */
function holdToWire(hold: AuditLegalHoldRecord) {
  return {
    holdId: hold.holdId,
    principalId: hold.principalId,
    startTime: BigInt(hold.fromMs),
    endTime: BigInt(hold.toMs),
    reason: hold.reason,
    placedBy: hold.placedBy,
    placedAt: BigInt(hold.placedAt),
    releasedAt: BigInt(hold.releasedAt ?? 0),
    releasedBy: hold.releasedBy,
  };
}

/** A stored checkpoint as `aesp.v1.AuditCheckpoint`. */
function checkpointToWire(checkpoint: AuditCheckpointRecord) {
  return {
    treeSize: BigInt(checkpoint.treeSize),
    rootHash: checkpoint.rootHash,
    chainHash: checkpoint.chainHash,
    signedNote: checkpoint.signedNote,
    keyId: checkpoint.keyId,
    createdAt: BigInt(checkpoint.createdAt),
  };
}

function controlToWire(control: ComplianceControlResult, proofTreeSize: number) {
  return {
    controlId: control.id,
    description: control.description,
    status: control.status,
    evidenceCount: BigInt(control.evidenceCount),
    findings: control.findings,
    categories: control.categories,
    evidence: control.evidence.map((item) => ({
      eventId: item.eventId,
      seq: BigInt(item.seq),
      eventType: item.eventType,
      timestampMs: BigInt(item.timestampMs),
      outcome: item.outcome,
      principalId: item.principalId,
      category: item.category,
      proofTreeSize: BigInt(proofTreeSize),
    })),
  };
}
