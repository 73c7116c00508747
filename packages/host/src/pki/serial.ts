/**
 * Certificate serial numbers, in one canonical text form everywhere (records, revocation lists,
 * peer checks): lower-case hex, no separators, no leading zero bytes.
 *
 * Node prints a peer's serial upper-case (`getPeerCertificate().serialNumber`), `@peculiar/x509`
 * lower-case, `openssl` with colons; comparing them raw would let a revoked serial slip through.
 */
import { randomBytes } from "node:crypto";

const SERIAL_BYTES = 16;

/**
 * A new random, positive 128-bit serial (RFC 5280 §4.1.2.2: positive, ≤ 20 octets, unpredictable).
 *
 * The first byte is forced into 0x40–0x7f: positive without a DER padding byte, and never a leading
 * zero, so its hex has one spelling (always 32 characters; 126 random bits).
 *
 * @returns the serial as canonical lower-case hex
 */
export function newCertificateSerial(): string {
  const bytes = randomBytes(SERIAL_BYTES);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString("hex");
}

/**
 * Canonicalises a hex serial: lower-case, colons/spaces removed, leading zero bytes stripped.
 *
 * @param serial - hex serial in any common spelling (`0A:1B`, `0a1b`, `A1B`)
 * @returns canonical lower-case hex, or `""` when the input is not hex
 */
export function normalizeSerial(serial: string): string {
  let hex = serial.replace(/[:\s]/g, "").toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex)) return "";
  if (hex.length % 2 === 1) hex = `0${hex}`;
  while (hex.length > 2 && hex.startsWith("00")) hex = hex.slice(2);
  return hex;
}
