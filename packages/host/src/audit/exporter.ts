/**
 * Streaming audit exports (ExportAuditLogs) and compliance reports (GetComplianceReport).
 *
 * Rules:
 * - Both read the store page by page ({@link PAGE} events): nothing holds the whole period in memory.
 * - Both are confined by the caller's reader (a tenant's own store, or the platform-wide reader
 *   for platform auditors); the service decides which.
 * - A verifiable export is anchored to a checkpoint signed when it starts; it holds only events
 *   inside that checkpoint, each with its inclusion proof computed from stored subtrees, and ends
 *   with a manifest signed by the audit key over tenant, filters, checkpoint and every leaf.
 */
import type { AuditCheckpointRecord, AuditQuery, AuditRecord, Signer, SignatureVerifier } from "@aesp/core";
import { EnterpriseError } from "@aesp/core";
import {
  AUDIT_EXPORT_CONTENT_TYPES,
  ComplianceReportBuilder,
  EXPORT_BUNDLE_FORMAT,
  ExportDigest,
  EventHasher,
  cefLine,
  consistencyProofFromNodes,
  csvHeader,
  csvRow,
  exportBinding,
  exportedEvent,
  fromHex,
  inclusionProofFromNodes,
  jsonlLine,
  manifestText,
  ocsfLine,
  parseVerifierKey,
  rootFromNodes,
  signManifest,
  toHex,
  verifyCheckpoint,
  verifyConsistency,
} from "@aesp/core/audit";
import type {
  AuditExportFormat,
  ComplianceControlResult,
  ComplianceFramework,
  ComplianceVerificationResult,
  ExportFilters,
  ExportHeaderLine,
  ExportProduct,
} from "@aesp/core/audit";
import { nodeHasher } from "../crypto/node-crypto-ports.ts";

/** Events read per store page (and per streamed message). */
export const PAGE = 500;

/** What the exporter reads and signs with. */
export interface AuditExporterDeps {
  /** The confined reader: a tenant's own `audit.query`, or the platform-wide one. */
  readonly query: (query: AuditQuery) => Promise<AuditRecord[]>;
  readonly nodeHashes: (nodes: readonly { level: number; index: number }[]) => Promise<Uint8Array[]>;
  readonly checkpointNow: () => Promise<AuditCheckpointRecord>;
  /** Checkpoints with tree size greater than `after`, ascending. */
  readonly checkpointPage: (after: number, limit: number) => Promise<AuditCheckpointRecord[]>;
  readonly checkpointAt: (treeSize: number) => Promise<AuditCheckpointRecord | null>;
  readonly signer: Signer;
  readonly verifierKeys: () => Promise<string[]>;
  readonly origin: string;
  readonly product: ExportProduct;
  readonly now: () => number;
}

/** One streamed piece of an export. */
export interface ExportChunk {
  data: Uint8Array;
  eventCount: number;
  contentType: string;
  checkpoint?: AuditCheckpointRecord;
}

/** What to export. */
export interface ExportRequest {
  /** The export's tenant; "" for a platform-wide export. */
  tenantId: string;
  filters: ExportFilters;
  format: AuditExportFormat;
  /** JSONL only: the verifiable bundle. */
  verifiable: boolean;
  /** 0: the first checkpoint that covered the first exported event. */
  sinceTreeSize: number;
}

const encoder = new TextEncoder();

/**
 * Streams an export. The anchor checkpoint is signed before the first byte, so the export holds
 * exactly the matching events committed before it started.
 *
 * @throws EnterpriseError `NOT_FOUND` when `sinceTreeSize` is not a checkpoint; `INVALID_ARGUMENT`
 *   when it is larger than the export's checkpoint.
 */
