import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Signer } from "../ports.ts";
import type { AuditRecord } from "../records.ts";
import { signCheckpoint, formatVerifierKey } from "./checkpoint.ts";
import { ZERO_HASH_HEX, toHex } from "./encoding.ts";
import { ExportBundleVerifier, ExportDigest, exportBinding, manifestText, signManifest } from "./export-bundle.ts";
import type { ExportHeaderLine, ExportVerification } from "./export-bundle.ts";
import { exportedEvent } from "./export-formats.ts";
import { consistencyProof, inclusionProof, merkleRoot } from "./merkle.ts";
import { buildLog, ed25519Signer, ed25519Verifier, sha256 } from "./test-kit.test.ts";

const ORIGIN = "aesp.test/audit";
const hostKey = ed25519Signer("audit-1");
const rotatedKey = ed25519Signer("audit-2");
const stranger = ed25519Signer("evil");
const verifierKey = (signer: Signer) => formatVerifierKey({ keyName: ORIGIN, publicKey: signer.publicKey }, sha256);
const leaves = (records: readonly AuditRecord[]) => records.map((r) => Buffer.from(r.leafHash, "hex"));

async function signedCheckpoint(records: readonly AuditRecord[], size: number, signer: Signer) {
  const rootHash = toHex(merkleRoot(leaves(records.slice(0, size)), sha256));
  const chainHash = size === 0 ? ZERO_HASH_HEX : records[size - 1]!.chainHash;
  return { treeSize: size, rootHash, signedNote: await signCheckpoint({ origin: ORIGIN, treeSize: size, rootHash, chainHash }, signer, sha256) };
}

/** A bundle as the Host writes it: tenant t1's events of a 40-event log, proved against a checkpoint of 40, older checkpoint 20. */
async function bundle(options: { signer?: Signer; manifestSigner?: Signer; tenant?: string } = {}): Promise<string[]> {
  const signer = options.signer ?? hostKey;
  const records = buildLog(40);
  const anchor = await signedCheckpoint(records, 40, signer);
  const older = await signedCheckpoint(records, 20, signer);
  const tenant = options.tenant ?? "t1";
  const header: ExportHeaderLine = {
    type: "header",
    format: "aesp.audit.export/v1",
    origin: ORIGIN,
    tenant_id: tenant,
    filters: { start_time: 0, end_time: 0, event_types: [], principal_id: "", outcome: "" },
    generated_at: 1,
    verifier_keys: [verifierKey(signer)],
    checkpoint: { tree_size: 40, root_hash: anchor.rootHash, signed_note: anchor.signedNote },
  };
  const digest = new ExportDigest(exportBinding(header), sha256);
  const lines = [JSON.stringify(header)];
  for (const record of records.filter((r) => tenant === "" || r.tenantId === tenant)) {
    const { seq, leafHash, ...event } = exportedEvent(record);
    const proof = inclusionProof(leaves(records), seq, 40, sha256).map(toHex);
    lines.push(JSON.stringify({ type: "event", seq, leaf_hash: leafHash, event, proof }));
    digest.add(Buffer.from(leafHash, "hex"));
  }
  lines.push(JSON.stringify({ type: "checkpoint", tree_size: 20, signed_note: older.signedNote }));
  lines.push(JSON.stringify({ type: "consistency", old_size: 20, new_size: 40, proof: consistencyProof(leaves(records), 20, 40, sha256).map(toHex) }));
  const note = await signManifest(manifestText(ORIGIN, { tenantId: tenant, treeSize: 40, eventCount: digest.count, digest: digest.hex }), options.manifestSigner ?? signer, sha256, ORIGIN);
  lines.push(JSON.stringify({ type: "manifest", event_count: digest.count, first_seq: 1, last_seq: 37, events_digest: digest.hex, signed_note: note }));
  return lines;
}

function verify(lines: readonly string[], keys: readonly (string | { publicKey: Uint8Array })[] = [verifierKey(hostKey)]): ExportVerification {
  const verifier = new ExportBundleVerifier(keys, { hasher: sha256, verifier: ed25519Verifier });
  for (const line of lines) if (!verifier.line(line)) break;
  return verifier.finish();
}

function failure(result: ExportVerification): Extract<ExportVerification, { ok: false }> {
  if (result.ok) assert.fail("tampering must be detected");
  return result;
}

/** Line index of the n-th event line. */
const eventLine = (n: number) => 1 + n;
const edit = (lines: string[], index: number, change: (value: Record<string, unknown>) => void): string[] => {
  const copy = [...lines];
  const value = JSON.parse(copy[index]!) as Record<string, unknown>;
  change(value);
  copy[index] = JSON.stringify(value);
  return copy;
};

