import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { EnterpriseError } from "../errors.ts";
import type { AuditRecord } from "../records.ts";
import { AuditLog, type AuditLogOptions } from "./audit-log.ts";
import { verifyCheckpoint } from "./checkpoint.ts";
import { toHex } from "./encoding.ts";
import { merkleRoot } from "./merkle.ts";
import { verifyAuditLog } from "./verify.ts";
import { MemoryAuditLogStore, ed25519Signer, ed25519Verifier, manualClock, sequentialIds, sha256 } from "./test-kit.test.ts";

const ORIGIN = "aesp.test/audit";

function setup(options: Partial<AuditLogOptions> = {}, store = new MemoryAuditLogStore(), signer = ed25519Signer("audit-key")) {
  const clock = manualClock();
  const log = new AuditLog({ store, hasher: sha256, signer, clock, ids: sequentialIds() }, { origin: ORIGIN, checkpointEvery: 0, ...options });
  return { log, store, signer, clock };
}

function isUnavailable(err: unknown): boolean {
  return err instanceof EnterpriseError && err.code === "AUDIT_UNAVAILABLE" && err.retryAfterMs > 0;
}

async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 1000 && !condition(); turn++) await nextTurn();
  assert.ok(condition(), "condition not reached");
}

async function verifyStore(store: MemoryAuditLogStore, ...signers: ReturnType<typeof ed25519Signer>[]) {
  return verifyAuditLog({
    records: store.records,
    checkpoints: store.checkpoints,
    trustedKeys: signers.map((s) => ({ keyName: ORIGIN, publicKey: s.publicKey })),
    hasher: sha256,
    verifier: ed25519Verifier,
    origin: ORIGIN,
  });
}

/** A scheduler whose sleeps end only when the test says so, or when their signal aborts. */
function manualScheduler() {
  const sleeping = new Set<() => void>();
  const waits: number[] = [];
  return {
    waits,
    sleep(ms: number, signal?: AbortSignal): Promise<void> {
      waits.push(ms);
      return new Promise<void>((resolve) => {
        const wake = () => {
          sleeping.delete(wake);
          resolve();
        };
        sleeping.add(wake);
        signal?.addEventListener("abort", wake, { once: true });
      });
    },
    elapse(): void {
      for (const wake of [...sleeping]) wake();
    },
    pending: () => sleeping.size,
  };
}

const event = (i: number) => ({ eventType: "tool_call.completed" as const, tenantId: "t1", principalId: `usr_${String(i)}`, resource: "get_weather" });