export async function* streamAuditExport(deps: AuditExporterDeps, request: ExportRequest): AsyncGenerator<ExportChunk> {
  const anchor = await deps.checkpointNow();
  const contentType = AUDIT_EXPORT_CONTENT_TYPES[request.format];
  let since: AuditCheckpointRecord | null = null;
  if (request.verifiable && request.sinceTreeSize > 0) {
    since = await deps.checkpointAt(request.sinceTreeSize);
    if (since === null) throw new EnterpriseError("NOT_FOUND", { message: "No checkpoint has that tree size.", details: { field: "since_tree_size" } });
    if (since.treeSize > anchor.treeSize) throw new EnterpriseError("INVALID_ARGUMENT", { message: "since_tree_size is newer than the export's checkpoint.", details: { field: "since_tree_size" } });
  }
  const header: ExportHeaderLine = {
    type: "header",
    format: EXPORT_BUNDLE_FORMAT,
    origin: deps.origin,
    tenant_id: request.tenantId,
    filters: request.filters,
    generated_at: deps.now(),
    verifier_keys: await deps.verifierKeys(),
    checkpoint: { tree_size: anchor.treeSize, root_hash: anchor.rootHash, signed_note: anchor.signedNote },
  };
  const digest = new ExportDigest(exportBinding(header), nodeHasher);
  if (request.verifiable) yield { data: encoder.encode(JSON.stringify(header) + "\n"), eventCount: 0, contentType };
  else if (request.format === "CSV") yield { data: encoder.encode(csvHeader()), eventCount: 0, contentType };

  const query = toQuery(request.filters);
  let afterSeq: number | undefined;
  let firstSeq = -1;
  let lastSeq = -1;
  for (;;) {
    const page = (await deps.query({ ...query, limit: PAGE, ...(afterSeq === undefined ? {} : { afterSeq }) })).filter((record) => record.seq < anchor.treeSize);
    if (page.length === 0) break;
    let text = "";
    for (const record of page) {
      if (request.verifiable) {
        const proof = await inclusionProofFromNodes(record.seq, anchor.treeSize, deps.nodeHashes, nodeHasher);
        const event = exportedEvent(record);
        const { seq, leafHash, ...fields } = event;
        text += JSON.stringify({ type: "event", seq, leaf_hash: leafHash, event: fields, proof: proof.map(toHex) }) + "\n";
        digest.add(fromHex(record.leafHash)!);
      } else {
        text += formatRecord(request.format, record, deps.product);
      }
      if (firstSeq < 0) firstSeq = record.seq;
      lastSeq = record.seq;
    }
    yield { data: encoder.encode(text), eventCount: page.length, contentType };
    afterSeq = page[page.length - 1]!.seq;
    // A page cut short by the anchor is the last one.
    if (page.length < PAGE) break;
  }
  if (!request.verifiable) {
    yield { data: new Uint8Array(0), eventCount: 0, contentType };
    return;
  }

  let tail = "";
  if (since === null && firstSeq >= 0) {
    const [covering] = await deps.checkpointPage(firstSeq, 1);
    if (covering !== undefined && covering.treeSize < anchor.treeSize) since = covering;
  }
  if (since !== null && since.treeSize < anchor.treeSize) {
    const proof = await consistencyProofFromNodes(since.treeSize, anchor.treeSize, deps.nodeHashes, nodeHasher);
    tail += JSON.stringify({ type: "checkpoint", tree_size: since.treeSize, signed_note: since.signedNote }) + "\n";
    tail += JSON.stringify({ type: "consistency", old_size: since.treeSize, new_size: anchor.treeSize, proof: proof.map(toHex) }) + "\n";
  }
  const text = manifestText(deps.origin, { tenantId: request.tenantId, treeSize: anchor.treeSize, eventCount: digest.count, digest: digest.hex });
  const signedNote = await signManifest(text, deps.signer, nodeHasher, deps.origin);
  tail += JSON.stringify({ type: "manifest", event_count: digest.count, first_seq: firstSeq, last_seq: lastSeq, events_digest: digest.hex, signed_note: signedNote }) + "\n";
  yield { data: encoder.encode(tail), eventCount: 0, contentType, checkpoint: anchor };
}

function formatRecord(format: AuditExportFormat, record: AuditRecord, product: ExportProduct): string {
  switch (format) {
    case "JSONL":
      return jsonlLine(record);
    case "CSV":
      return csvRow(record);
    case "CEF":
      return cefLine(record, product);
    case "OCSF":
      return ocsfLine(record, product);
  }
}

function toQuery(filters: ExportFilters): Omit<AuditQuery, "limit"> {
  return {
    ...(filters.start_time === 0 ? {} : { fromMs: filters.start_time }),
    ...(filters.end_time === 0 ? {} : { toMs: filters.end_time }),
    ...(filters.event_types.length === 0 ? {} : { eventTypes: [...filters.event_types] }),
    ...(filters.principal_id === "" ? {} : { principalId: filters.principal_id }),
    ...(filters.outcome === "" ? {} : { outcome: filters.outcome as AuditQuery["outcome"] & string }),
  };
}

/** What a compliance report holds besides its controls. */
export interface ComplianceReportResult {
  controls: ComplianceControlResult[];
  eventCounts: Record<string, number>;
  categoryCounts: Record<string, number>;
  verification: ComplianceVerificationResult;
  checkpoint: AuditCheckpointRecord;
}

