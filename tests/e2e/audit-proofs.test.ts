/**
 * Audit proofs through the gateway, on SQLite and PostgreSQL: inclusion proofs verify on the
 * auditor's side with only the Host's verifier keys; another tenant's event is NOT_FOUND; a
 * record tampered with in the database no longer verifies; consistency proofs link checkpoints;
 * and rotating the audit signing key keeps old checkpoints verifiable with the retired key.
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
import type { AuditEventDraft, AuditOutcome } from "@aesp/core";
import { verifyAuditConsistency, verifyAuditInclusion } from "@aesp/host";
import { assertRefused, postgresUrl, startTestHost } from "../support/harness.ts";
import type { Actor, StorageKind, TestHost } from "../support/harness.ts";

/** The hashed fields of a wire event, as the core's canonical form reads them. */
function draftOfWire(event: AuditEvent): AuditEventDraft {
  return {
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
  };
}

function servedInclusion(response: GetInclusionProofResponse) {
  assert.ok(response.event !== undefined && response.checkpoint !== undefined);
  return {
    event: draftOfWire(response.event),
    leafIndex: Number(response.leafIndex),
    leafHash: response.leafHash,
    treeSize: Number(response.treeSize),
    proof: response.proof,
    signedNote: response.checkpoint.signedNote,
  };
}

