/**
 * Signed checkpoints in the C2SP formats (https://c2sp.org/signed-note,
 * https://c2sp.org/tlog-checkpoint), so any transparency-log tooling can read them.
 *
 * ```
 * <origin>
 * <tree size>
 * <base64 RFC 6962 root>
 * chain <hex chain hash of record treeSize-1>
 *
 * — <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>
 * ```
 *
 * The `chain` line is a checkpoint extension line: it lets a verifier that
 * holds only the hash chain (no Merkle tree) check a checkpoint too. Key id =
 * SHA-256(key name || 0x0A || 0x01 || public key)[:4]. Several trusted keys may
 * be configured at once: a rotated key stays trusted for the checkpoints it signed.
 */
import { EnterpriseError } from "../errors.ts";
import type { Hasher, SignatureVerifier, Signer } from "../ports.ts";
import { fromBase64, fromHex, toBase64, toHex, utf8 } from "./encoding.ts";

/** Signature type byte of Ed25519 in signed notes. */
const ED25519_SIGNATURE_TYPE = 0x01;
const ED25519_PUBLIC_KEY_SIZE = 32;
const ED25519_SIGNATURE_SIZE = 64;
const KEY_ID_SIZE = 4;
/** The spec asks verifiers to accept at least 16; more is refused to bound work. */
const MAX_SIGNATURES = 64;
const SIGNATURE_PREFIX = "\u2014 ";
const CHAIN_EXTENSION = "chain ";

/** The content of a checkpoint: what its signature commits to. */
export interface CheckpointBody {
  /** The log's identity, e.g. `aesp.example.com/audit`. */
  origin: string;
  /** Number of records covered. */
  treeSize: number;
  /** RFC 6962 root over the first `treeSize` leaves, hex. */
  rootHash: string;
  /** Chain hash of record `treeSize - 1` (64 zeros when empty), hex. */
  chainHash: string;
}

/** A public key a verifier trusts, under the key name it signs with. */
export interface TrustedKey {
  keyName: string;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
}

/** One signature line of a note. */
export interface NoteSignature {
  keyName: string;
  /** The 4-byte key id, hex. */
  keyId: string;
  /** The signature without its key id. */
  signature: Uint8Array;
}

/** A note split into its signed text and its signature lines. */
export interface ParsedNote {
  /** The signed text, including its final newline. */
  text: string;
  signatures: NoteSignature[];
}

/** A parsed checkpoint note. */
export interface ParsedCheckpoint extends ParsedNote {
  body: CheckpointBody;
  /** Extension lines other than `chain`, verbatim. */
  extensions: string[];
}

/** Outcome of verifying a note or checkpoint; never throws. */
export type NoteVerification =
  | { ok: true; text: string; keyName: string; keyId: string }
  | { ok: false; reason: string };

/** Outcome of {@link verifyCheckpoint}. */
export type CheckpointVerification =
  | { ok: true; checkpoint: CheckpointBody; keyName: string; keyId: string }
  | { ok: false; reason: string };

/**
 * The 4-byte signed-note key id of an Ed25519 key.
 *
 * @param keyName - The key name used in signature lines.
 * @param publicKey - Raw 32-byte Ed25519 public key.
 * @param hasher - The SHA-256 port.
 * @returns 8 lower-case hex digits.
 */
export function noteKeyId(keyName: string, publicKey: Uint8Array, hasher: Hasher): string {
  const name = utf8(keyName);
  const input = new Uint8Array(name.length + 2 + publicKey.length);
  input.set(name, 0);
  input[name.length] = 0x0a;
  input[name.length + 1] = ED25519_SIGNATURE_TYPE;
  input.set(publicKey, name.length + 2);
  return toHex(hasher.sha256(input).subarray(0, KEY_ID_SIZE));
}

/**
 * The verifier-key string of Go's `golang.org/x/mod/sumdb/note`:
 * `<name>+<hex key id>+<base64(0x01 || public key)>`, the form operators pass to `aesp audit verify`.
 *
 * @param key - Name and public key.
 * @param hasher - The SHA-256 port.
 * @returns The verifier key.
 * @throws EnterpriseError `INVALID_ARGUMENT` on an invalid key name or key size.
 */