describe("AuditLog.record", () => {
  it("resolves with the linked record only once it is in the store", async () => {
    const { log, store, clock } = setup();
    await log.open();
    clock.advance(5);
    const record = await log.record({ eventType: "session.created", tenantId: "t1", principalId: "usr_1", resource: "ses_1" });
    assert.equal(store.records.length, 1);
    assert.deepEqual(store.records[0], record);
    assert.equal(record.seq, 0);
    assert.equal(record.eventId, "evt_1");
    assert.equal(record.timestampMs, 1_700_000_000_005);
    assert.equal(record.outcome, "SUCCESS", "the catalogue's outcome by default");
    assert.equal(record.sessionId, "");
    assert.deepEqual(log.head, { size: 1, chainHash: record.chainHash });
    assert.equal(log.rootHash, record.leafHash);
  });

  it("group-commits concurrent events: few appends, each promise settles after its own batch", async () => {
    const { log, store } = setup({ maxBatch: 1000 });
    await log.open();
    const durableAtResolution: boolean[] = [];
    const pending = Array.from({ length: 500 }, (_, i) =>
      log.record(event(i)).then((record) => {
        durableAtResolution.push(store.records.some((stored) => stored.eventId === record.eventId));
        return record;
      }),
    );
    const records = await Promise.all(pending);
    assert.equal(store.appendCalls, 1, "one burst, one append");
    assert.deepEqual(store.batchSizes, [500]);
    assert.ok(durableAtResolution.every(Boolean));
    assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 500 }, (_, i) => i));
    assert.deepEqual(records.map((r) => r.principalId), Array.from({ length: 500 }, (_, i) => `usr_${String(i)}`));
  });

  it("collects events that arrive during a flush into the next batch, without timers", async () => {
    const { log, store } = setup();
    await log.open();
    const release = store.blockAppends();
    const first = log.record(event(0));
    await until(() => store.appendCalls === 1);
    let laterResolved = 0;
    const later = Array.from({ length: 100 }, (_, i) => log.record(event(i + 1)).then(() => (laterResolved += 1)));
    await nextTurn();
    assert.equal(store.appendCalls, 1, "later events wait for the in-flight flush");
    assert.equal(log.queued, 100);
    release();
    const firstRecord = await first;
    assert.equal(firstRecord.seq, 0);
    await Promise.all(later);
    assert.equal(laterResolved, 100);
    assert.deepEqual(store.batchSizes, [1, 100]);
  });

  it("caps batches at maxBatch", async () => {
    const { log, store } = setup({ maxBatch: 10 });
    await log.open();
    await Promise.all(Array.from({ length: 35 }, (_, i) => log.record(event(i))));
    assert.deepEqual(store.batchSizes, [10, 10, 10, 5]);
  });

  it("with batchMaxWaitMs, gathers events over several turns into one batch until the wait ends", async () => {
    const scheduler = manualScheduler();
    const store = new MemoryAuditLogStore();
    const log = new AuditLog({ store, hasher: sha256, signer: ed25519Signer("audit-key"), clock: manualClock(), ids: sequentialIds(), scheduler }, { origin: ORIGIN, checkpointEvery: 0, batchMaxWaitMs: 50 });
    await log.open();
    const pending: Promise<AuditRecord>[] = [];
    for (let turn = 0; turn < 3; turn++) {
      pending.push(log.record(event(turn)), log.record(event(10 + turn)));
      await nextTurn();
    }
    assert.deepEqual(scheduler.waits, [50]);
    assert.equal(store.appendCalls, 0, "nothing is committed while the batch waits");
    scheduler.elapse();
    await Promise.all(pending);
    assert.deepEqual(store.batchSizes, [6]);
  });

  it("with batchMaxWaitMs, commits at once when the batch is full", async () => {
    const scheduler = manualScheduler();
    const store = new MemoryAuditLogStore();
    const log = new AuditLog({ store, hasher: sha256, signer: ed25519Signer("audit-key"), clock: manualClock(), ids: sequentialIds(), scheduler }, { origin: ORIGIN, checkpointEvery: 0, batchMaxWaitMs: 60_000, maxBatch: 4 });
    await log.open();
    const first = [log.record(event(0))];
    await nextTurn();
    first.push(log.record(event(1)), log.record(event(2)), log.record(event(3)));
    await Promise.all(first);
    assert.deepEqual(store.batchSizes, [4], "the wait ended when the fourth event filled the batch");
    assert.equal(scheduler.pending(), 0);
  });

  it("requires a scheduler when batchMaxWaitMs is set", () => {
    assert.throws(
      () => new AuditLog({ store: new MemoryAuditLogStore(), hasher: sha256, signer: ed25519Signer("k"), clock: manualClock(), ids: sequentialIds() }, { origin: ORIGIN, batchMaxWaitMs: 5 }),
      (err: unknown) => err instanceof EnterpriseError && err.code === "INVALID_ARGUMENT",
    );
  });

  it("fails closed: a failed batch rejects exactly its waiters, later batches succeed", async () => {
    const { log, store, signer } = setup();
    await log.open();
    await log.record(event(0));
    const release = store.blockAppends();
    store.failNextAppends = 1;
    const doomed = Array.from({ length: 5 }, (_, i) => log.record(event(100 + i)));
    await until(() => store.appendCalls === 2);
    const survivors = Array.from({ length: 3 }, (_, i) => log.record(event(200 + i)));
    release();
    const outcomes = await Promise.allSettled([...doomed, ...survivors]);
    assert.deepEqual(outcomes.map((o) => o.status), ["rejected", "rejected", "rejected", "rejected", "rejected", "fulfilled", "fulfilled", "fulfilled"]);
    for (const outcome of outcomes.slice(0, 5)) assert.ok(isUnavailable((outcome as PromiseRejectedResult).reason));
    const rejections = outcomes.slice(0, 5).map((o) => (o as PromiseRejectedResult).reason as EnterpriseError);
    assert.equal(new Set(rejections).size, 5, "each caller gets its own error object");
    assert.ok(!JSON.stringify(rejections[0]!.details).includes("disk full"), "no internal detail in the error");
    assert.deepEqual(store.records.map((r) => r.principalId), ["usr_0", "usr_200", "usr_201", "usr_202"]);
    assert.equal((await log.record(event(300))).seq, 4);
    assert.equal((await verifyStore(store, signer)).ok, true);
  });

  it("refuses new events beyond maxQueued instead of growing without bound", async () => {
    const { log, store } = setup({ maxQueued: 5 });
    await log.open();
    const release = store.blockAppends();
    const inFlight = log.record(event(0));
    await until(() => store.appendCalls === 1);
    const queued = Array.from({ length: 5 }, (_, i) => log.record(event(i + 1)));
    await assert.rejects(log.record(event(99)), (err: unknown) => isUnavailable(err) && (err as EnterpriseError).details["reason"] === "the audit queue is full");
    release();
    await Promise.all([inFlight, ...queued]);
    assert.equal((await log.record(event(6))).seq, 6, "accepted again once the queue drained");
  });

  it("refuses events before open and after close, and malformed events alone", async () => {
    const { log, store } = setup();
    await assert.rejects(log.record(event(0)), isUnavailable);
    await log.open();
    await assert.rejects(log.open(), isUnavailable);
    const bad = log.record({ eventType: "nonsense.happened" as "session.created" });
    const good = log.record(event(1));
    await assert.rejects(bad, (err: unknown) => err instanceof EnterpriseError && err.code === "INVALID_ARGUMENT");
    assert.equal((await good).seq, 0);
    await log.close();
    await assert.rejects(log.record(event(2)), isUnavailable);
    assert.equal(store.records.length, 1);
  });

  it("redacts credential-like metadata before the event is built", async () => {
    const { log } = setup();
    await log.open();
    const record = await log.record({ ...event(0), metadata: { authorization: "Bearer abc", sessionToken: "t", runtimeId: "rt_1" } });
    assert.deepEqual(record.metadata, { runtimeId: "rt_1" });
  });
});

