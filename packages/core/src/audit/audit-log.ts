/**
 * The audit log: durable, group-committed, hash-chained, periodically signed.
 *
 * Rules it enforces:
 * - Nothing is acknowledged that is not durable: `record()` resolves only after
 *   the store committed the batch holding the event; otherwise it rejects with
 *   `AUDIT_UNAVAILABLE` and the caller must not proceed (fail closed).
 * - Group commit, by default without timers: the first event starts a flush at
 *   once (after the current synchronous run, so a burst shares it); events
 *   arriving while a flush is in flight wait for the next one. With
 *   `batchMaxWaitMs` a batch also waits up to that long for more events, or
 *   until it holds `maxBatch`. One `store.append` per batch is one transaction,
 *   one fsync.
 * - Bounded memory: beyond `maxQueued` waiting events, new ones are refused with
 *   `AUDIT_UNAVAILABLE` and retry advice rather than queued without limit.
 * - The tree state (a {@link CompactRange}) only ever covers records it has
 *   checked: each record's leaf hash is recomputed and its chain link verified
 *   before it is absorbed, at startup and after every commit. Checkpoints are
 *   signed over that verified state, so a tampered store is never laundered
 *   into a signed checkpoint; on a mismatch the log stops accepting events.
 * - Every `checkpointEvery` records a C2SP checkpoint is signed and saved, and
 *   an `audit.checkpoint_signed` event records it in the log. Those events do
 *   not count towards the cadence, so checkpointing cannot feed itself.
 * - Subscribers (`onCommitted`) see records only after their batch is durable
 *   and after its callers were answered; a listener runs synchronously and must
 *   only hand the records on (queue them), so it can neither slow `record()`
 *   nor see an event that could still be lost. A throwing listener is ignored.
 */
import { EnterpriseError } from "../errors.ts";
import type { AuditLogStore, Clock, Hasher, IdSource, Scheduler, Signer } from "../ports.ts";
import type { AuditCheckpointRecord, AuditEventDraft, AuditHead, AuditOutcome, AuditRecord } from "../records.ts";
import { EventHasher, hashFromHex, linkRecords } from "./canonical.ts";
import { signCheckpoint } from "./checkpoint.ts";
import { bytesEqualHex, toHex } from "./encoding.ts";
import { auditEventCatalogue, isAuditEventType, type AuditEventType } from "./events.ts";
import { CompactRange } from "./merkle.ts";
import { redactMetadata } from "./redact.ts";

/** Effects the audit log needs. */
export interface AuditLogDeps {
  store: AuditLogStore;
  hasher: Hasher;
  /** The audit-signing key (Ed25519). */
  signer: Signer;
  clock: Clock;
  ids: IdSource;
  /**
   * Waits while a batch gathers, before it is committed. Default: one microtask, which joins the
   * record() calls of the current synchronous run. A host whose store commits synchronously
   * (SQLite) passes a macrotask (setImmediate) so that the events of every request handled in
   * one event-loop turn share one commit; otherwise each event would pay its own fsync.
   */
  gatherBatch?: () => Promise<void>;
  /** Waits out `batchMaxWaitMs`; required when that option is above 0. */
  scheduler?: Scheduler;
  /**
   * Seals the personal fields of a batch before it is hashed (per-subject encryption), so the
   * leaf and chain cover ciphertext and destroying a subject's key later leaves them valid.
   * Returns one draft per input, in order (the same object when nothing changed; the event id
   * must not change). A failure fails the batch closed (AUDIT_UNAVAILABLE).
   */
  protect?: (drafts: readonly AuditEventDraft[]) => Promise<readonly AuditEventDraft[]>;
}

/** Tuning of the audit log. */
export interface AuditLogOptions {
  /** Checkpoint origin line, e.g. `aesp.example.com/audit`. */
  origin: string;
  /** Key name on checkpoint signature lines; defaults to `origin`, as C2SP recommends. */
  keyName?: string;
  /** Sign a checkpoint after this many new records (checkpoint events excluded); 0 disables. Default 10,000. */
  checkpointEvery?: number;
  /** Most events in one store append. Default 1,000. */
  maxBatch?: number;
  /** Most events waiting for a batch before new ones are refused. Default 100,000. */
  maxQueued?: number;
  /**
   * How long a batch may wait for more events before it is committed, in ms; it is committed at
   * once when it reaches `maxBatch`. Default 0: no timer, a batch gathers during one `gatherBatch`.
   * Larger values trade each caller's latency for fewer, larger commits (fewer fsyncs).
   */
  batchMaxWaitMs?: number;
  /** Page size when reading the log at startup. Default 10,000. */
  readPageSize?: number;
}