export function formatVerifierKey(key: TrustedKey, hasher: Hasher): string {
  checkKeyName(key.keyName);
  if (key.publicKey.length !== ED25519_PUBLIC_KEY_SIZE) throw invalid("publicKey", "An Ed25519 public key is 32 bytes.");
  const typed = new Uint8Array(1 + ED25519_PUBLIC_KEY_SIZE);
  typed[0] = ED25519_SIGNATURE_TYPE;
  typed.set(key.publicKey, 1);
  return `${key.keyName}+${noteKeyId(key.keyName, key.publicKey, hasher)}+${toBase64(typed)}`;
}

/**
 * Parses a verifier-key string (see {@link formatVerifierKey}) and checks its key id.
 *
 * @param verifierKey - `<name>+<hex key id>+<base64(0x01 || public key)>`.
 * @param hasher - The SHA-256 port.
 * @returns The trusted key it names.
 * @throws EnterpriseError `INVALID_ARGUMENT` when malformed, not Ed25519, or the key id does not match.
 */
export function parseVerifierKey(verifierKey: string, hasher: Hasher): TrustedKey {
  const parts = verifierKey.split("+");
  // The base64 part may itself contain '+'; the name and id may not.
  if (parts.length < 3) throw invalid("verifierKey", "A verifier key is <name>+<key id>+<base64 key>.");
  const keyName = parts[0]!;
  const keyId = parts[1]!;
  const typed = fromBase64(parts.slice(2).join("+"));
  checkKeyName(keyName);
  if (!/^[0-9a-f]{8}$/.test(keyId)) throw invalid("verifierKey", "The key id must be 8 lower-case hex digits.");
  if (typed?.length !== 1 + ED25519_PUBLIC_KEY_SIZE || typed[0] !== ED25519_SIGNATURE_TYPE) {
    throw invalid("verifierKey", "Only Ed25519 verifier keys are supported.");
  }
  const publicKey = typed.slice(1);
  if (noteKeyId(keyName, publicKey, hasher) !== keyId) throw invalid("verifierKey", "The key id does not match the key.");
  return { keyName, publicKey };
}

/**
 * The checkpoint note text (unsigned).
 *
 * @param body - Checkpoint content.
 * @returns `<origin>\n<size>\n<base64 root>\nchain <hex>\n`.
 * @throws EnterpriseError `INVALID_ARGUMENT` on an invalid origin, size or hash.
 */
export function formatCheckpointBody(body: CheckpointBody): string {
  if (body.origin === "" || hasControlCharacter(body.origin, false)) throw invalid("origin", "The origin must be one non-empty line.");
  if (!Number.isSafeInteger(body.treeSize) || body.treeSize < 0) throw invalid("treeSize", "The tree size must be a non-negative integer.");
  const root = hash32(body.rootHash, "rootHash");
  hash32(body.chainHash, "chainHash");
  return `${body.origin}\n${String(body.treeSize)}\n${toBase64(root)}\n${CHAIN_EXTENSION}${body.chainHash.toLowerCase()}\n`;
}

/**
 * Signs a checkpoint with the Signer port and returns the signed note.
 *
 * @param body - Checkpoint content.
 * @param signer - Ed25519 signer; its public key determines the key id.
 * @param hasher - The SHA-256 port.
 * @param keyName - The signature line's key name; C2SP recommends the origin (the default).
 * @returns The signed note text.
 * @throws EnterpriseError `INVALID_ARGUMENT` on an invalid body or key name;
 *   `INTERNAL_ERROR` when the signer returns something that is not an Ed25519 signature.
 */
