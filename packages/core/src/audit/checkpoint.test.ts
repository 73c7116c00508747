import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnterpriseError } from "../errors.ts";
import type { Signer } from "../ports.ts";
import {
  formatCheckpointBody,
  formatVerifierKey,
  noteKeyId,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
  signCheckpoint,
  verifyCheckpoint,
  verifyNote,
  type CheckpointBody,
} from "./checkpoint.ts";
import { ZERO_HASH_HEX, fromBase64, toBase64 } from "./encoding.ts";
import { ed25519Signer, ed25519Verifier, sha256 } from "./test-kit.test.ts";

// The example of golang.org/x/mod/sumdb/note: a note signed by "PeterNeumann".
// Ed25519 is deterministic, so signing the text with the same seed must reproduce Go's bytes.
const GO_SEED_KEY = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"; // base64(0x01 || seed), from PRIVATE+KEY+PeterNeumann+c74f20a3+…
const GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

const ORIGIN = "aesp.test/audit";
const body: CheckpointBody = {
  origin: ORIGIN,
  treeSize: 1234,
  rootHash: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
  chainHash: "ab".repeat(32),
};

function isInvalidArgument(err: unknown): boolean {
  return err instanceof EnterpriseError && err.code === "INVALID_ARGUMENT";
}

describe("signed notes (c2sp.org/signed-note)", () => {
  it("interoperates with Go's sumdb/note: same key id, same signature, verifies", async () => {
    const seed = fromBase64(GO_SEED_KEY)!.subarray(1);
    const signer = ed25519Signer("go", seed);
    const trusted = parseVerifierKey(GO_VERIFIER_KEY, sha256);
    assert.equal(trusted.keyName, "PeterNeumann");
    assert.deepEqual(trusted.publicKey, signer.publicKey);
    assert.equal(noteKeyId("PeterNeumann", signer.publicKey, sha256), "c74f20a3");
    assert.equal(formatVerifierKey(trusted, sha256), GO_VERIFIER_KEY);

    const signature = await signer.sign(new TextEncoder().encode(GO_TEXT));
    const blob = new Uint8Array([0xc7, 0x4f, 0x20, 0xa3, ...signature]);
    assert.equal(`${GO_TEXT}\n\u2014 PeterNeumann ${toBase64(blob)}\n`, GO_NOTE);

    const verified = verifyNote(GO_NOTE, trusted, ed25519Verifier, sha256);
    assert.deepEqual(verified, { ok: true, text: GO_TEXT, keyName: "PeterNeumann", keyId: "c74f20a3" });
    assert.deepEqual(verifyNote(GO_NOTE.replace("cryptography", "cryptographY"), trusted, ed25519Verifier, sha256), {
      ok: false,
      reason: "checkpoint signature invalid",
    });
  });

  it("rejects malformed verifier keys", () => {
    const bad = [
      "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", // key id mismatch
      "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", // upper-case id
      "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20a3",
      "PeterNeumann+c74f20a3+!!!!",
      "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", // not Ed25519
    ];
    for (const key of bad) assert.throws(() => parseVerifierKey(key, sha256), isInvalidArgument, key);
  });

  it("ignores signatures by unknown keys but rejects a bad one by a known key", async () => {
    const known = ed25519Signer("known");
    const stranger = ed25519Signer("stranger");
    const trusted = { keyName: ORIGIN, publicKey: known.publicKey };
    const byKnown = await signCheckpoint(body, known, sha256);
    const byStranger = await signCheckpoint(body, stranger, sha256);
    const strangerLine = byStranger.slice(byStranger.lastIndexOf("\n\n") + 2);
    const cosigned = byKnown + strangerLine;
    assert.equal(verifyNote(cosigned, trusted, ed25519Verifier, sha256).ok, true, "an extra unknown signature is ignored");
    assert.deepEqual(verifyNote(byStranger, trusted, ed25519Verifier, sha256), { ok: false, reason: "checkpoint signed by an unknown key" });

    const knownLine = byKnown.slice(byKnown.lastIndexOf("\n\n") + 2);
    const sig = fromBase64(knownLine.split(" ")[2]!.trimEnd())!;
    sig[10]! ^= 1;
    const badKnownLine = `\u2014 ${ORIGIN} ${toBase64(sig)}\n`;
    assert.deepEqual(verifyNote(byKnown + badKnownLine, trusted, ed25519Verifier, sha256), { ok: false, reason: "checkpoint signature invalid" });
  });

  it("refuses malformed notes", () => {
    const line = GO_NOTE.slice(GO_NOTE.lastIndexOf("\n\n") + 2);
    const malformed = [
      GO_TEXT, // no signatures
      `${GO_TEXT}\n`, // blank line but no signature line
      GO_NOTE.slice(0, -1), // no final newline
      `${GO_TEXT}\n- PeterNeumann abc=\n`, // hyphen instead of em dash
      `${GO_TEXT}\n\u2014 PeterNeumann not-base64\n`,
      `${GO_TEXT}\n\u2014 PeterNeumann AAAA\n`, // too short to hold a key id and a signature
      `${GO_TEXT}\n\u2014 Peter+Neumann ${line.split(" ")[2]!}`,
      `tab\there\n\n${line}`,
      `${GO_TEXT}\n${line.repeat(65)}`, // too many signatures
    ];
    for (const note of malformed) {
      assert.throws(() => parseNote(note), isInvalidArgument, JSON.stringify(note));
      assert.equal(verifyNote(note, parseVerifierKey(GO_VERIFIER_KEY, sha256), ed25519Verifier, sha256).ok, false);
    }
  });
});