describe("AuditLog checkpoints", () => {
  it("signs a checkpoint every checkpointEvery records and anchors it in the log", async () => {
    const { log, store, signer } = setup({ checkpointEvery: 10 });
    await log.open();
    for (let i = 0; i < 25; i++) await log.record(event(i));
    await log.drain();
    const sizes = store.checkpoints.map((c) => c.treeSize);
    assert.deepEqual(sizes, [10, 21], "the anchor event of the first checkpoint is record 10 and does not count");
    const anchors = store.records.filter((r) => r.eventType === "audit.checkpoint_signed");
    assert.deepEqual(anchors.map((r) => r.metadata["tree_size"]), ["10", "21"]);
    assert.equal(anchors[0]!.metadata["root_hash"], store.checkpoints[0]!.rootHash);
    for (const checkpoint of store.checkpoints) {
      const verified = verifyCheckpoint(checkpoint.signedNote, { keyName: ORIGIN, publicKey: signer.publicKey }, ed25519Verifier, sha256);
      assert.ok(verified.ok);
      const leaves = store.records.slice(0, checkpoint.treeSize).map((r) => Buffer.from(r.leafHash, "hex"));
      assert.equal(checkpoint.rootHash, toHex(merkleRoot(leaves, sha256)));
      assert.equal(checkpoint.chainHash, store.records[checkpoint.treeSize - 1]!.chainHash);
      assert.equal(checkpoint.keyId, "audit-key");
    }
    assert.deepEqual(log.latestCheckpoint(), store.checkpoints[1]);
    assert.equal((await verifyStore(store, signer)).ok, true);
  });

  it("does not feed itself even when checkpointing after every record", async () => {
    const { log, store } = setup({ checkpointEvery: 1 });
    await log.open();
    for (let i = 0; i < 3; i++) await log.record(event(i));
    await log.drain();
    const checkpoints = store.checkpoints.length;
    assert.ok(checkpoints >= 1 && checkpoints <= 3);
    assert.equal(store.records.length, 3 + checkpoints, "one anchor per checkpoint");
    const lastEvent = store.records.findLastIndex((r) => r.eventType !== "audit.checkpoint_signed");
    assert.ok(log.latestCheckpoint()!.treeSize > lastEvent, "every event is covered");
    await nextTurn();
    await log.drain();
    assert.equal(store.checkpoints.length, checkpoints, "quiescent once every event is covered");
  });

  it("checkpoints on demand and does not re-sign an unchanged log", async () => {
    const { log, store, signer } = setup();
    await log.open();
    await Promise.all([log.record(event(0)), log.record(event(1))]);
    const checkpoint = await log.checkpoint();
    assert.equal(checkpoint.treeSize, 2);
    await log.drain();
    assert.equal(store.records.at(-1)!.eventType, "audit.checkpoint_signed");
    const signatures = signer.signatures;
    assert.equal(await log.checkpoint(), checkpoint, "only the anchor is new: nothing to re-sign");
    assert.equal(signer.signatures, signatures);
    await log.record(event(2));
    const next = await log.checkpoint();
    assert.equal(next.treeSize, 4, "two events, the first anchor, one more event");
    assert.equal(signer.signatures, signatures + 1);
  });

  it("reports a failed checkpoint save as AUDIT_UNAVAILABLE and recovers", async () => {
    const { log, store } = setup();
    await log.open();
    await log.record(event(0));
    store.failCheckpointSaves = true;
    await assert.rejects(log.checkpoint(), isUnavailable);
    assert.equal(log.latestCheckpoint(), null);
    store.failCheckpointSaves = false;
    assert.equal((await log.checkpoint()).treeSize, 1);
  });
});

