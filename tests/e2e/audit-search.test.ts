/**
 * Audit search through the gateway, on SQLite and PostgreSQL: every filter, cursor pagination
 * that returns each event exactly once while events are being appended, tenant confinement
 * (a tenant filter naming another tenant is refused as NOT_FOUND and audited; a tenant's own
 * `platform-auditor` role grants nothing beyond its tenant), the platform auditor who sees every
 * tenant, and GetAuditStatistics.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import type { QueryEventsRequest } from "@aesp/proto/audit";
import type { AuditEvent } from "@aesp/proto/enterprise";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { QueryEventsRequestSchema } from "@aesp/proto/audit";
import { assertRefused, startTestHost } from "../support/harness.ts";
import type { Actor, StorageKind, TestHost } from "../support/harness.ts";

type Query = MessageInitShape<typeof QueryEventsRequestSchema>;

/** Every page of a query, with the page size given. */
async function allPages(actor: Actor, query: Query, limit: number): Promise<AuditEvent[][]> {
  const pages: AuditEvent[][] = [];
  let cursor = "";
  do {
    const page = await actor.client(EnterpriseAuditService).queryEvents({ ...query, limit, cursor } satisfies Partial<QueryEventsRequest>);
    assert.ok(page.events.length <= limit);
    pages.push(page.events);
    cursor = page.nextCursor;
  } while (cursor !== "");
  return pages;
}