/** What callers record: an event without the id, time and position the log assigns. */
export interface AuditEventInput {
  eventType: AuditEventType;
  /** Defaults to the catalogue's outcome for the type. */
  outcome?: AuditOutcome;
  /** Empty for platform events. */
  tenantId?: string;
  principalId?: string;
  sessionId?: string;
  resource?: string;
  action?: string;
  sourceIp?: string;
  userAgent?: string;
  correlationId?: string;
  riskScore?: string;
  policyViolations?: readonly string[];
  /** Passed through `redactMetadata`: credential-like keys are dropped. */
  metadata?: Readonly<Record<string, string>>;
}

interface Waiter {
  draft: AuditEventDraft;
  leaf: Uint8Array;
  resolve: (record: AuditRecord) => void;
  reject: (error: unknown) => void;
}

type LogState = "new" | "opening" | "open" | "closed";

/** What `link` produced for a batch inside the store's append lock, and the head it linked from. */
interface Linked {
  head: AuditHead;
  records: readonly AuditRecord[];
}

/**
 * Receives the records of each batch this log committed, in log order, once they are durable.
 * Records other Hosts appended to a shared store are not passed on: each Host forwards its own.
 */
export type CommittedListener = (records: readonly AuditRecord[]) => void;

const CHECKPOINT_EVENT: AuditEventType = "audit.checkpoint_signed";

/**
 * The Host's audit log. Create one per process, `open()` it, then `record()`.
 *
 * @example
 * const log = new AuditLog({ store, hasher, signer, clock, ids }, { origin: "aesp.example.com/audit" });
 * await log.open();
 * await log.record({ eventType: "session.created", tenantId, principalId, resource: sessionId });
 */
export class AuditLog {
  readonly #deps: AuditLogDeps;
  readonly #origin: string;
  readonly #keyName: string;
  readonly #checkpointEvery: number;
  readonly #maxBatch: number;
  readonly #maxQueued: number;
  readonly #readPageSize: number;
  readonly #batchMaxWaitMs: number;
  readonly #events: EventHasher;

  #state: LogState = "new";
  /** Set when the store's log stops matching what was verified; the log then refuses everything. */
  #broken: string | null = null;
  #queue: Waiter[] = [];
  #flush: Promise<void> | null = null;
  /** Aborted when the queue fills a batch, ending a `batchMaxWaitMs` wait early. */
  #batchFull: AbortController | null = null;

  /** The verified prefix of the log: `#range.size` records ending in `#chain`. */
  #range: CompactRange;
  #chain: Uint8Array = new Uint8Array(32);
  #latest: AuditCheckpointRecord | null = null;
  /** Records since the latest checkpoint, not counting checkpoint events. */
  #sinceCheckpoint = 0;
  #checkpointTail: Promise<unknown> = Promise.resolve();
  #checkpointsRunning = 0;
  #autoCheckpointQueued = false;
  readonly #committedListeners = new Set<CommittedListener>();

