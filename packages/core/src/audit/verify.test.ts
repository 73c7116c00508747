import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Signer } from "../ports.ts";
import type { AuditCheckpointRecord, AuditRecord } from "../records.ts";
import { linkRecords } from "./canonical.ts";
import { signCheckpoint, type TrustedKey } from "./checkpoint.ts";
import { ZERO_HASH_HEX, toHex } from "./encoding.ts";
import { merkleRoot } from "./merkle.ts";
import { AuditLogVerifier, verifyAuditLog, type AuditVerification } from "./verify.ts";
import { buildLog, draft, ed25519Signer, ed25519Verifier, sha256 } from "./test-kit.test.ts";

const ORIGIN = "aesp.test/audit";
const oldKey = ed25519Signer("audit-2023");
const newKey = ed25519Signer("audit-2024");
const attacker = ed25519Signer("evil");
const trust = (...signers: Signer[]): TrustedKey[] => signers.map((s) => ({ keyName: ORIGIN, publicKey: s.publicKey }));

async function checkpointOf(records: readonly AuditRecord[], size: number, signer: Signer): Promise<AuditCheckpointRecord> {
  const rootHash = toHex(merkleRoot(records.slice(0, size).map((r) => Buffer.from(r.leafHash, "hex")), sha256));
  const chainHash = size === 0 ? ZERO_HASH_HEX : records[size - 1]!.chainHash;
  const signedNote = await signCheckpoint({ origin: ORIGIN, treeSize: size, rootHash, chainHash }, signer, sha256);
  return { treeSize: size, rootHash, chainHash, signedNote, keyId: signer.keyId, createdAt: 0 };
}

/** Re-links records from `from` on, as an attacker with write access to the store would after an edit. */
function relinkFrom(records: AuditRecord[], from: number): AuditRecord[] {
  const head = { size: from, chainHash: from === 0 ? ZERO_HASH_HEX : records[from - 1]!.chainHash };
  return [...records.slice(0, from), ...linkRecords(head, records.slice(from), sha256)];
}

async function fixture() {
  const records = buildLog(50);
  const checkpoints = [await checkpointOf(records, 10, oldKey), await checkpointOf(records, 20, oldKey), await checkpointOf(records, 40, newKey)];
  return { records, checkpoints };
}

async function verify(records: AuditRecord[], checkpoints: AuditCheckpointRecord[], trustedKeys = trust(oldKey, newKey)): Promise<AuditVerification> {
  return verifyAuditLog({ records, checkpoints, trustedKeys, hasher: sha256, verifier: ed25519Verifier, origin: ORIGIN });
}

function failure(result: AuditVerification) {
  assert.equal(result.ok, false, "verification should fail");
  return result;
}