describe("checkpoints (c2sp.org/tlog-checkpoint)", () => {
  it("formats the C2SP body plus the chain extension line", () => {
    const rootBase64 = toBase64(Buffer.from(body.rootHash, "hex"));
    assert.equal(formatCheckpointBody(body), `${ORIGIN}\n1234\n${rootBase64}\nchain ${"ab".repeat(32)}\n`);
    assert.equal(formatCheckpointBody({ ...body, treeSize: 0, chainHash: ZERO_HASH_HEX }).split("\n")[1], "0");
  });

  it("signs, parses and verifies a checkpoint", async () => {
    const signer = ed25519Signer("audit-2024");
    const note = await signCheckpoint(body, signer, sha256);
    const parsed = parseCheckpoint(note);
    assert.deepEqual(parsed.body, body);
    assert.deepEqual(parsed.extensions, []);
    assert.equal(parsed.signatures.length, 1);
    assert.equal(parsed.signatures[0]!.keyName, ORIGIN);
    assert.equal(parsed.signatures[0]!.keyId, noteKeyId(ORIGIN, signer.publicKey, sha256));
    const verified = verifyCheckpoint(note, { keyName: ORIGIN, publicKey: signer.publicKey }, ed25519Verifier, sha256, { origin: ORIGIN });
    assert.deepEqual(verified, { ok: true, checkpoint: body, keyName: ORIGIN, keyId: parsed.signatures[0]!.keyId });
  });

  it("detects a changed size, root or chain line", async () => {
    const signer = ed25519Signer("k");
    const trusted = { keyName: ORIGIN, publicKey: signer.publicKey };
    const note = await signCheckpoint(body, signer, sha256);
    const forgeries = [
      note.replace("\n1234\n", "\n1233\n"),
      note.replace(toBase64(Buffer.from(body.rootHash, "hex")), toBase64(Buffer.alloc(32, 1))),
      note.replace(`chain ${"ab".repeat(32)}`, `chain ${"ac".repeat(32)}`),
    ];
    for (const forged of forgeries) {
      assert.deepEqual(verifyCheckpoint(forged, trusted, ed25519Verifier, sha256), { ok: false, reason: "checkpoint signature invalid" });
    }
  });

  it("keeps old keys verifiable after rotation and refuses unknown keys", async () => {
    const old = ed25519Signer("audit-2023");
    const current = ed25519Signer("audit-2024");
    const stranger = ed25519Signer("evil");
    const trusted = [
      { keyName: ORIGIN, publicKey: old.publicKey },
      { keyName: ORIGIN, publicKey: current.publicKey },
    ];
    const before = await signCheckpoint(body, old, sha256);
    const after = await signCheckpoint({ ...body, treeSize: 2000 }, current, sha256);
    assert.equal(verifyCheckpoint(before, trusted, ed25519Verifier, sha256).ok, true);
    assert.equal(verifyCheckpoint(after, trusted, ed25519Verifier, sha256).ok, true);
    assert.deepEqual(verifyCheckpoint(after, trusted.slice(0, 1), ed25519Verifier, sha256), { ok: false, reason: "checkpoint signed by an unknown key" });
    assert.deepEqual(verifyCheckpoint(await signCheckpoint(body, stranger, sha256), trusted, ed25519Verifier, sha256), {
      ok: false,
      reason: "checkpoint signed by an unknown key",
    });
    // Same key under another name is a different (unknown) key.
    assert.deepEqual(verifyCheckpoint(await signCheckpoint(body, old, sha256, "other.name"), trusted, ed25519Verifier, sha256), {
      ok: false,
      reason: "checkpoint signed by an unknown key",
    });
  });

  it("checks the origin when asked", async () => {
    const signer = ed25519Signer("k");
    const note = await signCheckpoint({ ...body, origin: "other.test/audit" }, signer, sha256, ORIGIN);
    const trusted = { keyName: ORIGIN, publicKey: signer.publicKey };
    assert.equal(verifyCheckpoint(note, trusted, ed25519Verifier, sha256).ok, true);
    assert.deepEqual(verifyCheckpoint(note, trusted, ed25519Verifier, sha256, { origin: ORIGIN }), { ok: false, reason: "checkpoint origin mismatch" });
  });

  it("refuses malformed checkpoint bodies even when validly signed", async () => {
    const signer = ed25519Signer("k");
    const trusted = { keyName: "k", publicKey: signer.publicKey };
    const signText = async (text: string) => {
      const signature = await signer.sign(new TextEncoder().encode(text));
      const blob = new Uint8Array([...Buffer.from(noteKeyId("k", signer.publicKey, sha256), "hex"), ...signature]);
      return `${text}\n\u2014 k ${toBase64(blob)}\n`;
    };
    const root = toBase64(Buffer.alloc(32));
    const chain = `chain ${ZERO_HASH_HEX}`;
    const bodies = [
      `o\n01\n${root}\n${chain}\n`, // leading zero
      `o\n-1\n${root}\n${chain}\n`,
      `o\n1\n${toBase64(Buffer.alloc(31))}\n${chain}\n`,
      `o\n1\n${root}\n`, // no chain line
      `o\n1\n${root}\n${chain}\n${chain}\n`, // two chain lines
      `o\n1\n${root}\nchain XYZ\n`,
      `\n1\n${root}\n${chain}\n`, // empty origin
    ];
    for (const text of bodies) {
      const result = verifyCheckpoint(await signText(text), trusted, ed25519Verifier, sha256);
      assert.equal(result.ok, false, JSON.stringify(text));
      assert.match(result.ok ? "" : result.reason, /^checkpoint malformed/);
    }
    const extended = await signText(`o\n1\n${root}\n${chain}\nwitness x\n`);
    assert.deepEqual(parseCheckpoint(extended).extensions, ["witness x"]);
  });

  it("refuses invalid inputs when signing", async () => {
    const signer = ed25519Signer("k");
    await assert.rejects(signCheckpoint(body, signer, sha256, "has space"), isInvalidArgument);
    await assert.rejects(signCheckpoint({ ...body, origin: "" }, signer, sha256, "k"), isInvalidArgument);
    await assert.rejects(signCheckpoint({ ...body, origin: "a\nb" }, signer, sha256, "k"), isInvalidArgument);
    await assert.rejects(signCheckpoint({ ...body, treeSize: 1.5 }, signer, sha256), isInvalidArgument);
    await assert.rejects(signCheckpoint({ ...body, rootHash: "00" }, signer, sha256), isInvalidArgument);
    const broken: Signer = { keyId: "x", publicKey: signer.publicKey, sign: async () => new Uint8Array(10) };
    await assert.rejects(signCheckpoint(body, broken, sha256), (err: unknown) => err instanceof EnterpriseError && err.code === "INTERNAL_ERROR");
  });
});
