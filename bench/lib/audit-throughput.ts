/**
 * Durable audit: the core's AuditLog group commit over the Host's real stores (a SQLite file and
 * a throwaway PostgreSQL schema) with many concurrent `record()` callers; the stores' raw batch
 * appends; and offline verification speed over a large synthetic log.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { AuditLog, AuditLogVerifier, CompactRange, ZERO_HASH_HEX, fromHex, linkRecords, signCheckpoint, toHex } from "@aesp/core/audit";
import type { AuditCheckpointRecord, AuditEventDraft, AuditHead, AuditLogStore, AuditRecord, Store } from "@aesp/core";
import { openStore } from "@aesp/host";
import { benchAuditAppend } from "../../packages/host/src/storage/index.ts";
import { createEd25519Signer, nodeHasher, nodeIdSource, nodeSignatureVerifier, systemClock } from "../../packages/host/src/crypto/node-crypto-ports.ts";
import { hostConfigSchema } from "../../packages/core/src/config/sections.ts";
import { figure, targeted, targets } from "./figures.ts";
import type { Figure, TargetedFigure } from "./figures.ts";
import { round, summarize } from "./load.ts";

/** Settings of the audit benchmarks. */
export interface AuditBenchOptions {
  /** Events recorded through the AuditLog, per backend. */
  readonly events: number;
  /** Concurrent `record()` callers. */
  readonly concurrency: number;
  /** Events appended straight to the store, per backend. */
  readonly rawEvents: number;
  readonly rawBatchSize: number;
  /** Size of the synthetic log verified. */
  readonly verifyEvents: number;
  readonly postgresUrl: string;
  readonly log: (line: string) => void;
}

/** AuditLog group commit on one backend. */
export interface GroupCommitReport {
  readonly backend: "sqlite" | "postgres";
  readonly events: number;
  readonly concurrent_callers: number;
  readonly throughput: TargetedFigure;
  readonly elapsed: Figure;
  readonly record_latency_p50: Figure;
  readonly record_latency_p99: Figure;
  readonly batches: number;
  readonly mean_batch: Figure;
  readonly checkpoints_signed: number;
  readonly errors: number;
}

/** Raw store appends on one backend. */
export interface RawAppendReport {
  readonly backend: "sqlite" | "postgres";
  readonly events: number;
  readonly batch_size: number;
  readonly throughput: Figure;
  readonly elapsed: Figure;
}

/** Offline verification of a synthetic log. */
export interface VerifyReport {
  readonly events: number;
  readonly checkpoints: number;
  readonly throughput: TargetedFigure;
  readonly elapsed: Figure;
  readonly ok: boolean;
  readonly note: string;
}

/** The audit section of the results; a backend that could not run carries `error`. */
export interface AuditReport {
  readonly group_commit: (GroupCommitReport | { backend: string; error: string })[];
  readonly raw_store_appends: (RawAppendReport | { backend: string; error: string })[];
  readonly verify: VerifyReport;
  readonly settings: { readonly checkpoint_every: number; readonly max_batch: number; readonly max_queued: number };
}

const origin = "bench.aesp.local/audit";
const checkpointEvery = hostConfigSchema["audit.checkpoint_every"].default;
const maxBatch = hostConfigSchema["audit.max_batch"].default;
const maxQueued = hostConfigSchema["audit.max_queued"].default;

/**
 * Runs every audit benchmark; a backend that fails is reported with its error, not thrown.
 */
export async function benchAudit(options: AuditBenchOptions): Promise<AuditReport> {
  const groupCommit: AuditReport["group_commit"] = [];
  const rawAppends: AuditReport["raw_store_appends"] = [];
  for (const backend of ["sqlite", "postgres"] as const) {
    let opened: OpenedStore | null = null;
    try {
      options.log(`audit group commit on ${backend}: ${options.events} events, ${options.concurrency} concurrent callers`);
      opened = await openBenchStore(backend, options.postgresUrl);
      const report = await benchGroupCommit(opened.store, backend, options);
      groupCommit.push(report);
      options.log(`  ${report.throughput.value} events/s (${report.batches} batches, mean ${report.mean_batch.value})`);
      options.log(`raw ${backend} store appends: ${options.rawEvents} events in batches of ${options.rawBatchSize}`);
      const raw = await benchAuditAppend(opened.store, { events: options.rawEvents, batchSize: options.rawBatchSize });
      rawAppends.push({
        backend,
        events: raw.events,
        batch_size: options.rawBatchSize,
        throughput: figure(raw.eventsPerSecond, "events/s"),
        elapsed: figure(round(raw.elapsedMs / 1000, 3), "s"),
      });
      options.log(`  ${raw.eventsPerSecond} events/s`);
    } catch (err) {
      const error = describeError(err);
      options.log(`  ${backend} failed: ${error}`);
      if (groupCommit.every((r) => r.backend !== backend)) groupCommit.push({ backend, error });
      rawAppends.push({ backend, error });
    } finally {
      await opened?.close();
    }
  }
  options.log(`verifying a synthetic log of ${options.verifyEvents} events`);
  const verify = await benchVerify(options.verifyEvents);
  options.log(`  ${verify.throughput.value} events/s (${verify.elapsed.value} s)`);
  return { group_commit: groupCommit, raw_store_appends: rawAppends, verify, settings: { checkpoint_every: checkpointEvery, max_batch: maxBatch, max_queued: maxQueued } };
}