  /**
   * @param deps - Store, hasher, signer, clock and id source.
   * @param options - Origin and tuning.
   * @throws EnterpriseError `INVALID_ARGUMENT` when an option is out of range.
   */
  constructor(deps: AuditLogDeps, options: AuditLogOptions) {
    this.#deps = deps;
    this.#origin = options.origin;
    this.#keyName = options.keyName ?? options.origin;
    this.#checkpointEvery = positiveInteger(options.checkpointEvery ?? 10_000, "checkpointEvery", true);
    this.#maxBatch = positiveInteger(options.maxBatch ?? 1_000, "maxBatch", false);
    this.#maxQueued = positiveInteger(options.maxQueued ?? 100_000, "maxQueued", false);
    this.#readPageSize = positiveInteger(options.readPageSize ?? 10_000, "readPageSize", false);
    this.#batchMaxWaitMs = positiveInteger(options.batchMaxWaitMs ?? 0, "batchMaxWaitMs", true);
    if (this.#batchMaxWaitMs > 0 && deps.scheduler === undefined) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "scheduler" } });
    if (this.#origin === "") throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "origin" } });
    this.#events = new EventHasher(deps.hasher);
    this.#range = new CompactRange(deps.hasher);
  }

  /** The verified tip of the log: what the next record links to. */
  get head(): AuditHead {
    return { size: this.#range.size, chainHash: toHex(this.#chain) };
  }

  /** Number of records in the verified log. */
  get size(): number {
    return this.#range.size;
  }

  /** RFC 6962 root of the verified log, hex. */
  get rootHash(): string {
    return toHex(this.#range.root());
  }

  /** Events waiting for a batch (not counting the batch being committed). */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * The newest checkpoint saved or loaded by this log.
   *
   * @returns The checkpoint, or `null` when none was ever signed.
   */
  latestCheckpoint(): AuditCheckpointRecord | null {
    return this.#latest;
  }

  /**
   * Reads the existing log page by page, verifying every leaf and chain link and
   * the newest checkpoint's root, and builds the tree state. Call once before `record()`.
   *
   * @throws EnterpriseError `AUDIT_UNAVAILABLE` when the store cannot be read, or
   *   (details.reason, details.seq) when the stored log fails verification.
   */
  async open(): Promise<void> {
    if (this.#state !== "new") throw unavailable("the audit log was already opened");
    this.#state = "opening";
    try {
      const { store } = this.#deps;
      // Checkpoint first, head second: another Host appending in between can only make the head larger.
      const latest = await store.latestCheckpoint();
      const head = await store.head();
      if (latest !== null && latest.treeSize > head.size) throw integrity("log truncated below checkpoint", head.size);
      const checkLatest = (): void => {
        if (latest === null || this.#range.size !== latest.treeSize) return;
        if (!bytesEqualHex(this.#range.root(), latest.rootHash) || !bytesEqualHex(this.#chain, latest.chainHash)) {
          throw integrity("checkpoint root mismatch", latest.treeSize);
        }
        this.#sinceCheckpoint = 0;
      };
      checkLatest();
      while (this.#range.size < head.size) {
        const page = await store.readRange(this.#range.size, Math.min(this.#readPageSize, head.size - this.#range.size));
        if (page.length === 0) throw integrity("sequence gap (event deleted or inserted)", this.#range.size);
        for (const record of page) {
          this.#absorb(record, null);
          checkLatest();
        }
      }
      if (this.#range.size !== head.size || !bytesEqualHex(this.#chain, head.chainHash)) {
        throw integrity("chain hash mismatch", Math.max(0, head.size - 1));
      }
      this.#latest = latest;
      this.#state = "open";
    } catch (err) {
      this.#state = "new";
      this.#range = new CompactRange(this.#deps.hasher);
      this.#chain = new Uint8Array(32);
      this.#sinceCheckpoint = 0;
      throw err instanceof IntegrityFailure ? err.toEnterpriseError() : unavailable("the audit store could not be read", err);
    }
  }

  /**
   * Appends an event and resolves once it is durable.
   *
   * @param input - The event; the log assigns `eventId` and `timestampMs` and redacts metadata.
   * @returns The linked record, after its batch committed.
   * @throws EnterpriseError `AUDIT_UNAVAILABLE` when the log is not open, its queue
   *   is full, the batch failed to commit, or the stored log failed verification;
   *   `INVALID_ARGUMENT` when the event is malformed (unknown type, wrong field types).
   */
  async record(input: AuditEventInput): Promise<AuditRecord> {
    if (this.#broken !== null) throw unavailable(this.#broken);
    if (this.#state !== "open") throw unavailable(this.#state === "closed" ? "the audit log is closed" : "the audit log is not open");
    if (this.#queue.length >= this.#maxQueued) throw unavailable("the audit queue is full");
    const draft = this.#draft(input);
    // Hash outside the store's append lock, and reject a malformed event alone rather than its whole batch.
    const leaf = this.#events.leaf(draft);
    return new Promise<AuditRecord>((resolve, reject) => {
      this.#queue.push({ draft, leaf, resolve, reject });
      if (this.#batchFull !== null && this.#queue.length >= this.#maxBatch) this.#batchFull.abort();
      this.#startFlush();
    });
  }

  /**
   * Signs and saves a checkpoint over every record committed so far (events
   * still queued are not waited for). Returns the latest checkpoint unchanged
   * when nothing but checkpoint events was committed since.
   *
   * @returns The checkpoint now covering the log.
   * @throws EnterpriseError `AUDIT_UNAVAILABLE` when the log is not open or broken,
   *   or signing or saving failed.
   */
  async checkpoint(): Promise<AuditCheckpointRecord> {
    if (this.#broken !== null) throw unavailable(this.#broken);
    if (this.#state !== "open") throw unavailable("the audit log is not open");
    return this.#enqueueCheckpoint();
  }

  /**
   * Subscribes to committed batches (SIEM forwarding, detection). The listener is called after the
   * batch is durable and its callers were answered; it must return quickly (enqueue, never await).
   *
   * @param listener - Called once per committed batch with its records.
   * @returns A function that unsubscribes the listener.
   */
  onCommitted(listener: CommittedListener): () => void {
    this.#committedListeners.add(listener);
    return () => {
      this.#committedListeners.delete(listener);
    };
  }

  /**
   * Resolves when no event is queued or being committed and no checkpoint is being written.
   */
  async drain(): Promise<void> {
    for (;;) {
      if (this.#flush !== null) {
        await this.#flush;
        continue;
      }
      if (this.#checkpointsRunning > 0) {
        await this.#checkpointTail;
        continue;
      }
      return;
    }
  }

  /**
   * Refuses new events, then waits for queued ones and running checkpoints to settle.
   */
  async close(): Promise<void> {
    this.#state = "closed";
    await this.drain();
  }

  #draft(input: AuditEventInput): AuditEventDraft {
    if (!isAuditEventType(input.eventType)) {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: "The audit event is malformed.", details: { field: "eventType" } });
    }
    return {
      eventId: this.#deps.ids.newId("evt"),
      timestampMs: this.#deps.clock.now(),
      eventType: input.eventType,
      tenantId: input.tenantId ?? "",
      principalId: input.principalId ?? "",
      sessionId: input.sessionId ?? "",
      resource: input.resource ?? "",
      action: input.action ?? "",
      outcome: input.outcome ?? auditEventCatalogue[input.eventType].outcome,
      sourceIp: input.sourceIp ?? "",
      userAgent: input.userAgent ?? "",
      correlationId: input.correlationId ?? "",
      riskScore: input.riskScore ?? "",
      policyViolations: [...(input.policyViolations ?? [])],
      metadata: redactMetadata(input.metadata ?? {}),
    };
  }

  #startFlush(): void {
    if (this.#flush !== null) return;
    this.#flush = this.#flushQueue();
  }

  /** Lets a batch gather: one `gatherBatch`, then up to `batchMaxWaitMs` more unless the batch is full. */
  async #gather(): Promise<void> {
    await (this.#deps.gatherBatch?.() ?? Promise.resolve());
    const scheduler = this.#deps.scheduler;
    if (this.#batchMaxWaitMs === 0 || scheduler === undefined || this.#queue.length >= this.#maxBatch) return;
    const full = new AbortController();
    this.#batchFull = full;
    try {
      await scheduler.sleep(this.#batchMaxWaitMs, full.signal);
    } finally {
      this.#batchFull = null;
    }
  }

  async #flushQueue(): Promise<void> {
    await this.#gather();
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        try {
          await this.#commit(batch);
          // Events that arrived during the commit wait one more gathering turn, so the next batch
          // also collects the requests still being handled.
          if (this.#queue.length > 0 && this.#queue.length < this.#maxBatch) await this.#gather();
        } catch (err) {
          // #commit settles its waiters itself; this only guards against a defect leaving callers hanging.
          for (const waiter of batch) waiter.reject(unavailable("the audit batch failed", err));
        }
      }
    } finally {
      this.#flush = null;
    }
  }

  async #commit(batch: Waiter[]): Promise<void> {
    const { store, hasher, protect } = this.#deps;
    let records: AuditRecord[];
    let linked: Linked | null = null;
    try {
      if (this.#broken !== null) throw new Error(this.#broken);
      if (protect !== undefined) await this.#protect(batch, protect);
      const drafts = batch.map((waiter) => waiter.draft);
      const leaves = batch.map((waiter) => waiter.leaf);
      records = await store.append(drafts, (head) => {
        const linkedRecords = linkRecords(head, drafts, hasher, leaves);
        linked = { head, records: linkedRecords };
        return linkedRecords;
      });
    } catch (err) {
      // Whether the batch reached the disk is unknown; the next commit's seq tells, and catch-up absorbs it.
      for (const waiter of batch) waiter.reject(unavailable(this.#broken ?? "the audit store did not commit the batch", err));
      return;
    }
    const problem = await this.#absorbCommitted(records, batch, linked);
    if (problem !== null) {
      for (const waiter of batch) waiter.reject(unavailable(problem));
      return;
    }
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(records[i]!);
    this.#publish(records);
    if (this.#checkpointEvery > 0 && this.#sinceCheckpoint >= this.#checkpointEvery) this.#autoCheckpoint();
  }

  /** Replaces each waiter's draft by its sealed form, rehashing only the drafts that changed. */
  async #protect(batch: Waiter[], protect: NonNullable<AuditLogDeps["protect"]>): Promise<void> {
    const sealed = await protect(batch.map((waiter) => waiter.draft));
    if (sealed.length !== batch.length) throw new Error("the audit protector returned a different number of events");
    for (let i = 0; i < batch.length; i++) {
      const waiter = batch[i]!;
      const draft = sealed[i]!;
      if (draft === waiter.draft) continue;
      if (draft.eventId !== waiter.draft.eventId) throw new Error("the audit protector changed an event id");
      waiter.draft = draft;
      waiter.leaf = this.#events.leaf(draft);
    }
  }

  /**
   * Brings the tree state up to and including `records` (which the store just
   * committed for `batch`), reading any records other writers appended in
   * between. Returns a reason when the store's log does not extend the verified one.
   */
  async #absorbCommitted(records: AuditRecord[], batch: Waiter[], linked: Linked | null): Promise<string | null> {
    try {
      if (records.length !== batch.length) throw integrity("the store returned a different number of records", this.#range.size);
      const first = records[0]!.seq;
      while (this.#range.size < first) {
        const page = await this.#deps.store.readRange(this.#range.size, Math.min(this.#readPageSize, first - this.#range.size));
        if (page.length === 0) throw integrity("sequence gap (event deleted or inserted)", this.#range.size);
        for (const record of page) this.#absorb(record, null);
      }
      if (linked !== null && this.#linkedFromVerified(linked)) {
        this.#absorbLinked(records, batch, linked.records);
        return null;
      }
      for (let i = 0; i < records.length; i++) {
        if (records[i]!.eventId !== batch[i]!.draft.eventId) throw integrity("the store returned records out of order", records[i]!.seq);
        this.#absorb(records[i]!, batch[i]!.leaf);
      }
      return null;
    } catch (err) {
      if (err instanceof IntegrityFailure) {
        this.#broken = `audit log integrity check failed: ${err.message}`;
        return this.#broken;
      }
      // The batch is durable but catch-up reading failed: the tree stays at its verified prefix and the next commit resumes.
      return null;
    }
  }

  #publish(records: readonly AuditRecord[]): void {
    if (this.#committedListeners.size === 0) return;
    const frozen = Object.freeze([...records]);
    for (const listener of this.#committedListeners) {
      try {
        listener(frozen);
      } catch {
        // A subscriber's defect must not reach the commit path; the events are durable either way.
      }
    }
  }

  /** True when `link` ran from exactly the verified tip, so its chain hashes are the ones `#absorb` would compute. */
  #linkedFromVerified(linked: Linked): boolean {
    return linked.head.size === this.#range.size && bytesEqualHex(this.#chain, linked.head.chainHash);
  }

  /**
   * Absorbs this log's own batch when it was linked from the verified tip: the chain hashes were
   * computed in this process, by `linkRecords`, from the verified chain and the batch's own leaf
   * hashes, so recomputing them would only hash everything twice. What the store returned must
   * still be exactly what was linked (same seq, event, leaf and chain hash, compared as text),
   * and nothing is absorbed unless the whole batch matches.
   */
  #absorbLinked(records: readonly AuditRecord[], batch: readonly Waiter[], linked: readonly AuditRecord[]): void {
    const start = this.#range.size;
    if (linked.length !== records.length) throw integrity("the store returned a different number of records", start);
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const own = linked[i]!;
      if (record.seq !== start + i) throw integrity("sequence gap (event deleted or inserted)", start + i);
      if (record.eventId !== batch[i]!.draft.eventId || record.eventId !== own.eventId) throw integrity("the store returned records out of order", record.seq);
      if (record.leafHash !== own.leafHash) throw integrity("leaf hash mismatch (event modified)", record.seq);
      if (record.chainHash !== own.chainHash) throw integrity("chain hash mismatch", record.seq);
    }
    for (let i = 0; i < records.length; i++) {
      this.#range.append(batch[i]!.leaf);
      if (records[i]!.eventType !== CHECKPOINT_EVENT) this.#sinceCheckpoint += 1;
    }
    this.#chain = hashFromHex(records[records.length - 1]!.chainHash, "chainHash");
  }

  /** Verifies one record against the verified prefix and extends it. */
  #absorb(record: AuditRecord, knownLeaf: Uint8Array | null): void {
    if (record.seq !== this.#range.size) throw integrity("sequence gap (event deleted or inserted)", this.#range.size);
    let leaf: Uint8Array;
    try {
      leaf = knownLeaf ?? this.#events.recordLeaf(record);
    } catch {
      throw integrity("record malformed", record.seq);
    }
    if (!bytesEqualHex(leaf, record.leafHash)) throw integrity("leaf hash mismatch (event modified)", record.seq);
    const chain = this.#events.chain(this.#chain, leaf);
    if (!bytesEqualHex(chain, record.chainHash)) throw integrity("chain hash mismatch", record.seq);
    this.#range.append(leaf);
    this.#chain = chain;
    if (record.eventType !== CHECKPOINT_EVENT) this.#sinceCheckpoint += 1;
  }

  #autoCheckpoint(): void {
    if (this.#autoCheckpointQueued) return;
    this.#autoCheckpointQueued = true;
    // Events committed while this checkpoint was signed may already be due for the next one;
    // a failed checkpoint restores its count and waits for the next commit to retry, so failures cannot spin.
    this.#enqueueCheckpoint().then(
      () => {
        if (this.#state === "open" && this.#sinceCheckpoint >= this.#checkpointEvery) this.#autoCheckpoint();
      },
      () => undefined,
    );
  }

  #enqueueCheckpoint(): Promise<AuditCheckpointRecord> {
    this.#checkpointsRunning += 1;
    const run = this.#checkpointTail.then(() => this.#writeCheckpoint());
    this.#checkpointTail = run.then(
      () => this.#checkpointSettled(),
      () => this.#checkpointSettled(),
    );
    return run;
  }

  #checkpointSettled(): void {
    this.#checkpointsRunning -= 1;
    this.#autoCheckpointQueued = false;
  }

  async #writeCheckpoint(): Promise<AuditCheckpointRecord> {
    if (this.#broken !== null) throw unavailable(this.#broken);
    const treeSize = this.#range.size;
    // Only anchor events since the latest checkpoint: re-signing would just add another anchor.
    if (this.#latest !== null && (this.#latest.treeSize === treeSize || this.#sinceCheckpoint === 0)) return this.#latest;
    // Snapshot synchronously: commits may continue while the signature is computed.
    const rootHash = toHex(this.#range.root());
    const chainHash = toHex(this.#chain);
    const counted = this.#sinceCheckpoint;
    this.#sinceCheckpoint = 0;
    let checkpoint: AuditCheckpointRecord;
    try {
      const { signer, hasher, store, clock } = this.#deps;
      // Before signing: a rotating signer may switch keys while the signature is awaited.
      const keyId = signer.keyId;
      const signedNote = await signCheckpoint({ origin: this.#origin, treeSize, rootHash, chainHash }, signer, hasher, this.#keyName);
      checkpoint = { treeSize, rootHash, chainHash, signedNote, keyId, createdAt: clock.now() };
      await store.saveCheckpoint(checkpoint);
    } catch (err) {
      this.#sinceCheckpoint += counted;
      throw unavailable("the audit checkpoint could not be signed or saved", err);
    }
    this.#latest = checkpoint;
    try {
      await this.record({
        eventType: CHECKPOINT_EVENT,
        resource: this.#origin,
        metadata: { tree_size: String(treeSize), root_hash: rootHash, key_id: checkpoint.keyId },
      });
    } catch {
      // The checkpoint stands on its own; its anchoring event is a convenience, not part of the chain's integrity.
    }
    return checkpoint;
  }
}

function positiveInteger(value: number, field: string, allowZero: boolean): number {
  if (!Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new EnterpriseError("INVALID_ARGUMENT", { details: { field } });
  }
  return value;
}

function unavailable(reason: string, cause?: unknown): EnterpriseError {
  return new EnterpriseError("AUDIT_UNAVAILABLE", cause === undefined ? { details: { reason } } : { details: { reason }, cause });
}

/** The stored log does not extend the verified prefix; internal until mapped to `AUDIT_UNAVAILABLE`. */
class IntegrityFailure extends Error {
  readonly reason: string;
  readonly seq: number;

  constructor(reason: string, seq: number) {
    super(`${reason} at seq ${String(seq)}`);
    this.reason = reason;
    this.seq = seq;
  }

  toEnterpriseError(): EnterpriseError {
    return new EnterpriseError("AUDIT_UNAVAILABLE", {
      details: { reason: `audit log integrity check failed: ${this.reason}`, seq: String(this.seq) },
    });
  }
}

function integrity(reason: string, seq: number): IntegrityFailure {
  return new IntegrityFailure(reason, seq);
}
