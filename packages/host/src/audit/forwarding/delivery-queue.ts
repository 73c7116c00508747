/**
 * One destination's delivery queue.
 *
 * Rules it enforces:
 * - Never slows a call: `offer()` is synchronous and only appends to a bounded buffer; sending,
 *   retrying and dead-lettering run in the background.
 * - Bounded memory: beyond `maxQueued` buffered records, the overflow is written to the dead-letter
 *   store at once (durable, replayable) instead of growing the buffer.
 * - A failed batch is retried with exponential backoff and jitter (`retryBaseMs × 2^(attempt-1)`,
 *   capped at `retryMaxMs`, then a random point in its upper half) up to `maxAttempts`, then
 *   dead-lettered; one batch is in flight at a time, so order is kept while the destination is up.
 * - On close, what is still buffered is dead-lettered rather than dropped.
 */
import type { AuditRecord, Clock, DeadLetterStore, IdSource } from "@aesp/core";
import type { Logger } from "pino";
import type { HostMetrics } from "../../observability/metrics.ts";
import { DeliveryError } from "./https-post.ts";

/** Sends one batch; rejects when the destination did not take it. */
export interface BatchSender {
  send(records: readonly AuditRecord[], deliveryId: string): Promise<void>;
  close?(): void;
}

/** Tuning of a queue. */
export interface DeliveryQueueOptions {
  readonly maxQueued: number;
  readonly maxBatch: number;
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
}

/** What a queue needs. */
export interface DeliveryQueueDeps {
  readonly name: string;
  readonly sender: BatchSender;
  readonly deadLetters: DeadLetterStore;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly metrics: HostMetrics;
  readonly logger: Logger;
  /** Uniform in [0, 1); tests may pin it. */
  readonly random?: () => number;
}

/** The delay before retry number `attempt` (1-based): exponential, capped, with equal jitter. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + random * (ceiling / 2));
}

/** A destination's buffer, sender loop and dead-lettering. */
export class DeliveryQueue {
  readonly #deps: DeliveryQueueDeps;
  readonly #options: DeliveryQueueOptions;
  readonly #buffer: AuditRecord[] = [];
  readonly #pending = new Set<Promise<void>>();
  #worker: Promise<void> | null = null;
  #closed = false;
  #wake: (() => void) | null = null;
  #inFlight = 0;

  constructor(deps: DeliveryQueueDeps, options: DeliveryQueueOptions) {
    this.#deps = deps;
    this.#options = options;
  }

  /** The destination's name (metrics label, dead-letter destination). */
  get name(): string {
    return this.#deps.name;
  }

  /** Records buffered and in flight. */
  get depth(): number {
    return this.#buffer.length + this.#inFlight;
  }

  /**
   * Queues records for delivery. Synchronous and cheap; never throws.
   *
   * @param records - Committed records, already filtered for this destination.
   */
  offer(records: readonly AuditRecord[]): void {
    if (records.length === 0) return;
    if (this.#closed) {
      this.#deadLetter(records, "the Host was shutting down", 0);
      return;
    }
    const room = Math.max(0, this.#options.maxQueued - this.#buffer.length);
    if (room < records.length) this.#deadLetter(records.slice(room), "the delivery queue was full", 0);
    for (const record of records.slice(0, room)) this.#buffer.push(record);
    this.#gauge();
    this.#kick();
  }

  #kick(): void {
    if (this.#worker !== null || this.#buffer.length === 0 || this.#closed) return;
    this.#worker = this.#run().finally(() => {
      this.#worker = null;
      this.#kick();
    });
  }

  /** Resolves when everything offered so far was delivered or dead-lettered. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.#worker !== null) await this.#worker;
      else if (this.#pending.size > 0) await Promise.all([...this.#pending]);
      else return;
    }
  }

  /** Stops retrying, dead-letters what is buffered, and waits for the dead-letter writes. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    await this.drain();
    if (this.#buffer.length > 0) this.#deadLetter(this.#buffer.splice(0), "the Host was shutting down", 0);
    await Promise.all([...this.#pending]);
    this.#deps.sender.close?.();
  }

  async #run(): Promise<void> {
    while (this.#buffer.length > 0 && !this.#closed) {
      const batch = this.#buffer.splice(0, this.#options.maxBatch);
      this.#inFlight = batch.length;
      await this.#deliver(batch);
      this.#inFlight = 0;
      this.#gauge();
    }
  }

  async #deliver(batch: AuditRecord[]): Promise<void> {
    const { sender, metrics, ids, name } = this.#deps;
    const deliveryId = ids.newId("dlv");
    for (let attempt = 1; attempt <= this.#options.maxAttempts; attempt++) {
      try {
        await sender.send(batch, deliveryId);
        metrics.siemForwarded.inc({ destination: name }, batch.length);
        return;
      } catch (err) {
        const reason = err instanceof DeliveryError ? err.message : "delivery failed";
        metrics.siemFailed.inc({ destination: name });
        if (attempt === this.#options.maxAttempts || this.#closed) {
          this.#deadLetter(batch, reason, attempt);
          return;
        }
        await this.#sleep(backoffDelay(attempt, this.#options.retryBaseMs, this.#options.retryMaxMs, (this.#deps.random ?? Math.random)()));
        if (this.#closed) {
          this.#deadLetter(batch, reason, attempt);
          return;
        }
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      timer.unref();
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
    });
  }

  #deadLetter(records: readonly AuditRecord[], reason: string, attempts: number): void {
    const { deadLetters, clock, ids, metrics, logger, name } = this.#deps;
    const chunks: AuditRecord[][] = [];
    for (let i = 0; i < records.length; i += this.#options.maxBatch) chunks.push(records.slice(i, i + this.#options.maxBatch));
    for (const chunk of chunks) {
      const write = deadLetters
        .add({
          deadLetterId: ids.newId("dlq"),
          destination: name,
          payload: JSON.stringify(chunk),
          eventCount: chunk.length,
          firstSeq: chunk[0]!.seq,
          lastSeq: chunk.at(-1)!.seq,
          reason,
          attempts,
          createdAt: clock.now(),
        })
        .then(
          () => {
            metrics.siemDeadLettered.inc({ destination: name }, chunk.length);
            logger.warn({ destination: name, events: chunk.length, firstSeq: chunk[0]!.seq, reason, attempts }, "SIEM delivery dead-lettered; replay with `aesp audit dead-letters replay`");
          },
          (err: unknown) => {
            // The events stay in the audit log itself; only their forwarding is lost.
            logger.error({ err, destination: name, events: chunk.length, firstSeq: chunk[0]!.seq }, "SIEM dead letter could not be stored; export the audit log range to recover it");
          },
        );
      this.#pending.add(write);
      void write.finally(() => this.#pending.delete(write));
    }
  }

  #gauge(): void {
    this.#deps.metrics.siemQueueDepth.set({ destination: this.#deps.name }, this.depth);
  }
}
