/**
 * Checking what the Host serves, on the auditor's side, with only the Host's verifier keys:
 * an event's inclusion proof against a signed checkpoint, and a consistency proof between two
 * signed checkpoints. Nothing the Host says is taken on trust: the leaf hash is recomputed from
 * the event's fields, the checkpoint's signature is checked against the given keys (retired keys
 * included, so checkpoints signed before a rotation stay verifiable), and the proof must lead
 * to the signed root.
 */
import type { Hasher, SignatureVerifier } from "../ports.ts";
import type { AuditEventDraft } from "../records.ts";
import { leafHash } from "./canonical.ts";
import { parseVerifierKey, verifyCheckpoint, type TrustedKey } from "./checkpoint.ts";
import { fromHex, toHex } from "./encoding.ts";
import { emptyRoot, verifyConsistency, verifyInclusion } from "./merkle.ts";

/** Outcome of a proof check; never throws. */
export type ProofVerification = { ok: true; treeSize: number; rootHash: string; keyId: string } | { ok: false; reason: string };

/** Input of {@link verifyServedInclusion}. */
export interface ServedInclusion {
  event: AuditEventDraft;
  leafIndex: number;
  /** The leaf hash the Host claims, hex. */
  leafHash: string;
  treeSize: number;
  /** Hex sibling hashes. */
  proof: readonly string[];
  /** The signed checkpoint note the proof is against. */
  signedNote: string;
}

/**
 * Verifies an inclusion proof as served by GetInclusionProof.
 *
 * @param served - Event, position, proof and signed checkpoint.
 * @param verifierKeys - C2SP verifier keys (`<name>+<id>+<key>`), current and retired.
 * @param ports - SHA-256 and Ed25519.
 * @param origin - When given, the checkpoint must name it.
 * @returns OK with the verified root, or the first thing that failed.
 */
export function verifyServedInclusion(
  served: ServedInclusion,
  verifierKeys: readonly string[],
  ports: { hasher: Hasher; verifier: SignatureVerifier },
  origin?: string,
): ProofVerification {
  const checkpoint = checkSigned(served.signedNote, verifierKeys, ports, origin);
  if (!checkpoint.ok) return checkpoint;
  if (checkpoint.treeSize !== served.treeSize) return { ok: false, reason: "the proof's tree size is not the checkpoint's" };
  let leaf: Uint8Array;
  try {
    leaf = leafHash(served.event, ports.hasher);
  } catch {
    return { ok: false, reason: "the event is malformed" };
  }
  if (toHex(leaf) !== served.leafHash.toLowerCase()) return { ok: false, reason: "leaf hash mismatch: the event's fields do not hash to the recorded leaf (event modified)" };
  const proof = hexList(served.proof);
  if (proof === null) return { ok: false, reason: "the proof is not a list of 32-byte hex hashes" };
  if (!verifyInclusion(leaf, served.leafIndex, served.treeSize, proof, fromHex(checkpoint.rootHash)!, ports.hasher)) {
    return { ok: false, reason: "inclusion proof does not lead to the signed root" };
  }
  return checkpoint;
}

/**
 * Verifies a consistency proof between two signed checkpoints (the old one may be the empty tree,
 * size 0, which needs no signature).
 *
 * @returns OK with the newer checkpoint's root, or the first thing that failed.
 */
export function verifyServedConsistency(
  served: { oldSize: number; oldNote: string; newNote: string; proof: readonly string[] },
  verifierKeys: readonly string[],
  ports: { hasher: Hasher; verifier: SignatureVerifier },
  origin?: string,
): ProofVerification {
  const newer = checkSigned(served.newNote, verifierKeys, ports, origin);
  if (!newer.ok) return { ok: false, reason: `newer checkpoint: ${newer.reason}` };
  let oldRoot: Uint8Array;
  if (served.oldSize === 0) {
    oldRoot = emptyRoot(ports.hasher);
  } else {
    const older = checkSigned(served.oldNote, verifierKeys, ports, origin);
    if (!older.ok) return { ok: false, reason: `older checkpoint: ${older.reason}` };
    if (older.treeSize !== served.oldSize) return { ok: false, reason: "the older checkpoint is not of the requested size" };
    oldRoot = fromHex(older.rootHash)!;
  }
  const proof = hexList(served.proof);
  if (proof === null) return { ok: false, reason: "the proof is not a list of 32-byte hex hashes" };
  if (!verifyConsistency(served.oldSize, newer.treeSize, proof, oldRoot, fromHex(newer.rootHash)!, ports.hasher)) {
    return { ok: false, reason: "consistency proof fails: the newer log does not extend the older one" };
  }
  return newer;
}

function checkSigned(note: string, verifierKeys: readonly string[], ports: { hasher: Hasher; verifier: SignatureVerifier }, origin?: string): ProofVerification {
  let trusted: TrustedKey[];
  try {
    trusted = verifierKeys.map((key) => parseVerifierKey(key, ports.hasher));
  } catch {
    return { ok: false, reason: "a verifier key is malformed" };
  }
  const verified = verifyCheckpoint(note, trusted, ports.verifier, ports.hasher, origin === undefined ? {} : { origin });
  if (!verified.ok) return verified;
  return { ok: true, treeSize: verified.checkpoint.treeSize, rootHash: verified.checkpoint.rootHash, keyId: verified.keyId };
}

function hexList(values: readonly string[]): Uint8Array[] | null {
  const bytes = values.map((value) => fromHex(value));
  return bytes.every((value): value is Uint8Array => value?.length === 32) ? bytes : null;
}
