import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pino from "pino";
import type { AuditRecord, DeadLetterRecord, DeadLetterStore } from "@aesp/core";
import { HostMetrics } from "../../observability/metrics.ts";
import { DeliveryQueue, backoffDelay } from "./delivery-queue.ts";
import type { BatchSender } from "./delivery-queue.ts";
import { DeliveryError } from "./https-post.ts";

class MemoryDeadLetters implements DeadLetterStore {
  readonly letters: DeadLetterRecord[] = [];
  async add(record: DeadLetterRecord) {
    this.letters.push(record);
  }
  async list() {
    return [...this.letters];
  }
  async get(id: string) {
    return this.letters.find((l) => l.deadLetterId === id) ?? null;
  }
  async delete(id: string) {
    const i = this.letters.findIndex((l) => l.deadLetterId === id);
    if (i >= 0) this.letters.splice(i, 1);
    return i >= 0;
  }
  async count() {
    return this.letters.length;
  }
}

let counter = 0;
const ids = { newId: (prefix: string) => `${prefix}_${String(++counter)}`, newSecret: () => "x" };
const clock = { now: () => 1_700_000_000_000 };
const records = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ seq: from + i, eventType: "authz.denied" }) as AuditRecord);

function queue(sender: BatchSender, options: Partial<ConstructorParameters<typeof DeliveryQueue>[1]> = {}) {
  const deadLetters = new MemoryDeadLetters();
  const metrics = new HostMetrics();
  const q = new DeliveryQueue(
    { name: "test", sender, deadLetters, clock, ids, metrics, logger: pino({ level: "silent" }), random: () => 0 },
    { maxQueued: 100, maxBatch: 10, maxAttempts: 3, retryBaseMs: 1, retryMaxMs: 4, ...options },
  );
  return { q, deadLetters, metrics };
}

describe("backoffDelay", () => {
  it("doubles per attempt, is capped, and jitters within the upper half", () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(n, 100, 1000, 1)), [100, 200, 400, 800, 1000]);
    assert.deepEqual([1, 2, 3].map((n) => backoffDelay(n, 100, 1000, 0)), [50, 100, 200]);
    assert.equal(backoffDelay(80, 100, 1000, 0.5), 750, "huge attempt numbers stay capped");
  });
});

describe("DeliveryQueue", () => {
  it("delivers in order, in batches, one in flight at a time", async () => {
    const seen: number[][] = [];
    const { q, metrics } = queue({ send: async (batch) => void seen.push(batch.map((r) => r.seq)) });
    q.offer(records(0, 15));
    q.offer(records(15, 3));
    await q.drain();
    assert.deepEqual(seen.flat(), Array.from({ length: 18 }, (_, i) => i));
    assert.ok(seen.every((batch) => batch.length <= 10));
    assert.match(await metrics.render(), /aesp_siem_forwarded_total\{destination="test"\} 18/);
  });

  it("retries a failing batch and delivers it once the destination recovers, under the same delivery id", async () => {
    const attempts: string[] = [];
    const { q, deadLetters } = queue({
      send: async (_batch, deliveryId) => {
        attempts.push(deliveryId);
        if (attempts.length < 3) throw new DeliveryError("ECONNREFUSED");
      },
    });
    q.offer(records(0, 2));
    await q.drain();
    assert.equal(attempts.length, 3);
    assert.equal(new Set(attempts).size, 1);
    assert.equal(deadLetters.letters.length, 0);
  });

  it("dead-letters a batch after maxAttempts, with the reason and no more", async () => {
    const { q, deadLetters, metrics } = queue({ send: async () => Promise.reject(new DeliveryError("HTTP 503")) });
    q.offer(records(5, 12));
    await q.drain();
    assert.deepEqual(deadLetters.letters.map((l) => [l.firstSeq, l.lastSeq, l.eventCount, l.attempts, l.reason]), [
      [5, 14, 10, 3, "HTTP 503"],
      [15, 16, 2, 3, "HTTP 503"],
    ]);
    assert.deepEqual((JSON.parse(deadLetters.letters[1]!.payload) as AuditRecord[]).map((r) => r.seq), [15, 16]);
    assert.match(await metrics.render(), /aesp_siem_dead_lettered_total\{destination="test"\} 12/);
  });

  it("offer() never waits: with a sender that never answers the buffer stays bounded and the overflow is dead-lettered", async () => {
    let release: () => void = () => undefined;
    const { q, deadLetters } = queue({ send: () => new Promise<void>((resolve) => (release = resolve)) }, { maxQueued: 20 });
    for (let i = 0; i < 10; i++) q.offer(records(i * 10, 10));
    assert.ok(q.depth <= 30, `depth ${String(q.depth)}: buffer (20) + one batch in flight (10)`);
    await new Promise((resolve) => setImmediate(resolve));
    const overflow = deadLetters.letters.reduce((n, l) => n + l.eventCount, 0);
    assert.equal(overflow + q.depth, 100, "every record is either queued or dead-lettered");
    assert.ok(deadLetters.letters.every((l) => l.reason === "the delivery queue was full" && l.attempts === 0));
    release();
    await q.close();
  });

  it("close() dead-letters what is still buffered instead of dropping it", async () => {
    const { q, deadLetters } = queue({ send: async () => Promise.reject(new DeliveryError("ECONNREFUSED")) }, { retryBaseMs: 60_000, retryMaxMs: 60_000 });
    q.offer(records(0, 25));
    await new Promise((resolve) => setImmediate(resolve));
    await q.close();
    assert.equal(deadLetters.letters.reduce((n, l) => n + l.eventCount, 0), 25);
  });
});