describe("AuditLog.open", () => {
  it("rebuilds its state from an existing log page by page and continues it", async () => {
    const store = new MemoryAuditLogStore();
    const signer = ed25519Signer("audit-key");
    const first = setup({ checkpointEvery: 7 }, store, signer).log;
    await first.open();
    for (let i = 0; i < 30; i++) await first.record(event(i));
    await first.close();

    const second = setup({ checkpointEvery: 7, readPageSize: 4 }, store, signer).log;
    await second.open();
    assert.deepEqual(second.head, first.head);
    assert.equal(second.rootHash, first.rootHash);
    assert.deepEqual(second.latestCheckpoint(), first.latestCheckpoint());
    const next = await second.record(event(99));
    assert.equal(next.seq, first.size);
    await second.drain();
    assert.equal((await verifyStore(store, signer)).ok, true);
  });

  it("refuses to open a tampered log, naming the seq", async () => {
    const store = new MemoryAuditLogStore();
    const { log } = setup({}, store);
    await log.open();
    for (let i = 0; i < 10; i++) await log.record(event(i));
    store.records[6] = { ...store.records[6]!, principalId: "usr_admin" };
    await assert.rejects(setup({}, store).log.open(), (err: unknown) => {
      assert.ok(isUnavailable(err));
      const details = (err as EnterpriseError).details;
      assert.equal(details["seq"], "6");
      assert.match(details["reason"] ?? "", /leaf hash mismatch/);
      return true;
    });
  });

  it("refuses to open a log truncated below its checkpoint", async () => {
    const store = new MemoryAuditLogStore();
    const { log } = setup({}, store);
    await log.open();
    for (let i = 0; i < 10; i++) await log.record(event(i));
    await log.checkpoint();
    await log.drain();
    store.records.splice(5);
    await assert.rejects(setup({}, store).log.open(), (err: unknown) => isUnavailable(err) && /truncated/.test((err as EnterpriseError).details["reason"] ?? ""));
  });

  it("reports an unreadable store as AUDIT_UNAVAILABLE and can be retried", async () => {
    const store = new MemoryAuditLogStore();
    const seed = setup({}, store).log;
    await seed.open();
    await seed.record(event(0));
    const { log } = setup({}, store);
    store.failReads = true;
    await assert.rejects(log.open(), isUnavailable);
    store.failReads = false;
    await log.open();
    assert.equal(log.size, 1);
  });
});

