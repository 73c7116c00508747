/**
 * The Host's CEL function library, on top of the standard library and the strings extension:
 *
 * | Function | Meaning |
 * |---|---|
 * | `inCidr(ip, cidr)` | The address lies in the block (`"10.1.2.3"`, `"10.0.0.0/8"`); IPv4 and IPv6; an IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, as dual-stack sockets report IPv4 peers) matches IPv4 blocks. |
 * | `inCidr(ip, [cidr, …])` | In any of the blocks. |
 * | `classificationAtLeast(level, other)` | `level` ranks at or above `other` in public < internal < confidential < restricted. |
 *
 * Time windows use the standard timestamp accessors with a time zone:
 * `request.time.getHours("Europe/Paris") >= 9`, `request.time.getDayOfWeek("America/New_York")`.
 *
 * Malformed arguments (an address or block that does not parse, an unknown classification) are
 * evaluation errors, so the policy fails closed instead of quietly not matching.
 */
import { celFunc, CelScalar, listType } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import type { CelFunc } from "@bufbuild/cel";
import { CLASSIFICATION_LEVELS, classificationRank } from "../rbac/classification.ts";

/** The address as 16 bytes (IPv4 mapped into ::ffff:0:0/96), or null when it is not an address. */
export function parseIpAddress(text: string): Uint8Array | null {
  if (text.includes(".") && !text.includes(":")) {
    const v4 = parseIpv4(text);
    return v4 === null ? null : mapped(v4);
  }
  return parseIpv6(text);
}

/** Whether `ip` lies in `cidr`. @throws Error when either does not parse. */
export function ipInCidr(ip: string, cidr: string): boolean {
  const address = parseIpAddress(ip);
  if (address === null) throw new Error(`inCidr: "${ip.slice(0, 64)}" is not an IP address`);
  const slash = cidr.indexOf("/");
  if (slash <= 0) throw new Error(`inCidr: "${cidr.slice(0, 64)}" is not a CIDR block`);
  const baseText = cidr.slice(0, slash);
  const prefixText = cidr.slice(slash + 1);
  const base = parseIpAddress(baseText);
  const isV4Block = baseText.includes(".") && !baseText.includes(":");
  const maxPrefix = isV4Block ? 32 : 128;
  if (base === null || !/^\d{1,3}$/.test(prefixText) || Number(prefixText) > maxPrefix) throw new Error(`inCidr: "${cidr.slice(0, 64)}" is not a CIDR block`);
  // An IPv4 block covers the last 32 bits of the mapped range.
  const prefix = Number(prefixText) + (isV4Block ? 96 : 0);
  for (let bit = 0; bit < prefix; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if (((address[byte] as number) & mask) !== ((base[byte] as number) & mask)) return false;
  }
  return true;
}

function rank(level: string): number {
  const index = classificationRank(level);
  if (index < 0) throw new Error(`classificationAtLeast: "${level.slice(0, 32)}" is not one of ${CLASSIFICATION_LEVELS.join(", ")}`);
  return index;
}

/** The functions every policy environment gets. */
export const aespPolicyFunctions: readonly CelFunc[] = [
  celFunc("inCidr", [CelScalar.STRING, CelScalar.STRING], CelScalar.BOOL, (ip, cidr) => ipInCidr(ip, cidr)),
  celFunc("inCidr", [CelScalar.STRING, listType(CelScalar.STRING)], CelScalar.BOOL, (ip, blocks) => {
    for (const block of blocks.values()) if (ipInCidr(ip, block as string)) return true;
    return false;
  }),
  celFunc("classificationAtLeast", [CelScalar.STRING, CelScalar.STRING], CelScalar.BOOL, (level, other) => rank(level) >= rank(other)),
];

function parseIpv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes: number[] = [];
  for (const part of parts) {
    // No leading zeros: "010" is octal to some parsers and decimal to others.
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return null;
    bytes.push(Number(part));
  }
  return bytes;
}

function mapped(v4: readonly number[]): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(v4, 12);
  return out;
}

function parseIpv6(text: string): Uint8Array | null {
  if (text.length > 45 || text.includes("%")) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (half: string): number[] | null => {
    if (half === "") return [];
    const out: number[] = [];
    const pieces = half.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] as string;
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIpv4(piece);
        if (v4 === null) return null;
        out.push((v4[0] as number) * 256 + (v4[1] as number), (v4[2] as number) * 256 + (v4[3] as number));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null;
        out.push(Number.parseInt(piece, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0] as string);
  const tail = halves.length === 2 ? groups(halves[1] as string) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((group, i) => {
    out[i * 2] = group >> 8;
    out[i * 2 + 1] = group & 0xff;
  });
  return out;
}

/** Everything a policy's CEL environment offers beyond the standard library: the strings extension and {@link aespPolicyFunctions}. */
export const policyCelFunctions: readonly CelFunc[] = [...strings, ...aespPolicyFunctions];