/** The error's message and its cause's (EnterpriseErrors keep driver detail in `cause`). */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : "";
  return cause === "" || err.message.includes(cause) ? err.message : `${err.message} (${cause})`;
}

interface OpenedStore {
  readonly store: Store;
  close(): Promise<void>;
}

/** A store in a temp SQLite file, or in a fresh PostgreSQL schema that is dropped on close. */
async function openBenchStore(backend: "sqlite" | "postgres", postgresUrl: string): Promise<OpenedStore> {
  if (backend === "sqlite") {
    const dir = await mkdtemp(path.join(tmpdir(), "aesp-bench-audit-"));
    const store = await openStore({ kind: "sqlite", path: path.join(dir, "audit.db") });
    return {
      store,
      async close() {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `aesp_bench_${nodeIdSource.newSecret(6).toLowerCase().replace(/[^a-z0-9]/g, "x")}`;
  const dropSchema = async () => {
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      await client.end();
    }
  };
  let store: Store;
  try {
    store = await openStore({ kind: "postgres", connectionString: postgresUrl, schema, poolSize: 4 });
  } catch (err) {
    await dropSchema().catch(() => undefined);
    throw err;
  }
  return {
    store,
    async close() {
      await store.close();
      await dropSchema();
    },
  };
}

/** An AuditLogStore that counts batches and checkpoints on their way to the real one. */
function countingStore(inner: AuditLogStore) {
  const counts = { batches: 0, events: 0, checkpoints: 0 };
  const store: AuditLogStore = {
    append: (drafts: readonly AuditEventDraft[], link: (head: AuditHead) => ReturnType<Parameters<AuditLogStore["append"]>[1]>) => {
      counts.batches++;
      counts.events += drafts.length;
      return inner.append(drafts, link);
    },
    head: () => inner.head(),
    readRange: (fromSeq, limit) => inner.readRange(fromSeq, limit),
    saveCheckpoint: (checkpoint) => {
      counts.checkpoints++;
      return inner.saveCheckpoint(checkpoint);
    },
    latestCheckpoint: () => inner.latestCheckpoint(),
    listCheckpoints: () => inner.listCheckpoints(),
  };
  return { store, counts };
}

async function benchGroupCommit(store: Store, backend: "sqlite" | "postgres", options: AuditBenchOptions): Promise<GroupCommitReport> {
  const counting = countingStore(store.platform.auditLog);
  const signer = createEd25519Signer("bench-audit", generateKeyPairSync("ed25519").privateKey);
  const log = new AuditLog({ store: counting.store, hasher: nodeHasher, signer, clock: systemClock, ids: nodeIdSource }, { origin, checkpointEvery, maxBatch, maxQueued });
  await log.open();
  try {
    await recordMany(log, Math.min(2_000, options.events), Math.min(200, options.concurrency));
    await log.drain();
    const before = { ...counting.counts };
    const started = performance.now();
    const result = await recordMany(log, options.events, options.concurrency);
    const elapsedMs = performance.now() - started;
    const batches = counting.counts.batches - before.batches;
    const batchedEvents = counting.counts.events - before.events;
    const latency = summarize(result.latencies);
    return {
      backend,
      events: options.events,
      concurrent_callers: options.concurrency,
      throughput: targeted(Math.round(result.recorded / (elapsedMs / 1000)), "events/s", targets.durableAudit),
      elapsed: figure(round(elapsedMs / 1000, 3), "s"),
      record_latency_p50: figure(latency.p50, "ms"),
      record_latency_p99: figure(latency.p99, "ms"),
      batches,
      mean_batch: figure(round(batchedEvents / Math.max(1, batches), 1), "events/batch"),
      checkpoints_signed: counting.counts.checkpoints - before.checkpoints,
      errors: result.errors,
    };
  } finally {
    await log.close();
  }
}

/** `events` records from `concurrency` callers, each awaiting durability before its next. */
async function recordMany(log: AuditLog, events: number, concurrency: number): Promise<{ recorded: number; errors: number; latencies: number[] }> {
  let issued = 0;
  let recorded = 0;
  let errors = 0;
  const latencies: number[] = [];
  const caller = async (worker: number) => {
    while (issued < events) {
      const index = issued++;
      const started = performance.now();
      try {
        await log.record({
          eventType: "tool_call.completed",
          tenantId: `tenant_${worker % 8}`,
          principalId: `svc_${worker % 97}`,
          sessionId: `ses_${worker}`,
          resource: "contract:echo@1.0.0",
          action: "tools:invoke",
          sourceIp: "127.0.0.1",
          userAgent: "aesp-bench/1.0",
          correlationId: `cor_${index}`,
          metadata: { invocation_id: `inv_${index}`, runtime_id: "bench-echo", duration_ms: "1", status: "SUCCESS" },
        });
        recorded++;
        latencies.push(performance.now() - started);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, worker) => caller(worker)));
  return { recorded, errors, latencies };
}

/** A typical tool-call event, deterministic in `index` so the log can be rebuilt identically. */
function syntheticDraft(index: number): AuditEventDraft {
  return {
    eventId: `evt_${index.toString(36).padStart(8, "0")}`,
    timestampMs: 1_767_225_600_000 + index,
    eventType: index % 3 === 0 ? "tool_call.started" : "tool_call.completed",
    tenantId: `tenant_${index % 8}`,
    principalId: `svc_${index % 97}`,
    sessionId: `ses_${index % 1013}`,
    resource: "contract:echo@1.0.0",
    action: "tools:invoke",
    outcome: "SUCCESS",
    sourceIp: "127.0.0.1",
    userAgent: "aesp-bench/1.0",
    correlationId: `cor_${index}`,
    riskScore: "",
    policyViolations: [],
    metadata: { invocation_id: `inv_${index}`, runtime_id: "bench-echo", duration_ms: String(index % 50) },
  };
}

/** Builds the log chunk by chunk (untimed), signing a checkpoint every `checkpointEvery` records. */
async function* linkedChunks(events: number, onCheckpoint?: (checkpoint: AuditCheckpointRecord) => Promise<void>) {
  const chunk = 50_000;
  const range = onCheckpoint === undefined ? null : new CompactRange(nodeHasher);
  let head: AuditHead = { size: 0, chainHash: ZERO_HASH_HEX };
  for (let from = 0; from < events; from += chunk) {
    const drafts: AuditEventDraft[] = [];
    for (let index = from; index < Math.min(events, from + chunk); index++) drafts.push(syntheticDraft(index));
    const records = linkRecords(head, drafts, nodeHasher);
    if (range !== null && onCheckpoint !== undefined) {
      for (const record of records) {
        range.append(fromHex(record.leafHash) as Uint8Array);
        if (range.size % checkpointEvery === 0) {
          await onCheckpoint({ treeSize: range.size, rootHash: toHex(range.root()), chainHash: record.chainHash, signedNote: "", keyId: "", createdAt: 0 });
        }
      }
    }
    const last = records[records.length - 1];
    if (last !== undefined) head = { size: last.seq + 1, chainHash: last.chainHash };
    yield records;
  }
}

/**
 * Verification speed: builds a linked log with a signed checkpoint every `audit.checkpoint_every`
 * records, then times only the verifier (checkpoint signatures, every leaf, chain link and root).
 */
async function benchVerify(events: number): Promise<VerifyReport> {
  const signer = createEd25519Signer("bench-audit", generateKeyPairSync("ed25519").privateKey);
  const checkpoints: AuditCheckpointRecord[] = [];
  // Small logs are kept from the first pass; large ones are rebuilt chunk by chunk to bound memory.
  const kept: AuditRecord[][] | null = events <= 200_000 ? [] : null;
  for await (const records of linkedChunks(events, async (body) => {
    const signedNote = await signCheckpoint({ origin, treeSize: body.treeSize, rootHash: body.rootHash, chainHash: body.chainHash }, signer, nodeHasher);
    checkpoints.push({ ...body, signedNote, keyId: signer.keyId });
  })) {
    kept?.push(records);
  }
  let verifyMs = 0;
  let started = performance.now();
  const verifier = new AuditLogVerifier({ checkpoints, trustedKeys: [{ keyName: origin, publicKey: signer.publicKey }], hasher: nodeHasher, verifier: nodeSignatureVerifier, origin });
  verifyMs += performance.now() - started;
  for await (const records of kept ?? linkedChunks(events)) {
    started = performance.now();
    for (const record of records) if (!verifier.push(record)) break;
    verifyMs += performance.now() - started;
  }
  started = performance.now();
  const result = verifier.finish();
  verifyMs += performance.now() - started;
  const ok = result.ok && result.size === events && result.lastCheckpoint?.treeSize === Math.floor(events / checkpointEvery) * checkpointEvery;
  return {
    events,
    checkpoints: checkpoints.length,
    throughput: targeted(Math.round(events / (verifyMs / 1000)), "events/s", targets.verification),
    elapsed: figure(round(verifyMs / 1000, 3), "s"),
    ok,
    note: ok ? "in-memory records; building the log is not timed" : `verification did not pass: ${JSON.stringify(result)}`,
  };
}