void describe("verifiable export bundle", () => {
  it("a good bundle verifies with only the public key (verifier key or raw key), holding only its tenant's events", async () => {
    const lines = await bundle();
    const result = verify(lines);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.ok(result.ok && result.events === 10 && result.tenantId === "t1" && result.treeSize === 40 && result.checkpoints === 2);
    assert.equal(verify(lines, [{ publicKey: hostKey.publicKey }]).ok, true);
    for (const line of lines.slice(1, 11)) assert.equal((JSON.parse(line) as { event: { tenantId: string } }).event.tenantId, "t1");
  });

  it("a changed event field: leaf hash mismatch, naming the event", async () => {
    const lines = edit(await bundle(), eventLine(2), (line) => {
      (line["event"] as Record<string, unknown>)["outcome"] = "DENIED";
    });
    const f = failure(verify(lines));
    assert.equal(f.eventId, "evt_9");
    assert.equal(f.seq, 9);
    assert.equal(f.line, 4);
    assert.match(f.reason, /^leaf hash mismatch/);
  });

  it("a changed field with a recomputed leaf hash: the inclusion proof no longer leads to the signed root", async () => {
    const { leafHash } = await import("./canonical.ts");
    const lines = edit(await bundle(), eventLine(0), (line) => {
      const event = line["event"] as Record<string, unknown>;
      event["principalId"] = "someone_else";
      line["leaf_hash"] = toHex(leafHash(event as never, sha256));
    });
    const f = failure(verify(lines));
    assert.equal(f.eventId, "evt_1");
    assert.match(f.reason, /^inclusion proof does not lead to the signed checkpoint root/);
  });

  it("a dropped event: the signed manifest's count and digest no longer match", async () => {
    const lines = await bundle();
    lines.splice(eventLine(4), 1);
    assert.match(failure(verify(lines)).reason, /the signed manifest lists 10 events but the file holds 9: events were removed or added after the export/);
  });

  it("a swapped proof: inclusion fails for that event", async () => {
    const lines = await bundle();
    const other = (JSON.parse(lines[eventLine(5)]!) as { proof: string[] }).proof;
    const tampered = edit(lines, eventLine(3), (line) => {
      line["proof"] = other;
    });
    const f = failure(verify(tampered));
    assert.equal(f.eventId, "evt_13");
    assert.match(f.reason, /^inclusion proof does not lead/);
  });

  it("reordered events are refused", async () => {
    const lines = await bundle();
    [lines[eventLine(1)], lines[eventLine(2)]] = [lines[eventLine(2)]!, lines[eventLine(1)]!];
    assert.match(failure(verify(lines)).reason, /^events out of order: seq 5 follows 9/);
  });

  it("a forged checkpoint (signed by another key, or with a changed root) is refused", async () => {
    const forged = await bundle({ signer: stranger });
    assert.match(failure(verify(forged)).reason, /^the export's checkpoint: checkpoint signed by an unknown key/);
    const lines = await bundle();
    const header = JSON.parse(lines[0]!) as ExportHeaderLine;
    const note = header.checkpoint.signed_note.replace(/\n40\n/, "\n41\n");
    const tampered = edit(lines, 0, (line) => {
      (line["checkpoint"] as Record<string, unknown>)["signed_note"] = note;
    });
    assert.match(failure(verify(tampered)).reason, /^the export's checkpoint: checkpoint signature invalid/);
    const olderForged = edit(lines, eventLine(10), (line) => {
      line["signed_note"] = String(line["signed_note"]).replace(/\n20\n/, "\n21\n");
    });
    assert.match(failure(verify(olderForged)).reason, /^checkpoint of 20 events: checkpoint signature invalid/);
  });

  it("a broken consistency proof between checkpoints is refused", async () => {
    const lines = await bundle();
    const tampered = edit(lines, eventLine(11), (line) => {
      (line["proof"] as string[]).reverse();
    });
    assert.match(failure(verify(tampered)).reason, /^consistency proof fails: the log of 40 events does not extend the checkpoint of 20/);
  });

  it("the wrong key fails; a rotated key set including the right one passes", async () => {
    const lines = await bundle();
    assert.match(failure(verify(lines, [verifierKey(stranger)])).reason, /checkpoint signed by an unknown key/);
    assert.equal(verify(lines, [verifierKey(rotatedKey), verifierKey(hostKey)]).ok, true);
  });

  it("a truncated file (no manifest) and a manifest signed by another key are refused", async () => {
    const lines = await bundle();
    assert.match(failure(verify(lines.slice(0, -1))).reason, /^the export is truncated/);
    assert.match(failure(verify(await bundle({ manifestSigner: stranger }))).reason, /^the manifest: signed by an unknown key/);
  });

  it("another tenant's event smuggled in, or an event outside the filters, is refused", async () => {
    const lines = await bundle();
    const foreign = edit(lines, eventLine(0), (line) => {
      (line["event"] as Record<string, unknown>)["tenantId"] = "t2";
    });
    assert.match(failure(verify(foreign)).reason, /belongs to another tenant/);
    const filtered = edit(lines, 0, (line) => {
      (line["filters"] as Record<string, unknown>)["outcome"] = "DENIED";
    });
    assert.match(failure(verify(filtered)).reason, /does not match the export's filters \(outcome\)/);
  });

  it("a changed filter in the header breaks the signed manifest even when every event still matches it", async () => {
    const lines = await bundle({ tenant: "" });
    assert.equal(verify(lines).ok, true, "a platform-wide bundle (every tenant) verifies");
    const restamped = edit(lines, 0, (line) => {
      line["generated_at"] = 2;
    });
    assert.equal(verify(restamped).ok, true, "generated_at is informational");
    const rebound = edit(lines, 0, (line) => {
      (line["filters"] as Record<string, unknown>)["start_time"] = 1;
    });
    assert.match(failure(verify(rebound)).reason, /the signed manifest does not match the file/);
  });
});