describe("verifyAuditLog", () => {
  it("accepts an intact log and reports what checkpoints cover", async () => {
    const { records, checkpoints } = await fixture();
    const result = await verify(records, [...checkpoints].reverse());
    assert.deepEqual(result, {
      ok: true,
      size: 50,
      rootHash: toHex(merkleRoot(records.map((r) => Buffer.from(r.leafHash, "hex")), sha256)),
      chainHash: records[49]!.chainHash,
      lastCheckpoint: {
        treeSize: 40,
        rootHash: checkpoints[2]!.rootHash,
        chainHash: records[39]!.chainHash,
        keyName: ORIGIN,
        keyId: signatureKeyId(checkpoints[2]!),
      },
      uncheckpointed: 10,
      tombstones: 0,
    });
  });

  it("detects a modified field at its seq", async () => {
    const { records, checkpoints } = await fixture();
    records[25] = { ...records[25]!, principalId: "usr_admin" };
    assert.deepEqual(failure(await verify(records, checkpoints)), {
      ok: false,
      firstBadSeq: 25,
      eventId: "evt_25",
      reason: "leaf hash mismatch (event modified)",
    });
  });

  it("detects a modified field whose leaf hash was recomputed, by the chain", async () => {
    const { records, checkpoints } = await fixture();
    const edited = linkRecords({ size: 25, chainHash: records[24]!.chainHash }, [{ ...records[25]!, outcome: "SUCCESS", metadata: {} }], sha256)[0]!;
    records[25] = { ...edited, chainHash: records[25]!.chainHash };
    const result = failure(await verify(records, checkpoints));
    assert.equal(result.firstBadSeq, 25);
    assert.equal(result.reason, "chain hash mismatch");
  });

  it("detects an edit whose whole chain was recomputed, by the next checkpoint", async () => {
    const { records, checkpoints } = await fixture();
    records[25] = { ...records[25]!, principalId: "usr_admin" };
    const rewritten = relinkFrom(records, 25);
    assert.deepEqual(failure(await verify(rewritten, checkpoints)), {
      ok: false,
      firstBadSeq: 20,
      eventId: "evt_20",
      reason: "checkpoint root mismatch (log rewritten after signing)",
      checkpointTreeSize: 40,
    });
  });

  it("detects a deleted record", async () => {
    const { records, checkpoints } = await fixture();
    records.splice(25, 1);
    assert.deepEqual(failure(await verify(records, checkpoints)), {
      ok: false,
      firstBadSeq: 25,
      eventId: "evt_26",
      reason: "sequence gap (event deleted or inserted)",
    });
    const renumbered = relinkFrom(records, 25);
    const result = failure(await verify(renumbered, checkpoints));
    assert.equal(result.firstBadSeq, 20);
    assert.equal(result.checkpointTreeSize, 40);
  });

  it("detects an inserted record", async () => {
    const { records, checkpoints } = await fixture();
    const forged = linkRecords({ size: 25, chainHash: records[24]!.chainHash }, [draft(999)], sha256)[0]!;
    const withInsert = [...records.slice(0, 25), forged, ...records.slice(25)];
    assert.deepEqual(failure(await verify(withInsert, checkpoints)), {
      ok: false,
      firstBadSeq: 26,
      eventId: "evt_25",
      reason: "sequence regression (event duplicated or reordered)",
    });
    const renumbered = relinkFrom(withInsert, 25);
    assert.equal(failure(await verify(renumbered, checkpoints)).reason, "checkpoint root mismatch (log rewritten after signing)");
  });

  it("detects two swapped records, with or without their seq numbers", async () => {
    const { records, checkpoints } = await fixture();
    const swapped = [...records];
    [swapped[30], swapped[31]] = [swapped[31]!, swapped[30]!];
    assert.deepEqual(failure(await verify(swapped, checkpoints)), {
      ok: false,
      firstBadSeq: 30,
      eventId: "evt_31",
      reason: "sequence gap (event deleted or inserted)",
    });
    const contentSwapped = [...records];
    contentSwapped[30] = { ...records[31]!, seq: 30 };
    contentSwapped[31] = { ...records[30]!, seq: 31 };
    const result = failure(await verify(contentSwapped, checkpoints));
    assert.equal(result.firstBadSeq, 30);
    assert.equal(result.reason, "chain hash mismatch");
  });

  it("detects truncation below a checkpoint", async () => {
    const { records, checkpoints } = await fixture();
    assert.deepEqual(failure(await verify(records.slice(0, 35), checkpoints)), {
      ok: false,
      firstBadSeq: 35,
      eventId: "",
      reason: "log truncated below checkpoint",
      checkpointTreeSize: 40,
    });
    // Above the newest checkpoint only the chain protects the tail: the result says how much.
    const tail = await verify(records.slice(0, 45), checkpoints);
    assert.equal(tail.ok && tail.uncheckpointed, 5);
  });

  it("detects a forged checkpoint: tampered note or record fields", async () => {
    const { records, checkpoints } = await fixture();
    const fakeNote = { ...checkpoints[2]!, signedNote: checkpoints[2]!.signedNote.replace("\n40\n", "\n39\n"), treeSize: 39 };
    assert.deepEqual(failure(await verify(records, [checkpoints[0]!, checkpoints[1]!, fakeNote])), {
      ok: false,
      firstBadSeq: 20,
      eventId: "evt_20",
      reason: "checkpoint signature invalid",
      checkpointTreeSize: 39,
    });
    const fakeFields = { ...checkpoints[1]!, rootHash: "00".repeat(32) };
    assert.deepEqual(failure(await verify(records, [checkpoints[0]!, fakeFields, checkpoints[2]!])), {
      ok: false,
      firstBadSeq: 10,
      eventId: "evt_10",
      reason: "checkpoint record does not match its signed note",
      checkpointTreeSize: 20,
    });
  });

  it("refuses a checkpoint signed by an unknown key, even over a rewritten log that matches it", async () => {
    const { records, checkpoints } = await fixture();
    records[25] = { ...records[25]!, principalId: "usr_admin" };
    const rewritten = relinkFrom(records, 25);
    const resigned = await checkpointOf(rewritten, 40, attacker);
    assert.deepEqual(failure(await verify(rewritten, [checkpoints[0]!, checkpoints[1]!, resigned])), {
      ok: false,
      firstBadSeq: 20,
      eventId: "evt_20",
      reason: "checkpoint signed by an unknown key",
      checkpointTreeSize: 40,
    });
  });

  it("keeps checkpoints of a rotated key verifiable while it is trusted", async () => {
    const { records, checkpoints } = await fixture();
    assert.equal((await verify(records, checkpoints, trust(oldKey, newKey))).ok, true);
    const withoutOld = failure(await verify(records, checkpoints, trust(newKey)));
    assert.equal(withoutOld.reason, "checkpoint signed by an unknown key");
    assert.equal(withoutOld.firstBadSeq, 0);
    assert.equal(withoutOld.checkpointTreeSize, 10);
  });

  it("checks the origin of every checkpoint", async () => {
    const { records, checkpoints } = await fixture();
    const result = await verifyAuditLog({
      records,
      checkpoints,
      trustedKeys: trust(oldKey, newKey),
      hasher: sha256,
      verifier: ed25519Verifier,
      origin: "other.test/audit",
    });
    assert.equal(failure(result).reason, "checkpoint origin mismatch");
  });

  it("reports malformed records instead of throwing", async () => {
    const { records, checkpoints } = await fixture();
    const broken = [...records];
    broken[3] = { ...records[3]!, metadata: { n: 1 } } as unknown as AuditRecord;
    assert.deepEqual(failure(await verify(broken, checkpoints)), { ok: false, firstBadSeq: 3, eventId: "evt_3", reason: "record malformed" });
    const nullRecord = [records[0]!, null as unknown as AuditRecord];
    assert.deepEqual(failure(await verify(nullRecord, [])), { ok: false, firstBadSeq: 1, eventId: "", reason: "record malformed" });
  });

  it("verifies an empty log, a checkpoint of the empty tree, and async sources (records or pages) with progress", async () => {
    assert.deepEqual(await verify([], [await checkpointOf([], 0, oldKey)]), {
      ok: true,
      size: 0,
      rootHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      chainHash: ZERO_HASH_HEX,
      lastCheckpoint: { treeSize: 0, rootHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", chainHash: ZERO_HASH_HEX, keyName: ORIGIN, keyId: signatureKeyId(await checkpointOf([], 0, oldKey)) },
      uncheckpointed: 0,
      tombstones: 0,
    });
    const { records, checkpoints } = await fixture();
    async function* stream() {
      for (const record of records) yield record;
    }
    const progress: number[] = [];
    const result = await verifyAuditLog({
      records: stream(),
      checkpoints,
      trustedKeys: trust(oldKey, newKey),
      hasher: sha256,
      verifier: ed25519Verifier,
      onProgress: (n) => progress.push(n),
      progressEvery: 20,
    });
    assert.equal(result.ok, true);
    assert.deepEqual(progress, [20, 40]);
    async function* pages() {
      for (let from = 0; from < records.length; from += 16) yield records.slice(from, from + 16);
    }
    const paged = await verifyAuditLog({ records: pages(), checkpoints, trustedKeys: trust(oldKey, newKey), hasher: sha256, verifier: ed25519Verifier });
    assert.equal(paged.ok && paged.size, 50);
    const tampered = records.map((r) => (r.seq === 33 ? { ...r, action: "x" } : r));
    async function* tamperedPages() {
      for (let from = 0; from < tampered.length; from += 16) yield tampered.slice(from, from + 16);
    }
    const failed = await verifyAuditLog({ records: tamperedPages(), checkpoints, trustedKeys: trust(oldKey, newKey), hasher: sha256, verifier: ed25519Verifier });
    assert.equal(failure(failed).firstBadSeq, 33);
  });

  it("can be driven one record at a time", async () => {
    const { records, checkpoints } = await fixture();
    const verifier = new AuditLogVerifier({ checkpoints, trustedKeys: trust(oldKey, newKey), hasher: sha256, verifier: ed25519Verifier });
    for (const record of records.slice(0, 12)) assert.equal(verifier.push(record), true);
    assert.equal(verifier.push({ ...records[12]!, riskScore: "1" }), false);
    assert.equal(verifier.push(records[13]!), false, "stays failed");
    assert.equal(verifier.size, 12);
    assert.deepEqual(verifier.finish(), { ok: false, firstBadSeq: 12, eventId: "evt_12", reason: "leaf hash mismatch (event modified)" });
  });
});

/** The key id the note's signature line carries (hex of its first four bytes). */
function signatureKeyId(checkpoint: AuditCheckpointRecord): string {
  const line = checkpoint.signedNote.slice(checkpoint.signedNote.lastIndexOf("\n\n") + 2);
  return Buffer.from(line.split(" ")[2]!.trim(), "base64").subarray(0, 4).toString("hex");
}