describe("AuditLog with several writers on one store", () => {
  it("absorbs records other Hosts appended and keeps one verifiable chain", async () => {
    const store = new MemoryAuditLogStore();
    const keyA = ed25519Signer("host-a");
    const keyB = ed25519Signer("host-b");
    const a = setup({ checkpointEvery: 5 }, store, keyA).log;
    const b = setup({ checkpointEvery: 5 }, store, keyB).log;
    await a.open();
    await b.open();
    const written: AuditRecord[] = [];
    for (let i = 0; i < 12; i++) written.push(await (i % 3 === 0 ? b : a).record(event(i)));
    await Promise.all([a.drain(), b.drain()]);
    assert.ok(written.every((r, i) => i === 0 || r.seq > written[i - 1]!.seq), "one global order across writers");
    const result = await verifyStore(store, keyA, keyB);
    assert.ok(result.ok, JSON.stringify(result));
    assert.ok(store.checkpoints.length >= 2);
  });

  it("stops accepting events when another writer's records do not verify", async () => {
    const store = new MemoryAuditLogStore();
    const a = setup({}, store).log;
    const b = setup({}, store).log;
    await a.open();
    await b.open();
    await a.record(event(0));
    await b.record(event(1));
    store.records[1] = { ...store.records[1]!, resource: "tampered" };
    await assert.rejects(a.record(event(2)), (err: unknown) => isUnavailable(err) && /integrity/.test((err as EnterpriseError).details["reason"] ?? ""));
    await assert.rejects(a.record(event(3)), isUnavailable);
    await assert.rejects(a.checkpoint(), isUnavailable);
  });
});

describe("AuditLog.record against a store that misreports its append", () => {
  /** A store whose append returns the linked records after `alter` (the stored copy stays intact). */
  class AlteringStore extends MemoryAuditLogStore {
    alter: ((record: AuditRecord) => AuditRecord) | null = null;
    override async append(drafts: Parameters<MemoryAuditLogStore["append"]>[0], link: Parameters<MemoryAuditLogStore["append"]>[1]): Promise<AuditRecord[]> {
      const records = await super.append(drafts, link);
      const alter = this.alter;
      return alter === null ? records : records.map(alter);
    }
  }

  // The last column is the verified size afterwards: a seq beyond the tip first makes the log catch
  // up by reading the store, which holds the genuine record and absorbs it; then the link fails.
  const cases: [string, (record: AuditRecord) => AuditRecord, RegExp, number][] = [
    ["a changed chain hash", (r) => ({ ...r, chainHash: "0".repeat(64) }), /chain hash mismatch/, 1],
    ["a changed leaf hash", (r) => ({ ...r, leafHash: "1".repeat(64) }), /leaf hash mismatch/, 1],
    ["a shifted seq", (r) => ({ ...r, seq: r.seq + 1 }), /integrity check failed/, 2],
    ["another event id", (r) => ({ ...r, eventId: "evt_other" }), /out of order/, 1],
  ];
  for (const [name, alter, reason, sizeAfter] of cases) {
    it(`refuses ${name} in what the store returned, and stops accepting events`, async () => {
      const store = new AlteringStore();
      const { log } = setup({}, store);
      await log.open();
      await log.record(event(0));
      store.alter = alter;
      await assert.rejects(log.record(event(1)), (err: unknown) => isUnavailable(err) && reason.test((err as EnterpriseError).details["reason"] ?? ""));
      store.alter = null;
      await assert.rejects(log.record(event(2)), isUnavailable);
      assert.equal(log.size, sizeAfter, "nothing the store misreported was absorbed");
    });
  }

  it("recomputes every link when the head the batch was linked from is not the verified tip", async () => {
    // The store hands `link` a head with the right size but a forged chain hash: the records link
    // consistently from that forgery, so only recomputing from the verified chain catches it.
    class ForgedHeadStore extends MemoryAuditLogStore {
      forge = false;
      override async append(drafts: Parameters<MemoryAuditLogStore["append"]>[0], link: Parameters<MemoryAuditLogStore["append"]>[1]): Promise<AuditRecord[]> {
        return super.append(drafts, (head) => link(this.forge ? { size: head.size, chainHash: "f".repeat(64) } : head));
      }
    }
    const store = new ForgedHeadStore();
    const { log } = setup({}, store);
    await log.open();
    await log.record(event(0));
    store.forge = true;
    await assert.rejects(log.record(event(1)), (err: unknown) => isUnavailable(err) && /chain hash mismatch/.test((err as EnterpriseError).details["reason"] ?? ""));
    assert.equal(log.size, 1);
  });
});