/**
 * Builds a compliance report over the confined reader's events of a period, and checks the log
 * the evidence is drawn from: the anchor checkpoint's signature against the Host's verifier keys,
 * the stored tree reproducing its signed root, the previous checkpoint extending into it, and each
 * evidence event hashing to its stored leaf. (The whole chain: `aesp audit verify`.)
 */
export async function buildComplianceReport(
  deps: AuditExporterDeps & { readonly verifier: SignatureVerifier },
  framework: ComplianceFramework,
  range: { fromMs: number; toMs: number },
  evidenceLimit: number,
): Promise<ComplianceReportResult> {
  const anchor = await deps.checkpointNow();
  const builder = new ComplianceReportBuilder(framework, evidenceLimit);
  const leaves = new EventHasher(nodeHasher);
  let checked = 0;
  let badEvent: AuditRecord | null = null;
  let afterSeq: number | undefined;
  for (;;) {
    const page = (await deps.query({ fromMs: range.fromMs, toMs: range.toMs, limit: PAGE, ...(afterSeq === undefined ? {} : { afterSeq }) })).filter(
      (record) => record.seq < anchor.treeSize,
    );
    if (page.length === 0) break;
    const before = builder.evidenceEventIds();
    for (const record of page) builder.add(record);
    const kept = builder.evidenceEventIds();
    for (const record of page) {
      if (!kept.has(record.eventId) || before.has(record.eventId)) continue;
      checked++;
      if (badEvent === null && toHex(leaves.leaf(record)) !== record.leafHash) badEvent = record;
    }
    afterSeq = page[page.length - 1]!.seq;
    if (page.length < PAGE) break;
  }
  const verification = await verifyAnchor(deps, anchor, checked, badEvent);
  return { controls: builder.controls(verification), eventCounts: builder.eventCounts, categoryCounts: builder.categoryCounts, verification, checkpoint: anchor };
}

async function verifyAnchor(
  deps: AuditExporterDeps & { readonly verifier: SignatureVerifier },
  anchor: AuditCheckpointRecord,
  checkedEvents: number,
  badEvent: AuditRecord | null,
): Promise<ComplianceVerificationResult> {
  const result = (status: ComplianceVerificationResult["status"], detail: string): ComplianceVerificationResult => ({ status, treeSize: anchor.treeSize, checkedEvents, detail });
  if (anchor.treeSize === 0) return result("NO_CHECKPOINT", "the log is empty");
  const keys = (await deps.verifierKeys()).map((key) => parseVerifierKey(key, nodeHasher));
  const signed = verifyCheckpoint(anchor.signedNote, keys, deps.verifier, nodeHasher, { origin: deps.origin });
  if (!signed.ok) return result("FAILED", `checkpoint of ${anchor.treeSize} events: ${signed.reason}`);
  const root = toHex(await rootFromNodes(anchor.treeSize, deps.nodeHashes, nodeHasher));
  if (root !== signed.checkpoint.rootHash) return result("FAILED", `the stored tree of ${anchor.treeSize} events does not reproduce the signed root`);
  let previous: AuditCheckpointRecord | undefined;
  for (let after = 0; ; ) {
    const page = await deps.checkpointPage(after, 1_000);
    for (const checkpoint of page) if (checkpoint.treeSize < anchor.treeSize) previous = checkpoint;
    if (page.length < 1_000 || page.at(-1)!.treeSize >= anchor.treeSize) break;
    after = page.at(-1)!.treeSize;
  }
  if (previous !== undefined && previous.treeSize > 0) {
    const proof = await consistencyProofFromNodes(previous.treeSize, anchor.treeSize, deps.nodeHashes, nodeHasher);
    const previousSigned = verifyCheckpoint(previous.signedNote, keys, deps.verifier, nodeHasher, { origin: deps.origin });
    if (!previousSigned.ok) return result("FAILED", `checkpoint of ${previous.treeSize} events: ${previousSigned.reason}`);
    if (!verifyConsistency(previous.treeSize, anchor.treeSize, proof, fromHex(previousSigned.checkpoint.rootHash)!, fromHex(root)!, nodeHasher)) {
      return result("FAILED", `the log of ${anchor.treeSize} events does not extend the checkpoint of ${previous.treeSize}`);
    }
  }
  if (badEvent !== null) return result("FAILED", `event ${badEvent.eventId} (seq ${badEvent.seq}) does not hash to its recorded leaf (modified)`);
  return result("VERIFIED", "");
}
