import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { AuditEventDraft, AuditRecord, Store } from "@aesp/core";
import { ERASED, UNREADABLE, leafHash, toHex } from "@aesp/core/audit";
import { MASTER_KEY_ENV, generateMasterKeyText, loadOrCreateMasterKey } from "../crypto/master-key.ts";
import type { MasterKey } from "../crypto/master-key.ts";
import { nodeHasher, nodeIdSource, systemClock } from "../crypto/node-crypto-ports.ts";
import { openStore } from "../storage/index.ts";
import { AuditSubjectCipher } from "./subject-cipher.ts";

function draft(over: Partial<AuditEventDraft> = {}): AuditEventDraft {
  return {
    eventId: nodeIdSource.newId("evt"), timestampMs: 1, eventType: "tool_call.completed", tenantId: "acme", principalId: "usr_1", sessionId: "", resource: "r", action: "a",
    outcome: "SUCCESS", sourceIp: "192.0.2.7", userAgent: "agent/1.0", correlationId: "", riskScore: "", policyViolations: [], metadata: { email: "ada@example.com", tool: "x" }, ...over,
  };
}

const asRecord = (event: AuditEventDraft): AuditRecord => ({ ...event, seq: 0, leafHash: toHex(leafHash(event, nodeHasher)), chainHash: "" });

describe("AuditSubjectCipher", () => {
  let dir: string;
  let store: Store;
  let masterKey: MasterKey;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "aesp-subject-cipher-"));
    masterKey = await loadOrCreateMasterKey({ dataDir: dir, env: { [MASTER_KEY_ENV]: generateMasterKeyText() } });
    store = await openStore({ kind: "sqlite", path: join(dir, "aesp.db") });
  });

  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("seals personal fields under one key per subject and reveals them; other fields and subjectless events are untouched", async () => {
    const cipher = new AuditSubjectCipher({ store, masterKey, clock: systemClock, ids: nodeIdSource });
    const events = [draft(), draft({ userAgent: "" }), draft({ principalId: "" })];
    const sealed = await cipher.protect(events);
    assert.match(sealed[0]!.sourceIp, /^pd1:ask_/);
    assert.match(sealed[0]!.metadata["email"]!, /^pd1:/);
    assert.equal(sealed[0]!.metadata["tool"], "x");
    assert.equal(sealed[1]!.userAgent, "");
    assert.equal(sealed[2], events[2], "no subject: the same object");
    assert.equal(sealed[0]!.sourceIp.split(":")[1], sealed[1]!.sourceIp.split(":")[1], "one key per subject");
    assert.ok(!JSON.stringify(sealed[0]).includes("192.0.2.7") && !JSON.stringify(sealed[0]).includes("ada@"));
    const revealed = await new AuditSubjectCipher({ store, masterKey, clock: systemClock, ids: nodeIdSource }).reveal(sealed.map(asRecord));
    assert.deepEqual([revealed[0]!.sourceIp, revealed[0]!.userAgent, revealed[0]!.metadata["email"]], ["192.0.2.7", "agent/1.0", "ada@example.com"]);
  });

  it("a ciphertext moved to another event or field does not open", async () => {
    const cipher = new AuditSubjectCipher({ store, masterKey, clock: systemClock, ids: nodeIdSource });
    const [a, b] = await cipher.protect([draft(), draft()]);
    const moved = { ...b!, sourceIp: a!.sourceIp, userAgent: a!.sourceIp };
    const [revealed] = await cipher.reveal([asRecord(moved)]);
    assert.deepEqual([revealed!.sourceIp, revealed!.userAgent], [UNREADABLE, UNREADABLE]);
  });

  it("erasure destroys the key: this reader and a fresh one see [ERASED], the leaf hash is unchanged, later events get a new key", async () => {
    const cipher = new AuditSubjectCipher({ store, masterKey, clock: systemClock, ids: nodeIdSource });
    const [sealed] = await cipher.protect([draft({ principalId: "usr_erase" })]);
    const record = asRecord(sealed!);
    assert.equal(await cipher.erase("acme", "usr_erase"), 1);
    const [revealed] = await cipher.reveal([record]);
    assert.deepEqual([revealed!.sourceIp, revealed!.metadata["email"], revealed!.metadata["tool"]], [ERASED, ERASED, "x"]);
    assert.equal(toHex(leafHash(record, nodeHasher)), record.leafHash);
    const fresh = new AuditSubjectCipher({ store, masterKey, clock: systemClock, ids: nodeIdSource });
    assert.equal((await fresh.reveal([record]))[0]!.sourceIp, ERASED);
    const [next] = await cipher.protect([draft({ principalId: "usr_erase" })]);
    assert.notEqual(next!.sourceIp.split(":")[1], sealed!.sourceIp.split(":")[1], "a later event gets a new key");
  });
});