describe("AuditLog.onCommitted", () => {
  it("hands each durable batch to subscribers after its callers resolved, never a failed one", async () => {
    const { log, store } = setup();
    await log.open();
    const seen: AuditRecord[][] = [];
    const stored: number[] = [];
    const unsubscribe = log.onCommitted((records) => {
      seen.push([...records]);
      stored.push(store.records.length);
    });
    log.onCommitted(() => {
      throw new Error("a broken subscriber");
    });
    const first = await Promise.all([log.record(event(1)), log.record(event(2))]);
    assert.deepEqual(seen, [first], "one batch, in log order, the records the callers got");
    assert.equal(stored[0], 2, "the batch was in the store when the subscriber ran");

    store.failNextAppends = 1;
    await assert.rejects(log.record(event(3)), isUnavailable);
    assert.equal(seen.length, 1, "a batch that did not commit is never published");

    unsubscribe();
    await log.record(event(4));
    assert.equal(seen.length, 1, "unsubscribed");
  });
});

describe("AuditLog with retention and sealing", () => {
  it("seals personal fields through `protect` before hashing, so the stored leaf covers the sealed form", async () => {
    const store = new MemoryAuditLogStore();
    const clock = manualClock();
    const seen: number[] = [];
    const log = new AuditLog(
      {
        store,
        hasher: sha256,
        signer: ed25519Signer("audit-key"),
        clock,
        ids: sequentialIds(),
        protect: async (drafts) => {
          seen.push(drafts.length);
          return drafts.map((draft) => (draft.sourceIp === "" ? draft : { ...draft, sourceIp: `pd1:k1:${draft.sourceIp.length}` }));
        },
      },
      { origin: ORIGIN, checkpointEvery: 0 },
    );
    await log.open();
    const [sealed, plain] = await Promise.all([log.record({ ...event(1), sourceIp: "192.0.2.1" }), log.record(event(2))]);
    assert.deepEqual(seen, [2], "one call per batch");
    assert.equal(sealed.sourceIp, "pd1:k1:9");
    assert.equal(store.records[0]!.sourceIp, "pd1:k1:9");
    assert.equal(plain.sourceIp, "");
    const result = await verifyStore(store);
    assert.equal(result.ok, true, JSON.stringify(result));
  });

  it("fails the batch closed when `protect` fails", async () => {
    const store = new MemoryAuditLogStore();
    const log = new AuditLog(
      { store, hasher: sha256, signer: ed25519Signer("audit-key"), clock: manualClock(), ids: sequentialIds(), protect: () => Promise.reject(new Error("key store down")) },
      { origin: ORIGIN, checkpointEvery: 0 },
    );
    await log.open();
    await assert.rejects(log.record(event(1)), isUnavailable);
    assert.equal(store.records.length, 0);
  });

  it("opens a stored log holding tombstones (verified by stored leaf hash) and keeps appending", async () => {
    const { log, store } = setup();
    await log.open();
    for (let i = 0; i < 5; i++) await log.record(event(i));
    store.records[2] = { ...store.records[2]!, principalId: "", resource: "", metadata: {}, tombstone: "retention" };
    const reopened = setup({}, store).log;
    await reopened.open();
    await reopened.record(event(9));
    const result = await verifyStore(store);
    assert.equal(result.ok && result.tombstones, 1);
    store.records[3] = { ...store.records[3]!, resource: "edited" };
    await assert.rejects(setup({}, store).log.open(), (err: unknown) => err instanceof EnterpriseError && err.details["seq"] === "3");
  });
});