export async function signCheckpoint(body: CheckpointBody, signer: Signer, hasher: Hasher, keyName: string = body.origin): Promise<string> {
  checkKeyName(keyName);
  // Read once, right before signing: a rotating signer may switch keys while the signature is awaited.
  const publicKey = signer.publicKey;
  if (publicKey.length !== ED25519_PUBLIC_KEY_SIZE) throw invalid("publicKey", "An Ed25519 public key is 32 bytes.");
  const text = formatCheckpointBody(body);
  const signature = await signer.sign(utf8(text));
  if (signature.length !== ED25519_SIGNATURE_SIZE) {
    throw new EnterpriseError("INTERNAL_ERROR", { details: { reason: "the audit signer did not return an Ed25519 signature" } });
  }
  const blob = new Uint8Array(KEY_ID_SIZE + ED25519_SIGNATURE_SIZE);
  blob.set(fromHex(noteKeyId(keyName, publicKey, hasher))!, 0);
  blob.set(signature, KEY_ID_SIZE);
  return `${text}\n${SIGNATURE_PREFIX}${keyName} ${toBase64(blob)}\n`;
}

/**
 * Splits a signed note into text and signatures (signed-note §Format). Does not verify.
 *
 * @param note - The whole note.
 * @returns Text and signature lines.
 * @throws EnterpriseError `INVALID_ARGUMENT` (details.reason) when the note is malformed.
 */
