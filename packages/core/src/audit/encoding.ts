/**
 * Byte encodings the audit log needs (hex, standard base64, UTF-8), written
 * against Web-standard APIs only so the core stays free of `Buffer`.
 *
 * Node 24 lacks `Uint8Array.prototype.toHex`/`toBase64`; when the runtime gains
 * them these helpers can delegate.
 */

const HEX_DIGITS = "0123456789abcdef";
const BYTE_TO_HEX: readonly string[] = Array.from({ length: 256 }, (_, byte) => HEX_DIGITS[byte >> 4]! + HEX_DIGITS[byte & 15]!);
/** Char code of the high and low hex digit of each byte, for allocation-free comparison. */
const HIGH_DIGIT_CODE = Uint8Array.from({ length: 256 }, (_, byte) => HEX_DIGITS.charCodeAt(byte >> 4));
const LOW_DIGIT_CODE = Uint8Array.from({ length: 256 }, (_, byte) => HEX_DIGITS.charCodeAt(byte & 15));

/** Nibble value per char code; -1 marks a non-hex character. Lower and upper case accepted on input. */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUE[HEX_DIGITS.charCodeAt(i)] = i;
  HEX_VALUE[HEX_DIGITS.toUpperCase().charCodeAt(i)] = i;
}

const BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) BASE64_VALUE[BASE64_ALPHABET.charCodeAt(i)] = i;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** The 64 zero characters that stand for "no previous record" in a hash chain. */
export const ZERO_HASH_HEX = "0".repeat(64);

/**
 * Lower-case hex of `bytes`.
 *
 * @param bytes - Any byte array.
 * @returns Two lower-case hex digits per byte.
 */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_HEX[bytes[i]!]!;
  return out;
}

/**
 * Decodes hex (either case) into bytes.
 *
 * @param hex - An even-length hex string.
 * @returns The bytes, or `null` when `hex` is not valid hex.
 */
export function fromHex(hex: string): Uint8Array | null {
  if (hex.length % 2 !== 0) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const high = nibble(hex.charCodeAt(2 * i));
    const low = nibble(hex.charCodeAt(2 * i + 1));
    if (high < 0 || low < 0) return null;
    out[i] = (high << 4) | low;
  }
  return out;
}

/**
 * Compares bytes with a lower-case hex string without allocating.
 *
 * Upper-case hex never matches: stored hashes are canonical lower-case, and a
 * re-cased hash is a modified record.
 *
 * @param bytes - The expected value.
 * @param hex - The stored value.
 * @returns True iff `hex` is exactly `toHex(bytes)`.
 */
export function bytesEqualHex(bytes: Uint8Array, hex: string): boolean {
  if (typeof hex !== "string" || hex.length !== bytes.length * 2) return false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (hex.charCodeAt(2 * i) !== HIGH_DIGIT_CODE[byte] || hex.charCodeAt(2 * i + 1) !== LOW_DIGIT_CODE[byte]) return false;
  }
  return true;
}

/**
 * Byte-wise equality.
 *
 * Not constant time: the audit log compares public hashes only.
 *
 * @param a - First array.
 * @param b - Second array.
 * @returns True iff both have the same length and bytes.
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Equality of two strings (digests of secrets) without an early exit, so the time taken says
 * nothing about where they first differ. Only the length may leak, and digests have a fixed one.
 *
 * @returns True iff both strings are identical.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Standard base64 (RFC 4648 §4, with padding), as C2SP notes use.
 *
 * @param bytes - Any byte array.
 * @returns The padded base64 text.
 */
export function toBase64(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const triple = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += BASE64_ALPHABET[triple >> 18]! + BASE64_ALPHABET[(triple >> 12) & 63]! + BASE64_ALPHABET[(triple >> 6) & 63]! + BASE64_ALPHABET[triple & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const single = bytes[i]!;
    out += BASE64_ALPHABET[single >> 2]! + BASE64_ALPHABET[(single & 3) << 4]! + "==";
  } else if (rest === 2) {
    const pair = (bytes[i]! << 8) | bytes[i + 1]!;
    out += BASE64_ALPHABET[pair >> 10]! + BASE64_ALPHABET[(pair >> 4) & 63]! + BASE64_ALPHABET[(pair & 15) << 2]! + "=";
  }
  return out;
}

/**
 * Decodes strict standard base64: padding required, no whitespace, no
 * non-zero trailing bits, so that every byte string has exactly one encoding.
 *
 * @param text - Padded base64.
 * @returns The bytes, or `null` when `text` is not canonical base64.
 */
export function fromBase64(text: string): Uint8Array | null {
  if (text.length % 4 !== 0) return null;
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let written = 0;
  for (let i = 0; i < text.length; i += 4) {
    const isLast = i + 4 === text.length;
    const a = sextet(text.charCodeAt(i));
    const b = sextet(text.charCodeAt(i + 1));
    const c = isLast && padding === 2 ? 0 : sextet(text.charCodeAt(i + 2));
    const d = isLast && padding >= 1 ? 0 : sextet(text.charCodeAt(i + 3));
    if (a < 0 || b < 0 || c < 0 || d < 0) return null;
    const quad = (a << 18) | (b << 12) | (c << 6) | d;
    if (isLast && padding === 2) {
      if ((quad & 0xffff) !== 0) return null;
      out[written++] = quad >> 16;
    } else if (isLast && padding === 1) {
      if ((quad & 0xff) !== 0) return null;
      out[written++] = quad >> 16;
      out[written++] = (quad >> 8) & 0xff;
    } else {
      out[written++] = quad >> 16;
      out[written++] = (quad >> 8) & 0xff;
      out[written++] = quad & 0xff;
    }
  }
  return out;
}

/**
 * UTF-8 bytes of a string.
 *
 * @param text - Any string; lone surrogates become U+FFFD, so callers that hash
 *   must escape them first (canonical encoding does).
 * @returns The encoded bytes.
 */
export function utf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/**
 * Decodes UTF-8 strictly.
 *
 * @param bytes - Encoded text.
 * @returns The string, or `null` when the bytes are not valid UTF-8.
 */
export function fromUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * Encodes `text` at the start of `target`, for hot paths that reuse one buffer.
 *
 * @param text - The string to encode.
 * @param target - Destination; must have room for `3 * text.length` bytes.
 * @returns The number of bytes written.
 */
export function utf8Into(text: string, target: Uint8Array): number {
  return utf8Encoder.encodeInto(text, target).written;
}

function nibble(code: number): number {
  return code < 128 ? HEX_VALUE[code]! : -1;
}

function sextet(code: number): number {
  return code < 128 ? BASE64_VALUE[code]! : -1;
}
