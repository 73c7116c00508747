/**
 * Micro-benchmark of durable audit appends (called by `npm run bench`; not a test).
 *
 * Measures what the store alone costs per event: lock, head read, multi-row
 * INSERTs, head update and the commit's fsync, with batches appended one after
 * another as the Host's group commit does. `link` is trivial on purpose:
 * hashing is the core's cost and is measured separately.
 */
import { randomUUID } from "node:crypto";
import type { Store } from "@aesp/core";
import type { AuditEventDraft, AuditHead, AuditRecord } from "@aesp/core";

/** What to append. */
export interface AuditAppendBenchmarkOptions {
  /** Total events; rounded up to whole batches. */
  events: number;
  /** Events per append (one transaction, one fsync). */
  batchSize: number;
}

/** The measurement. */
export interface AuditAppendBenchmark {
  eventsPerSecond: number;
  batches: number;
  events: number;
  elapsedMs: number;
  kind: Store["kind"];
}

const PLACEHOLDER_HASH = "ab".repeat(32);

/** A draft the size of a typical tool-call event. */
function benchmarkDraft(runId: string, index: number): AuditEventDraft {
  return {
    eventId: `evt_${runId}_${index}`,
    timestampMs: 1_700_000_000_000 + index,
    eventType: "tool.invoked",
    tenantId: `tenant_${index % 8}`,
    principalId: `usr_${index % 97}`,
    sessionId: `ses_${index % 1013}`,
    resource: "contract:get_weather@1.0.0",
    action: "invoke",
    outcome: "SUCCESS",
    sourceIp: "127.0.0.1",
    userAgent: "aesp-bench/1.0",
    correlationId: `cor_${runId}_${index}`,
    riskScore: "0.1",
    policyViolations: [],
    metadata: { runtime_id: "rt_weather", duration_ms: "3", cost_units: "1" },
  };
}

/**
 * Appends `events` audit events in batches of `batchSize` and reports the rate.
 *
 * @param store - an open Store; the events stay in its log.
 * @param options - total events and batch size (both ≥ 1).
 * @returns events per second over the whole run, and the number of batches.
 * @throws RangeError for a non-positive event count or batch size.
 */
export async function benchAuditAppend(store: Store, options: AuditAppendBenchmarkOptions): Promise<AuditAppendBenchmark> {
  const { batchSize } = options;
  if (!(options.events >= 1 && batchSize >= 1)) throw new RangeError("events and batchSize must be at least 1");
  const batches = Math.ceil(options.events / batchSize);
  const runId = randomUUID().slice(0, 8);
  const prepared: AuditEventDraft[][] = [];
  for (let batch = 0; batch < batches; batch++) {
    prepared.push(Array.from({ length: batchSize }, (_, offset) => benchmarkDraft(runId, batch * batchSize + offset)));
  }
  const link = (drafts: AuditEventDraft[]) => (head: AuditHead): AuditRecord[] =>
    drafts.map((draft, offset) => ({ ...draft, seq: head.size + offset, leafHash: PLACEHOLDER_HASH, chainHash: PLACEHOLDER_HASH }));

  const started = performance.now();
  for (const drafts of prepared) await store.platform.auditLog.append(drafts, link(drafts));
  const elapsedMs = performance.now() - started;
  const events = batches * batchSize;
  return { eventsPerSecond: Math.round((events / elapsedMs) * 1000), batches, events, elapsedMs: Math.round(elapsedMs), kind: store.kind };
}