export function parseNote(note: string): ParsedNote {
  if (hasControlCharacter(note, true)) throw invalid("note", "A note contains no control characters other than newline.");
  if (!note.endsWith("\n")) throw invalid("note", "A note ends with a newline.");
  const separator = note.lastIndexOf("\n\n");
  if (separator < 0) throw invalid("note", "A note has a blank line before its signatures.");
  const text = note.slice(0, separator + 1);
  const lines = note.slice(separator + 2, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw invalid("note", "The note has too many signatures.");
  const signatures = lines.map((line): NoteSignature => {
    if (!line.startsWith(SIGNATURE_PREFIX)) throw invalid("note", "A signature line starts with an em dash and a space.");
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(" ");
    const keyName = space < 0 ? "" : rest.slice(0, space);
    checkKeyName(keyName);
    const blob = fromBase64(rest.slice(space + 1));
    if (blob === null || blob.length <= KEY_ID_SIZE) throw invalid("note", "A signature is base64 of a key id and a signature.");
    return { keyName, keyId: toHex(blob.subarray(0, KEY_ID_SIZE)), signature: blob.slice(KEY_ID_SIZE) };
  });
  return { text, signatures };
}

/**
 * Verifies a signed note against trusted keys, as signed-note §Signatures
 * requires: signatures by unknown keys are ignored; a failing signature by a
 * known key rejects the note; at least one known key must verify.
 *
 * @param note - The whole note.
 * @param trusted - One key or several (old keys stay trusted after rotation).
 * @param verifier - The Ed25519 port.
 * @param hasher - The SHA-256 port.
 * @returns The verified text and the first trusted key that signed it, or a reason.
 */
export function verifyNote(note: string, trusted: TrustedKey | readonly TrustedKey[], verifier: SignatureVerifier, hasher: Hasher): NoteVerification {
  let parsed: ParsedNote;
  try {
    parsed = parseNote(note);
  } catch (err) {
    return { ok: false, reason: `checkpoint malformed: ${reasonOf(err)}` };
  }
  const keys = (Array.isArray(trusted) ? trusted : [trusted]) as readonly TrustedKey[];
  const known = keys.map((key) => ({ key, keyId: noteKeyId(key.keyName, key.publicKey, hasher) }));
  const message = utf8(parsed.text);
  let verifiedBy: { keyName: string; keyId: string } | null = null;
  for (const signature of parsed.signatures) {
    const match = known.find((candidate) => candidate.key.keyName === signature.keyName && candidate.keyId === signature.keyId);
    if (match === undefined) continue;
    const valid =
      signature.signature.length === ED25519_SIGNATURE_SIZE && verifier.verifyEd25519(match.key.publicKey, message, signature.signature);
    if (!valid) return { ok: false, reason: "checkpoint signature invalid" };
    verifiedBy ??= { keyName: signature.keyName, keyId: signature.keyId };
  }
  if (verifiedBy === null) return { ok: false, reason: "checkpoint signed by an unknown key" };
  return { ok: true, text: parsed.text, ...verifiedBy };
}

/**
 * Parses a signed checkpoint (text and signatures). Does not verify.
 *
 * @param note - The signed checkpoint note.
 * @returns Body, extension lines and signatures.
 * @throws EnterpriseError `INVALID_ARGUMENT` (details.reason) when the note or body is malformed,
 *   including a missing `chain` extension line.
 */
export function parseCheckpoint(note: string): ParsedCheckpoint {
  const parsed = parseNote(note);
  return { ...parsed, ...parseCheckpointText(parsed.text) };
}

/**
 * Verifies a signed checkpoint and returns its body only if a trusted key signed it.
 *
 * @param note - The signed checkpoint note.
 * @param trusted - One key or several.
 * @param verifier - The Ed25519 port.
 * @param hasher - The SHA-256 port.
 * @param options - `origin`: when given, the checkpoint must name this origin.
 * @returns The verified body, or a precise reason.
 */
export function verifyCheckpoint(
  note: string,
  trusted: TrustedKey | readonly TrustedKey[],
  verifier: SignatureVerifier,
  hasher: Hasher,
  options: { origin?: string } = {},
): CheckpointVerification {
  const verified = verifyNote(note, trusted, verifier, hasher);
  if (!verified.ok) return verified;
  let body: CheckpointBody;
  try {
    body = parseCheckpointText(verified.text).body;
  } catch (err) {
    return { ok: false, reason: `checkpoint malformed: ${reasonOf(err)}` };
  }
  if (options.origin !== undefined && body.origin !== options.origin) return { ok: false, reason: "checkpoint origin mismatch" };
  return { ok: true, checkpoint: body, keyName: verified.keyName, keyId: verified.keyId };
}

function parseCheckpointText(text: string): { body: CheckpointBody; extensions: string[] } {
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3 || lines.some((line) => line === "")) throw invalid("note", "A checkpoint has at least three non-empty lines.");
  const [origin, size, root, ...rest] = lines as [string, string, string, ...string[]];
  if (!/^(0|[1-9][0-9]*)$/.test(size) || !Number.isSafeInteger(Number(size))) throw invalid("note", "The tree size is not a decimal integer.");
  const rootBytes = fromBase64(root);
  if (rootBytes?.length !== 32) throw invalid("note", "The root hash is not 32 bytes of base64.");
  const chainLines = rest.filter((line) => line.startsWith(CHAIN_EXTENSION));
  const chain = chainLines.length === 1 ? chainLines[0]!.slice(CHAIN_EXTENSION.length) : "";
  if (!/^[0-9a-f]{64}$/.test(chain)) throw invalid("note", "The checkpoint needs exactly one `chain <hex>` extension line.");
  return {
    body: { origin, treeSize: Number(size), rootHash: toHex(rootBytes), chainHash: chain },
    extensions: rest.filter((line) => !line.startsWith(CHAIN_EXTENSION)),
  };
}

function checkKeyName(keyName: string): void {
  if (keyName === "" || /[\s+]/u.test(keyName) || hasControlCharacter(keyName, false)) {
    throw invalid("keyName", "A key name is non-empty and has no spaces or '+'.");
  }
}

/** Signed notes allow no ASCII control characters other than newline. */
function hasControlCharacter(text: string, allowNewline: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 && !(allowNewline && code === 0x0a)) return true;
  }
  return false;
}

function hash32(hex: string, field: string): Uint8Array {
  const bytes = typeof hex === "string" ? fromHex(hex) : null;
  if (bytes?.length !== 32) throw invalid(field, "A hash is 64 hex digits.");
  return bytes;
}

function invalid(field: string, reason: string): EnterpriseError {
  return new EnterpriseError("INVALID_ARGUMENT", { message: "The checkpoint or key is malformed.", details: { field, reason } });
}

function reasonOf(err: unknown): string {
  return err instanceof EnterpriseError ? (err.details["reason"] ?? err.message) : "unreadable";
}
