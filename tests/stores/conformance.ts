/**
 * The store conformance suite: one behavioural contract for every Store
 * adapter, run against a real database by tests/stores/sqlite.test.ts and
 * tests/stores/postgres.test.ts.
 *
 * It covers, for every port: CRUD and round-trips (JSON shapes, nulls,
 * numbers), not-found → null, duplicates → ALREADY_EXISTS, stale revisions →
 * CONFLICT, cursor pagination and ordering, tenant isolation on every tenant
 * store, single use of join tokens, refresh tokens, revocations, one-time
 * values and the bootstrap record under concurrency, principal filters (roles
 * held directly or synchronised, LIKE wildcards taken literally), group
 * membership kept in step with its groups, audit appends (the head `link` sees, one gap-free chain from
 * two Stores appending at once), transactions (commit, rollback, nesting),
 * and error hygiene (no SQL or driver text in messages).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { EnterpriseError } from "@aesp/core";
import type { ErrorCode } from "@aesp/core";
import type { Store, TenantStores } from "@aesp/core";
import type { AuditEventDraft, AuditHead, AuditLegalHoldRecord, AuditPrunePlan, AuditRecord, AuditSubjectKeyRecord, DeadLetterRecord, PolicyRecord, PolicyRolloutRecord, PrincipalFilter } from "@aesp/core";
import { consistencyProof, consistencyProofFromNodes, inclusionProof, inclusionProofFromNodes, merkleRoot, rootFromNodes } from "@aesp/core/audit";
import {
  apiKeyRecord,
  approvalRecord,
  auditDraft,
  breakGlassGrantRecord,
  certificateRecord,
  chainHashOf,
  chainLink,
  clientCredentialRecord,
  contractDefinition,
  contractRecord,
  EMPTY_CHAIN_HASH,
  groupRecord,
  identityProviderRecord,
  joinTokenRecord,
  keyMaterialRecord,
  leafHashOf,
  policyRecord,
  principalRecord,
  refreshTokenRecord,
  revokedTokenRecord,
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
    const { seq: _seq, leafHash, chainHash, tombstone, ...draft } = record;
    // A tombstone's content is gone by design; the chain below still binds its stored leaf hash.
    if (tombstone === undefined) assert.equal(leafHash, leafHashOf(draft), `leaf hash of seq ${index} matches its stored content`);
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

    describe("audit proofs and search", () => {
      const hasher = { sha256: (data: Uint8Array) => new Uint8Array(createHash("sha256").update(data).digest()) };
      const hex = (values: readonly Uint8Array[]) => values.map((value) => Buffer.from(value).toString("hex"));

      it("serves perfect-subtree hashes from which proofs equal merkle.ts's, at every size it was checked", async () => {
        // Grow the log across several 16-leaf boundaries in uneven batches, so nodes span batches.
        for (const count of [1, 15, 3, 33, 7, 64, 2]) {
          const drafts = Array.from({ length: count }, () => auditDraft({ tenantId: "acme" }));
          await store.platform.auditLog.append(drafts, chainLink(drafts));
        }
        const records = await assertWholeChain(store);
        const leaves = records.map((record) => new Uint8Array(Buffer.from(record.leafHash, "hex")));
        const read = (nodes: readonly { level: number; index: number }[]) => store.platform.auditProofs.nodeHashes(nodes);
        const sizes = [1, 2, 15, 16, 17, 31, 32, 33, 100, records.length - 1, records.length];
        for (const size of sizes) {
          assert.equal(Buffer.from(await rootFromNodes(size, read, hasher)).toString("hex"), Buffer.from(merkleRoot(leaves.slice(0, size), hasher)).toString("hex"), `root ${size}`);
          for (const index of [0, Math.floor(size / 2), size - 1]) {
            assert.deepEqual(hex(await inclusionProofFromNodes(index, size, read, hasher)), hex(inclusionProof(leaves, index, size, hasher)), `inclusion ${index}/${size}`);
          }
          const old = Math.max(1, Math.floor(size / 3));
          assert.deepEqual(hex(await consistencyProofFromNodes(old, size, read, hasher)), hex(consistencyProof(leaves, old, size, hasher)), `consistency ${old}->${size}`);
        }
        await assert.rejects(read([{ level: 20, index: 5 }]), withCode("AUDIT_UNAVAILABLE"), "a node beyond the log is missing, not invented");
      });

      it("finds a record by event id, any tenant; null for an unknown id", async () => {
        const draft = auditDraft({ tenantId: "globex" });
        const [written] = await store.platform.auditLog.append([draft], chainLink([draft]));
        assert.deepEqual(await store.platform.auditProofs.recordByEventId(draft.eventId), written);
        assert.equal(await store.platform.auditProofs.recordByEventId("evt_nope"), null);
      });

      it("reads checkpoints by exact size and in ascending pages", async () => {
        const checkpoint = (treeSize: number) => ({ treeSize, rootHash: "33".repeat(32), chainHash: "44".repeat(32), signedNote: `n${treeSize}\n`, keyId: "k", createdAt: treeSize });
        for (const size of [2_000_005, 2_000_001, 2_000_003]) await store.platform.auditLog.saveCheckpoint(checkpoint(size));
        assert.deepEqual(await store.platform.auditProofs.checkpointAt(2_000_003), checkpoint(2_000_003));
        assert.equal(await store.platform.auditProofs.checkpointAt(2_000_002), null);
        assert.deepEqual(await store.platform.auditProofs.checkpointPage(2_000_000, 2), [checkpoint(2_000_001), checkpoint(2_000_003)]);
        assert.deepEqual(await store.platform.auditProofs.checkpointPage(2_000_003, 10), [checkpoint(2_000_005)]);
      });

      it("filters by outcome, resource, session, action and metadata; counts by type, outcome and day", async () => {
        const tenant = store.forTenant(unique("audit_s"));
        const other = unique("audit_t");
        const day = 86_400_000;
        const drafts = [
          auditDraft({ tenantId: tenant.tenantId, timestampMs: 10 * day + 5, outcome: "DENIED", resource: "contract:c1", metadata: { reason: "policy", k: "v" } }),
          auditDraft({ tenantId: tenant.tenantId, timestampMs: 10 * day + 9, outcome: "SUCCESS", resource: "contract:c2", sessionId: "ses_x", action: "read" }),
          auditDraft({ tenantId: tenant.tenantId, timestampMs: 11 * day + 1, outcome: "SUCCESS", eventType: "session.created", resource: "contract:c1", metadata: { reason: "other" } }),
          auditDraft({ tenantId: other, timestampMs: 10 * day + 6, outcome: "DENIED", resource: "contract:c1", metadata: { reason: "policy" } }),
        ];
        const written = await store.platform.auditLog.append(drafts, chainLink(drafts));
        const ids = (records: readonly AuditRecord[]) => records.map((record) => record.eventId);
        assert.deepEqual(ids(await tenant.audit.query({ outcome: "DENIED", limit: 10 })), [drafts[0]!.eventId]);
        assert.deepEqual(ids(await tenant.audit.query({ resource: "contract:c1", limit: 10 })), [drafts[0]!.eventId, drafts[2]!.eventId]);
        assert.deepEqual(ids(await tenant.audit.query({ sessionId: "ses_x", action: "read", limit: 10 })), [drafts[1]!.eventId]);
        assert.deepEqual(ids(await tenant.audit.query({ metadata: { reason: "policy" }, limit: 10 })), [drafts[0]!.eventId], "metadata filters stay in the tenant");
        assert.deepEqual(ids(await tenant.audit.query({ metadata: { reason: "policy", k: "nope" }, limit: 10 })), []);
        await assert.rejects(tenant.audit.query({ metadata: { "a'b": "x" }, limit: 10 }), withCode("INVALID_ARGUMENT"));
        const everyone = await store.platform.auditProofs.queryAllTenants({ resource: "contract:c1", outcome: "DENIED", afterSeq: written[0]!.seq - 1, limit: 10 });
        assert.deepEqual(ids(everyone), [drafts[0]!.eventId, drafts[3]!.eventId], "the platform reader crosses tenants");
        assert.deepEqual(ids(await store.platform.auditProofs.queryAllTenants({ tenantId: other, afterSeq: written[0]!.seq - 1, limit: 10 })), [drafts[3]!.eventId]);
        const rows = await tenant.audit.statistics(0, 12 * day);
        const sorted = rows.map((row) => `${row.day}/${row.eventType}/${row.outcome}/${row.count}`).sort();
        assert.deepEqual(sorted, ["10/tool.invoked/DENIED/1", "10/tool.invoked/SUCCESS/1", "11/session.created/SUCCESS/1"]);
        assert.deepEqual(await tenant.audit.statistics(11 * day + 2, 12 * day), [], "the range is half-open and applied");
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

      it("unknown tenant: get → null, setStatus → false, setPolicyEngine → false", async () => {
        assert.equal(await store.platform.tenants.get(unique("ten")), null);
        assert.equal(await store.platform.tenants.setStatus(unique("ten"), "ACTIVE"), false);
        assert.equal(await store.platform.tenants.setPolicyEngine(unique("ten"), "cedar"), false);
      });

      it("keeps the policy engine a tenant is created with, and setPolicyEngine changes only it", async () => {
        const tenant = tenantRecord({ policyEngine: "cedar" });
        await store.platform.tenants.create(tenant);
        assert.equal((await store.platform.tenants.get(tenant.tenantId))?.policyEngine, "cedar");
        assert.equal(await store.platform.tenants.setPolicyEngine(tenant.tenantId, "cel"), true);
        assert.deepEqual(await store.platform.tenants.get(tenant.tenantId), { ...tenant, policyEngine: "cel" });
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

    describe("principals: external identity", () => {
      it("round-trips login name, provider, subject, groups, synced roles and token cut-off", async () => {
        const principal = principalRecord(a.tenantId, {
          userName: "Ada.Lovelace",
          providerId: "okta",
          externalSubject: unique("sub"),
          groups: ["cn=engineers,ou=groups", "Ünïcødé group"],
          syncedRoles: ["developer", "viewer"],
          syncedAt: 1_700_000_050_000,
          tokensValidAfter: 1_700_000_060_000,
        });
        await a.principals.create(principal);
        assert.deepEqual(await a.principals.get(principal.principalId), principal);
        const resynced = { ...principal, groups: [], syncedRoles: ["admin"], syncedAt: 1_700_000_070_000, tokensValidAfter: 1_700_000_080_000 };
        await a.principals.update(resynced, 1);
        assert.deepEqual(await a.principals.get(principal.principalId), { ...resynced, revision: 2 });
      });

      it("findByExternalSubject finds the linked principal only, never a principal created in the Host", async () => {
        const subject = unique("sub");
        const linked = principalRecord(a.tenantId, { providerId: "okta", externalSubject: subject });
        await a.principals.create(linked);
        await a.principals.create(principalRecord(a.tenantId));
        assert.deepEqual(await a.principals.findByExternalSubject("okta", subject), linked);
        assert.equal(await a.principals.findByExternalSubject("okta", unique("sub")), null);
        assert.equal(await a.principals.findByExternalSubject("azure", subject), null);
        assert.equal(await a.principals.findByExternalSubject("", ""), null, "provider \"\" links to nothing");
      });

      it("a provider's subject is unique per tenant: ALREADY_EXISTS on create and on update", async () => {
        const subject = unique("sub");
        const first = principalRecord(a.tenantId, { providerId: "okta", externalSubject: subject });
        await a.principals.create(first);
        await assert.rejects(a.principals.create(principalRecord(a.tenantId, { providerId: "okta", externalSubject: subject })), withCode("ALREADY_EXISTS"));
        const elsewhere = principalRecord(a.tenantId, { providerId: "azure", externalSubject: subject });
        await a.principals.create(elsewhere);
        await assert.rejects(a.principals.update({ ...elsewhere, providerId: "okta" }, 1), withCode("ALREADY_EXISTS"));
        assert.deepEqual(await a.principals.get(elsewhere.principalId), elsewhere, "the refused update changed nothing");
        // Another tenant may link the same account to a principal of its own.
        await b.principals.create(principalRecord(b.tenantId, { providerId: "okta", externalSubject: subject }));
        // Principals created in the Host all share provider "" and subject "": the uniqueness does not apply to them.
        await a.principals.create(principalRecord(a.tenantId));
        await a.principals.create(principalRecord(a.tenantId));
      });

      it("list and count: every filter alone and combined; roles match directly or through synchronisation", async () => {
        const tenant = store.forTenant(unique("filter"));
        const made = [
          principalRecord(tenant.tenantId, { principalId: "p1", providerId: "okta", externalSubject: "s1", userName: "Ada.L", displayName: "Ada Lovelace", roles: ["analyst"] }),
          principalRecord(tenant.tenantId, { principalId: "p2", userName: "grace", displayName: "Grace Hopper", roles: [], syncedRoles: ["admin"] }),
          principalRecord(tenant.tenantId, { principalId: "p3", type: "SERVICE_ACCOUNT", providerId: "okta", externalSubject: "s3", displayName: "100%_done\\bot", roles: ["admin"] }),
          principalRecord(tenant.tenantId, { principalId: "p4", providerId: "okta", externalSubject: "s4", status: "DISABLED", displayName: "ada king", roles: ["viewer"], syncedRoles: ["analyst"] }),
          principalRecord(tenant.tenantId, { principalId: "p5", displayName: "100x_done", roles: ['quote"role', "viewer"] }),
          principalRecord(tenant.tenantId, { principalId: "p6", userName: "ada.l.2", displayName: "Adams", roles: ["analysts"] }),
        ];
        for (const principal of made) await tenant.principals.create(principal);
        const ids = (records: { principalId: string }[]) => records.map((record) => record.principalId);
        const check = async (filter: Omit<PrincipalFilter, "limit">, expected: string[], message: string) => {
          assert.deepEqual(ids(await tenant.principals.list({ ...filter, limit: 100 })), expected, message);
          assert.equal(await tenant.principals.count({ ...filter, limit: 100 }), expected.length, `count: ${message}`);
        };
        await check({}, ["p1", "p2", "p3", "p5", "p6"], "active only by default");
        await check({ includeInactive: true }, ["p1", "p2", "p3", "p4", "p5", "p6"], "includeInactive");
        await check({ status: "DISABLED" }, ["p4"], "status alone");
        await check({ status: "ACTIVE", includeInactive: true }, ["p1", "p2", "p3", "p5", "p6"], "status wins over includeInactive");
        await check({ type: "SERVICE_ACCOUNT" }, ["p3"], "type");
        await check({ providerId: "okta", includeInactive: true }, ["p1", "p3", "p4"], "provider");
        await check({ providerId: "" }, ["p2", "p5", "p6"], "provider \"\" selects principals created in the Host");
        await check({ userName: "ADA.l" }, ["p1"], "userName is exact but case-insensitive");
        await check({ userName: "ada" }, [], "userName is no prefix match");
        await check({ displayNamePrefix: "ADA", includeInactive: true }, ["p1", "p4", "p6"], "display name prefix, case-insensitive");
        await check({ displayNamePrefix: "Lovelace" }, [], "a prefix, not a substring");
        await check({ role: "analyst", includeInactive: true }, ["p1", "p4"], "role held directly or synchronised, never by substring");
        await check({ role: "admin" }, ["p2", "p3"], "role through synced_roles");
        await check({ role: 'quote"role' }, ["p5"], "a role with a quote");
        await check({ role: 'analyst"]' }, [], "a role that looks like JSON matches nothing");
        await check({ role: "analyst", providerId: "okta", status: "DISABLED" }, ["p4"], "filters combine");
        await check({ role: "nobody" }, [], "unknown role");
        const pages = await allPages(
          (cursor) => tenant.principals.list(cursor === undefined ? { role: "admin", limit: 1 } : { role: "admin", limit: 1, cursor }),
          (last) => last.principalId,
          1,
        );
        assert.deepEqual(pages.map(ids), [["p2"], ["p3"], []]);
        assert.equal(await tenant.principals.count({ role: "admin", limit: 1, cursor: "p2" }), 2, "count ignores limit and cursor");
        await assert.rejects(tenant.principals.list({ limit: Number.NaN }), withCode("INVALID_ARGUMENT"));
      });

      it("displayNamePrefix takes %, _ and \\ literally", async () => {
        const tenant = store.forTenant(unique("like"));
        const names = ["100%_done\\bot", "100x_done", "100%xdone", "1000", "a_b", "axb", "back\\slash", "backslash"];
        for (const [index, displayName] of names.entries()) await tenant.principals.create(principalRecord(tenant.tenantId, { principalId: `p${index}`, displayName }));
        const matching = async (displayNamePrefix: string) =>
          (await tenant.principals.list({ displayNamePrefix, limit: 100 })).map((record) => record.displayName).sort();
        assert.deepEqual(await matching("100%"), ["100%_done\\bot", "100%xdone"]);
        assert.deepEqual(await matching("100%_"), ["100%_done\\bot"]);
        assert.deepEqual(await matching("100%_done\\"), ["100%_done\\bot"]);
        assert.deepEqual(await matching("a_"), ["a_b"]);
        assert.deepEqual(await matching("back\\"), ["back\\slash"]);
        assert.deepEqual(await matching("%"), []);
        assert.deepEqual(await matching("_"), []);
        assert.equal(await tenant.principals.count({ displayNamePrefix: "100", limit: 0 }), 4);
        assert.equal((await matching("")).length, names.length, "the empty prefix matches every name");
      });
    });

    describe("refresh tokens", () => {
      it("create/get round-trips every field; unknown → null; duplicate → ALREADY_EXISTS", async () => {
        const token = refreshTokenRecord(a.tenantId, unique("usr"));
        await a.refreshTokens.create(token);
        assert.deepEqual(await a.refreshTokens.get(token.tokenId), token);
        const used = refreshTokenRecord(a.tenantId, unique("usr"), { amr: [], usedAt: 5, revokedAt: 6 });
        await a.refreshTokens.create(used);
        assert.deepEqual(await a.refreshTokens.get(used.tokenId), used);
        assert.equal(await a.refreshTokens.get(unique("rt")), null);
        await assert.rejects(a.refreshTokens.create({ ...token, familyId: "other" }), withCode("ALREADY_EXISTS"));
      });

      it("markUsed succeeds once, and never on a revoked or unknown token", async () => {
        const token = refreshTokenRecord(a.tenantId, unique("usr"));
        await a.refreshTokens.create(token);
        assert.equal(await a.refreshTokens.markUsed(token.tokenId, 5_000), true);
        assert.equal(await a.refreshTokens.markUsed(token.tokenId, 6_000), false);
        assert.deepEqual(await a.refreshTokens.get(token.tokenId), { ...token, usedAt: 5_000 });
        const revoked = refreshTokenRecord(a.tenantId, unique("usr"), { revokedAt: 1_000 });
        await a.refreshTokens.create(revoked);
        assert.equal(await a.refreshTokens.markUsed(revoked.tokenId, 5_000), false);
        assert.equal((await a.refreshTokens.get(revoked.tokenId))?.usedAt, null);
        assert.equal(await a.refreshTokens.markUsed(unique("rt"), 5_000), false);
      });

      it("concurrent markUsed from two Stores on the same database: exactly one true", async () => {
        const other = (await open()).forTenant(a.tenantId);
        for (let round = 0; round < 5; round++) {
          const token = refreshTokenRecord(a.tenantId, "usr_race");
          await a.refreshTokens.create(token);
          const results = await Promise.all([
            a.refreshTokens.markUsed(token.tokenId, 1),
            other.refreshTokens.markUsed(token.tokenId, 2),
            a.refreshTokens.markUsed(token.tokenId, 3),
            other.refreshTokens.markUsed(token.tokenId, 4),
          ]);
          assert.equal(results.filter(Boolean).length, 1, `round ${round}: exactly one rotation wins`);
          const winner = results.indexOf(true) + 1;
          assert.equal((await a.refreshTokens.get(token.tokenId))?.usedAt, winner, "the winner's time is recorded");
        }
      });

      it("revokeFamily revokes the family's unrevoked tokens only, and counts them", async () => {
        const principalId = unique("usr");
        const familyId = unique("fam");
        const first = refreshTokenRecord(a.tenantId, principalId, { familyId, usedAt: 100 });
        const second = refreshTokenRecord(a.tenantId, principalId, { familyId });
        const earlier = refreshTokenRecord(a.tenantId, principalId, { familyId, revokedAt: 50 });
        const otherFamily = refreshTokenRecord(a.tenantId, principalId);
        for (const token of [first, second, earlier, otherFamily]) await a.refreshTokens.create(token);
        assert.equal(await a.refreshTokens.revokeFamily(familyId, 7_000), 2);
        assert.equal(await a.refreshTokens.revokeFamily(familyId, 8_000), 0);
        assert.equal((await a.refreshTokens.get(first.tokenId))?.revokedAt, 7_000);
        assert.equal((await a.refreshTokens.get(second.tokenId))?.revokedAt, 7_000);
        assert.equal((await a.refreshTokens.get(earlier.tokenId))?.revokedAt, 50, "an earlier revocation keeps its time");
        assert.equal((await a.refreshTokens.get(otherFamily.tokenId))?.revokedAt, null);
        assert.equal(await a.refreshTokens.markUsed(second.tokenId, 9_000), false, "a revoked token cannot rotate");
        assert.equal(await a.refreshTokens.revokeFamily(unique("fam"), 1), 0);
      });

      it("revokeForPrincipal revokes every unrevoked token of the principal, across families", async () => {
        const principalId = unique("usr");
        const tokens = [
          refreshTokenRecord(a.tenantId, principalId),
          refreshTokenRecord(a.tenantId, principalId),
          refreshTokenRecord(a.tenantId, principalId, { revokedAt: 10 }),
        ];
        const someoneElse = refreshTokenRecord(a.tenantId, unique("usr"));
        for (const token of [...tokens, someoneElse]) await a.refreshTokens.create(token);
        assert.equal(await a.refreshTokens.revokeForPrincipal(principalId, 3_000), 2);
        assert.equal(await a.refreshTokens.revokeForPrincipal(principalId, 4_000), 0);
        assert.equal((await a.refreshTokens.get(someoneElse.tokenId))?.revokedAt, null);
      });
    });

    describe("revoked tokens", () => {
      it("revoke records once; isRevoked reports it", async () => {
        const revoked = revokedTokenRecord(a.tenantId, unique("usr"));
        assert.equal(await a.revokedTokens.isRevoked(revoked.tokenId), false);
        assert.equal(await a.revokedTokens.revoke(revoked), true);
        assert.equal(await a.revokedTokens.isRevoked(revoked.tokenId), true);
        assert.equal(await a.revokedTokens.revoke({ ...revoked, revokedAt: revoked.revokedAt + 1, reason: "again" }), false);
        assert.equal(await a.revokedTokens.isRevoked(unique("jti")), false);
        assert.equal(await a.revokedTokens.isAnyRevoked([unique("jti"), revoked.tokenId]), true);
        assert.equal(await a.revokedTokens.isAnyRevoked([unique("jti"), unique("jti")]), false);
        assert.equal(await a.revokedTokens.isAnyRevoked([]), false);
        assert.equal(await b.revokedTokens.isAnyRevoked([revoked.tokenId]), false, "another tenant's revocation is not seen");
      });

      it("concurrent revocations from two Stores: exactly one true", async () => {
        const other = (await open()).forTenant(a.tenantId);
        const revoked = revokedTokenRecord(a.tenantId, unique("usr"));
        const results = await Promise.all([a.revokedTokens.revoke(revoked), other.revokedTokens.revoke(revoked), a.revokedTokens.revoke(revoked)]);
        assert.equal(results.filter(Boolean).length, 1);
      });

      it("purgeExpired forgets this tenant's revocations of expired tokens only", async () => {
        const expired = { ...revokedTokenRecord(a.tenantId, unique("usr")), expiresAt: 5_000 };
        const live = { ...revokedTokenRecord(a.tenantId, unique("usr")), expiresAt: 50_000 };
        const otherTenant = { ...revokedTokenRecord(b.tenantId, unique("usr")), expiresAt: 5_000 };
        await a.revokedTokens.revoke(expired);
        await a.revokedTokens.revoke(live);
        await b.revokedTokens.revoke(otherTenant);
        assert.ok((await a.revokedTokens.purgeExpired(10_000)) >= 1);
        assert.equal(await a.revokedTokens.isRevoked(expired.tokenId), false);
        assert.equal(await a.revokedTokens.isRevoked(live.tokenId), true);
        assert.equal(await b.revokedTokens.isRevoked(otherTenant.tokenId), true, "another tenant's rows are untouched");
      });
    });

    describe("client credentials", () => {
      it("create/get, findByThumbprint, listForPrincipal oldest first, revokeForPrincipal", async () => {
        const principalId = unique("svc");
        const second = clientCredentialRecord(a.tenantId, principalId, { createdAt: 2_000, expiresAt: 9_000 });
        const first = clientCredentialRecord(a.tenantId, principalId, {
          createdAt: 1_000,
          kind: "certificate",
          material: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        });
        const revoked = clientCredentialRecord(a.tenantId, principalId, { createdAt: 3_000, revokedAt: 2_500 });
        const someoneElse = clientCredentialRecord(a.tenantId, unique("svc"));
        for (const credential of [second, first, revoked, someoneElse]) await a.clientCredentials.create(credential);
        assert.deepEqual(await a.clientCredentials.get(first.credentialId), first);
        assert.equal(await a.clientCredentials.get(unique("cred")), null);
        assert.deepEqual(await a.clientCredentials.findByThumbprint(second.thumbprint), second);
        assert.deepEqual(await a.clientCredentials.findByThumbprint(revoked.thumbprint), revoked, "revoked credentials are found too");
        assert.equal(await a.clientCredentials.findByThumbprint("00".repeat(32)), null);
        assert.deepEqual(await a.clientCredentials.listForPrincipal(principalId), [first, second, revoked]);
        assert.equal(await a.clientCredentials.revokeForPrincipal(principalId, 7_000), 2);
        assert.equal(await a.clientCredentials.revokeForPrincipal(principalId, 8_000), 0);
        assert.deepEqual(
          (await a.clientCredentials.listForPrincipal(principalId)).map((credential) => credential.revokedAt),
          [7_000, 7_000, 2_500],
        );
        assert.equal((await a.clientCredentials.get(someoneElse.credentialId))?.revokedAt, null);
      });

      it("duplicate id or thumbprint in a tenant → ALREADY_EXISTS; another tenant may pin the same thumbprint", async () => {
        const credential = clientCredentialRecord(a.tenantId, unique("svc"));
        await a.clientCredentials.create(credential);
        await assert.rejects(a.clientCredentials.create({ ...credential, thumbprint: "ff".repeat(32) }), withCode("ALREADY_EXISTS"));
        await assert.rejects(a.clientCredentials.create(clientCredentialRecord(a.tenantId, unique("svc"), { thumbprint: credential.thumbprint })), withCode("ALREADY_EXISTS"));
        const theirs = clientCredentialRecord(b.tenantId, unique("svc"), { thumbprint: credential.thumbprint });
        await b.clientCredentials.create(theirs);
        assert.deepEqual(await b.clientCredentials.findByThumbprint(credential.thumbprint), theirs);
        assert.deepEqual(await a.clientCredentials.findByThumbprint(credential.thumbprint), credential);
      });
    });

    describe("identity providers", () => {
      it("create/get round-trips settings, mapping and flags; unknown → null; duplicate → ALREADY_EXISTS", async () => {
        const provider = identityProviderRecord(a.tenantId);
        await a.identityProviders.create(provider);
        assert.deepEqual(await a.identityProviders.get(provider.providerId), provider);
        const bare = identityProviderRecord(a.tenantId, { kind: "ldap", enabled: false, jitProvisioning: false, settings: {}, mapping: {} });
        await a.identityProviders.create(bare);
        assert.deepEqual(await a.identityProviders.get(bare.providerId), bare);
        assert.equal(await a.identityProviders.get("nobody"), null);
        await assert.rejects(a.identityProviders.create({ ...provider, displayName: "Impostor" }), withCode("ALREADY_EXISTS"));
      });

      it("update bumps the revision; stale → CONFLICT; unknown → NOT_FOUND", async () => {
        const provider = identityProviderRecord(a.tenantId, { kind: "saml" });
        await a.identityProviders.create(provider);
        const changed = { ...provider, enabled: false, settings: { entityId: "urn:acme" }, mapping: { defaultRoles: ["viewer"] }, updatedAt: 9, updatedBy: "usr_ciso" };
        await a.identityProviders.update(changed, 1);
        assert.deepEqual(await a.identityProviders.get(provider.providerId), { ...changed, revision: 2 });
        await assert.rejects(a.identityProviders.update({ ...provider, displayName: "Lost update" }, 1), withCode("CONFLICT"));
        assert.equal((await a.identityProviders.get(provider.providerId))?.displayName, provider.displayName);
        await assert.rejects(a.identityProviders.update(identityProviderRecord(a.tenantId), 1), withCode("NOT_FOUND"));
      });

      it("list is ordered by providerId; delete reports whether it deleted", async () => {
        const tenant = store.forTenant(unique("idp"));
        const okta = identityProviderRecord(tenant.tenantId, { providerId: "okta" });
        const azure = identityProviderRecord(tenant.tenantId, { providerId: "azure-ad", kind: "saml" });
        const ldap = identityProviderRecord(tenant.tenantId, { providerId: "corp-ldap", kind: "ldap" });
        for (const provider of [okta, azure, ldap]) await tenant.identityProviders.create(provider);
        assert.deepEqual(await tenant.identityProviders.list(), [azure, ldap, okta]);
        assert.equal(await tenant.identityProviders.delete("corp-ldap"), true);
        assert.equal(await tenant.identityProviders.delete("corp-ldap"), false);
        assert.equal(await tenant.identityProviders.get("corp-ldap"), null);
        assert.deepEqual(await tenant.identityProviders.list(), [azure, okta]);
      });
    });

    describe("groups", () => {
      it("create/get round-trips members as written; unknown → null; duplicate → ALREADY_EXISTS and no member rows", async () => {
        const alice = unique("usr");
        const bob = unique("usr");
        const group = groupRecord(a.tenantId, [bob, alice]);
        await a.groups.create(group);
        assert.deepEqual(await a.groups.get(group.groupId), group);
        assert.equal(await a.groups.get(unique("grp")), null);
        const intruder = unique("usr");
        await assert.rejects(a.groups.create({ ...group, members: [intruder] }), withCode("ALREADY_EXISTS"));
        assert.deepEqual(await a.groups.listForMember(intruder), [], "the refused create left no member row behind");
        const empty = groupRecord(a.tenantId, [], { externalId: "" });
        await a.groups.create(empty);
        assert.deepEqual(await a.groups.get(empty.groupId), empty);
      });

      it("findByDisplayName matches the exact name", async () => {
        const group = groupRecord(a.tenantId, [], { displayName: unique("Ops Team") });
        await a.groups.create(group);
        assert.deepEqual(await a.groups.findByDisplayName(group.displayName), group);
        assert.equal(await a.groups.findByDisplayName(group.displayName.slice(0, -1)), null);
        assert.equal(await a.groups.findByDisplayName(unique("nobody")), null);
      });

      it("listForMember follows creates, updates and deletes", async () => {
        const tenant = store.forTenant(unique("grp"));
        const [alice, bob, carol] = ["usr_alice", "usr_bob", "usr_carol"];
        const engineers = groupRecord(tenant.tenantId, [alice, bob], { groupId: "g_eng" });
        const admins = groupRecord(tenant.tenantId, [alice, alice], { groupId: "g_adm" });
        await tenant.groups.create(engineers);
        await tenant.groups.create(admins);
        const groupIds = (records: { groupId: string }[]) => records.map((record) => record.groupId);
        assert.deepEqual(groupIds(await tenant.groups.listForMember(alice)), ["g_adm", "g_eng"]);
        assert.deepEqual(groupIds(await tenant.groups.listForMember(bob)), ["g_eng"]);
        assert.deepEqual(await tenant.groups.listForMember(carol), []);
        assert.deepEqual((await tenant.groups.get("g_adm"))?.members, [alice, alice], "members round-trip as written");

        const reshuffled = { ...engineers, members: [carol, bob], displayName: "Engineering", updatedAt: 5 };
        await tenant.groups.update(reshuffled, 1);
        assert.deepEqual(await tenant.groups.get("g_eng"), { ...reshuffled, revision: 2 });
        assert.deepEqual(groupIds(await tenant.groups.listForMember(alice)), ["g_adm"]);
        assert.deepEqual(groupIds(await tenant.groups.listForMember(bob)), ["g_eng"]);
        assert.deepEqual(await tenant.groups.listForMember(carol), [{ ...reshuffled, revision: 2 }]);

        assert.equal(await tenant.groups.delete("g_eng"), true);
        assert.equal(await tenant.groups.delete("g_eng"), false);
        assert.equal(await tenant.groups.get("g_eng"), null);
        assert.deepEqual(await tenant.groups.listForMember(carol), []);
        assert.deepEqual(await tenant.groups.listForMember(bob), []);
        assert.deepEqual(groupIds(await tenant.groups.listForMember(alice)), ["g_adm"]);
      });

      it("update: stale → CONFLICT and the members stay; unknown → NOT_FOUND", async () => {
        const member = unique("usr");
        const group = groupRecord(a.tenantId, [member]);
        await a.groups.create(group);
        await a.groups.update({ ...group, displayName: "renamed" }, 1);
        const newcomer = unique("usr");
        await assert.rejects(a.groups.update({ ...group, members: [newcomer] }, 1), withCode("CONFLICT"));
        assert.deepEqual(await a.groups.listForMember(newcomer), [], "a refused update adds no member");
        assert.equal((await a.groups.listForMember(member)).length, 1, "a refused update removes no member");
        await assert.rejects(a.groups.update(groupRecord(a.tenantId, [newcomer]), 1), withCode("NOT_FOUND"));
        assert.deepEqual(await a.groups.listForMember(newcomer), []);
      });

      it("large groups: thousands of members written, diffed on update, and removed on delete", async () => {
        const tenant = store.forTenant(unique("big"));
        const members = Array.from({ length: 1_234 }, (_, index) => `usr_${String(index).padStart(5, "0")}`);
        const group = groupRecord(tenant.tenantId, members);
        await tenant.groups.create(group);
        assert.equal((await tenant.groups.listForMember("usr_01233")).length, 1);
        const kept = members.filter((_, index) => index % 3 !== 0);
        const added = Array.from({ length: 700 }, (_, index) => `usr_new_${index}`);
        await tenant.groups.update({ ...group, members: [...kept, ...added] }, 1);
        assert.deepEqual(await tenant.groups.listForMember("usr_00000"), []);
        assert.equal((await tenant.groups.listForMember("usr_00001")).length, 1);
        assert.equal((await tenant.groups.listForMember("usr_new_699")).length, 1);
        assert.equal((await tenant.groups.get(group.groupId))?.members.length, kept.length + added.length);
        assert.equal(await tenant.groups.delete(group.groupId), true);
        assert.deepEqual(await tenant.groups.listForMember("usr_new_699"), []);
      });

      it("list: ordered by groupId, cursor-paginated; count", async () => {
        const tenant = store.forTenant(unique("grl"));
        assert.equal(await tenant.groups.count(), 0);
        for (const groupId of ["g3", "g1", "g4", "g2", "g5"]) await tenant.groups.create(groupRecord(tenant.tenantId, [], { groupId }));
        const groupIds = (records: { groupId: string }[]) => records.map((record) => record.groupId);
        assert.deepEqual(groupIds(await tenant.groups.list({ limit: 100 })), ["g1", "g2", "g3", "g4", "g5"]);
        const pages = await allPages(
          (cursor) => tenant.groups.list(cursor === undefined ? { limit: 2 } : { limit: 2, cursor }),
          (last) => last.groupId,
          2,
        );
        assert.deepEqual(pages.map(groupIds), [["g1", "g2"], ["g3", "g4"], ["g5"], []]);
        assert.equal(await tenant.groups.count(), 5);
        await assert.rejects(tenant.groups.list({ limit: Number.POSITIVE_INFINITY }), withCode("INVALID_ARGUMENT"));
      });
    });

    describe("sign-in throttle (platform)", () => {
      it("put creates and replaces; get unknown → null; delete forgets, and is a no-op when absent", async () => {
        const key = unique("account:acme/ada");
        assert.equal(await store.platform.signInThrottle.get(key), null);
        const first = { key, failures: 1, windowStartedAt: 1_000, lockedUntil: 0 };
        await store.platform.signInThrottle.put(first);
        assert.deepEqual(await store.platform.signInThrottle.get(key), first);
        const locked = { key, failures: 5, windowStartedAt: 1_000, lockedUntil: 1_700_000_900_000 };
        await store.platform.signInThrottle.put(locked);
        assert.deepEqual(await store.platform.signInThrottle.get(key), locked);
        const other = { key: unique("ip:127.0.0.1"), failures: 2, windowStartedAt: 3, lockedUntil: 0 };
        await store.platform.signInThrottle.put(other);
        await store.platform.signInThrottle.delete(key);
        assert.equal(await store.platform.signInThrottle.get(key), null);
        assert.deepEqual(await store.platform.signInThrottle.get(other.key), other, "deleting one key leaves the others");
        await store.platform.signInThrottle.delete(key);
      });

      it("recordFailure counts concurrent failures without losing any, and restarts an old window without its lock", async () => {
        const throttle = store.platform.signInThrottle;
        const key = unique("acct:acme:password:eve");
        const counts = await Promise.all(Array.from({ length: 40 }, () => throttle.recordFailure(key, 10_000, 60_000)));
        assert.deepEqual(counts.map((record) => record.failures).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i + 1), "every failure got its own count");
        assert.equal((await throttle.get(key))?.failures, 40);
        await throttle.extendLock(key, 90_000);
        await throttle.extendLock(key, 50_000);
        assert.equal((await throttle.get(key))?.lockedUntil, 90_000, "a shorter lock never replaces a longer one");
        const within = await throttle.recordFailure(key, 69_000, 60_000);
        assert.deepEqual({ failures: within.failures, windowStartedAt: within.windowStartedAt, lockedUntil: within.lockedUntil }, { failures: 41, windowStartedAt: 10_000, lockedUntil: 90_000 });
        const restarted = await throttle.recordFailure(key, 70_001, 60_000);
        assert.deepEqual({ failures: restarted.failures, windowStartedAt: restarted.windowStartedAt, lockedUntil: restarted.lockedUntil }, { failures: 1, windowStartedAt: 70_001, lockedUntil: 0 });
        await throttle.delete(key);
      });

      it("purgeExpired forgets only counters whose window is over and whose lock has expired", async () => {
        const throttle = store.platform.signInThrottle;
        const old = { key: unique("acct:old"), failures: 3, windowStartedAt: 1_000, lockedUntil: 0 };
        const oldButLocked = { key: unique("acct:locked"), failures: 9, windowStartedAt: 1_000, lockedUntil: 500_000 };
        const recent = { key: unique("acct:recent"), failures: 1, windowStartedAt: 190_000, lockedUntil: 0 };
        for (const record of [old, oldButLocked, recent]) await throttle.put(record);
        assert.ok((await throttle.purgeExpired(200_000, 60_000)) >= 1);
        assert.equal(await throttle.get(old.key), null);
        assert.deepEqual(await throttle.get(oldButLocked.key), oldButLocked);
        assert.deepEqual(await throttle.get(recent.key), recent);
        for (const record of [oldButLocked, recent]) await throttle.delete(record.key);
      });
    });

    describe("one-time values (platform)", () => {
      it("claim succeeds once while the entry lives, and again once it expired", async () => {
        const key = unique("saml:assertion");
        assert.equal(await store.platform.oneTimeValues.claim(key, 2_000, 1_000), true);
        assert.equal(await store.platform.oneTimeValues.claim(key, 3_000, 1_500), false, "a live entry refuses a second claim");
        assert.equal(await store.platform.oneTimeValues.claim(key, 3_000, 1_999), false);
        assert.equal(await store.platform.oneTimeValues.claim(key, 4_000, 2_000), true, "expiresAt == now is expired");
        assert.equal(await store.platform.oneTimeValues.claim(key, 5_000, 3_000), false, "the new claim's expiry holds");
        assert.equal(await store.platform.oneTimeValues.claim(key, 9_000, 4_000), true);
      });

      it("concurrent claims from two Stores on the same database: exactly one true", async () => {
        const other = await open();
        for (let round = 0; round < 5; round++) {
          const key = unique("jti");
          const results = await Promise.all([
            store.platform.oneTimeValues.claim(key, 10_000, 1),
            other.platform.oneTimeValues.claim(key, 10_000, 1),
            store.platform.oneTimeValues.claim(key, 10_000, 1),
            other.platform.oneTimeValues.claim(key, 10_000, 1),
          ]);
          assert.equal(results.filter(Boolean).length, 1, `round ${round}: exactly one claim wins`);
        }
      });

      it("purgeExpired deletes entries expired at now and counts them", async () => {
        await store.platform.oneTimeValues.purgeExpired(Number.MAX_SAFE_INTEGER);
        const early = unique("jti");
        const edge = unique("jti");
        const late = unique("jti");
        for (const [key, expiresAt] of [[early, 100], [edge, 200], [late, 300]] as const) {
          assert.equal(await store.platform.oneTimeValues.claim(key, expiresAt, 0), true);
        }
        assert.equal(await store.platform.oneTimeValues.purgeExpired(200), 2);
        assert.equal(await store.platform.oneTimeValues.purgeExpired(200), 0);
        assert.equal(await store.platform.oneTimeValues.claim(late, 400, 250), false, "the live entry survived the purge");
        assert.equal(await store.platform.oneTimeValues.claim(early, 400, 250), true, "a purged key can be claimed again");
        assert.equal(await store.platform.oneTimeValues.purgeExpired(1_000), 2);
      });
    });

    describe("SIEM dead letters (platform)", () => {
      const letter = (destination: string, createdAt: number, id = unique("dlq")): DeadLetterRecord => ({
        deadLetterId: id,
        destination,
        payload: JSON.stringify([{ seq: 1, eventType: "authz.denied", metadata: { note: "é ✓" } }]),
        eventCount: 1,
        firstSeq: 1,
        lastSeq: 8_640_000_000_000,
        reason: "connection refused",
        attempts: 5,
        createdAt,
      });

      it("round-trips, lists oldest first per destination with keyset pagination, counts and deletes once", async () => {
        const destination = unique("webhook");
        const other = unique("syslog");
        const a = letter(destination, 1_000);
        const b = letter(destination, 2_000);
        const c = letter(destination, 2_000);
        const d = letter(other, 500);
        for (const record of [c, a, d, b]) await store.platform.deadLetters.add(record);
        assert.deepEqual(await store.platform.deadLetters.get(a.deadLetterId), a);
        assert.equal(await store.platform.deadLetters.get(unique("dlq")), null);
        const sameTime = [b, c].sort((x, y) => (x.deadLetterId < y.deadLetterId ? -1 : 1));
        const all = await store.platform.deadLetters.list({ destination, limit: 10 });
        assert.deepEqual(all.map((r) => r.deadLetterId), [a, ...sameTime].map((r) => r.deadLetterId));
        const first = await store.platform.deadLetters.list({ destination, limit: 2 });
        const rest = await store.platform.deadLetters.list({ destination, limit: 2, afterId: first.at(-1)!.deadLetterId });
        assert.deepEqual([...first, ...rest].map((r) => r.deadLetterId), all.map((r) => r.deadLetterId));
        assert.equal(await store.platform.deadLetters.count(destination), 3);
        assert.equal(await store.platform.deadLetters.count(other), 1);
        assert.ok((await store.platform.deadLetters.count()) >= 4);
        assert.equal(await store.platform.deadLetters.delete(a.deadLetterId), true);
        assert.equal(await store.platform.deadLetters.delete(a.deadLetterId), false, "a second replay finds it gone");
        assert.equal(await store.platform.deadLetters.count(destination), 2);
      });

      it("a duplicate id is refused with ALREADY_EXISTS", async () => {
        const record = letter(unique("webhook"), 1);
        await store.platform.deadLetters.add(record);
        await assert.rejects(store.platform.deadLetters.add(record), withCode("ALREADY_EXISTS"));
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

      it("principals: another tenant's linked accounts, counts and filters see nothing", async () => {
        const subject = unique("sub");
        const role = unique("role");
        const principal = principalRecord(a.tenantId, { providerId: "okta", externalSubject: subject, userName: subject, syncedRoles: [role] });
        await a.principals.create(principal);
        assert.equal(await b.principals.findByExternalSubject("okta", subject), null);
        assert.deepEqual(await b.principals.list({ role, limit: 10 }), []);
        assert.deepEqual(await b.principals.list({ userName: subject, limit: 10 }), []);
        assert.equal(await b.principals.count({ role, limit: 10 }), 0);
        assert.equal(await a.principals.count({ role, limit: 10 }), 1);
        assert.deepEqual(await a.principals.findByExternalSubject("okta", subject), principal);
      });

      it("refresh tokens: invisible and not usable or revocable through another tenant", async () => {
        const token = refreshTokenRecord(a.tenantId, unique("usr"));
        await a.refreshTokens.create(token);
        assert.equal(await b.refreshTokens.get(token.tokenId), null);
        assert.equal(await b.refreshTokens.markUsed(token.tokenId, 1), false);
        assert.equal(await b.refreshTokens.revokeFamily(token.familyId, 1), 0);
        assert.equal(await b.refreshTokens.revokeForPrincipal(token.principalId, 1), 0);
        await assert.rejects(b.refreshTokens.create(refreshTokenRecord(a.tenantId, "usr_x")), withCode("INVALID_ARGUMENT"));
        assert.deepEqual(await a.refreshTokens.get(token.tokenId), token, "untouched for its own tenant");
        assert.equal(await a.refreshTokens.markUsed(token.tokenId, 2), true);
      });

      it("revoked tokens: a revocation in one tenant is no revocation in another", async () => {
        const revoked = revokedTokenRecord(a.tenantId, unique("usr"));
        assert.equal(await a.revokedTokens.revoke(revoked), true);
        assert.equal(await b.revokedTokens.isRevoked(revoked.tokenId), false);
        await assert.rejects(b.revokedTokens.revoke(revoked), withCode("INVALID_ARGUMENT"));
        assert.equal(await b.revokedTokens.revoke({ ...revoked, tenantId: b.tenantId }), true, "tenant B's token of the same id is its own");
        assert.equal(await a.revokedTokens.isRevoked(revoked.tokenId), true);
      });

      it("client credentials: invisible, unlisted and not revocable through another tenant", async () => {
        const credential = clientCredentialRecord(a.tenantId, unique("svc"));
        await a.clientCredentials.create(credential);
        assert.equal(await b.clientCredentials.get(credential.credentialId), null);
        assert.equal(await b.clientCredentials.findByThumbprint(credential.thumbprint), null);
        assert.deepEqual(await b.clientCredentials.listForPrincipal(credential.principalId), []);
        assert.equal(await b.clientCredentials.revokeForPrincipal(credential.principalId, 1), 0);
        await assert.rejects(b.clientCredentials.create(clientCredentialRecord(a.tenantId, "svc_x")), withCode("INVALID_ARGUMENT"));
        assert.deepEqual(await a.clientCredentials.get(credential.credentialId), credential);
      });

      it("identity providers: invisible, unlisted, not updatable and not deletable through another tenant", async () => {
        const provider = identityProviderRecord(a.tenantId);
        await a.identityProviders.create(provider);
        assert.equal(await b.identityProviders.get(provider.providerId), null);
        assert.ok(!(await b.identityProviders.list()).some((record) => record.providerId === provider.providerId));
        await assert.rejects(b.identityProviders.update(provider, 1), withCode("INVALID_ARGUMENT"));
        await assert.rejects(b.identityProviders.update({ ...provider, tenantId: b.tenantId, enabled: false }, 1), withCode("NOT_FOUND"));
        assert.equal(await b.identityProviders.delete(provider.providerId), false);
        await assert.rejects(b.identityProviders.create(identityProviderRecord(a.tenantId)), withCode("INVALID_ARGUMENT"));
        assert.deepEqual(await a.identityProviders.get(provider.providerId), provider);
      });

      it("groups: invisible, unlisted, uncounted, not updatable and not deletable through another tenant", async () => {
        const member = unique("usr");
        const group = groupRecord(a.tenantId, [member]);
        await a.groups.create(group);
        const countB = await b.groups.count();
        assert.equal(await b.groups.get(group.groupId), null);
        assert.equal(await b.groups.findByDisplayName(group.displayName), null);
        assert.ok(!(await b.groups.list({ limit: 1000 })).some((record) => record.groupId === group.groupId));
        assert.deepEqual(await b.groups.listForMember(member), []);
        await assert.rejects(b.groups.update(group, 1), withCode("INVALID_ARGUMENT"));
        await assert.rejects(b.groups.update({ ...group, tenantId: b.tenantId, members: [] }, 1), withCode("NOT_FOUND"));
        assert.equal(await b.groups.delete(group.groupId), false);
        await assert.rejects(b.groups.create(groupRecord(a.tenantId)), withCode("INVALID_ARGUMENT"));
        assert.equal(await b.groups.count(), countB);
        assert.deepEqual(await a.groups.get(group.groupId), group);
        assert.deepEqual(await a.groups.listForMember(member), [group]);
        // The same group id in tenant B is a different group with its own members.
        const theirs = { ...group, tenantId: b.tenantId, members: [unique("usr")] };
        await b.groups.create(theirs);
        assert.deepEqual(await b.groups.listForMember(member), []);
        assert.equal(await b.groups.delete(group.groupId), true);
        assert.deepEqual(await a.groups.listForMember(member), [group], "deleting B's group left A's members alone");
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

      it("group writes join the caller's transaction: a rollback undoes the group and its member rows", async () => {
        const tenantId = unique("txg");
        const member = unique("usr");
        const kept = groupRecord(tenantId, [member]);
        await store.forTenant(tenantId).groups.create(kept);
        const dropped = groupRecord(tenantId, [member]);
        await assert.rejects(
          store.transaction(async (tx) => {
            const groups = tx.forTenant(tenantId).groups;
            await groups.create(dropped);
            await groups.update({ ...kept, members: [] }, 1);
            assert.deepEqual(await groups.listForMember(member), [dropped], "reads inside see the transaction's writes");
            throw new Error("work failed");
          }),
          /work failed/,
        );
        const groups = store.forTenant(tenantId).groups;
        assert.equal(await groups.get(dropped.groupId), null);
        assert.deepEqual(await groups.listForMember(member), [kept]);
        assert.deepEqual(await groups.get(kept.groupId), kept);
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

    describe("group role bindings", () => {
      const binding = (tenantId: string, group: string, role: string, createdAt = 1_700_000_000_000) => ({ tenantId, group, role, createdAt, createdBy: "usr_admin" });

      it("binds once, lists by group then role (code-unit order), unbinds once", async () => {
        const tenant = store.forTenant(unique("grb"));
        assert.deepEqual(await tenant.groupRoleBindings.list(), []);
        assert.equal(await tenant.groupRoleBindings.bind(binding(tenant.tenantId, "finance", "analyst")), true);
        assert.equal(await tenant.groupRoleBindings.bind(binding(tenant.tenantId, "Finance", "agent")), true);
        assert.equal(await tenant.groupRoleBindings.bind(binding(tenant.tenantId, "CN=Ops,OU=Groups,DC=corp", "agent")), true);
        assert.equal(await tenant.groupRoleBindings.bind(binding(tenant.tenantId, "finance", "agent")), true);
        assert.equal(await tenant.groupRoleBindings.bind(binding(tenant.tenantId, "finance", "analyst", 42)), false, "a second bind changes nothing");
        assert.deepEqual(await tenant.groupRoleBindings.list(), [
          binding(tenant.tenantId, "CN=Ops,OU=Groups,DC=corp", "agent"),
          binding(tenant.tenantId, "Finance", "agent"),
          binding(tenant.tenantId, "finance", "agent"),
          binding(tenant.tenantId, "finance", "analyst"),
        ]);
        assert.equal(await tenant.groupRoleBindings.unbind("finance", "analyst"), true);
        assert.equal(await tenant.groupRoleBindings.unbind("finance", "analyst"), false);
        assert.equal(await tenant.groupRoleBindings.unbind("FINANCE", "agent"), false, "group names match exactly");
        assert.deepEqual((await tenant.groupRoleBindings.list()).map((each) => `${each.group}/${each.role}`), ["CN=Ops,OU=Groups,DC=corp/agent", "Finance/agent", "finance/agent"]);
      });

      it("concurrent binds of one pair on two Stores: exactly one wins", async () => {
        const other = await open();
        const tenantId = unique("grb");
        const results = await Promise.all(Array.from({ length: 6 }, (_, index) => (index % 2 === 0 ? store : other).forTenant(tenantId).groupRoleBindings.bind(binding(tenantId, "eng", "agent"))));
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal((await store.forTenant(tenantId).groupRoleBindings.list()).length, 1);
      });

      it("tenant isolation: invisible, not removable and not writable through another tenant", async () => {
        const grb = binding(a.tenantId, unique("group"), "agent");
        await a.groupRoleBindings.bind(grb);
        assert.ok(!(await b.groupRoleBindings.list()).some((each) => each.group === grb.group));
        assert.equal(await b.groupRoleBindings.unbind(grb.group, grb.role), false);
        await assert.rejects(b.groupRoleBindings.bind(grb), withCode("INVALID_ARGUMENT"));
        assert.ok((await a.groupRoleBindings.list()).some((each) => each.group === grb.group));
      });
    });

    describe("break-glass grants", () => {
      it("create/get round-trips every field; duplicate id, update, conflict, not found", async () => {
        const grant = breakGlassGrantRecord(a.tenantId);
        await a.breakGlass.create(grant);
        assert.deepEqual(await a.breakGlass.get(grant.grantId), grant);
        assert.equal(await a.breakGlass.get(unique("bgl")), null);
        await assert.rejects(a.breakGlass.create({ ...grant, principalId: unique("usr") }), withCode("ALREADY_EXISTS"));
        const reviewed = {
          ...grant,
          status: "ENDED" as const,
          contracts: [],
          closedAt: 1_700_000_900_000,
          closedBy: "usr_admin",
          closeReason: "outage over",
          firstUsedAt: 1_700_000_100_000,
          reviewStatus: "UNJUSTIFIED" as const,
          reviewedBy: "usr_ciso",
          reviewedAt: 1_700_002_000_000,
          reviewComments: "no incident ticket",
          reviewOverdueAlertedAt: 1_700_090_000_000,
        };
        await a.breakGlass.update(reviewed, 1);
        assert.deepEqual(await a.breakGlass.get(grant.grantId), { ...reviewed, revision: 2 });
        await assert.rejects(a.breakGlass.update(grant, 1), withCode("CONFLICT"));
        await assert.rejects(a.breakGlass.update(breakGlassGrantRecord(a.tenantId), 1), withCode("NOT_FOUND"));
      });

      it("at most one ACTIVE grant per principal, also from two Stores at once; ended ones do not count", async () => {
        const tenant = store.forTenant(unique("bgl"));
        const principalId = unique("usr");
        const first = breakGlassGrantRecord(tenant.tenantId, { principalId });
        await tenant.breakGlass.create(first);
        await assert.rejects(tenant.breakGlass.create(breakGlassGrantRecord(tenant.tenantId, { principalId })), withCode("ALREADY_EXISTS"));
        await tenant.breakGlass.create(breakGlassGrantRecord(tenant.tenantId, { principalId, status: "EXPIRED" }));
        await tenant.breakGlass.create(breakGlassGrantRecord(tenant.tenantId, { principalId: unique("usr") }));
        await tenant.breakGlass.update({ ...first, status: "ENDED" }, 1);
        const other = await open();
        const racing = [store, other, store, other].map((each) => each.forTenant(tenant.tenantId).breakGlass.create(breakGlassGrantRecord(tenant.tenantId, { principalId })));
        const settled = await Promise.allSettled(racing);
        assert.equal(settled.filter((result) => result.status === "fulfilled").length, 1, "exactly one racing activation wins");
        for (const result of settled) if (result.status === "rejected") withCode("ALREADY_EXISTS")(result.reason);
        assert.equal((await tenant.breakGlass.list({ status: "ACTIVE", principalId, limit: 10 })).length, 1);
      });

      it("markFirstUse sets the first use once, whoever asks second learns it was not first", async () => {
        const grant = breakGlassGrantRecord(a.tenantId);
        await a.breakGlass.create(grant);
        const other = await open();
        const results = await Promise.all([a.breakGlass.markFirstUse(grant.grantId, 5), other.forTenant(a.tenantId).breakGlass.markFirstUse(grant.grantId, 6)]);
        assert.deepEqual([...results].sort(), [false, true]);
        const stored = await a.breakGlass.get(grant.grantId);
        assert.ok(stored?.firstUsedAt === 5 || stored?.firstUsedAt === 6);
        assert.equal(stored?.revision, 1, "a first use is not a decision: the revision stays");
        assert.equal(await a.breakGlass.markFirstUse(grant.grantId, 7), false);
        assert.equal(await b.breakGlass.markFirstUse(grant.grantId, 8), false, "another tenant cannot touch it");
        assert.equal(await a.breakGlass.markFirstUse(unique("bgl"), 9), false);
      });

      it("list: ordered by (activatedAt, id), filtered by status, review status and holder, cursor = last id", async () => {
        const tenant = store.forTenant(unique("bgl"));
        const holder = unique("usr");
        const made = [
          breakGlassGrantRecord(tenant.tenantId, { grantId: "g_z", activatedAt: 100, principalId: holder, status: "ENDED" }),
          breakGlassGrantRecord(tenant.tenantId, { grantId: "g_b", activatedAt: 300, reviewStatus: "JUSTIFIED", status: "EXPIRED" }),
          breakGlassGrantRecord(tenant.tenantId, { grantId: "g_a", activatedAt: 300, principalId: holder }),
          breakGlassGrantRecord(tenant.tenantId, { grantId: "g_c", activatedAt: 200, status: "EXPIRED" }),
          breakGlassGrantRecord(tenant.tenantId, { grantId: "g_y", activatedAt: 400 }),
        ];
        for (const grant of made) await tenant.breakGlass.create(grant);
        const ids = (records: { grantId: string }[]) => records.map((record) => record.grantId);
        assert.deepEqual(ids(await tenant.breakGlass.list({ limit: 10 })), ["g_z", "g_c", "g_a", "g_b", "g_y"]);
        assert.deepEqual(ids(await tenant.breakGlass.list({ status: "ACTIVE", limit: 10 })), ["g_a", "g_y"]);
        assert.deepEqual(ids(await tenant.breakGlass.list({ reviewStatus: "PENDING", limit: 10 })), ["g_z", "g_c", "g_a", "g_y"]);
        assert.deepEqual(ids(await tenant.breakGlass.list({ principalId: holder, limit: 10 })), ["g_z", "g_a"]);
        const pages = await allPages((cursor) => tenant.breakGlass.list(cursor === undefined ? { limit: 2 } : { limit: 2, cursor }), (last) => last.grantId, 2);
        assert.deepEqual(pages.map(ids), [["g_z", "g_c"], ["g_a", "g_b"], ["g_y"], []], "ties on activatedAt break by id across a page boundary");
      });

      it("tenant isolation: invisible, unlisted, not updatable through another tenant", async () => {
        const grant = breakGlassGrantRecord(a.tenantId);
        await a.breakGlass.create(grant);
        assert.equal(await b.breakGlass.get(grant.grantId), null);
        assert.ok(!(await b.breakGlass.list({ limit: 1000 })).some((record) => record.grantId === grant.grantId));
        assert.deepEqual(await b.breakGlass.list({ principalId: grant.principalId, limit: 10 }), []);
        await assert.rejects(b.breakGlass.update(grant, 1), withCode("INVALID_ARGUMENT"));
        await assert.rejects(b.breakGlass.update({ ...grant, tenantId: b.tenantId, status: "ENDED" }, 1), withCode("NOT_FOUND"));
        await assert.rejects(b.breakGlass.create(breakGlassGrantRecord(a.tenantId)), withCode("INVALID_ARGUMENT"));
        // The same principal id in tenant B holds its own grant: the one-active rule is per tenant.
        await b.breakGlass.create({ ...grant, tenantId: b.tenantId });
        assert.deepEqual(await a.breakGlass.get(grant.grantId), grant);
      });
    });

    describe("tenant change epoch", () => {
      it("starts at 0 and advances by one, per tenant", async () => {
        const tenant = store.forTenant(unique("epo"));
        const neighbour = store.forTenant(unique("epo"));
        assert.equal(await tenant.epoch.current(), 0);
        assert.equal(await tenant.epoch.advance(), 1);
        assert.equal(await tenant.epoch.advance(), 2);
        assert.equal(await tenant.epoch.current(), 2);
        assert.equal(await neighbour.epoch.current(), 0, "another tenant's epoch is its own");
        assert.equal(await neighbour.epoch.advance(), 1);
        assert.equal(await tenant.epoch.current(), 2);
      });

      it("counts every advance made at once from two Stores, and one Store reads what the other wrote", async () => {
        const other = await open();
        const tenantId = unique("epo");
        const returned = await Promise.all(Array.from({ length: 10 }, (_, index) => (index % 2 === 0 ? store : other).forTenant(tenantId).epoch.advance()));
        assert.deepEqual([...returned].sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "each advance returns its own value");
        assert.equal(await other.forTenant(tenantId).epoch.current(), 10);
        assert.equal(await store.forTenant(tenantId).epoch.current(), 10);
      });

      it("rolls back with its transaction", async () => {
        const tenantId = unique("epo");
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.forTenant(tenantId).epoch.advance();
            throw new Error("abort");
          }),
        );
        assert.equal(await store.forTenant(tenantId).epoch.current(), 0);
      });
    });
    describe("audit retention, legal holds and subject keys", () => {
      const DAY = 86_400_000;
      const hold = (tenantId: string, over: Partial<AuditLegalHoldRecord> = {}): AuditLegalHoldRecord => ({
        tenantId, holdId: unique("hold"), principalId: "", fromMs: 0, toMs: 0, reason: "case 42", placedBy: "usr_admin", placedAt: 1000, releasedAt: null, releasedBy: "", ...over,
      });
      const key = (tenantId: string, subjectId: string, over: Partial<AuditSubjectKeyRecord> = {}): AuditSubjectKeyRecord => ({
        tenantId, keyId: unique("ask"), subjectId, wrappedKey: "v1.iv.body", createdAt: 1000, erasedAt: null, ...over,
      });

      it("rules: put replaces, list is by pattern, delete reports whether it existed, and are tenant-scoped", async () => {
        await a.auditRetention.putRule({ tenantId: a.tenantId, pattern: "tool_call.*", days: 90, updatedAt: 1, updatedBy: "u1" });
        await a.auditRetention.putRule({ tenantId: a.tenantId, pattern: "*", days: 30, updatedAt: 2, updatedBy: "u1" });
        await a.auditRetention.putRule({ tenantId: a.tenantId, pattern: "tool_call.*", days: 120, updatedAt: 3, updatedBy: "u2" });
        assert.deepEqual(await a.auditRetention.listRules(), [
          { tenantId: a.tenantId, pattern: "*", days: 30, updatedAt: 2, updatedBy: "u1" },
          { tenantId: a.tenantId, pattern: "tool_call.*", days: 120, updatedAt: 3, updatedBy: "u2" },
        ]);
        assert.deepEqual(await b.auditRetention.listRules(), []);
        assert.equal(await b.auditRetention.deleteRule("*"), false);
        await assert.rejects(b.auditRetention.putRule({ tenantId: a.tenantId, pattern: "*", days: 1, updatedAt: 1, updatedBy: "x" }), withCode("INVALID_ARGUMENT"));
        assert.equal(await a.auditRetention.deleteRule("*"), true);
        assert.equal(await a.auditRetention.deleteRule("*"), false);
      });

      it("holds: place, get, duplicate id, release once, list active or all, tenant-scoped", async () => {
        const placed = hold(a.tenantId, { principalId: "usr_x", fromMs: 5, toMs: 9 });
        await a.auditRetention.placeHold(placed);
        assert.deepEqual(await a.auditRetention.getHold(placed.holdId), placed);
        await assert.rejects(a.auditRetention.placeHold(placed), withCode("ALREADY_EXISTS"));
        assert.equal(await b.auditRetention.getHold(placed.holdId), null);
        assert.equal(await b.auditRetention.releaseHold(placed.holdId, 2000, "usr_b"), false);
        assert.ok((await a.auditRetention.listHolds(false)).some((h) => h.holdId === placed.holdId));
        assert.equal(await a.auditRetention.releaseHold(placed.holdId, 2000, "usr_admin"), true);
        assert.equal(await a.auditRetention.releaseHold(placed.holdId, 3000, "usr_admin"), false);
        assert.ok(!(await a.auditRetention.listHolds(false)).some((h) => h.holdId === placed.holdId));
        const released = (await a.auditRetention.listHolds(true)).find((h) => h.holdId === placed.holdId);
        assert.deepEqual([released?.releasedAt, released?.releasedBy], [2000, "usr_admin"]);
      });

      it("subject keys: one live key per subject, lookup by ids, erase destroys the wrapped key, tenant-scoped", async () => {
        const first = key(a.tenantId, "usr_s");
        assert.equal(await a.auditSubjectKeys.create(first), true);
        assert.equal(await a.auditSubjectKeys.create(key(a.tenantId, "usr_s")), false, "a second live key for the subject is refused");
        assert.deepEqual(await a.auditSubjectKeys.activeKey("usr_s"), first);
        assert.equal(await b.auditSubjectKeys.activeKey("usr_s"), null);
        assert.deepEqual(await b.auditSubjectKeys.byKeyIds([first.keyId]), []);
        assert.equal(await b.auditSubjectKeys.erase("usr_s", 5000), 0);
        assert.equal(await a.auditSubjectKeys.erase("usr_s", 5000), 1);
        assert.equal(await a.auditSubjectKeys.activeKey("usr_s"), null);
        assert.deepEqual(await a.auditSubjectKeys.byKeyIds([first.keyId, "ask_unknown"]), [{ ...first, wrappedKey: "", erasedAt: 5000 }]);
        const next = key(a.tenantId, "usr_s");
        assert.equal(await a.auditSubjectKeys.create(next), true, "after erasure the subject may get a new key");
      });

      it("pruneExpired tombstones only expired, matching, unheld records of the tenant, keeping hashes and the chain", async () => {
        const tenant = store.forTenant(unique("ret"));
        const other = store.forTenant(unique("ret_other"));
        const now = 1_000 * DAY;
        const drafts = [
          auditDraft({ tenantId: tenant.tenantId, eventType: "tool_call.completed", timestampMs: now - 100 * DAY, principalId: "usr_1" }),
          auditDraft({ tenantId: tenant.tenantId, eventType: "tool_call.completed", timestampMs: now - 100 * DAY, principalId: "usr_held" }),
          auditDraft({ tenantId: tenant.tenantId, eventType: "tool_call.completed", timestampMs: now - 10 * DAY, principalId: "usr_1" }),
          auditDraft({ tenantId: tenant.tenantId, eventType: "toolbox.used", timestampMs: now - 100 * DAY }),
          auditDraft({ tenantId: tenant.tenantId, eventType: "authz.denied", timestampMs: now - 100 * DAY }),
          auditDraft({ tenantId: other.tenantId, eventType: "tool_call.completed", timestampMs: now - 100 * DAY }),
        ];
        const written = await store.platform.auditLog.append(drafts, chainLink(drafts));
        const plan: AuditPrunePlan = {
          tenantId: tenant.tenantId,
          steps: [
            { beforeMs: now - 90 * DAY, include: { kind: "prefix", value: "tool_call." }, exclude: [], typeFilter: null },
            { beforeMs: now - 30 * DAY, include: { kind: "any", value: "" }, exclude: [{ kind: "prefix", value: "tool_call." }], typeFilter: { mode: "exclude", types: ["authz.denied"] } },
          ],
          holds: [{ principalId: "usr_held", fromMs: 0, toMs: 0 }],
          limit: 100,
        };
        const result = await store.platform.auditPruning.pruneExpired(plan);
        assert.deepEqual(result, { count: 2, firstSeq: written[0]!.seq, lastSeq: written[3]!.seq });
        const after = await store.platform.auditLog.readRange(written[0]!.seq, drafts.length);
        assert.deepEqual(after.map((r) => r.tombstone ?? ""), ["retention", "", "", "retention", "", ""]);
        const gone = after[0]!;
        assert.deepEqual(
          { ...gone },
          {
            ...written[0]!,
            principalId: "", sessionId: "", resource: "", action: "", sourceIp: "", userAgent: "", correlationId: "", riskScore: "", policyViolations: [], metadata: {},
            tombstone: "retention",
          },
        );
        assert.equal((await store.platform.auditPruning.pruneExpired(plan)).count, 0, "a second pass finds nothing more");
        assert.equal((await store.platform.auditPruning.pruneExpired({ ...plan, limit: 0 })).count, 0);
        await assertWholeChain(store);
        const visible = await tenant.audit.query({ limit: 10 });
        assert.equal(visible.filter((r) => r.tombstone === "retention").length, 2, "tenant readers see the tombstones");
        await assert.rejects(store.platform.auditPruning.pruneExpired({ ...plan, tenantId: "" }), withCode("INVALID_ARGUMENT"));
      });
    });
    describe("policy rollouts", () => {
      const rollout = (tenantId: string, overrides: Partial<PolicyRolloutRecord> = {}): PolicyRolloutRecord => ({
        tenantId,
        rolloutId: unique("rol"),
        policyId: "cap",
        candidateVersion: 2,
        baselineVersion: 1,
        mode: "CANARY",
        percent: 10,
        principals: ["svc_alice", "role:beta"],
        threshold: 0.05,
        minSamples: 100,
        endsAt: 1_900_000_000_000,
        evaluated: 0,
        disagreements: 0,
        status: "RUNNING",
        approvalRequestId: "apr_1",
        startedBy: "usr_author",
        createdAt: 1_700_000_000_000,
        startedAt: 1_700_000_000_001,
        endedAt: 0,
        endedBy: "",
        endReason: "",
        revision: 0,
        ...overrides,
      });

      it("round-trips every field; lists by id with status, policy and cursor filters", async () => {
        const tenant = store.forTenant(unique("rol"));
        const first = rollout(tenant.tenantId, { rolloutId: "rol_a", threshold: 0.012345, status: "STOPPED", endedAt: 5, endedBy: "usr_x", endReason: "why" });
        const second = rollout(tenant.tenantId, { rolloutId: "rol_b", mode: "SHADOW", percent: 0, principals: [], policyId: "other" });
        await tenant.policyRollouts.create(second);
        await tenant.policyRollouts.create(first);
        assert.deepEqual(await tenant.policyRollouts.get("rol_a"), first);
        assert.equal(await tenant.policyRollouts.get("rol_missing"), null);
        assert.deepEqual((await tenant.policyRollouts.list({ limit: 10 })).map((r) => r.rolloutId), ["rol_a", "rol_b"]);
        assert.deepEqual((await tenant.policyRollouts.list({ limit: 10, status: "RUNNING" })).map((r) => r.rolloutId), ["rol_b"]);
        assert.deepEqual((await tenant.policyRollouts.list({ limit: 10, policyId: "cap" })).map((r) => r.rolloutId), ["rol_a"]);
        assert.deepEqual((await tenant.policyRollouts.list({ limit: 10, cursor: "rol_a" })).map((r) => r.rolloutId), ["rol_b"]);
        await assert.rejects(tenant.policyRollouts.create(first), withCode("ALREADY_EXISTS"));
      });

      it("keeps one live rollout (PENDING_APPROVAL or RUNNING) per tenant; ended ones do not count", async () => {
        const tenant = store.forTenant(unique("rol"));
        const live = rollout(tenant.tenantId, { status: "PENDING_APPROVAL" });
        await tenant.policyRollouts.create(live);
        await assert.rejects(tenant.policyRollouts.create(rollout(tenant.tenantId)), withCode("ALREADY_EXISTS"));
        await tenant.policyRollouts.create(rollout(tenant.tenantId, { status: "ROLLED_BACK" }));
        const neighbour = store.forTenant(unique("rol"));
        await neighbour.policyRollouts.create(rollout(neighbour.tenantId));
        await tenant.policyRollouts.update({ ...live, status: "STOPPED" }, 0);
        await tenant.policyRollouts.create(rollout(tenant.tenantId));
      });

      it("update replaces all but the counters, with optimistic revisions", async () => {
        const tenant = store.forTenant(unique("rol"));
        const record = rollout(tenant.tenantId);
        await tenant.policyRollouts.create(record);
        await tenant.policyRollouts.addCounts(record.rolloutId, 7, 2);
        await tenant.policyRollouts.update({ ...record, status: "PROMOTED", evaluated: 999, endReason: "done" }, 0);
        const stored = await tenant.policyRollouts.get(record.rolloutId);
        assert.deepEqual([stored?.status, stored?.evaluated, stored?.disagreements, stored?.endReason, stored?.revision], ["PROMOTED", 7, 2, "done", 1]);
        await assert.rejects(tenant.policyRollouts.update({ ...record, status: "STOPPED" }, 0), withCode("CONFLICT"));
        await assert.rejects(tenant.policyRollouts.update({ ...record, rolloutId: "rol_missing" }, 0), withCode("NOT_FOUND"));
      });

      it("addCounts from two Stores at once counts every increment and returns totals; nothing is added once it ended", async () => {
        const other = await open();
        const tenantId = unique("rol");
        const record = rollout(tenantId);
        await store.forTenant(tenantId).policyRollouts.create(record);
        const returned = await Promise.all(Array.from({ length: 10 }, (_, index) => (index % 2 === 0 ? store : other).forTenant(tenantId).policyRollouts.addCounts(record.rolloutId, 3, 1)));
        assert.deepEqual(returned.map((r) => r?.evaluated).sort((x, y) => (x ?? 0) - (y ?? 0)), [3, 6, 9, 12, 15, 18, 21, 24, 27, 30], "each increment returns its own totals");
        const totals = await other.forTenant(tenantId).policyRollouts.get(record.rolloutId);
        assert.deepEqual([totals?.evaluated, totals?.disagreements], [30, 10]);
        await store.forTenant(tenantId).policyRollouts.update({ ...record, status: "ROLLED_BACK" }, 0);
        assert.equal(await store.forTenant(tenantId).policyRollouts.addCounts(record.rolloutId, 5, 5), null);
        assert.equal((await store.forTenant(tenantId).policyRollouts.get(record.rolloutId))?.evaluated, 30);
      });

      it("tenant isolation: another tenant cannot read, list, count or write a rollout", async () => {
        const record = rollout(a.tenantId, { status: "STOPPED" });
        await a.policyRollouts.create(record);
        assert.equal(await b.policyRollouts.get(record.rolloutId), null);
        assert.ok(!(await b.policyRollouts.list({ limit: 500 })).some((r) => r.rolloutId === record.rolloutId));
        assert.equal(await b.policyRollouts.addCounts(record.rolloutId, 1, 1), null);
        await assert.rejects(b.policyRollouts.create(record), withCode("INVALID_ARGUMENT"));
        await assert.rejects(b.policyRollouts.update(record, 0), withCode("INVALID_ARGUMENT"));
        await assert.rejects(b.policyRollouts.update({ ...record, tenantId: b.tenantId }, 0), withCode("NOT_FOUND"));
      });
    });
  });
}
