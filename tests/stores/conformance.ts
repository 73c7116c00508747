/**
 * The store conformance suite: one behavioural contract for every Store
 * adapter, run against a real database by tests/stores/sqlite.test.ts and
 * tests/stores/postgres.test.ts.
 *
 * It covers, for every port: CRUD and round-trips (JSON shapes, nulls,
 * numbers), not-found → null, duplicates → ALREADY_EXISTS, stale revisions →
 * CONFLICT, cursor pagination and ordering, tenant isolation on every tenant
 * store, single use of join tokens and the bootstrap record under
 * concurrency, audit appends (the head `link` sees, one gap-free chain from
 * two Stores appending at once), transactions (commit, rollback, nesting),
 * and error hygiene (no SQL or driver text in messages).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { EnterpriseError } from "@aesp/core";
import type { ErrorCode } from "@aesp/core";
import type { Store, TenantStores } from "@aesp/core";
import type { AuditEventDraft, AuditHead, AuditRecord, PolicyRecord } from "@aesp/core";
import {
  apiKeyRecord,
  approvalRecord,
  auditDraft,
  certificateRecord,
  chainHashOf,
  chainLink,
  contractDefinition,
  contractRecord,
  EMPTY_CHAIN_HASH,
  joinTokenRecord,
  keyMaterialRecord,
  leafHashOf,
  policyRecord,
  principalRecord,
  roleRecord,
  runtimeRecord,
  sessionRecord,
  tenantRecord,
  unique,
} from "./fixtures.ts";

/** Text that would betray the database behind an error message. */
const DRIVER_TEXT = /sqlite|postgres|constraint|duplicate key|unique|violat|insert into|select |update |relation|syntax/i;

