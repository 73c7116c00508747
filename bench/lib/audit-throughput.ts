/**
 * Durable audit: the core's AuditLog group commit over the Host's real stores (a SQLite file and
 * a throwaway PostgreSQL schema) with many concurrent `record()` callers, for several batch-size
 * limits; the stores' raw batch appends; and verification speed, in memory and over a store.
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
  /** Events recorded through the AuditLog, per backend and batch limit (fewer for small limits, see {@link eventsFor}). */
  readonly events: number;
  /** `audit.max_batch` values measured; the Host's default is targeted. */
  readonly maxBatches: readonly number[];
  /** Concurrent `record()` callers. */
  readonly concurrency: number;
  /** Events appended straight to the store, per backend. */
  readonly rawEvents: number;
  readonly rawBatchSize: number;
  /** Size of the synthetic log verified (in memory and from each store). */
  readonly verifyEvents: number;
  readonly postgresUrl: string;
  readonly log: (line: string) => void;
}

/** AuditLog group commit on one backend. */
export interface GroupCommitReport {
  readonly backend: "sqlite" | "postgres";
  /** The `audit.max_batch` of this run. */
  readonly max_batch: number;
  readonly events: number;
  readonly concurrent_callers: number;
  /** Targeted for the Host's default `audit.max_batch` only. */
  readonly throughput: TargetedFigure | Figure;
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

/** Verification of a log read page by page from a store, as `aesp audit verify` does. */
export interface StoreVerifyReport {
  readonly backend: "sqlite" | "postgres";
  readonly events: number;
  readonly checkpoints: number;
  readonly throughput: TargetedFigure;
  readonly elapsed: Figure;
  /** Untimed: building the linked log and appending it in large batches. */
  readonly build_elapsed: Figure;
  readonly ok: boolean;
}

/** The audit section of the results; a backend that could not run carries `error`. */
export interface AuditReport {
  readonly group_commit: (GroupCommitReport | { backend: string; max_batch?: number; error: string })[];
  readonly raw_store_appends: (RawAppendReport | { backend: string; error: string })[];
  readonly verify: VerifyReport;
  readonly verify_store: (StoreVerifyReport | { backend: string; error: string })[];
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
    for (const batchLimit of options.maxBatches) {
      let opened: OpenedStore | null = null;
      try {
        const events = eventsFor(batchLimit, options.events);
        options.log(`audit group commit on ${backend}, max_batch ${batchLimit}: ${events} events, ${options.concurrency} concurrent callers`);
        opened = await openBenchStore(backend, options.postgresUrl);
        const report = await benchGroupCommit(opened.store, backend, batchLimit, events, options);
        groupCommit.push(report);
        options.log(`  ${report.throughput.value} events/s (${report.batches} batches, mean ${report.mean_batch.value})`);
      } catch (err) {
        const error = describeError(err);
        options.log(`  ${backend} failed: ${error}`);
        groupCommit.push({ backend, max_batch: batchLimit, error });
      } finally {
        await opened?.close();
      }
    }
    let opened: OpenedStore | null = null;
    try {
      opened = await openBenchStore(backend, options.postgresUrl);
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
      rawAppends.push({ backend, error });
    } finally {
      await opened?.close();
    }
  }
  const verifyStore: AuditReport["verify_store"] = [];
  for (const backend of ["sqlite", "postgres"] as const) {
    let opened: OpenedStore | null = null;
    try {
      options.log(`verifying ${options.verifyEvents} events read from ${backend}`);
      opened = await openBenchStore(backend, options.postgresUrl);
      const report = await benchStoreVerify(opened.store, backend, options.verifyEvents);
      verifyStore.push(report);
      options.log(`  ${report.throughput.value} events/s (${report.elapsed.value} s; building took ${report.build_elapsed.value} s)`);
    } catch (err) {
      const error = describeError(err);
      options.log(`  ${backend} failed: ${error}`);
      verifyStore.push({ backend, error });
    } finally {
      await opened?.close();
    }
  }
  options.log(`verifying a synthetic log of ${options.verifyEvents} events`);
  const verify = await benchVerify(options.verifyEvents);
  options.log(`  ${verify.throughput.value} events/s (${verify.elapsed.value} s)`);
  return { group_commit: groupCommit, raw_store_appends: rawAppends, verify, verify_store: verifyStore, settings: { checkpoint_every: checkpointEvery, max_batch: maxBatch, max_queued: maxQueued } };
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

/**
 * Events to record with a batch limit: with tiny batches every event pays its own commit (a few
 * hundred per second with fsync), so the count is capped to keep the run bounded.
 */
function eventsFor(batchLimit: number, events: number): number {
  return Math.min(events, Math.max(500, batchLimit * 100));
}

async function benchGroupCommit(store: Store, backend: "sqlite" | "postgres", batchLimit: number, events: number, options: AuditBenchOptions): Promise<GroupCommitReport> {
  const counting = countingStore(store.platform.auditLog);
  const signer = createEd25519Signer("bench-audit", generateKeyPairSync("ed25519").privateKey);
  // As the Host wires it (main.ts): SQLite commits synchronously, so a batch gathers for a whole event-loop turn.
  const gatherBatch = backend === "sqlite" ? () => new Promise<void>((resolve) => setImmediate(resolve)) : undefined;
  const log = new AuditLog(
    { store: counting.store, hasher: nodeHasher, signer, clock: systemClock, ids: nodeIdSource, ...(gatherBatch === undefined ? {} : { gatherBatch }) },
    { origin, checkpointEvery, maxBatch: batchLimit, maxQueued },
  );
  await log.open();
  try {
    await recordMany(log, Math.min(2_000, events), Math.min(200, options.concurrency));
    await log.drain();
    const before = { ...counting.counts };
    const started = performance.now();
    const result = await recordMany(log, events, options.concurrency);
    const elapsedMs = performance.now() - started;
    const batches = counting.counts.batches - before.batches;
    const batchedEvents = counting.counts.events - before.events;
    const latency = summarize(result.latencies);
    const rate = Math.round(result.recorded / (elapsedMs / 1000));
    return {
      backend,
      max_batch: batchLimit,
      events,
      concurrent_callers: options.concurrency,
      throughput: batchLimit === maxBatch ? targeted(rate, "events/s", targets.durableAudit) : figure(rate, "events/s"),
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

/**
 * Verification speed over a store: appends a linked log of `events` records (real hashes, a signed
 * checkpoint every `audit.checkpoint_every`) straight to the store in large batches (untimed),
 * then times what `aesp audit verify` does: read every page from the store and verify it.
 */
async function benchStoreVerify(store: Store, backend: "sqlite" | "postgres", events: number): Promise<StoreVerifyReport> {
  const signer = createEd25519Signer("bench-audit", generateKeyPairSync("ed25519").privateKey);
  const log = store.platform.auditLog;
  const buildStarted = performance.now();
  let head: AuditHead = { size: 0, chainHash: ZERO_HASH_HEX };
  const pendingCheckpoints: AuditCheckpointRecord[] = [];
  for await (const records of linkedChunks(events, async (body) => {
    const signedNote = await signCheckpoint({ origin, treeSize: body.treeSize, rootHash: body.rootHash, chainHash: body.chainHash }, signer, nodeHasher);
    pendingCheckpoints.push({ ...body, signedNote, keyId: signer.keyId, createdAt: Date.now() });
  })) {
    // Appends of at most 10,000 rows: one transaction each; the store writes its Merkle subtrees too.
    for (let i = 0; i < records.length; i += 10_000) {
      const part = records.slice(i, i + 10_000);
      await log.append(part, (current) => {
        if (current.size !== head.size) throw new Error("the bench store was appended to by someone else");
        return part;
      });
      const last = part[part.length - 1]!;
      head = { size: last.seq + 1, chainHash: last.chainHash };
    }
    for (const checkpoint of pendingCheckpoints.splice(0)) await log.saveCheckpoint(checkpoint);
  }
  const buildMs = performance.now() - buildStarted;

  const started = performance.now();
  const checkpoints = await log.listCheckpoints();
  const verifier = new AuditLogVerifier({ checkpoints, trustedKeys: [{ keyName: origin, publicKey: signer.publicKey }], hasher: nodeHasher, verifier: nodeSignatureVerifier, origin });
  // As verify-store.ts reads: whole pages, the next one requested before this one is verified.
  const page = 10_000;
  let next = log.readRange(0, page);
  for (let from = 0; ; from += page) {
    const records = await next;
    const more = records.length === page;
    if (more) next = log.readRange(from + page, page);
    if (!verifier.pushAll(records) || !more) break;
  }
  await next.catch(() => undefined);
  const result = verifier.finish();
  const verifyMs = performance.now() - started;
  return {
    backend,
    events,
    checkpoints: checkpoints.length,
    throughput: targeted(Math.round(events / (verifyMs / 1000)), "events/s", targets.verification),
    elapsed: figure(round(verifyMs / 1000, 3), "s"),
    build_elapsed: figure(round(buildMs / 1000, 3), "s"),
    ok: result.ok && result.size === events,
  };
}
