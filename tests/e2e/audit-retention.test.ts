/**
 * Audit retention and erasure through the gateway, on SQLite and PostgreSQL: a tenant's rules
 * turn expired events into tombstones that the offline verifier accepts (and counts), inclusion
 * proofs of the remaining events still verify, a legal hold keeps what it covers, erasing a
 * subject leaves only ciphertext in the stored rows while verification and proofs still pass;
 * and the attacks: another tenant's hold, no permission, erasure under a hold, a rule below the
 * security floor. Time is advanced by asking the Host to sweep "as of" a later instant.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { Code } from "@connectrpc/connect";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import type { GetInclusionProofResponse } from "@aesp/proto/audit";
import type { AuditEvent } from "@aesp/proto/enterprise";
import type { AuditOutcome } from "@aesp/core";
import { verifyAuditInclusion, verifyAuditStore } from "@aesp/host";
import { assertRefused, postgresUrl, startTestHost } from "../support/harness.ts";
import type { Actor, StorageKind, TestHost } from "../support/harness.ts";

const DAY = 86_400_000;

/** Reads rows straight from the Host's database, as an administrator with database access could. */
async function rawRows(kind: StorageKind, flags: Record<string, unknown>, statement: string, params: unknown[]): Promise<Record<string, unknown>[]> {
  if (kind === "sqlite") {
    const db = new Database(path.join(String(flags["data_dir"]), "aesp.db"), { readonly: true });
    try {
      return db.prepare(statement).all(...params) as Record<string, unknown>[];
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${String(flags["storage.postgres_schema"])}`);
    let n = 0;
    return (await client.query(statement.replace(/\?/g, () => `$${++n}`), params)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

function servedInclusion(response: GetInclusionProofResponse) {
  const event = response.event!;
  return {
    event: {
      eventId: event.eventId,
      timestampMs: Number(event.timestampMs),
      eventType: event.eventType,
      tenantId: event.tenantId,
      principalId: event.principalId,
      sessionId: event.sessionId,
      resource: event.resource,
      action: event.action,
      outcome: event.outcome as AuditOutcome,
      sourceIp: event.sourceIp,
      userAgent: event.userAgent,
      correlationId: event.correlationId,
      riskScore: event.riskScore,
      policyViolations: [...event.policyViolations],
      metadata: { ...event.metadata },
    },
    leafIndex: Number(response.leafIndex),
    leafHash: response.leafHash,
    treeSize: Number(response.treeSize),
    proof: response.proof,
    signedNote: response.checkpoint!.signedNote,
  };
}

for (const kind of ["sqlite", "postgres"] as StorageKind[]) {
  void describe(`audit retention and erasure through the gateway (${kind})`, () => {
    let t: TestHost;
    let acme: Actor;
    let globex: Actor;
    let auditor: Actor;
    let held: Actor;
    let flags: Record<string, unknown>;
    let holdId: string;

    const audit = (actor: Actor) => actor.client(EnterpriseAuditService);
    const events = async (actor: Actor, principalId = ""): Promise<AuditEvent[]> => {
      const all: AuditEvent[] = [];
      let cursor = "";
      do {
        const page = await audit(actor).queryEvents({ limit: 1000, principalId, cursor });
        all.push(...page.events);
        cursor = page.nextCursor;
      } while (cursor !== "");
      return all;
    };
    const proofsVerify = async (actor: Actor, list: readonly AuditEvent[]) => {
      const keys = await audit(actor).getAuditVerifierKeys({});
      await audit(actor).getCheckpoint({});
      for (const event of list) {
        const response = await audit(actor).getInclusionProof({ eventId: event.eventId });
        const result = verifyAuditInclusion(servedInclusion(response), keys.keys.map((key) => key.verifierKey), keys.origin);
        assert.equal(result.ok, true, `${event.eventType} seq ${event.seq}: ${JSON.stringify(result)}`);
      }
    };

    before(async () => {
      t = await startTestHost(kind, { "audit.checkpoint_every": 7 });
      acme = await t.tenant("acme");
      globex = await t.tenant("globex");
      auditor = await t.actor("acme-auditor", ["auditor"], acme);
      held = await t.actor("acme-held", ["agent"], acme);
      for (let i = 0; i < 3; i++) await t.actor(`acme-agent-${i}`, ["agent"], acme);
      await t.actor("globex-agent", ["agent"], globex);
      flags = await t.storeFlags();
    });

    after(async () => {
      await t?.stop();
    });

    test("a rule below the security floor is refused; rules are listed with the default and floor", async () => {
      await assertRefused(audit(acme).setRetentionPolicy({ pattern: "audit.*", retentionDays: 30 }), "INVALID_ARGUMENT", Code.InvalidArgument);
      await assertRefused(audit(acme).setRetentionPolicy({ pattern: "security.cross_tenant_attempt", retentionDays: 364 }), "INVALID_ARGUMENT", Code.InvalidArgument);
      await assertRefused(audit(acme).setRetentionPolicy({ pattern: "tool_call", retentionDays: 30 }), "INVALID_ARGUMENT", Code.InvalidArgument);
      const set = await audit(acme).setRetentionPolicy({ pattern: "*", retentionDays: 30 });
      assert.deepEqual(set.policies.map((p) => [p.pattern, p.retentionDays]), [["*", 30]]);
      const listed = await audit(auditor).listRetentionPolicies({});
      assert.deepEqual(listed.policies.map((p) => p.pattern), ["*"]);
      assert.equal(listed.securityMinRetentionDays, 365);
      assert.equal(listed.defaultRetentionDays, 0);
    });

    test("without audit:manage_retention or audit:erase_subject nothing can be changed", async () => {
      await assertRefused(audit(auditor).setRetentionPolicy({ pattern: "*", retentionDays: 1 }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(audit(auditor).placeLegalHold({ reason: "x" }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(audit(auditor).eraseSubject({ principalId: held.principalId }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(audit(held).listLegalHolds({}), "AUTHORIZATION_DENIED", Code.PermissionDenied);
    });

    test("a legal hold is placed and audited; another tenant cannot see or release it", async () => {
      const placed = await audit(acme).placeLegalHold({ principalId: held.principalId, reason: "case 2026-17" });
      holdId = placed.hold!.holdId;
      assert.equal((await audit(auditor).listLegalHolds({})).holds.map((h) => h.holdId).includes(holdId), true);
      assert.equal((await audit(globex).listLegalHolds({ includeReleased: true })).holds.length, 0);
      await assertRefused(audit(globex).releaseLegalHold({ holdId }), "NOT_FOUND", Code.NotFound);
      // Another tenant's rules are its own: globex's rule changes nothing in acme.
      await audit(globex).setRetentionPolicy({ pattern: "*", retentionDays: 400 });
      assert.deepEqual((await audit(acme).listRetentionPolicies({})).policies.map((p) => [p.pattern, p.retentionDays]), [["*", 30]]);
      const placedEvent = (await events(auditor)).find((e) => e.eventType === "audit.legal_hold_placed");
      assert.equal(placedEvent?.resource, `legal_hold:${holdId}`);
    });

    test("the sweeper tombstones expired events except held and security ones, and the log still verifies offline", async () => {
      const before = await events(auditor);
      const globexBefore = await events(globex);
      const outcome = await t.host.applyAuditRetention(Date.now() + 100 * DAY);
      assert.ok(outcome.tombstoned > 0, JSON.stringify(outcome));
      const after = await events(auditor);
      const gone = after.filter((e) => e.tombstone === "retention");
      assert.ok(gone.length > 0);
      for (const e of gone) {
        assert.deepEqual([e.principalId, e.sourceIp, e.userAgent, e.resource, Object.keys(e.metadata).length], ["", "", "", "", 0], "a tombstone keeps no content");
        const original = before.find((b) => b.seq === e.seq)!;
        assert.deepEqual([e.eventId, e.eventType, e.timestampMs, e.leafHash, e.chainHash], [original.eventId, original.eventType, original.timestampMs, original.leafHash, original.chainHash]);
      }
      const kept = after.filter((e) => e.tombstone === "");
      const byHeld = before.filter((e) => e.principalId === held.principalId);
      assert.ok(byHeld.length > 0, "the held principal has events");
      for (const e of byHeld) assert.equal(after.find((a) => a.seq === e.seq)?.tombstone, "", "held events are kept");
      assert.ok(kept.some((e) => e.eventType.startsWith("audit.")), "security-floor events are kept");
      assert.ok(!gone.some((e) => e.eventType.startsWith("audit.") || e.eventType.startsWith("security.")));
      assert.deepEqual((await events(globex)).map((e) => e.tombstone), globexBefore.map(() => ""), "a tenant with a 400-day rule loses nothing");
      const applied = after.find((e) => e.eventType === "audit.retention_applied");
      assert.equal(applied?.metadata["tombstoned"], String(gone.length));

      const verified = await verifyAuditStore({ flags, publicKeyPem: t.host.auditPublicKeyPem });
      assert.equal(verified.ok, true, JSON.stringify(verified));
      assert.equal(verified.ok && verified.tombstones, outcome.tombstoned);
      await proofsVerify(auditor, kept);
    });

    test("releasing the hold lets the next sweep remove the held events; a second release is refused", async () => {
      const released = await audit(acme).releaseLegalHold({ holdId });
      assert.notEqual(released.hold?.releasedAt, 0n);
      await assertRefused(audit(acme).releaseLegalHold({ holdId }), "INVALID_STATE_TRANSITION", Code.FailedPrecondition);
      await t.host.applyAuditRetention(Date.now() + 100 * DAY);
      const byHeld = (await events(auditor)).filter((e) => e.tombstone === "" && e.principalId === held.principalId && !e.eventType.startsWith("audit."));
      assert.deepEqual(byHeld.map((e) => e.eventType), [], "no expired event of the formerly held principal remains");
      const verified = await verifyAuditStore({ flags, publicKeyPem: t.host.auditPublicKeyPem });
      assert.equal(verified.ok, true, JSON.stringify(verified));
    });

    test("erasure: refused under a legal hold, then destroys the subject key; stored rows hold only ciphertext; verify and proofs pass", async () => {
      const subject = await t.actor("acme-subject", ["agent"], acme);
      await audit(subject).listRetentionPolicies({}).catch(() => undefined);
      const own = (await events(auditor, subject.principalId)).filter((e) => e.sourceIp !== "");
      assert.ok(own.length > 0, "the subject has events with personal fields");
      const plainIp = own[0]!.sourceIp;
      assert.ok(!plainIp.startsWith("pd1:") && plainIp !== "[ERASED]", `revealed for an authorized reader (${plainIp})`);
      const stored = await rawRows(kind, flags, "select source_ip, user_agent from audit_events where principal_id = ?", [subject.principalId]);
      assert.ok(stored.length > 0 && stored.every((row) => String(row["source_ip"]).startsWith("pd1:") || row["source_ip"] === ""), "stored sealed");

      const hold = await audit(acme).placeLegalHold({ principalId: subject.principalId, reason: "case 2026-18" });
      await assertRefused(audit(acme).eraseSubject({ principalId: subject.principalId }), "LEGAL_HOLD_ACTIVE", Code.FailedPrecondition);
      await assertRefused(audit(globex).eraseSubject({ principalId: subject.principalId }), "NOT_FOUND", Code.NotFound);
      await audit(acme).releaseLegalHold({ holdId: hold.hold!.holdId });

      const erased = await audit(acme).eraseSubject({ principalId: subject.principalId });
      assert.equal(erased.keysDestroyed, 1);
      const after = (await events(auditor, subject.principalId)).filter((e) => e.tombstone === "" && !e.eventType.startsWith("audit."));
      assert.ok(after.some((e) => e.sourceIp === "[ERASED]"), "the subject's sealed fields now read [ERASED]");
      for (const e of after) {
        if (e.sourceIp !== "") assert.equal(e.sourceIp, "[ERASED]");
        if (e.userAgent !== "") assert.equal(e.userAgent, "[ERASED]");
      }
      const rows = await rawRows(kind, flags, "select source_ip, user_agent from audit_events where principal_id = ?", [subject.principalId]);
      for (const row of rows) assert.ok(!JSON.stringify(row).includes(plainIp) || plainIp === "", "no plaintext personal data in the stored rows");
      const keyRows = await rawRows(kind, flags, "select wrapped_key, erased_at from audit_subject_keys where subject_id = ?", [subject.principalId]);
      assert.deepEqual(keyRows.map((row) => row["wrapped_key"]), [""], "the wrapped key is gone");
      assert.ok((await events(auditor)).some((e) => e.eventType === "audit.subject_erased" && e.resource === `principal:${subject.principalId}`));

      const verified = await verifyAuditStore({ flags, publicKeyPem: t.host.auditPublicKeyPem });
      assert.equal(verified.ok, true, JSON.stringify(verified));
      await proofsVerify(auditor, own);
    });
  });
}