/** An `assert.rejects` validator: an EnterpriseError with `code` whose message says nothing about the database. */
function withCode(code: ErrorCode) {
  return (err: unknown): true => {
    assert.ok(err instanceof EnterpriseError, `expected EnterpriseError ${code}, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.doesNotMatch(err.message, DRIVER_TEXT);
    for (const value of Object.values(err.details)) assert.doesNotMatch(value, DRIVER_TEXT);
    return true;
  };
}

/** Reads all pages of a cursor-paginated list. */
async function allPages<T>(fetch: (cursor: string | undefined) => Promise<T[]>, cursorOf: (last: T) => string, pageSize: number): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await fetch(cursor);
    pages.push(page);
    assert.ok(page.length <= pageSize, "a page is never larger than the limit");
    const last = page.at(-1);
    if (last === undefined) return pages;
    cursor = cursorOf(last);
  }
}

/** Checks the whole log: seq 0..size-1 with no gap, every chain hash continuing the previous one. */
async function assertWholeChain(store: Store): Promise<AuditRecord[]> {
  const head = await store.platform.auditLog.head();
  const records: AuditRecord[] = [];
  for (let from = 0; from < head.size; from += 500) records.push(...(await store.platform.auditLog.readRange(from, 500)));
  assert.equal(records.length, head.size, "readRange returns every record up to the head");
  let previous = EMPTY_CHAIN_HASH;
  records.forEach((record, index) => {
    assert.equal(record.seq, index, "sequence numbers are gap-free and ascending");
    const { seq: _seq, leafHash, chainHash, ...draft } = record;
    assert.equal(leafHash, leafHashOf(draft), `leaf hash of seq ${index} matches its stored content`);
    assert.equal(chainHash, chainHashOf(previous, leafHash), `chain is unbroken at seq ${index}`);
    previous = chainHash;
  });
  assert.equal(head.chainHash, head.size === 0 ? EMPTY_CHAIN_HASH : previous, "the head is the last record's chain hash");
  return records;
}

/**
 * Registers the conformance suite for one adapter.
 *
 * @param name - the adapter under test, shown in the report.
 * @param makeStore - opens another Store on the same database, empty before
 *   the suite's first call; the suite opens several (two at once for the
 *   concurrency tests) and closes all of them.
 * @param teardown - removes the database, after every Store is closed.
 */
export function runStoreConformance(name: string, makeStore: () => Promise<Store>, teardown: () => Promise<void>): void {
  describe(`Store conformance: ${name}`, () => {
    const opened: Store[] = [];
    let store: Store;
    let a: TenantStores;
    let b: TenantStores;

    const open = async (): Promise<Store> => {
      const next = await makeStore();
      opened.push(next);
      return next;
    };

    before(async () => {
      store = await open();
      a = store.forTenant(unique("tenant_a"));
      b = store.forTenant(unique("tenant_b"));
    });

    after(async () => {
      for (const each of opened) await each.close();
      await teardown();
    });

    describe("store", () => {
      it("reports its kind and answers ping", async () => {
        assert.ok(store.kind === "sqlite" || store.kind === "postgres");
        await store.ping();
      });

      it("forTenant refuses the empty tenant (the tenant of platform audit events)", () => {
        assert.throws(() => store.forTenant(""), withCode("INVALID_ARGUMENT"));
      });

      it("forTenant binds the tenant it was given", () => {
        assert.equal(a.tenantId === b.tenantId, false);
        const bound = store.forTenant("acme");
        assert.equal(bound.tenantId, "acme");
      });

      it("close is idempotent and a closed store refuses work with an EnterpriseError", async () => {
        const extra = await open();
        await extra.ping();
        await extra.close();
        await extra.close();
        await assert.rejects(extra.ping(), (err: unknown) => err instanceof EnterpriseError);
      });
    });

    describe("audit log", () => {
      it("starts empty: size 0 and 64 zeros", async () => {
        assert.deepEqual(await store.platform.auditLog.head(), { size: 0, chainHash: EMPTY_CHAIN_HASH });
        assert.deepEqual(await store.platform.auditLog.readRange(0, 10), []);
      });

      it("append links from the current head and moves it", async () => {
        const seen: AuditHead[] = [];
        const first = [auditDraft(), auditDraft({ tenantId: "acme" }), auditDraft()];
        const written = await store.platform.auditLog.append(first, chainLink(first, seen));
        assert.deepEqual(seen, [{ size: 0, chainHash: EMPTY_CHAIN_HASH }]);
        assert.deepEqual(
          written.map((record) => record.seq),
          [0, 1, 2],
        );
        const head = await store.platform.auditLog.head();
        assert.deepEqual(head, { size: 3, chainHash: written[2]?.chainHash });

        const second = [auditDraft()];
        const [next] = await store.platform.auditLog.append(second, chainLink(second, seen));
        assert.deepEqual(seen[1], head, "the second append is linked from the first one's last record");
        assert.equal(next?.seq, 3);
        await assertWholeChain(store);
      });

      it("round-trips every field, including metadata key order and unicode", async () => {
        const draft = auditDraft({
          tenantId: "acme",
          outcome: "DENIED",
          policyViolations: ["pol_1", "pol_2"],
          metadata: { zz: "z", a: "1", "😀": "emoji", "": "empty key", long_key_name: "ü" },
          userAgent: 'quote " backslash \\ newline \n',
        });
        const [written] = await store.platform.auditLog.append([draft], chainLink([draft]));
        assert.ok(written !== undefined);
        const [read] = await store.platform.auditLog.readRange(written.seq, 1);
        assert.deepEqual(read, written);
        assert.deepEqual(Object.keys(read?.metadata ?? {}), Object.keys(draft.metadata), "metadata keys keep their order");
        assert.equal(typeof read?.timestampMs, "number");
        assert.equal(typeof read?.seq, "number");
      });

      it("readRange returns [fromSeq, fromSeq + limit) ascending, and nothing past the head", async () => {
        const head = await store.platform.auditLog.head();
        const range = await store.platform.auditLog.readRange(1, 2);
        assert.deepEqual(
          range.map((record) => record.seq),
          [1, 2],
        );
        assert.deepEqual(await store.platform.auditLog.readRange(head.size, 10), []);
        assert.deepEqual(await store.platform.auditLog.readRange(0, 0), []);
        const tail = await store.platform.auditLog.readRange(head.size - 1, 100);
        assert.deepEqual(
          tail.map((record) => record.seq),
          [head.size - 1],
        );
        await assert.rejects(store.platform.auditLog.readRange(0.5, 1), withCode("INVALID_ARGUMENT"));
        await assert.rejects(store.platform.auditLog.readRange(0, Number.NaN), withCode("INVALID_ARGUMENT"));
      });

      it("appending nothing writes nothing and does not call link", async () => {
        const before = await store.platform.auditLog.head();
        const written = await store.platform.auditLog.append([], () => assert.fail("link must not run for an empty batch"));
        assert.deepEqual(written, []);
        assert.deepEqual(await store.platform.auditLog.head(), before);
      });

      it("a link that throws propagates its own error and writes nothing", async () => {
        const before = await store.platform.auditLog.head();
        const boom = new Error("link failed");
        await assert.rejects(
          store.platform.auditLog.append([auditDraft()], () => {
            throw boom;
          }),
          (err: unknown) => err === boom,
        );
        assert.deepEqual(await store.platform.auditLog.head(), before);
      });

      it("refuses records that do not continue the head (gap, duplicate, reordering)", async () => {
        const before = await store.platform.auditLog.head();
        const drafts = [auditDraft(), auditDraft()];
        const shifted = (head: AuditHead) => chainLink(drafts)({ ...head, size: head.size + 1 });
        await assert.rejects(store.platform.auditLog.append(drafts, shifted), withCode("INTERNAL_ERROR"));
        const reordered = (head: AuditHead) => chainLink(drafts)(head).reverse();
        await assert.rejects(store.platform.auditLog.append(drafts, reordered), withCode("INTERNAL_ERROR"));
        const short = (head: AuditHead) => chainLink(drafts)(head).slice(0, 1);
        await assert.rejects(store.platform.auditLog.append(drafts, short), withCode("INTERNAL_ERROR"));
        assert.deepEqual(await store.platform.auditLog.head(), before);
        await assertWholeChain(store);
      });

      it("large batches are written completely (several multi-row INSERT chunks)", async () => {
        const before = await store.platform.auditLog.head();
        const drafts = Array.from({ length: 2_345 }, (_, index) => auditDraft({ tenantId: index % 2 === 0 ? "acme" : "" }));
        const written = await store.platform.auditLog.append(drafts, chainLink(drafts));
        assert.equal(written.length, drafts.length);
        const after = await store.platform.auditLog.head();
        assert.equal(after.size, before.size + drafts.length);
        const stored = await store.platform.auditLog.readRange(before.size, drafts.length);
        assert.deepEqual(stored, written);
      });

      it("concurrent appends on one Store form one gap-free chain", async () => {
        const batches = Array.from({ length: 8 }, () => Array.from({ length: 20 }, () => auditDraft()));
        const results = await Promise.all(batches.map((drafts) => store.platform.auditLog.append(drafts, chainLink(drafts))));
        for (const written of results) {
          written.forEach((record, index) => assert.equal(record.seq, (written[0]?.seq ?? -1) + index, "a batch is contiguous"));
        }
        await assertWholeChain(store);
      });

      it("concurrent appends from two Stores on the same database form one gap-free chain", async () => {
        const other = await open();
        const before = await store.platform.auditLog.head();
        const heads: AuditHead[] = [];
        const appendFrom = (target: Store, count: number) =>
          Array.from({ length: count }, () => {
            const drafts = Array.from({ length: 25 }, () => auditDraft({ tenantId: "acme" }));
            return target.platform.auditLog.append(drafts, chainLink(drafts, heads));
          });
        const results = await Promise.all([...appendFrom(store, 10), ...appendFrom(other, 10)]);
        const written = results.flat();
        assert.equal(written.length, 500);
        assert.equal(new Set(written.map((record) => record.seq)).size, 500, "no sequence number was handed out twice");
        assert.equal(new Set(heads.map((head) => head.size)).size, heads.length, "every link saw a distinct head");
        const records = await assertWholeChain(other);
        assert.equal(records.length, before.size + 500);
        const ids = new Set(records.map((record) => record.eventId));
        for (const record of written) assert.ok(ids.has(record.eventId), "every appended event is in the log");
        assert.deepEqual(await other.platform.auditLog.head(), await store.platform.auditLog.head());
      });

      it("checkpoints: save, latest, list ascending, duplicate tree size refused", async () => {
        assert.equal(await store.platform.auditLog.latestCheckpoint(), null);
        const checkpoint = (treeSize: number) => ({
          treeSize,
          rootHash: "11".repeat(32),
          chainHash: "22".repeat(32),
          signedNote: `aesp.local/log\n${treeSize}\nERERERERERERERERERERERERERERERERERERERERERE=\n\n— aesp.local AbCdEf==\n`,
          keyId: "kid_audit",
          createdAt: 1_700_000_000_000 + treeSize,
        });
        await store.platform.auditLog.saveCheckpoint(checkpoint(4));
        await store.platform.auditLog.saveCheckpoint(checkpoint(10));
        await store.platform.auditLog.saveCheckpoint(checkpoint(7));
        assert.deepEqual(await store.platform.auditLog.latestCheckpoint(), checkpoint(10));
        assert.deepEqual(await store.platform.auditLog.listCheckpoints(), [checkpoint(4), checkpoint(7), checkpoint(10)]);
        await assert.rejects(store.platform.auditLog.saveCheckpoint(checkpoint(7)), withCode("ALREADY_EXISTS"));
      });
    });

    describe("tenant audit reader", () => {
      let tenantA: TenantStores;
      let tenantB: TenantStores;
      const byTenantA: AuditRecord[] = [];

      before(async () => {
        tenantA = store.forTenant(unique("audit_a"));
        tenantB = store.forTenant(unique("audit_b"));
        const drafts: AuditEventDraft[] = [];
        for (let index = 0; index < 12; index++) {
          drafts.push(
            auditDraft({
              tenantId: index % 3 === 2 ? tenantB.tenantId : tenantA.tenantId,
              timestampMs: 2_000_000 + index * 10,
              eventType: index % 2 === 0 ? "tool.invoked" : "session.created",
              principalId: index < 6 ? "usr_alice" : "usr_bob",
              correlationId: index === 4 ? "cor_needle" : unique("cor"),
            }),
          );
        }
        drafts.push(auditDraft({ tenantId: "", timestampMs: 2_000_005, eventType: "host.started" }));
        const written = await store.platform.auditLog.append(drafts, chainLink(drafts));
        byTenantA.push(...written.filter((record) => record.tenantId === tenantA.tenantId));
      });

      it("returns only the bound tenant's events, ascending by seq", async () => {
        const read = await tenantA.audit.query({ limit: 100 });
        assert.deepEqual(read, byTenantA);
        const other = await tenantB.audit.query({ limit: 100 });
        assert.equal(other.length, 4);
        assert.ok(other.every((record) => record.tenantId === tenantB.tenantId));
        assert.deepEqual(await store.forTenant(unique("nobody")).audit.query({ limit: 100 }), []);
      });

      it("filters by half-open time range, event types, principal and correlation id", async () => {
        const inRange = await tenantA.audit.query({ fromMs: 2_000_010, toMs: 2_000_040, limit: 100 });
        assert.deepEqual(
          inRange.map((record) => record.timestampMs),
          [2_000_010, 2_000_030],
        );
        const types = await tenantA.audit.query({ eventTypes: ["session.created"], limit: 100 });
        assert.ok(types.length > 0 && types.every((record) => record.eventType === "session.created"));
        assert.deepEqual(await tenantA.audit.query({ eventTypes: [], limit: 100 }), byTenantA, "an empty type list filters nothing");
        const bob = await tenantA.audit.query({ principalId: "usr_bob", limit: 100 });
        assert.deepEqual(
          bob,
          byTenantA.filter((record) => record.principalId === "usr_bob"),
        );
        const needle = await tenantA.audit.query({ correlationId: "cor_needle", limit: 100 });
        assert.deepEqual(
          needle.map((record) => record.correlationId),
          ["cor_needle"],
        );
        assert.deepEqual(await tenantB.audit.query({ correlationId: "cor_needle", limit: 100 }), [], "another tenant's correlation id finds nothing");
      });

      it("pages with afterSeq and limit", async () => {
        const pages: AuditRecord[][] = [];
        let afterSeq: number | undefined;
        for (;;) {
          const page = await tenantA.audit.query(afterSeq === undefined ? { limit: 3 } : { limit: 3, afterSeq });
          if (page.length === 0) break;
          pages.push(page);
          afterSeq = page.at(-1)?.seq;
        }
        assert.deepEqual(pages.flat(), byTenantA);
        assert.ok(pages.every((page) => page.length <= 3));
      });
    });

    describe("tenants (platform)", () => {
      it("create, get, list, setStatus", async () => {
        const first = tenantRecord({ tenantId: unique("ten_b") });
        const second = tenantRecord({ tenantId: unique("ten_a"), displayName: "Ünïcødé Ltd" });
        await store.platform.tenants.create(first);
        await store.platform.tenants.create(second);
        assert.deepEqual(await store.platform.tenants.get(first.tenantId), first);
        const listed = (await store.platform.tenants.list()).filter((tenant) => tenant.tenantId === first.tenantId || tenant.tenantId === second.tenantId);
        assert.deepEqual(
          listed,
          [first, second].sort((x, y) => (x.tenantId < y.tenantId ? -1 : 1)),
        );
        assert.equal(await store.platform.tenants.setStatus(first.tenantId, "SUSPENDED"), true);
        assert.equal((await store.platform.tenants.get(first.tenantId))?.status, "SUSPENDED");
      });

      it("unknown tenant: get → null, setStatus → false", async () => {
        assert.equal(await store.platform.tenants.get(unique("ten")), null);
        assert.equal(await store.platform.tenants.setStatus(unique("ten"), "ACTIVE"), false);
      });

      it("duplicate → ALREADY_EXISTS, with the driver error kept only as cause", async () => {
        const tenant = tenantRecord();
        await store.platform.tenants.create(tenant);
        await assert.rejects(store.platform.tenants.create({ ...tenant, displayName: "Other" }), (err: unknown) => {
          withCode("ALREADY_EXISTS")(err);
          assert.ok(err instanceof EnterpriseError && err.cause !== undefined, "the driver error is kept as cause");
          return true;
        });
        assert.deepEqual(await store.platform.tenants.get(tenant.tenantId), tenant);
      });
    });

    describe("key material (platform)", () => {
      it("current is the newest non-retired key; list is oldest first; retire moves current back", async () => {
        assert.equal(await store.platform.keys.current("token-signing"), null);
        const old = keyMaterialRecord({ purpose: "token-signing", createdAt: 1_000 });
        const newer = keyMaterialRecord({ purpose: "token-signing", createdAt: 2_000, certificatePem: "-----BEGIN CERTIFICATE-----\n" });
        const otherPurpose = keyMaterialRecord({ purpose: "ca", createdAt: 3_000 });
        await store.platform.keys.create(newer);
        await store.platform.keys.create(old);
        await store.platform.keys.create(otherPurpose);
        assert.deepEqual(await store.platform.keys.current("token-signing"), newer);
        assert.deepEqual(await store.platform.keys.list("token-signing"), [old, newer]);
        await store.platform.keys.retire(newer.keyId, 5_000);
        assert.deepEqual(await store.platform.keys.current("token-signing"), old);
        assert.deepEqual(await store.platform.keys.list("token-signing"), [old, { ...newer, retiredAt: 5_000 }]);
        await store.platform.keys.retire(newer.keyId, 9_000);
        assert.equal((await store.platform.keys.list("token-signing"))[1]?.retiredAt, 5_000, "retiring twice keeps the first time");
        await store.platform.keys.retire(old.keyId, 6_000);
        assert.equal(await store.platform.keys.current("token-signing"), null);
      });

      it("duplicate → ALREADY_EXISTS; retiring an unknown key → NOT_FOUND", async () => {
        const key = keyMaterialRecord();
        await store.platform.keys.create(key);
        await assert.rejects(store.platform.keys.create(key), withCode("ALREADY_EXISTS"));
        await assert.rejects(store.platform.keys.retire(unique("kid"), 1), withCode("NOT_FOUND"));
      });
    });

    describe("bootstrap (platform)", () => {
      it("init succeeds once even when two Stores race; consume succeeds once for the right hash", async () => {
        const other = await open();
        assert.equal(await store.platform.bootstrap.get(), null);
        const mine = { tokenHash: "hash_mine", createdAt: 1_000, consumedAt: null, consumedBy: null };
        const theirs = { tokenHash: "hash_theirs", createdAt: 2_000, consumedAt: null, consumedBy: null };
        const inits = await Promise.all([store.platform.bootstrap.init(mine), other.platform.bootstrap.init(theirs)]);
        assert.deepEqual(
          inits.filter(Boolean).length,
          1,
          "exactly one init wins",
        );
        const winner = inits[0] === true ? mine : theirs;
        assert.deepEqual(await other.platform.bootstrap.get(), winner);
        assert.equal(await store.platform.bootstrap.init({ ...mine, tokenHash: "hash_late" }), false);

        assert.equal(await store.platform.bootstrap.consume("hash_wrong", 3_000, "usr_x"), false);
        const consumes = await Promise.all([
          store.platform.bootstrap.consume(winner.tokenHash, 4_000, "usr_first"),
          other.platform.bootstrap.consume(winner.tokenHash, 4_001, "usr_second"),
        ]);
        assert.equal(consumes.filter(Boolean).length, 1, "exactly one consume wins");
        const consumed = await store.platform.bootstrap.get();
        assert.equal(consumed?.tokenHash, winner.tokenHash);
        assert.equal(consumed?.consumedBy, consumes[0] === true ? "usr_first" : "usr_second");
        assert.equal(consumed?.consumedAt, consumes[0] === true ? 4_000 : 4_001);
        assert.equal(await store.platform.bootstrap.consume(winner.tokenHash, 5_000, "usr_x"), false);
      });
    });

    describe("principals", () => {
      it("create/get round-trips every field; unknown → null", async () => {
        const principal = principalRecord(a.tenantId, { expiresAt: 1_900_000_000_000 });
        await a.principals.create(principal);
        assert.deepEqual(await a.principals.get(principal.principalId), principal);
        const never = principalRecord(a.tenantId, { attributes: {}, roles: [], permissions: [] });
        await a.principals.create(never);
        assert.deepEqual(await a.principals.get(never.principalId), never);
        assert.equal(await a.principals.get(unique("usr")), null);
      });

      it("duplicate → ALREADY_EXISTS", async () => {
        const principal = principalRecord(a.tenantId);
        await a.principals.create(principal);
        await assert.rejects(a.principals.create({ ...principal, displayName: "Impostor" }), withCode("ALREADY_EXISTS"));
        assert.equal((await a.principals.get(principal.principalId))?.displayName, principal.displayName);
      });

      it("update with the read revision bumps it; a stale revision → CONFLICT; unknown → NOT_FOUND", async () => {
        const principal = principalRecord(a.tenantId, { revision: 3 });
        await a.principals.create(principal);
        await a.principals.update({ ...principal, status: "DISABLED", roles: ["viewer"], expiresAt: 5 }, 3);
        assert.deepEqual(await a.principals.get(principal.principalId), { ...principal, status: "DISABLED", roles: ["viewer"], expiresAt: 5, revision: 4 });
        await assert.rejects(a.principals.update({ ...principal, displayName: "Lost update" }, 3), withCode("CONFLICT"));
        assert.equal((await a.principals.get(principal.principalId))?.displayName, principal.displayName);
        await assert.rejects(a.principals.update(principalRecord(a.tenantId), 1), withCode("NOT_FOUND"));
      });

      it("concurrent updates from the same revision: exactly one wins", async () => {
        const principal = principalRecord(a.tenantId);
        await a.principals.create(principal);
        const outcomes = await Promise.allSettled([
          a.principals.update({ ...principal, displayName: "first" }, 1),
          a.principals.update({ ...principal, displayName: "second" }, 1),
        ]);
        assert.equal(outcomes.filter((outcome) => outcome.status === "fulfilled").length, 1);
        const rejected = outcomes.find((outcome) => outcome.status === "rejected");
        assert.ok(rejected?.status === "rejected" && withCode("CONFLICT")(rejected.reason));
        assert.equal((await a.principals.get(principal.principalId))?.revision, 2);
      });

      it("list: ordered by id, filtered by type and activity, cursor-paginated", async () => {
        const tenant = store.forTenant(unique("list"));
        const made = [
          principalRecord(tenant.tenantId, { principalId: "p3" }),
          principalRecord(tenant.tenantId, { principalId: "p1", type: "SERVICE_ACCOUNT" }),
          principalRecord(tenant.tenantId, { principalId: "p5", status: "DISABLED" }),
          principalRecord(tenant.tenantId, { principalId: "p2" }),
          principalRecord(tenant.tenantId, { principalId: "p4", status: "REVOKED", type: "SERVICE_ACCOUNT" }),
          principalRecord(tenant.tenantId, { principalId: "p6" }),
        ];
        for (const principal of made) await tenant.principals.create(principal);
        const ids = (records: { principalId: string }[]) => records.map((record) => record.principalId);
        assert.deepEqual(ids(await tenant.principals.list({ limit: 100 })), ["p1", "p2", "p3", "p6"], "active only by default");
        assert.deepEqual(ids(await tenant.principals.list({ limit: 100, includeInactive: true })), ["p1", "p2", "p3", "p4", "p5", "p6"]);
        assert.deepEqual(ids(await tenant.principals.list({ limit: 100, type: "SERVICE_ACCOUNT", includeInactive: true })), ["p1", "p4"]);
        const pages = await allPages(
          (cursor) => tenant.principals.list(cursor === undefined ? { limit: 4, includeInactive: true } : { limit: 4, includeInactive: true, cursor }),
          (last) => last.principalId,
          4,
        );
        assert.deepEqual(pages.map(ids), [["p1", "p2", "p3", "p4"], ["p5", "p6"], []]);
        assert.deepEqual(await tenant.principals.list({ limit: 0 }), []);
        await assert.rejects(tenant.principals.list({ limit: Number.POSITIVE_INFINITY }), withCode("INVALID_ARGUMENT"));
      });
    });

    describe("api keys", () => {
      it("create/get, listForPrincipal oldest first, revokeForPrincipal counts only unrevoked keys", async () => {
        const principalId = unique("usr");
        const second = apiKeyRecord(a.tenantId, principalId, { createdAt: 2_000, expiresAt: 9_000 });
        const first = apiKeyRecord(a.tenantId, principalId, { createdAt: 1_000 });
        const alreadyRevoked = apiKeyRecord(a.tenantId, principalId, { createdAt: 3_000, revokedAt: 2_500 });
        const someoneElse = apiKeyRecord(a.tenantId, unique("usr"));
        for (const key of [second, first, alreadyRevoked, someoneElse]) await a.apiKeys.create(key);
        assert.deepEqual(await a.apiKeys.get(second.keyId), second);
        assert.equal(await a.apiKeys.get(unique("key")), null);
        assert.deepEqual(await a.apiKeys.listForPrincipal(principalId), [first, second, alreadyRevoked]);
        assert.equal(await a.apiKeys.revokeForPrincipal(principalId, 7_000), 2);
        assert.equal(await a.apiKeys.revokeForPrincipal(principalId, 8_000), 0);
        assert.deepEqual(
          (await a.apiKeys.listForPrincipal(principalId)).map((key) => key.revokedAt),
          [7_000, 7_000, 2_500],
        );
        assert.equal((await a.apiKeys.get(someoneElse.keyId))?.revokedAt, null);
        await assert.rejects(a.apiKeys.create(first), withCode("ALREADY_EXISTS"));
      });
    });

    describe("sessions", () => {
      it("create/get, markDestroyed once, listLive excludes destroyed and expired, ordered by id", async () => {
        const tenant = store.forTenant(unique("ses"));
        const live = sessionRecord(tenant.tenantId, { sessionId: "s2", expiresAt: 5_001 });
        const liveToo = sessionRecord(tenant.tenantId, { sessionId: "s1", expiresAt: 9_000, metadata: {} });
        const expired = sessionRecord(tenant.tenantId, { sessionId: "s3", expiresAt: 5_000 });
        const destroyed = sessionRecord(tenant.tenantId, { sessionId: "s0", expiresAt: 9_000 });
        for (const session of [live, liveToo, expired, destroyed]) await tenant.sessions.create(session);
        assert.deepEqual(await tenant.sessions.get("s2"), live);
        assert.equal(await tenant.sessions.get("s9"), null);
        assert.equal(await tenant.sessions.markDestroyed("s0", 4_000), true);
        assert.equal(await tenant.sessions.markDestroyed("s0", 4_500), false, "destroying twice reports false");
        assert.equal(await tenant.sessions.markDestroyed("s9", 4_500), false);
        assert.equal((await tenant.sessions.get("s0"))?.destroyedAt, 4_000);
        assert.deepEqual(await tenant.sessions.listLive(5_000, 100), [liveToo, live], "expiresAt == now is expired");
        assert.deepEqual(await tenant.sessions.listLive(5_000, 1), [liveToo]);
        await assert.rejects(tenant.sessions.create(live), withCode("ALREADY_EXISTS"));
      });
    });

    describe("contracts", () => {
      it("create/get round-trips the definition exactly, including property order", async () => {
        const contract = contractRecord(a.tenantId);
        await a.contracts.create(contract);
        const read = await a.contracts.get(contract.contractId);
        assert.deepEqual(read, contract);
        assert.deepEqual(
          Object.keys(read?.definition.parameters.properties ?? {}),
          ["zeta_city", "a", "units", "tags", "api_key"],
          "authored property order survives storage",
        );
        const noReturn = contractRecord(a.tenantId);
        noReturn.definition.returnType = null;
        await a.contracts.create(noReturn);
        assert.equal((await a.contracts.get(noReturn.contractId))?.definition.returnType, null);
        assert.equal(await a.contracts.get("missing@1.0.0"), null);
      });

      it("duplicate → ALREADY_EXISTS; update bumps the revision; stale → CONFLICT; unknown → NOT_FOUND", async () => {
        const contract = contractRecord(a.tenantId);
        await a.contracts.create(contract);
        await assert.rejects(a.contracts.create(contract), withCode("ALREADY_EXISTS"));
        const approved = { ...contract, status: "ACTIVE" as const, approvedBy: "usr_ciso", approvedAt: 5_000, updatedAt: 5_000 };
        await a.contracts.update(approved, 1);
        assert.deepEqual(await a.contracts.get(contract.contractId), { ...approved, revision: 2 });
        await assert.rejects(a.contracts.update({ ...contract, status: "RETIRED" }, 1), withCode("CONFLICT"));
        await assert.rejects(a.contracts.update(contractRecord(a.tenantId), 1), withCode("NOT_FOUND"));
      });

      it("list: ordered by contractId, filtered by name and status, cursor-paginated", async () => {
        const tenant = store.forTenant(unique("con"));
        const make = (name: string, version: string, status: "DRAFT" | "ACTIVE") =>
          contractRecord(tenant.tenantId, {
            contractId: `${name}@${version}`,
            definition: contractDefinition(name, { contractVersion: version }),
            status,
          });
        const made = [make("b_tool", "1.0.0", "ACTIVE"), make("a_tool", "2.0.0", "DRAFT"), make("a_tool", "1.0.0", "ACTIVE"), make("c_tool", "1.0.0", "DRAFT")];
        for (const contract of made) await tenant.contracts.create(contract);
        const ids = (records: { contractId: string }[]) => records.map((record) => record.contractId);
        assert.deepEqual(ids(await tenant.contracts.list({ limit: 10 })), ["a_tool@1.0.0", "a_tool@2.0.0", "b_tool@1.0.0", "c_tool@1.0.0"]);
        assert.deepEqual(ids(await tenant.contracts.list({ name: "a_tool", limit: 10 })), ["a_tool@1.0.0", "a_tool@2.0.0"]);
        assert.deepEqual(ids(await tenant.contracts.list({ status: "ACTIVE", limit: 10 })), ["a_tool@1.0.0", "b_tool@1.0.0"]);
        assert.deepEqual(ids(await tenant.contracts.list({ name: "a_tool", status: "DRAFT", limit: 10 })), ["a_tool@2.0.0"]);
        const pages = await allPages(
          (cursor) => tenant.contracts.list(cursor === undefined ? { limit: 3 } : { limit: 3, cursor }),
          (last) => last.contractId,
          3,
        );
        assert.deepEqual(pages.map(ids), [["a_tool@1.0.0", "a_tool@2.0.0", "b_tool@1.0.0"], ["c_tool@1.0.0"], []]);
      });
    });

    describe("policies", () => {
      it("create/get by version round-trips rule, targets and the enabled flag", async () => {
        const enabled = policyRecord(a.tenantId);
        const disabled = policyRecord(a.tenantId, { policyId: enabled.policyId, version: 2, enabled: false, appliesTo: [] });
        await a.policies.create(enabled);
        await a.policies.create(disabled);
        assert.deepEqual(await a.policies.get(enabled.policyId, 1), enabled);
        assert.deepEqual(await a.policies.get(enabled.policyId, 2), disabled);
        assert.equal(await a.policies.get(enabled.policyId, 3), null);
        await assert.rejects(a.policies.create(disabled), withCode("ALREADY_EXISTS"));
      });

      it("update bumps the revision of one version; stale → CONFLICT; unknown → NOT_FOUND", async () => {
        const policy = policyRecord(a.tenantId);
        await a.policies.create(policy);
        const active = { ...policy, status: "ACTIVE" as const, enabled: false, updatedAt: 9 };
        await a.policies.update(active, 1);
        assert.deepEqual(await a.policies.get(policy.policyId, 1), { ...active, revision: 2 });
        await assert.rejects(a.policies.update(policy, 1), withCode("CONFLICT"));
        await assert.rejects(a.policies.update({ ...policy, version: 7 }, 1), withCode("NOT_FOUND"));
      });

      it("list: ordered by (policyId, version), filtered by status, cursor `policyId@version`", async () => {
        const tenant = store.forTenant(unique("pol"));
        const make = (policyId: string, version: number, status: PolicyRecord["status"]) => policyRecord(tenant.tenantId, { policyId, version, status });
        // Versions 2 and 10 would sort wrongly as text; the order must be numeric.
        const made = [make("pb", 1, "ACTIVE"), make("pa", 10, "ACTIVE"), make("pa", 2, "DRAFT"), make("pa", 1, "RETIRED"), make("pc", 1, "ACTIVE")];
        for (const policy of made) await tenant.policies.create(policy);
        const keys = (records: PolicyRecord[]) => records.map((record) => `${record.policyId}@${record.version}`);
        assert.deepEqual(keys(await tenant.policies.list({ limit: 10 })), ["pa@1", "pa@2", "pa@10", "pb@1", "pc@1"]);
        assert.deepEqual(keys(await tenant.policies.list({ status: "ACTIVE", limit: 10 })), ["pa@10", "pb@1", "pc@1"]);
        const pages = await allPages(
          (cursor) => tenant.policies.list(cursor === undefined ? { limit: 2 } : { limit: 2, cursor }),
          (last) => `${last.policyId}@${last.version}`,
          2,
        );
        assert.deepEqual(pages.map(keys), [["pa@1", "pa@2"], ["pa@10", "pb@1"], ["pc@1"], []], "a page boundary inside one policy's versions loses nothing");
        assert.deepEqual(keys(await tenant.policies.list({ limit: 10, cursor: "pa" })), ["pb@1", "pc@1"], "a bare policyId cursor skips all its versions");
      });
    });

    describe("roles", () => {
      it("upsert creates, then replaces every field; get unknown → null; list ordered by name", async () => {
        const tenant = store.forTenant(unique("rol"));
        const viewer = roleRecord(tenant.tenantId, { name: "viewer", builtIn: true, inherits: [] });
        const admin = roleRecord(tenant.tenantId, { name: "admin" });
        await tenant.roles.upsert(viewer);
        await tenant.roles.upsert(admin);
        assert.deepEqual(await tenant.roles.get("viewer"), viewer);
        const replaced = { ...viewer, description: "Changed", permissions: ["x:y"], builtIn: false, createdAt: 42 };
        await tenant.roles.upsert(replaced);
        assert.deepEqual(await tenant.roles.get("viewer"), replaced);
        assert.deepEqual(await tenant.roles.list(), [admin, replaced]);
        assert.equal(await tenant.roles.get("nobody"), null);
      });
    });

    describe("approvals", () => {
      it("create/get, duplicate, update and conflict", async () => {
        const approval = approvalRecord(a.tenantId);
        await a.approvals.create(approval);
        assert.deepEqual(await a.approvals.get(approval.approvalRequestId), approval);
        assert.equal(await a.approvals.get(unique("apr")), null);
        await assert.rejects(a.approvals.create(approval), withCode("ALREADY_EXISTS"));
        const decided = { ...approval, status: "APPROVED" as const, decidedBy: "usr_ciso", decidedAt: 9_000, comments: "ok" };
        await a.approvals.update(decided, 1);
        assert.deepEqual(await a.approvals.get(approval.approvalRequestId), { ...decided, revision: 2 });
        await assert.rejects(a.approvals.update({ ...approval, status: "REJECTED" }, 1), withCode("CONFLICT"));
        await assert.rejects(a.approvals.update(approvalRecord(a.tenantId), 1), withCode("NOT_FOUND"));
      });

      it("list: ordered by (createdAt, id), filtered by status and artifact type, cursor = last id", async () => {
        const tenant = store.forTenant(unique("apr"));
        const made = [
          approvalRecord(tenant.tenantId, { approvalRequestId: "r_z", createdAt: 100 }),
          approvalRecord(tenant.tenantId, { approvalRequestId: "r_b", createdAt: 300, artifactType: "POLICY" }),
          approvalRecord(tenant.tenantId, { approvalRequestId: "r_a", createdAt: 300, status: "APPROVED" }),
          approvalRecord(tenant.tenantId, { approvalRequestId: "r_c", createdAt: 200, artifactType: "POLICY" }),
          approvalRecord(tenant.tenantId, { approvalRequestId: "r_y", createdAt: 400 }),
        ];
        for (const approval of made) await tenant.approvals.create(approval);
        const ids = (records: { approvalRequestId: string }[]) => records.map((record) => record.approvalRequestId);
        assert.deepEqual(ids(await tenant.approvals.list({ limit: 10 })), ["r_z", "r_c", "r_a", "r_b", "r_y"]);
        assert.deepEqual(ids(await tenant.approvals.list({ status: "PENDING", limit: 10 })), ["r_z", "r_c", "r_b", "r_y"]);
        assert.deepEqual(ids(await tenant.approvals.list({ artifactType: "POLICY", limit: 10 })), ["r_c", "r_b"]);
        const pages = await allPages(
          (cursor) => tenant.approvals.list(cursor === undefined ? { limit: 2 } : { limit: 2, cursor }),
          (last) => last.approvalRequestId,
          2,
        );
        assert.deepEqual(pages.map(ids), [["r_z", "r_c"], ["r_a", "r_b"], ["r_y"], []], "ties on createdAt break by id across a page boundary");
      });
    });

    describe("runtime registrations", () => {
      it("upsert creates and replaces; get unknown → null; list ordered by runtimeId", async () => {
        const tenant = store.forTenant(unique("rt"));
        const second = runtimeRecord(tenant.tenantId, { runtimeId: "rt_b" });
        const first = runtimeRecord(tenant.tenantId, { runtimeId: "rt_a", allowedContracts: [] });
        await tenant.runtimes.upsert(second);
        await tenant.runtimes.upsert(first);
        assert.deepEqual(await tenant.runtimes.get("rt_b"), second);
        const widened = { ...second, allowedContracts: ["a", "b", "c"] };
        await tenant.runtimes.upsert(widened);
        assert.deepEqual(await tenant.runtimes.list(), [first, widened]);
        assert.equal(await tenant.runtimes.get("rt_none"), null);
      });
    });

    describe("join tokens", () => {
      it("create/get; consume succeeds once; duplicate → ALREADY_EXISTS", async () => {
        const token = joinTokenRecord(a.tenantId);
        await a.joinTokens.create(token);
        assert.deepEqual(await a.joinTokens.get(token.tokenId), token);
        assert.equal(await a.joinTokens.get(unique("jt")), null);
        assert.equal(await a.joinTokens.consume(token.tokenId, 5_000), true);
        assert.equal(await a.joinTokens.consume(token.tokenId, 6_000), false);
        assert.equal((await a.joinTokens.get(token.tokenId))?.usedAt, 5_000);
        assert.equal(await a.joinTokens.consume(unique("jt"), 6_000), false);
        await assert.rejects(a.joinTokens.create(token), withCode("ALREADY_EXISTS"));
      });

      it("two concurrent consumes on one Store: exactly one true", async () => {
        const token = joinTokenRecord(a.tenantId);
        await a.joinTokens.create(token);
        const results = await Promise.all([a.joinTokens.consume(token.tokenId, 1), a.joinTokens.consume(token.tokenId, 2)]);
        assert.equal(results.filter(Boolean).length, 1);
      });

      it("concurrent consumes from two Stores on the same database: exactly one true", async () => {
        const other = (await open()).forTenant(a.tenantId);
        for (let round = 0; round < 5; round++) {
          const token = joinTokenRecord(a.tenantId);
          await a.joinTokens.create(token);
          const results = await Promise.all([
            a.joinTokens.consume(token.tokenId, 1),
            other.joinTokens.consume(token.tokenId, 2),
            a.joinTokens.consume(token.tokenId, 3),
            other.joinTokens.consume(token.tokenId, 4),
          ]);
          assert.equal(results.filter(Boolean).length, 1, `round ${round}: exactly one consumer wins`);
        }
      });
    });

    describe("certificates", () => {
      it("create/get, listForRuntime ordered, revoke once; serials are unique across tenants", async () => {
        const runtimeId = unique("rt");
        const later = certificateRecord(a.tenantId, { runtimeId, notBefore: 2_000 });
        const earlier = certificateRecord(a.tenantId, { runtimeId, notBefore: 1_000 });
        await a.certificates.create(later);
        await a.certificates.create(earlier);
        assert.deepEqual(await a.certificates.get(later.serial), later);
        assert.equal(await a.certificates.get("ffff"), null);
        assert.deepEqual(await a.certificates.listForRuntime(runtimeId), [earlier, later]);
        assert.equal(await a.certificates.revoke(later.serial, 3_000, "keyCompromise"), true);
        assert.equal(await a.certificates.revoke(later.serial, 4_000, "superseded"), false);
        assert.deepEqual(await a.certificates.get(later.serial), { ...later, revokedAt: 3_000, revocationReason: "keyCompromise" });
        await assert.rejects(a.certificates.create(later), withCode("ALREADY_EXISTS"));
        await assert.rejects(b.certificates.create({ ...later, tenantId: b.tenantId }), withCode("ALREADY_EXISTS"));
      });
    });

    describe("tenant isolation", () => {
      const foreign = { message: "a record naming another tenant is refused" };

      it("principals: invisible, unlisted and not updatable through another tenant", async () => {
        const principal = principalRecord(a.tenantId);
        await a.principals.create(principal);
        assert.equal(await b.principals.get(principal.principalId), null);
        const listed = await b.principals.list({ limit: 1000, includeInactive: true });
        assert.ok(!listed.some((record) => record.principalId === principal.principalId));
        await assert.rejects(b.principals.update(principal, 1), withCode("INVALID_ARGUMENT"), foreign.message);
        await assert.rejects(b.principals.update({ ...principal, tenantId: b.tenantId, status: "REVOKED" }, 1), withCode("NOT_FOUND"));
        await assert.rejects(b.principals.create(principalRecord(a.tenantId)), withCode("INVALID_ARGUMENT"));
        assert.deepEqual(await a.principals.get(principal.principalId), principal);
        // The same id in tenant B is a different principal.
        await b.principals.create({ ...principal, tenantId: b.tenantId, displayName: "B's own" });
        assert.deepEqual(await a.principals.get(principal.principalId), principal);
      });

      it("api keys: invisible, unlisted and not revocable through another tenant", async () => {
        const key = apiKeyRecord(a.tenantId, unique("usr"));
        await a.apiKeys.create(key);
        assert.equal(await b.apiKeys.get(key.keyId), null);
        assert.deepEqual(await b.apiKeys.listForPrincipal(key.principalId), []);
        assert.equal(await b.apiKeys.revokeForPrincipal(key.principalId, 1), 0);
        await assert.rejects(b.apiKeys.create(apiKeyRecord(a.tenantId, "usr_x")), withCode("INVALID_ARGUMENT"));
        assert.deepEqual(await a.apiKeys.get(key.keyId), key);
      });

      it("sessions: invisible, unlisted and not destroyable through another tenant", async () => {
        const session = sessionRecord(a.tenantId, { expiresAt: 1e13 });
        await a.sessions.create(session);
        assert.equal(await b.sessions.get(session.sessionId), null);
        assert.ok(!(await b.sessions.listLive(0, 1000)).some((record) => record.sessionId === session.sessionId));
        assert.equal(await b.sessions.markDestroyed(session.sessionId, 1), false);
        await assert.rejects(b.sessions.create(sessionRecord(a.tenantId)), withCode("INVALID_ARGUMENT"));
        assert.deepEqual(await a.sessions.get(session.sessionId), session);
      });

      it("contracts: invisible, unlisted and not updatable through another tenant", async () => {
        const contract = contractRecord(a.tenantId);
        await a.contracts.create(contract);
        assert.equal(await b.contracts.get(contract.contractId), null);
        assert.deepEqual(await b.contracts.list({ name: contract.definition.name, limit: 10 }), []);
        assert.ok(!(await b.contracts.list({ limit: 1000 })).some((record) => record.contractId === contract.contractId));
        await assert.rejects(b.contracts.update(contract, 1), withCode("INVALID_ARGUMENT"));
        await assert.rejects(b.contracts.update({ ...contract, tenantId: b.tenantId, status: "ACTIVE" }, 1), withCode("NOT_FOUND"));
        await assert.rejects(b.contracts.create(contractRecord(a.tenantId)), withCode("INVALID_ARGUMENT"));
        assert.deepEqual(await a.contracts.get(contract.contractId), contract);
      });

      it("policies: invisible, unlisted and not updatable through another tenant", async () => {
        const policy = policyRecord(a.tenantId);
        await a.policies.create(policy);
        assert.equal(await b.policies.get(policy.policyId, policy.version), null);
        assert.ok(!(await b.policies.list({ limit: 1000 })).some((record) => record.policyId === policy.policyId));
        await assert.rejects(b.policies.update(policy, 1), withCode("INVALID_ARGUMENT"));
        await assert.rejects(b.policies.update({ ...policy, tenantId: b.tenantId, status: "ACTIVE" }, 1), withCode("NOT_FOUND"));
        await assert.rejects(b.policies.create(policyRecord(a.tenantId)), withCode("INVALID_ARGUMENT"));
        assert.deepEqual(await a.policies.get(policy.policyId, policy.version), policy);
      });

      it("roles: invisible and unlisted; an upsert through another tenant creates its own role", async () => {
        const role = roleRecord(a.tenantId);
        await a.roles.upsert(role);
        assert.equal(await b.roles.get(role.name), null);
        assert.ok(!(await b.roles.list()).some((record) => record.name === role.name));
        await assert.rejects(b.roles.upsert(role), withCode("INVALID_ARGUMENT"));
        await b.roles.upsert({ ...role, tenantId: b.tenantId, permissions: ["*:*"] });
        assert.deepEqual(await a.roles.get(role.name), role, "tenant A's role is untouched");
        assert.deepEqual((await b.roles.get(role.name))?.permissions, ["*:*"]);
      });

      it("approvals: invisible, unlisted and not updatable through another tenant", async () => {
        const approval = approvalRecord(a.tenantId);
        await a.approvals.create(approval);
        assert.equal(await b.approvals.get(approval.approvalRequestId), null);
        assert.ok(!(await b.approvals.list({ limit: 1000 })).some((record) => record.approvalRequestId === approval.approvalRequestId));
        assert.deepEqual(await b.approvals.list({ limit: 10, cursor: approval.approvalRequestId }), [], "another tenant's id is no cursor");
        await assert.rejects(b.approvals.update(approval, 1), withCode("INVALID_ARGUMENT"));
        await assert.rejects(b.approvals.update({ ...approval, tenantId: b.tenantId, status: "APPROVED" }, 1), withCode("NOT_FOUND"));
        await assert.rejects(b.approvals.create(approvalRecord(a.tenantId)), withCode("INVALID_ARGUMENT"));
        assert.deepEqual(await a.approvals.get(approval.approvalRequestId), approval);
      });

      it("runtime registrations: invisible and unlisted; an upsert through another tenant creates its own", async () => {
        const runtime = runtimeRecord(a.tenantId);
        await a.runtimes.upsert(runtime);
        assert.equal(await b.runtimes.get(runtime.runtimeId), null);
        assert.ok(!(await b.runtimes.list()).some((record) => record.runtimeId === runtime.runtimeId));
        await assert.rejects(b.runtimes.upsert(runtime), withCode("INVALID_ARGUMENT"));
        await b.runtimes.upsert({ ...runtime, tenantId: b.tenantId, allowedContracts: ["*"] });
        assert.deepEqual(await a.runtimes.get(runtime.runtimeId), runtime);
      });

      it("join tokens: invisible and not consumable through another tenant", async () => {
        const token = joinTokenRecord(a.tenantId);
        await a.joinTokens.create(token);
        assert.equal(await b.joinTokens.get(token.tokenId), null);
        assert.equal(await b.joinTokens.consume(token.tokenId, 1), false);
        await assert.rejects(b.joinTokens.create(joinTokenRecord(a.tenantId)), withCode("INVALID_ARGUMENT"));
        assert.equal((await a.joinTokens.get(token.tokenId))?.usedAt, null, "still unused for its own tenant");
        assert.equal(await a.joinTokens.consume(token.tokenId, 2), true);
      });

      it("certificates: invisible, unlisted and not revocable through another tenant", async () => {
        const certificate = certificateRecord(a.tenantId);
        await a.certificates.create(certificate);
        assert.equal(await b.certificates.get(certificate.serial), null);
        assert.deepEqual(await b.certificates.listForRuntime(certificate.runtimeId), []);
        assert.equal(await b.certificates.revoke(certificate.serial, 1, "x"), false);
        await assert.rejects(b.certificates.create(certificateRecord(a.tenantId)), withCode("INVALID_ARGUMENT"));
        assert.deepEqual(await a.certificates.get(certificate.serial), certificate);
      });

      it("audit: another tenant's events are invisible to every filter", async () => {
        const draft = auditDraft({ tenantId: a.tenantId, correlationId: unique("cor"), principalId: "usr_shared" });
        await store.platform.auditLog.append([draft], chainLink([draft]));
        assert.equal((await a.audit.query({ correlationId: draft.correlationId, limit: 10 })).length, 1);
        assert.deepEqual(await b.audit.query({ correlationId: draft.correlationId, limit: 10 }), []);
        assert.ok(!(await b.audit.query({ principalId: "usr_shared", limit: 1000 })).some((record) => record.eventId === draft.eventId));
      });
    });

    describe("transactions", () => {
      it("commits every store's writes together", async () => {
        const tenant = tenantRecord();
        const principal = principalRecord(tenant.tenantId);
        const result = await store.transaction(async (tx) => {
          await tx.platform.tenants.create(tenant);
          await tx.forTenant(tenant.tenantId).principals.create(principal);
          assert.deepEqual(await tx.forTenant(tenant.tenantId).principals.get(principal.principalId), principal, "reads inside see the transaction's writes");
          return "done";
        });
        assert.equal(result, "done");
        assert.deepEqual(await store.platform.tenants.get(tenant.tenantId), tenant);
        assert.deepEqual(await store.forTenant(tenant.tenantId).principals.get(principal.principalId), principal);
      });

      it("rolls back everything when work throws, and rethrows the same error", async () => {
        const tenant = tenantRecord();
        const principal = principalRecord(tenant.tenantId);
        const headBefore = await store.platform.auditLog.head();
        const boom = new Error("work failed");
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.platform.tenants.create(tenant);
            await tx.forTenant(tenant.tenantId).principals.create(principal);
            const drafts = [auditDraft({ tenantId: tenant.tenantId })];
            await tx.platform.auditLog.append(drafts, chainLink(drafts));
            throw boom;
          }),
          (err: unknown) => err === boom,
        );
        assert.equal(await store.platform.tenants.get(tenant.tenantId), null);
        assert.equal(await store.forTenant(tenant.tenantId).principals.get(principal.principalId), null);
        assert.deepEqual(await store.platform.auditLog.head(), headBefore, "a rolled-back append leaves the head where it was");
        await assertWholeChain(store);
      });

      it("rolls back when a store operation inside fails, with that operation's error", async () => {
        const tenant = tenantRecord();
        await store.platform.tenants.create(tenant);
        const fresh = tenantRecord();
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.platform.tenants.create(fresh);
            await tx.platform.tenants.create(tenant);
          }),
          withCode("ALREADY_EXISTS"),
        );
        assert.equal(await store.platform.tenants.get(fresh.tenantId), null);
      });

      it("nested transactions join the outer one: an inner failure rolls back the outer writes", async () => {
        const outer = tenantRecord();
        const inner = tenantRecord();
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.platform.tenants.create(outer);
            await tx.transaction(async (nested) => {
              await nested.platform.tenants.create(inner);
              throw new Error("inner failed");
            });
          }),
          /inner failed/,
        );
        assert.equal(await store.platform.tenants.get(outer.tenantId), null);
        assert.equal(await store.platform.tenants.get(inner.tenantId), null);
      });

      it("nested transactions join the outer one: an outer failure undoes a finished inner one", async () => {
        const inner = tenantRecord();
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.transaction(async (nested) => nested.platform.tenants.create(inner));
            assert.deepEqual(await tx.platform.tenants.get(inner.tenantId), inner);
            throw new Error("outer failed");
          }),
          /outer failed/,
        );
        assert.equal(await store.platform.tenants.get(inner.tenantId), null);
      });

      it("an optimistic update inside a transaction still detects a stale revision", async () => {
        const principal = principalRecord(a.tenantId);
        await a.principals.create(principal);
        await a.principals.update(principal, 1);
        await assert.rejects(
          store.transaction(async (tx) => tx.forTenant(a.tenantId).principals.update({ ...principal, displayName: "stale" }, 1)),
          withCode("CONFLICT"),
        );
      });

      it("transactions on two Stores of one database serialise without losing writes", async () => {
        const other = await open();
        const tenantId = unique("txn");
        const principal = principalRecord(tenantId, { revision: 0 });
        await store.forTenant(tenantId).principals.create(principal);
        // Read-modify-write with retry on CONFLICT: every increment must land exactly once.
        const increment = async (target: Store) => {
          for (;;) {
            try {
              await target.transaction(async (tx) => {
                const current = await tx.forTenant(tenantId).principals.get(principal.principalId);
                assert.ok(current !== null);
                await tx.forTenant(tenantId).principals.update(current, current.revision);
              });
              return;
            } catch (err) {
              if (!(err instanceof EnterpriseError && err.code === "CONFLICT")) throw err;
            }
          }
        };
        await Promise.all(Array.from({ length: 10 }, (_, index) => increment(index % 2 === 0 ? store : other)));
        assert.equal((await other.forTenant(tenantId).principals.get(principal.principalId))?.revision, 10);
      });
    });
  });
}