for (const kind of ["sqlite", "postgres"] as StorageKind[]) {
  void describe(`audit search through the gateway (${kind})`, () => {
    let t: TestHost;
    let acme: Actor;
    let globex: Actor;
    let acmeAuditor: Actor;
    let platformAuditor: Actor;

    before(async () => {
      t = await startTestHost(kind);
      acme = await t.tenant("acme");
      globex = await t.tenant("globex");
      acmeAuditor = await t.actor("acme-auditor", ["auditor"], acme);
      for (let i = 0; i < 4; i++) await t.actor(`acme-agent-${i}`, ["agent"], acme);
      for (let i = 0; i < 3; i++) await t.actor(`globex-agent-${i}`, ["agent"], globex);
      platformAuditor = await t.actor("platform-auditor", ["platform-auditor"]);
    });

    after(async () => {
      await t?.stop();
    });

    test("a tenant reads only its own events; naming another tenant is NOT_FOUND and audited", async () => {
      const own = (await allPages(acmeAuditor, {}, 1000)).flat();
      assert.ok(own.length > 0 && own.every((event) => event.tenantId === "acme"));
      await assertRefused(acmeAuditor.client(EnterpriseAuditService).queryEvents({ tenantId: "globex" }), "NOT_FOUND", Code.NotFound);
      const attempts = (await allPages(acmeAuditor, { eventTypes: ["security.cross_tenant_attempt"] }, 100)).flat();
      assert.ok(attempts.some((event) => event.metadata["named_tenant"] === "globex"), "the attempt is audited in the caller's tenant");
      await assertRefused(acmeAuditor.client(EnterpriseAuditService).getAuditStatistics({ tenantId: "globex" }), "NOT_FOUND", Code.NotFound);
    });

    test("the platform-auditor role held inside a tenant does not cross tenants", async () => {
      const impostor = await t.actor("acme-platform-auditor", ["platform-auditor"], acme);
      const seen = (await allPages(impostor, {}, 1000)).flat();
      assert.ok(seen.length > 0 && seen.every((event) => event.tenantId === "acme"));
      await assertRefused(impostor.client(EnterpriseAuditService).queryEvents({ tenantId: "globex" }), "NOT_FOUND", Code.NotFound);
      const [foreign] = (await allPages(globex, {}, 1)).flat();
      await assertRefused(impostor.client(EnterpriseAuditService).getInclusionProof({ eventId: foreign!.eventId }), "NOT_FOUND", Code.NotFound);
    });

    test("the platform auditor sees every tenant, or the one it names", async () => {
      const all = (await allPages(platformAuditor, {}, 1000)).flat();
      const tenants = new Set(all.map((event) => event.tenantId));
      assert.ok(tenants.has("acme") && tenants.has("globex"), [...tenants].join(","));
      const globexOnly = (await allPages(platformAuditor, { tenantId: "globex" }, 1000)).flat();
      assert.ok(globexOnly.length > 0 && globexOnly.every((event) => event.tenantId === "globex"));
      assert.deepEqual(
        globexOnly.map((event) => event.eventId),
        (await allPages(globex, {}, 1000)).flat().map((event) => event.eventId),
        "exactly globex's own view",
      );
      const [foreign] = globexOnly;
      const proof = await platformAuditor.client(EnterpriseAuditService).getInclusionProof({ eventId: foreign!.eventId });
      assert.equal(proof.event?.tenantId, "globex");
      const stats = await platformAuditor.client(EnterpriseAuditService).getAuditStatistics({ tenantId: "globex" });
      assert.equal(stats.totalEvents, BigInt(globexOnly.length));
    });

    test("pagination returns every event exactly once while events are appended", async () => {
      const before = (await allPages(acmeAuditor, {}, 1000)).flat().length;
      const seen: AuditEvent[] = [];
      let cursor = "";
      let appended = 0;
      for (;;) {
        const page = await acmeAuditor.client(EnterpriseAuditService).queryEvents({ limit: 3, cursor });
        seen.push(...page.events);
        if (appended < 4) {
          // Appends land after the cursor position and must show up exactly once on later pages.
          await t.actor(`acme-late-${appended++}`, ["agent"], acme);
        }
        if (page.nextCursor === "") break;
        cursor = page.nextCursor;
      }
      const ids = seen.map((event) => event.eventId);
      assert.equal(new Set(ids).size, ids.length, "no event twice");
      const seqs = seen.map((event) => Number(event.seq));
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "ascending");
      const everything = (await allPages(acmeAuditor, {}, 1000)).flat();
      const last = seqs.at(-1)!;
      assert.deepEqual(ids, everything.filter((event) => Number(event.seq) <= last).map((event) => event.eventId), "no event skipped");
      assert.ok(seen.length > before, `events appended while paging were reached (${seen.length} > ${before})`);
    });

    test("every filter narrows the result to matching events", async () => {
      const everything = (await allPages(acmeAuditor, {}, 1000)).flat();
      const sample = everything.find((event) => Object.keys(event.metadata).length > 0 && event.principalId !== "" && event.correlationId !== "")!;
      assert.ok(sample !== undefined, "some event has metadata, a principal and a correlation id");
      const check = async (query: Query, matches: (event: AuditEvent) => boolean) => {
        const got = (await allPages(acmeAuditor, query, 1000)).flat();
        assert.deepEqual(
          got.map((event) => event.eventId),
          everything.filter(matches).map((event) => event.eventId),
          JSON.stringify(query, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)),
        );
        return got;
      };
      assert.ok((await check({ eventTypes: [sample.eventType] }, (e) => e.eventType === sample.eventType)).length > 0);
      assert.ok((await check({ principalId: sample.principalId }, (e) => e.principalId === sample.principalId)).length > 0);
      assert.ok((await check({ correlationId: sample.correlationId }, (e) => e.correlationId === sample.correlationId)).length > 0);
      assert.ok((await check({ outcome: sample.outcome }, (e) => e.outcome === sample.outcome)).length > 0);
      const [key, value] = Object.entries(sample.metadata)[0]!;
      assert.ok((await check({ metadata: { [key]: value } }, (e) => e.metadata[key] === value)).length > 0);
      assert.ok((await check({ filters: { [`metadata.${key}`]: value } }, (e) => e.metadata[key] === value)).length > 0);
      assert.ok((await check({ filters: { resource: sample.resource } }, (e) => e.resource === sample.resource)).length > 0);
      await check({ contractId: "no-such-contract" }, (e) => e.resource === "contract:no-such-contract");
      await check({ startTime: sample.timestampMs, endTime: sample.timestampMs + 1n }, (e) => e.timestampMs === sample.timestampMs);
      await check({ outcome: "ERROR", eventTypes: [sample.eventType] }, (e) => e.outcome === "ERROR" && e.eventType === sample.eventType);

      const query = acmeAuditor.client(EnterpriseAuditService);
      await assertRefused(query.queryEvents({ filters: { tenant_id: "globex" } }), "INVALID_ARGUMENT", Code.InvalidArgument);
      await assertRefused(query.queryEvents({ outcome: "MAYBE" }), "INVALID_ARGUMENT", Code.InvalidArgument);
      await assertRefused(query.queryEvents({ cursor: "12abc" }), "INVALID_ARGUMENT", Code.InvalidArgument);
      await assertRefused(query.queryEvents({ metadata: { "bad'key": "x" } }), "INVALID_ARGUMENT", Code.InvalidArgument);
      await assertRefused(query.queryEvents({ contractId: "c", filters: { resource: "contract:d" } }), "INVALID_ARGUMENT", Code.InvalidArgument);
    });

    test("GetAuditStatistics counts the caller's tenant by type, outcome and day", async () => {
      const everything = (await allPages(acmeAuditor, {}, 1000)).flat();
      const stats = await acmeAuditor.client(EnterpriseAuditService).getAuditStatistics({});
      assert.equal(stats.totalEvents, BigInt(everything.length));
      const byType: Record<string, bigint> = {};
      for (const event of everything) byType[event.eventType] = (byType[event.eventType] ?? 0n) + 1n;
      assert.deepEqual(stats.eventsByType, byType);
      const sum = (values: Record<string, bigint>) => Object.values(values).reduce((a, b) => a + b, 0n);
      assert.equal(sum(stats.eventsByOutcome), stats.totalEvents);
      assert.equal(sum(stats.eventsByDay), stats.totalEvents);
      const today = new Date(Number(everything.at(-1)!.timestampMs)).toISOString().slice(0, 10);
      assert.ok(stats.eventsByDay[today] !== undefined && stats.eventsByDay[today] > 0n);
      assert.ok(stats.logSize >= stats.totalEvents);
      const empty = await acmeAuditor.client(EnterpriseAuditService).getAuditStatistics({ startTime: 1n, endTime: 2n });
      assert.equal(empty.totalEvents, 0n);
    });
  });
}