/** Runs one SQL statement against the Host's own database, as an administrator with database access could. */
async function rawSql(kind: StorageKind, flags: Record<string, unknown>, statement: string, params: unknown[]): Promise<void> {
  if (kind === "sqlite") {
    const db = new Database(path.join(String(flags["data_dir"]), "aesp.db"));
    try {
      db.prepare(statement).run(...params);
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${String(flags["storage.postgres_schema"])}`);
    let n = 0;
    await client.query(
      statement.replace(/\?/g, () => `$${++n}`),
      params,
    );
  } finally {
    await client.end();
  }
}

for (const kind of ["sqlite", "postgres"] as StorageKind[]) {
  void describe(`audit proofs through the gateway (${kind})`, () => {
    let t: TestHost;
    let acme: Actor;
    let globex: Actor;
    let acmeAuditor: Actor;
    let keys: string[];
    let origin: string;

    const verifierKeys = async (actor: Actor): Promise<string[]> => {
      const response = await actor.client(EnterpriseAuditService).getAuditVerifierKeys({});
      origin = response.origin;
      return response.keys.map((key) => key.verifierKey);
    };
    const ownEvents = async (actor: Actor) => (await actor.client(EnterpriseAuditService).queryEvents({ limit: 1000 })).events;

    before(async () => {
      // A checkpoint every 7 records, so several exist and most events are inside one.
      t = await startTestHost(kind, { "audit.checkpoint_every": 7 });
      acme = await t.tenant("acme");
      globex = await t.tenant("globex");
      acmeAuditor = await t.actor("acme-auditor", ["auditor"], acme);
      for (let i = 0; i < 5; i++) await t.actor(`acme-agent-${i}`, ["agent"], acme);
      for (let i = 0; i < 3; i++) await t.actor(`globex-agent-${i}`, ["agent"], globex);
      keys = await verifierKeys(acmeAuditor);
    });

    after(async () => {
      await t?.stop();
    });

    test("every event of the caller's tenant has an inclusion proof that verifies against a signed checkpoint", async () => {
      const events = await ownEvents(acmeAuditor);
      assert.ok(events.length >= 6, `acme has events (${events.length})`);
      for (const event of events) {
        const response = await acmeAuditor.client(EnterpriseAuditService).getInclusionProof({ eventId: event.eventId });
        assert.equal(response.event?.eventId, event.eventId);
        assert.ok(response.treeSize > event.seq, "the checkpoint covers the event");
        const result = verifyAuditInclusion(servedInclusion(response), keys, origin);
        assert.equal(result.ok, true, JSON.stringify(result));
      }
    });

    test("a proof against an older checkpoint verifies too, and one the event is not inside is refused", async () => {
      const { checkpoints } = await acmeAuditor.client(EnterpriseAuditService).listCheckpoints({});
      assert.ok(checkpoints.length >= 2, "several checkpoints were signed");
      const last = checkpoints.at(-1)!;
      const [event] = await ownEvents(acmeAuditor);
      const inside = checkpoints.find((checkpoint) => checkpoint.treeSize > event!.seq)!;
      const response = await acmeAuditor.client(EnterpriseAuditService).getInclusionProof({ seq: event!.seq, treeSize: inside.treeSize });
      assert.equal(response.treeSize, inside.treeSize);
      assert.equal(verifyAuditInclusion(servedInclusion(response), keys, origin).ok, true);
      const outside = checkpoints.find((checkpoint) => checkpoint.treeSize <= event!.seq);
      if (outside !== undefined) {
        await assertRefused(acmeAuditor.client(EnterpriseAuditService).getInclusionProof({ seq: event!.seq, treeSize: outside.treeSize }), "INVALID_ARGUMENT", Code.InvalidArgument);
      }
      await assertRefused(acmeAuditor.client(EnterpriseAuditService).getInclusionProof({ eventId: event!.eventId, treeSize: last.treeSize + 1000n }), "NOT_FOUND", Code.NotFound);
    });

    test("another tenant's event is NOT_FOUND, by id and by position, exactly like an unknown event", async () => {
      const [foreign] = await ownEvents(globex);
      assert.ok(foreign !== undefined);
      await assertRefused(acmeAuditor.client(EnterpriseAuditService).getInclusionProof({ eventId: foreign.eventId }), "NOT_FOUND", Code.NotFound);
      await assertRefused(acme.client(EnterpriseAuditService).getInclusionProof({ seq: foreign.seq }), "NOT_FOUND", Code.NotFound);
      await assertRefused(acmeAuditor.client(EnterpriseAuditService).getInclusionProof({ eventId: "evt_does_not_exist" }), "NOT_FOUND", Code.NotFound);
    });

    test("a principal without audit permissions gets no proof", async () => {
      const agent = await t.actor("acme-agent-x", ["agent"], acme);
      const [event] = await ownEvents(acmeAuditor);
      await assertRefused(agent.client(EnterpriseAuditService).getInclusionProof({ eventId: event!.eventId }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(agent.client(EnterpriseAuditService).getCheckpoint({}), "AUTHORIZATION_DENIED", Code.PermissionDenied);
    });

    test("consistency proofs link every pair of checkpoints, and verify", async () => {
      const { checkpoints } = await acmeAuditor.client(EnterpriseAuditService).listCheckpoints({ limit: 2 });
      const all = [...checkpoints];
      let cursor = (await acmeAuditor.client(EnterpriseAuditService).listCheckpoints({ limit: 2 })).nextCursor;
      while (cursor !== "") {
        const page = await acmeAuditor.client(EnterpriseAuditService).listCheckpoints({ limit: 2, cursor });
        all.push(...page.checkpoints);
        cursor = page.nextCursor;
      }
      assert.deepEqual(
        all.map((checkpoint) => checkpoint.treeSize),
        [...new Set(all.map((checkpoint) => checkpoint.treeSize))].sort((a, b) => Number(a - b)),
        "paging returns every checkpoint once, ascending",
      );
      for (const older of [0n, ...all.map((checkpoint) => checkpoint.treeSize)]) {
        const response = await acmeAuditor.client(EnterpriseAuditService).getConsistencyProof({ oldSize: older });
        const result = verifyAuditConsistency(
          { oldSize: Number(older), oldNote: response.oldCheckpoint?.signedNote ?? "", newNote: response.newCheckpoint?.signedNote ?? "", proof: response.proof },
          keys,
          origin,
        );
        assert.equal(result.ok, true, `${older}: ${JSON.stringify(result)}`);
      }
      await assertRefused(acmeAuditor.client(EnterpriseAuditService).getConsistencyProof({ oldSize: all.at(-1)!.treeSize + 1n }), "INVALID_ARGUMENT", Code.InvalidArgument);
      const forged = await acmeAuditor.client(EnterpriseAuditService).getConsistencyProof({ oldSize: all[0]!.treeSize });
      const flipped = forged.proof.map((node, i) => (i === 0 ? `${node.slice(0, -1)}${node.endsWith("0") ? "1" : "0"}` : node));
      const bad = verifyAuditConsistency({ oldSize: Number(all[0]!.treeSize), oldNote: forged.oldCheckpoint!.signedNote, newNote: forged.newCheckpoint!.signedNote, proof: flipped }, keys, origin);
      assert.equal(bad.ok, false, "a modified consistency proof fails");
    });

    test("tampering with a stored record makes its proof fail verification", async () => {
      const [event] = await ownEvents(acmeAuditor);
      const flags = await t.storeFlags();
      await rawSql(kind, flags, "update audit_events set resource = ? where event_id = ?", ["tenant:someone-else", event!.eventId]);
      try {
        const response = await acmeAuditor.client(EnterpriseAuditService).getInclusionProof({ eventId: event!.eventId });
        const result = verifyAuditInclusion(servedInclusion(response), keys, origin);
        assert.equal(result.ok, false);
        assert.match(result.ok ? "" : result.reason, /leaf hash mismatch/);
        // A forger who also rewrites the leaf hash is caught by the signed root instead.
        const forged = { ...servedInclusion(response) };
        const { leafHash } = await import("@aesp/core/audit");
        const { createHash } = await import("node:crypto");
        forged.leafHash = Buffer.from(leafHash(forged.event, { sha256: (d) => new Uint8Array(createHash("sha256").update(d).digest()) })).toString("hex");
        const second = verifyAuditInclusion(forged, keys, origin);
        assert.equal(second.ok, false);
        assert.match(second.ok ? "" : second.reason, /signed root/);
      } finally {
        await rawSql(kind, flags, "update audit_events set resource = ? where event_id = ?", [event!.resource, event!.eventId]);
      }
      const restored = await acmeAuditor.client(EnterpriseAuditService).getInclusionProof({ eventId: event!.eventId });
      assert.equal(verifyAuditInclusion(servedInclusion(restored), keys, origin).ok, true, "restored");
    });

    test("key rotation: later checkpoints use the new key, old ones stay verifiable with the retired key", async () => {
      await assertRefused(acme.client(EnterpriseAuditService).rotateAuditSigningKey({}), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      const before = await acmeAuditor.client(EnterpriseAuditService).getCheckpoint({});
      const [event] = await ownEvents(acmeAuditor);
      const oldProof = await acmeAuditor.client(EnterpriseAuditService).getInclusionProof({ eventId: event!.eventId, treeSize: before.checkpoint!.treeSize });

      const rotated = await t.admin.client(EnterpriseAuditService).rotateAuditSigningKey({});
      assert.notEqual(rotated.keyId, rotated.previousKeyId);
      assert.equal(rotated.checkpoint?.keyId, rotated.keyId, "the Host signs a checkpoint with the new key at once");

      const listed = await acmeAuditor.client(EnterpriseAuditService).getAuditVerifierKeys({});
      const previous = listed.keys.find((key) => key.keyId === rotated.previousKeyId);
      const current = listed.keys.find((key) => key.keyId === rotated.keyId);
      assert.ok(previous !== undefined && previous.retiredAt > 0n, "the old key is listed as retired");
      assert.ok(current !== undefined && current.retiredAt === 0n, "the new key is current");
      const allKeys = listed.keys.map((key) => key.verifierKey);

      assert.equal(verifyAuditInclusion(servedInclusion(oldProof), allKeys, origin).ok, true, "old checkpoint verifies with the retired key listed");
      const onlyNew = verifyAuditInclusion(servedInclusion(oldProof), [current.verifierKey], origin);
      assert.equal(onlyNew.ok, false);
      assert.match(onlyNew.ok ? "" : onlyNew.reason, /unknown key/);

      const after = await acmeAuditor.client(EnterpriseAuditService).getInclusionProof({ eventId: event!.eventId });
      assert.equal(after.checkpoint?.keyId, rotated.keyId);
      assert.equal(verifyAuditInclusion(servedInclusion(after), [current.verifierKey], origin).ok, true, "new checkpoints verify with the new key");
      const bridge = await acmeAuditor.client(EnterpriseAuditService).getConsistencyProof({ oldSize: before.checkpoint!.treeSize });
      assert.equal(
        verifyAuditConsistency({ oldSize: Number(before.checkpoint!.treeSize), oldNote: bridge.oldCheckpoint!.signedNote, newNote: bridge.newCheckpoint!.signedNote, proof: bridge.proof }, allKeys, origin).ok,
        true,
        "the log signed by the new key extends the one signed by the old key",
      );
    });
  });
}
